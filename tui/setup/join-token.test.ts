import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TOKEN_CHARS, decodeJoinToken, encodeJoinToken } from "./join-token.ts";

describe("join token", () => {
  it("is 14 groups of 4 base32 characters and round-trips the key", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
        const t = encodeJoinToken(key);
        expect(t).toMatch(/^([A-Z2-7]{4}-){13}[A-Z2-7]{4}$/);
        const r = decodeJoinToken(t);
        expect(r.ok && Buffer.from(r.key).equals(Buffer.from(key))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("forgives case, spaces, dashes and 0/1/8 typed for O/I/B", () => {
    const key = new Uint8Array(randomBytes(32));
    const t = encodeJoinToken(key);
    const sloppy = t.replaceAll("-", " ").toLowerCase().replaceAll("o", "0").replaceAll("i", "1").replaceAll("b", "8");
    expect(decodeJoinToken(sloppy).ok).toBe(true);
  });

  it("catches any single mistyped character", () => {
    const t = encodeJoinToken(new Uint8Array(randomBytes(32))).replaceAll("-", "");
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let caught = 0;
    let tried = 0;
    for (let i = 1; i < t.length; i++) {
      for (const c of "AQ7") {
        if (c === t[i]) continue;
        tried++;
        const r = decodeJoinToken(t.slice(0, i) + c + t.slice(i + 1));
        if (!r.ok) caught++;
      }
    }
    // Each substitution slips past the 16-bit check with probability 2^-16: over ~160 tries at
    // most one miss is allowed so that the test can never flake.
    expect(caught).toBeGreaterThanOrEqual(tried - 1);
    expect(alphabet).toContain(t[0]);
  });

  it("says what is wrong: length, alphabet, version", () => {
    expect(decodeJoinToken("")).toMatchObject({ ok: false, error: expect.stringContaining("required") });
    expect(decodeJoinToken("ABCD-EFGH")).toMatchObject({ ok: false, error: `8 characters; a token has ${TOKEN_CHARS} (14 groups of 4)` });
    expect(decodeJoinToken("ABC9")).toMatchObject({ ok: false, error: 'character 4 ("9") cannot be in a token (A-Z, 2-7)' });
    const t = encodeJoinToken(new Uint8Array(32));
    expect(decodeJoinToken(`C${t.slice(1)}`)).toMatchObject({ ok: false, error: expect.stringContaining("version") });
  });
});
