// Page-aligned buffers for O_DIRECT writes of the backing file. O_DIRECT needs the memory address,
// the file offset and the length aligned (4096 covers every logical block size here); JavaScript
// cannot ask for an aligned ArrayBuffer, so a slightly larger one is allocated and a view starts
// at the first aligned byte. The address comes from bun:ffi's `ptr`, a read of the array's
// backing-store pointer (no native code is called).
import { ptr } from "bun:ffi";

export const DIRECT_ALIGN = 4096;

/** The memory address of a view's first byte. */
export function addressOf(b: Uint8Array): number {
  return b.byteLength === 0 ? 0 : ptr(b);
}

/**
 * A buffer of n bytes, not zeroed (the caller overwrites every byte), whose byte `alignAt` sits
 * on a 4096-byte boundary: a frame whose payload starts `alignAt` bytes in can then write that
 * payload with O_DIRECT straight from the frame.
 */
export function alignedBuffer(n: number, alignAt = 0): Uint8Array {
  const raw = new Uint8Array(Buffer.allocUnsafeSlow(n + DIRECT_ALIGN).buffer, 0, n + DIRECT_ALIGN);
  const off = (DIRECT_ALIGN - ((addressOf(raw) + alignAt) % DIRECT_ALIGN)) % DIRECT_ALIGN;
  return raw.subarray(off, off + n);
}

/** Whether O_DIRECT can write `data` at `offset_bytes` as it lies. */
export function directWritable(offset_bytes: number, data: Uint8Array): boolean {
  return offset_bytes % DIRECT_ALIGN === 0 && data.byteLength % DIRECT_ALIGN === 0 && data.byteLength > 0 && addressOf(data) % DIRECT_ALIGN === 0;
}
