// The join token: the cluster key in a form a person can read off one screen and type on
// another box's console.
//
// 35 bytes = version (1) + cluster key (32) + check (2: the first bytes of SHA-256 over a label,
// the version and the key), written in RFC 4648 base32 (A-Z, 2-7: no 0/1/8/9 to confuse with
// O/I/B) as 14 groups of 4 characters. Reading is forgiving where it cannot be wrong (case,
// spaces and dashes, 0/1/8 typed for O/I/B) and strict where it can: a wrong length, a character
// outside the alphabet or a check that does not match is refused with the reason.
import { createHash } from "node:crypto";

export const TOKEN_VERSION = 1;
const KEY_BYTES = 32;
const CHECK_BYTES = 2;
const TOKEN_BYTES = 1 + KEY_BYTES + CHECK_BYTES;
export const TOKEN_CHARS = (TOKEN_BYTES * 8) / 5; // 56
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const LOOKALIKE: Record<string, string> = { "0": "O", "1": "I", "8": "B" };

function check(version: number, key: Uint8Array): Uint8Array {
  const h = createHash("sha256").update("hapd-join-token").update(Uint8Array.of(version)).update(key).digest();
  return new Uint8Array(h.subarray(0, CHECK_BYTES));
}

function base32(bytes: Uint8Array): string {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

export function encodeJoinToken(key: Uint8Array): string {
  if (key.byteLength !== KEY_BYTES) throw new Error(`cluster key is ${key.byteLength} bytes, expected ${KEY_BYTES}`);
  const raw = new Uint8Array(TOKEN_BYTES);
  raw[0] = TOKEN_VERSION;
  raw.set(key, 1);
  raw.set(check(TOKEN_VERSION, key), 1 + KEY_BYTES);
  return base32(raw).match(/.{1,4}/g)!.join("-");
}

export type TokenResult = { ok: true; key: Uint8Array } | { ok: false; error: string };

export function normalizeToken(text: string): string {
  return text
    .toUpperCase()
    .replace(/[\s-]/g, "")
    .replace(/[018]/g, (c) => LOOKALIKE[c]!);
}

export function decodeJoinToken(text: string): TokenResult {
  const t = normalizeToken(text);
  if (t.length === 0) return { ok: false, error: "required: the join token shown on the box that created the cluster" };
  for (let i = 0; i < t.length; i++) {
    if (!ALPHABET.includes(t[i]!)) return { ok: false, error: `character ${i + 1} ("${t[i]}") cannot be in a token (A-Z, 2-7)` };
  }
  if (t.length !== TOKEN_CHARS) return { ok: false, error: `${t.length} characters; a token has ${TOKEN_CHARS} (14 groups of 4)` };
  const raw = new Uint8Array(TOKEN_BYTES);
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (const c of t) {
    acc = (acc << 5) | ALPHABET.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      raw[n++] = (acc >> (bits - 8)) & 255;
      bits -= 8;
      acc &= (1 << bits) - 1;
    }
  }
  const version = raw[0]!;
  if (version !== TOKEN_VERSION) return { ok: false, error: `token version ${version} is not known to this build (expects ${TOKEN_VERSION}); check the first group` };
  const key = raw.slice(1, 1 + KEY_BYTES);
  const want = check(version, key);
  const got = raw.subarray(1 + KEY_BYTES);
  if (want[0] !== got[0] || want[1] !== got[1]) return { ok: false, error: "the token's check does not match: a character is mistyped" };
  return { ok: true, key };
}
