// Byte helpers shared by the IPMI codecs. Every decoder in ipmi/ returns a Decoded<T>
// instead of throwing, so a hostile BMC can never crash the caller with a malformed packet.

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

export function ok<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

export function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}

export function u8(bytes: Uint8Array, offset: number): number {
  // Callers check lengths first; the fallback keeps noUncheckedIndexedAccess honest.
  return bytes[offset] ?? 0;
}

export function u16le(bytes: Uint8Array, offset: number): number {
  return u8(bytes, offset) | (u8(bytes, offset + 1) << 8);
}

export function u32le(bytes: Uint8Array, offset: number): number {
  return (
    (u8(bytes, offset) |
      (u8(bytes, offset + 1) << 8) |
      (u8(bytes, offset + 2) << 16) |
      (u8(bytes, offset + 3) << 24)) >>>
    0
  );
}

export function putU16le(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value & 0xff;
  out[offset + 1] = (value >>> 8) & 0xff;
}

export function putU32le(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value & 0xff;
  out[offset + 1] = (value >>> 8) & 0xff;
  out[offset + 2] = (value >>> 16) & 0xff;
  out[offset + 3] = (value >>> 24) & 0xff;
}

export function u32leBytes(value: number): Uint8Array {
  const out = new Uint8Array(4);
  putU32le(out, 0, value);
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  // Constant-time over the common length: a MAC comparison must not leak where it differs.
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= u8(a, i) ^ u8(b, i);
  return diff === 0;
}

/** Two's-complement checksum used by IPMI messages: the bytes plus it sum to 0 mod 256. */
export function checksum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum = (sum + u8(bytes, i)) & 0xff;
  return (0x100 - sum) & 0xff;
}

export function hexByte(value: number): string {
  return "0x" + value.toString(16).padStart(2, "0");
}
