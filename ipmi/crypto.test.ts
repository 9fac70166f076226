// Known vectors for the RMCP+ key derivations. The expected values were computed independently
// with Python's hmac/hashlib and `openssl enc -aes-128-cbc -nopad` from the formulas of IPMI v2.0
// sections 13.28-13.32 (inputs below), not with this code.

import { describe, expect, it } from "vitest";
import { fromHex, hex } from "./bytes.ts";
import {
  CIPHER_SUITES,
  decryptPayload,
  deriveSessionKeys,
  encryptPayload,
  integrityCode,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4Icv,
  suiteForAlgorithms,
  userKey,
  type RakpContext,
} from "./crypto.ts";

const ctx: RakpContext = {
  console_session_id: 0x0a0b0c0d,
  bmc_session_id: 0x11223344,
  console_random: Uint8Array.from({ length: 16 }, (_, i) => i),
  bmc_random: Uint8Array.from({ length: 16 }, (_, i) => 16 + i),
  bmc_guid: Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i),
  role: 0x14, // administrator | name-only lookup
  username: new TextEncoder().encode("admin"),
};
const kuid = userKey(new TextEncoder().encode("s3cret"));
const covered = Uint8Array.from({ length: 32 }, (_, i) => i);

const vectors = {
  3: {
    rakp2: "426b0c6e4e32c29e4ef26596b6998ea368e65f79",
    rakp3: "be611df6764472a45536d6017741d1b8033cd545",
    sik: "28c9eb230d7b1c88eed8525a926304ab98be8443",
    k1: "73163a8564f75606e06e1c0c16edb8dffc20a200",
    k2: "168a2d5c633749432d31617a08b2074afd55ec15",
    icv: "4ab63384a5509516f8ddf0fb",
    integrity: "6f2c23f538f7de0342674104",
  },
  17: {
    rakp2: "fbc265c7c0a614c3e0ecc299d8b1d7357d41331b61b2481f5b15ca3cfdabc1a5",
    rakp3: "d18259e46fccbcd9669a96447a8e9d9035e42daf74756af4dfb1b2c1eff0aff0",
    sik: "0b8847d272b45529feabd7d7fad1e3fa8674246d36c4c2fa070a6aaaad2a3e01",
    k1: "2652dd7f0a408e419f320f168622076d1ba1d3080080c417f3354084cf969676",
    k2: "f92020a589a06c573b38a0304736603971795cc1bdfac87f70e4614e48a4273c",
    icv: "b34920f7e66305229d7875172bc1b54f",
    integrity: "770f701633313246e6d64ece265581ce",
  },
} as const;

describe.each([3, 17] as const)("cipher suite %i key exchange (known vectors)", (id) => {
  const suite = CIPHER_SUITES[id];
  const v = vectors[id];

  it("computes the RAKP2 and RAKP3 key exchange codes with Kuid", () => {
    expect(hex(rakp2AuthCode(suite, kuid, ctx))).toBe(v.rakp2);
    expect(hex(rakp3AuthCode(suite, kuid, ctx))).toBe(v.rakp3);
  });

  it("derives SIK, K1 (20 bytes of 0x01) and K2 (20 bytes of 0x02)", () => {
    const keys = deriveSessionKeys(suite, kuid, null, ctx);
    expect(hex(keys.sik)).toBe(v.sik);
    expect(hex(keys.k1)).toBe(v.k1);
    expect(hex(keys.k2)).toBe(v.k2);
    expect(hex(keys.aes_key)).toBe(v.k2.slice(0, 32));
  });

  it("truncates the RAKP4 ICV and the packet integrity code to the suite's length", () => {
    const keys = deriveSessionKeys(suite, kuid, null, ctx);
    expect(hex(rakp4Icv(suite, keys.sik, ctx))).toBe(v.icv);
    expect(hex(integrityCode(suite, keys.k1, covered))).toBe(v.integrity);
    expect(rakp4Icv(suite, keys.sik, ctx).length).toBe(suite.integrity_bytes);
  });

  it("uses Kg instead of Kuid for the SIK when the BMC has a key", () => {
    const withKg = deriveSessionKeys(suite, kuid, fromHex("0102030405"), ctx);
    expect(hex(withKg.sik)).not.toBe(v.sik);
  });
});

describe("AES-CBC-128 confidentiality", () => {
  const key = fromHex("000102030405060708090a0b0c0d0e0f");
  const iv = fromHex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");

  it("pads with 1, 2, 3, ... and a pad length, then encrypts (openssl vector)", () => {
    const out = encryptPayload(key, new TextEncoder().encode("hello ipmi"), iv);
    expect(hex(out)).toBe(hex(iv) + "2918b771feb1f9d2f8c50b7564bfafae");
  });

  it("round-trips every length from 0 to 40 bytes", () => {
    for (let n = 0; n <= 40; n++) {
      const plain = Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
      const sealed = encryptPayload(key, plain, iv);
      expect(sealed.length % 16).toBe(0);
      const opened = decryptPayload(key, sealed);
      expect(opened.ok && hex(opened.value)).toBe(hex(plain));
    }
  });

  it("rejects bad lengths and bad padding without throwing", () => {
    expect(decryptPayload(key, new Uint8Array(16)).ok).toBe(false);
    expect(decryptPayload(key, new Uint8Array(33)).ok).toBe(false);
    // A random block almost never decrypts to a valid IPMI pad.
    const garbage = new Uint8Array(32).fill(0x5a);
    const result = decryptPayload(key, garbage);
    expect(result.ok).toBe(false);
  });
});

describe("cipher suite table", () => {
  it("maps algorithms to suites 3 and 17 and nothing else", () => {
    expect(suiteForAlgorithms(1, 1, 1)?.id).toBe(3);
    expect(suiteForAlgorithms(3, 4, 1)?.id).toBe(17);
    expect(suiteForAlgorithms(0, 0, 0)).toBeNull(); // suite 0 does not exist for hapd
    expect(suiteForAlgorithms(1, 1, 0)).toBeNull();
  });

  it("refuses passwords longer than 20 bytes", () => {
    expect(() => userKey(new Uint8Array(21))).toThrow(RangeError);
  });
});
