// RMCP+ cryptography for the two cipher suites hapd speaks (IPMI v2.0 spec 13.28-13.32, and the
// SHA-256 algorithms of the 2.0 errata):
//   suite 3:  RAKP-HMAC-SHA1,   HMAC-SHA1-96,    AES-CBC-128
//   suite 17: RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128
// Cipher suite 0 (no authentication) is deliberately absent: nothing can select it.

import { createCipheriv, createDecipheriv, createHmac } from "node:crypto";
import { concat, fail, ok, u32leBytes, u8, type Decoded } from "./bytes.ts";

export type CipherSuiteId = 3 | 17;

export const AuthAlgorithm = { RAKP_NONE: 0x00, RAKP_HMAC_SHA1: 0x01, RAKP_HMAC_MD5: 0x02, RAKP_HMAC_SHA256: 0x03 } as const;
export const IntegrityAlgorithm = { NONE: 0x00, HMAC_SHA1_96: 0x01, HMAC_MD5_128: 0x02, MD5_128: 0x03, HMAC_SHA256_128: 0x04 } as const;
export const ConfidentialityAlgorithm = { NONE: 0x00, AES_CBC_128: 0x01, XRC4_128: 0x02, XRC4_40: 0x03 } as const;

export type CipherSuite = {
  id: CipherSuiteId;
  auth_algorithm: number;
  integrity_algorithm: number;
  confidentiality_algorithm: number;
  hash: "sha1" | "sha256";
  /** Length of the RAKP2/RAKP3 key exchange codes, the SIK, K1 and K2. */
  hash_bytes: number;
  /** Length of the per-packet integrity code and of the RAKP4 integrity check value. */
  integrity_bytes: number;
};

export const CIPHER_SUITES: Readonly<Record<CipherSuiteId, CipherSuite>> = {
  3: {
    id: 3,
    auth_algorithm: AuthAlgorithm.RAKP_HMAC_SHA1,
    integrity_algorithm: IntegrityAlgorithm.HMAC_SHA1_96,
    confidentiality_algorithm: ConfidentialityAlgorithm.AES_CBC_128,
    hash: "sha1",
    hash_bytes: 20,
    integrity_bytes: 12,
  },
  17: {
    id: 17,
    auth_algorithm: AuthAlgorithm.RAKP_HMAC_SHA256,
    integrity_algorithm: IntegrityAlgorithm.HMAC_SHA256_128,
    confidentiality_algorithm: ConfidentialityAlgorithm.AES_CBC_128,
    hash: "sha256",
    hash_bytes: 32,
    integrity_bytes: 16,
  },
};

/** Find the suite with exactly these algorithms, or null (the BMC proposed something else). */
export function suiteForAlgorithms(auth: number, integrity: number, confidentiality: number): CipherSuite | null {
  for (const suite of Object.values(CIPHER_SUITES)) {
    if (suite.auth_algorithm === auth && suite.integrity_algorithm === integrity && suite.confidentiality_algorithm === confidentiality) {
      return suite;
    }
  }
  return null;
}

export const MAX_PASSWORD_BYTES = 20;
export const MAX_USERNAME_BYTES = 16;
export const AES_BLOCK_BYTES = 16;

function hmac(suite: CipherSuite, key: Uint8Array, ...data: Uint8Array[]): Uint8Array {
  const mac = createHmac(suite.hash, key);
  for (const part of data) mac.update(part);
  return new Uint8Array(mac.digest());
}

/** Kuid: the password as a 20-byte key, zero padded (spec 13.31). */
export function userKey(password: Uint8Array): Uint8Array {
  if (password.length > MAX_PASSWORD_BYTES) throw new RangeError(`an IPMI password holds at most ${MAX_PASSWORD_BYTES} bytes`);
  const key = new Uint8Array(MAX_PASSWORD_BYTES);
  key.set(password);
  return key;
}

export type RakpContext = {
  console_session_id: number;
  bmc_session_id: number;
  console_random: Uint8Array;
  bmc_random: Uint8Array;
  bmc_guid: Uint8Array;
  /** The whole role byte of RAKP1, name-only lookup bit included. */
  role: number;
  username: Uint8Array;
};

function roleAndName(ctx: RakpContext): Uint8Array {
  return concat(Uint8Array.of(ctx.role & 0xff, ctx.username.length), ctx.username);
}

/** RAKP2 key exchange auth code: HMAC_Kuid(SIDm, SIDc, Rm, Rc, GUIDc, ROLEm, ULENGTHm, UNAMEm). */
export function rakp2AuthCode(suite: CipherSuite, kuid: Uint8Array, ctx: RakpContext): Uint8Array {
  return hmac(
    suite,
    kuid,
    u32leBytes(ctx.console_session_id),
    u32leBytes(ctx.bmc_session_id),
    ctx.console_random,
    ctx.bmc_random,
    ctx.bmc_guid,
    roleAndName(ctx),
  );
}

/** RAKP3 key exchange auth code: HMAC_Kuid(Rc, SIDm, ROLEm, ULENGTHm, UNAMEm). */
export function rakp3AuthCode(suite: CipherSuite, kuid: Uint8Array, ctx: RakpContext): Uint8Array {
  return hmac(suite, kuid, ctx.bmc_random, u32leBytes(ctx.console_session_id), roleAndName(ctx));
}

/** SIK = HMAC_{Kg or Kuid}(Rm, Rc, ROLEm, ULENGTHm, UNAMEm). Kg is used only when the BMC has one. */
export function sessionIntegrityKey(suite: CipherSuite, kuid: Uint8Array, kg: Uint8Array | null, ctx: RakpContext): Uint8Array {
  return hmac(suite, kg ?? kuid, ctx.console_random, ctx.bmc_random, roleAndName(ctx));
}

/** RAKP4 integrity check value: HMAC_SIK(Rm, SIDc, GUIDc), truncated to the integrity length. */
export function rakp4Icv(suite: CipherSuite, sik: Uint8Array, ctx: RakpContext): Uint8Array {
  return hmac(suite, sik, ctx.console_random, u32leBytes(ctx.bmc_session_id), ctx.bmc_guid).slice(0, suite.integrity_bytes);
}

// Both suites use 20 bytes of constant, SHA-256 included (as ipmitool and BMC firmware do).
const CONST_1 = new Uint8Array(20).fill(0x01);
const CONST_2 = new Uint8Array(20).fill(0x02);

export type SessionKeys = { sik: Uint8Array; k1: Uint8Array; k2: Uint8Array; aes_key: Uint8Array };

export function deriveSessionKeys(suite: CipherSuite, kuid: Uint8Array, kg: Uint8Array | null, ctx: RakpContext): SessionKeys {
  const sik = sessionIntegrityKey(suite, kuid, kg, ctx);
  const k1 = hmac(suite, sik, CONST_1);
  const k2 = hmac(suite, sik, CONST_2);
  return { sik, k1, k2, aes_key: k2.slice(0, AES_BLOCK_BYTES) };
}

/** Per-packet integrity code (HMAC-SHA1-96 or HMAC-SHA256-128 keyed with K1). */
export function integrityCode(suite: CipherSuite, k1: Uint8Array, covered: Uint8Array): Uint8Array {
  return hmac(suite, k1, covered).slice(0, suite.integrity_bytes);
}

/**
 * AES-CBC-128 confidentiality (spec 13.29): IV, then the payload padded with 1, 2, 3, ... and a
 * pad-length byte to a whole number of blocks, encrypted with the first 16 bytes of K2.
 */
export function encryptPayload(aes_key: Uint8Array, plaintext: Uint8Array, iv: Uint8Array): Uint8Array {
  if (iv.length !== AES_BLOCK_BYTES) throw new RangeError("AES-CBC-128 needs a 16-byte IV");
  const padLength = (AES_BLOCK_BYTES - ((plaintext.length + 1) % AES_BLOCK_BYTES)) % AES_BLOCK_BYTES;
  const padded = new Uint8Array(plaintext.length + padLength + 1);
  padded.set(plaintext);
  for (let i = 0; i < padLength; i++) padded[plaintext.length + i] = i + 1;
  padded[padded.length - 1] = padLength;
  const cipher = createCipheriv("aes-128-cbc", aes_key, iv);
  cipher.setAutoPadding(false);
  return concat(iv, new Uint8Array(cipher.update(padded)), new Uint8Array(cipher.final()));
}

export function decryptPayload(aes_key: Uint8Array, data: Uint8Array): Decoded<Uint8Array> {
  if (data.length < 2 * AES_BLOCK_BYTES) return fail("encrypted payload shorter than IV plus one block");
  if (data.length % AES_BLOCK_BYTES !== 0) return fail("encrypted payload is not a whole number of AES blocks");
  let padded: Uint8Array;
  try {
    const decipher = createDecipheriv("aes-128-cbc", aes_key, data.subarray(0, AES_BLOCK_BYTES));
    decipher.setAutoPadding(false);
    padded = concat(new Uint8Array(decipher.update(data.subarray(AES_BLOCK_BYTES))), new Uint8Array(decipher.final()));
  } catch (error) {
    return fail(`AES-CBC-128 decryption failed: ${(error as Error).message}`);
  }
  const padLength = u8(padded, padded.length - 1);
  if (padLength >= AES_BLOCK_BYTES) return fail(`confidentiality pad length ${padLength} is not below 16`);
  const payloadLength = padded.length - 1 - padLength;
  for (let i = 0; i < padLength; i++) {
    if (u8(padded, payloadLength + i) !== i + 1) return fail("confidentiality pad bytes are not 1, 2, 3, ...");
  }
  return ok(padded.slice(0, payloadLength));
}
