// The admin password, stored as an scrypt hash with its salt and parameters, so that the
// parameters can be raised later without invalidating stored hashes.
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

export interface PasswordHash {
  algorithm: "scrypt";
  /** CPU/memory cost (a power of two), block size and parallelism. */
  N: number;
  r: number;
  p: number;
  key_bytes: number;
  salt: string; // base64
  hash: string; // base64
}

export const DEFAULT_SCRYPT = { N: 32768, r: 8, p: 1, key_bytes: 32 } as const;

function derive(password: string, salt: Buffer, N: number, r: number, p: number, keylen: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem above the 128*N*r the parameters need (32 MiB for the defaults).
    scrypt(password.normalize("NFC"), salt, keylen, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string, params: { N: number; r: number; p: number; key_bytes: number } = DEFAULT_SCRYPT): Promise<PasswordHash> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params.N, params.r, params.p, params.key_bytes);
  return { algorithm: "scrypt", N: params.N, r: params.r, p: params.p, key_bytes: params.key_bytes, salt: salt.toString("base64"), hash: key.toString("base64") };
}

export function isPasswordHash(v: unknown): v is PasswordHash {
  if (!v || typeof v !== "object") return false;
  const o = v as Record<string, unknown>;
  const pow2 = (n: unknown) => typeof n === "number" && Number.isInteger(n) && n >= 2 && n <= 2 ** 20 && (n & (n - 1)) === 0;
  const small = (n: unknown, max: number) => typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= max;
  return o.algorithm === "scrypt" && pow2(o.N) && small(o.r, 32) && small(o.p, 16) && small(o.key_bytes, 128) && typeof o.salt === "string" && typeof o.hash === "string";
}

export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const expected = Buffer.from(stored.hash, "base64");
  const key = await derive(password, Buffer.from(stored.salt, "base64"), stored.N, stored.r, stored.p, expected.byteLength);
  return key.byteLength === expected.byteLength && timingSafeEqual(key, expected);
}
