// A queue of received chunks that hands out exact-length frames. A 1 MiB NBD write arrives in
// many socket chunks; joining them once, when the frame is complete, keeps the copy count at one.
import { alignedBuffer } from "../aligned.ts";

export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head_bytes = 0; // bytes already consumed from chunks[0]
  length = 0;

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.byteLength;
  }

  /**
   * The first n bytes (n <= length), without consuming them. A large frame is joined into a
   * page-aligned buffer (its byte `alignAt` on the boundary), so its payload can go to the disk
   * with O_DIRECT as it lies.
   */
  peek(n: number, alignAt = 0): Uint8Array {
    if (n > this.length) throw new RangeError(`peek ${n} of ${this.length}`);
    const first = this.chunks[0];
    if (first !== undefined && first.byteLength - this.head_bytes >= n) return first.subarray(this.head_bytes, this.head_bytes + n);
    // Large frames (1 MiB writes) skip the zero fill: every byte is overwritten just below, and
    // zeroing fresh memory first doubled the cost of this copy (bench/replication/profile.ts).
    // Small ones stay plain arrays with their own buffer (callers read them through DataViews).
    const out = n >= 65_536 ? alignedBuffer(n, alignAt) : new Uint8Array(n);
    let filled = 0;
    let skip = this.head_bytes;
    for (const c of this.chunks) {
      const part = c.subarray(skip, Math.min(c.byteLength, skip + n - filled));
      out.set(part, filled);
      filled += part.byteLength;
      skip = 0;
      if (filled === n) break;
    }
    return out;
  }

  /** Consume and return the first n bytes. */
  take(n: number, alignAt = 0): Uint8Array {
    const out = this.peek(n, alignAt);
    this.skip(n);
    // A view into a chunk would pin that chunk; copy only when the caller keeps a small piece.
    return out;
  }

  skip(n: number): void {
    this.length -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      const left = c.byteLength - this.head_bytes;
      if (left > n) {
        this.head_bytes += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.head_bytes = 0;
    }
  }
}
