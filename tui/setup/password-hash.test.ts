import { describe, expect, it } from "vitest";
import { hashPassword, isPasswordHash, verifyPassword } from "./password-hash.ts";

// Small parameters keep the test quick; the stored parameters are what verification uses.
const FAST = { N: 1024, r: 8, p: 1, key_bytes: 32 };

describe("admin password hash", () => {
  it("verifies the password and refuses others, with a fresh salt each time", async () => {
    const a = await hashPassword("correct horse", FAST);
    const b = await hashPassword("correct horse", FAST);
    expect(a.salt).not.toBe(b.salt);
    expect(await verifyPassword("correct horse", a)).toBe(true);
    expect(await verifyPassword("correct hors", a)).toBe(false);
    expect(JSON.stringify(a)).not.toContain("horse");
  });

  it("uses scrypt with N=32768 by default and records the parameters", async () => {
    const h = await hashPassword("x");
    expect(h).toMatchObject({ algorithm: "scrypt", N: 32768, r: 8, p: 1, key_bytes: 32 });
    expect(isPasswordHash(h)).toBe(true);
  });

  it("recognises only well-formed hashes", () => {
    expect(isPasswordHash({ algorithm: "scrypt", N: 1000, r: 8, p: 1, key_bytes: 32, salt: "", hash: "" })).toBe(false);
    expect(isPasswordHash({ algorithm: "md5" })).toBe(false);
    expect(isPasswordHash(null)).toBe(false);
  });
});
