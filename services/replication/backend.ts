// The block device a volume sits on, as the NBD server and the replication edge see it.
// FileBackend: one file descriptor for every connection of an export, so an fdatasync after any
// connection's writes covers them all (that is what makes CAN_MULTI_CONN honest).
import { constants as fsc, fdatasyncSync, writeSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { directWritable } from "./aligned.ts";

export interface BlockBackend {
  readonly size_bytes: number;
  read(offset_bytes: number, length_bytes: number): Promise<Uint8Array>;
  /** fua: the data is durable when the promise resolves. */
  write(offset_bytes: number, data: Uint8Array, fua: boolean): Promise<void>;
  /** Every write that completed before this call is durable when it resolves. */
  flush(): Promise<void>;
  /** Advisory: contents of the range are unspecified afterwards (NBD semantics). */
  trim(offset_bytes: number, length_bytes: number): Promise<void>;
  /** mayTrim: the backend may deallocate instead of writing zeros (NBD without NO_HOLE). */
  writeZeroes(offset_bytes: number, length_bytes: number, mayTrim: boolean, fua: boolean): Promise<void>;
  close(): Promise<void>;
  /**
   * Optional synchronous forms, for a caller with nothing else to do meanwhile: an asynchronous
   * operation costs two thread hand-offs (~40 µs here) that a queue-depth-1 writer pays on every
   * write and flush. They throw what the asynchronous forms would reject with.
   */
  writeSync?(offset_bytes: number, data: Uint8Array, fua: boolean): void;
  flushSync?(): void;
}

const ZERO_CHUNK_BYTES = 1024 * 1024;

export class FileBackend implements BlockBackend {
  /** Writes that go around the page cache (O_DIRECT), when asked for and the file system allows it. */
  directWrites = 0;

  private constructor(
    private readonly fh: FileHandle,
    readonly size_bytes: number,
    readonly path: string,
    /**
     * A second descriptor with O_DIRECT: aligned writes (1 MiB from QEMU, nbdcopy, a Secondary
     * applying them) skip the page-cache copy and the later writeback, as qemu-nbd --cache=none
     * does. Reads and unaligned writes use `fh`; Linux keeps the two coherent (a direct write
     * flushes and invalidates the cached pages of its range), and fdatasync on either covers both.
     */
    private readonly direct: FileHandle | null = null,
  ) {}

  /** Opens an existing file or block device; size is its current size (a file is not grown). */
  static async open(path: string, opts: { readOnly?: boolean; direct?: boolean } = {}): Promise<FileBackend> {
    const fh = await open(path, opts.readOnly ? fsc.O_RDONLY : fsc.O_RDWR);
    let direct: FileHandle | null = null;
    // tmpfs and some file systems refuse O_DIRECT (EINVAL): then every write is buffered.
    if (opts.direct && !opts.readOnly) direct = await open(path, fsc.O_RDWR | fsc.O_DIRECT).catch(() => null);
    try {
      const st = await fh.stat();
      let size = st.size;
      if (st.isBlockDevice()) {
        // stat() reports 0 for a block device; its end is its size.
        size = await blockDeviceSize(fh);
      }
      return new FileBackend(fh, size, path, direct);
    } catch (e) {
      await direct?.close();
      await fh.close();
      throw e;
    }
  }

  async read(offset_bytes: number, length_bytes: number): Promise<Uint8Array> {
    // No zero fill for large reads: the buffer is returned only once every byte was read into it.
    const buf = length_bytes >= 65_536 ? new Uint8Array(Buffer.allocUnsafeSlow(length_bytes).buffer, 0, length_bytes) : new Uint8Array(length_bytes);
    let done = 0;
    while (done < length_bytes) {
      const { bytesRead } = await this.fh.read(buf, done, length_bytes - done, offset_bytes + done);
      if (bytesRead === 0) throw new Error(`short read at ${offset_bytes + done} of ${this.path}`);
      done += bytesRead;
    }
    return buf;
  }

  async write(offset_bytes: number, data: Uint8Array, fua: boolean): Promise<void> {
    let target = this.fh;
    if (this.direct && directWritable(offset_bytes, data)) {
      target = this.direct;
      this.directWrites++;
    }
    let done = 0;
    while (done < data.byteLength) {
      const { bytesWritten } = await target.write(data, done, data.byteLength - done, offset_bytes + done);
      done += bytesWritten;
      // The rest of a short write may not be aligned any more: it goes through the page cache.
      target = this.fh;
    }
    if (fua) await this.fh.datasync();
  }

  async flush(): Promise<void> {
    await this.fh.datasync();
  }

  /** Through the page cache: a small write costs microseconds there, not a device round trip. */
  writeSync(offset_bytes: number, data: Uint8Array, fua: boolean): void {
    let done = 0;
    while (done < data.byteLength) done += writeSync(this.fh.fd, data, done, data.byteLength - done, offset_bytes + done);
    if (fua) fdatasyncSync(this.fh.fd);
  }

  flushSync(): void {
    fdatasyncSync(this.fh.fd);
  }

  async trim(_offset_bytes: number, _length_bytes: number): Promise<void> {
    // Punching holes needs fallocate(2), which Node's fs lacks; a no-op TRIM is valid NBD.
  }

  async writeZeroes(offset_bytes: number, length_bytes: number, _mayTrim: boolean, fua: boolean): Promise<void> {
    const zeros = new Uint8Array(Math.min(ZERO_CHUNK_BYTES, length_bytes));
    for (let at = 0; at < length_bytes; at += zeros.byteLength) {
      const n = Math.min(zeros.byteLength, length_bytes - at);
      await this.write(offset_bytes + at, zeros.subarray(0, n), false);
    }
    if (fua) await this.fh.datasync();
  }

  async close(): Promise<void> {
    await this.direct?.close();
    await this.fh.close();
  }
}

async function blockDeviceSize(fh: FileHandle): Promise<number> {
  // Binary search for the end: a read past it returns 0 bytes. 2^50 bytes bounds it.
  const one = new Uint8Array(1);
  let lo = 0;
  let hi = 2 ** 50;
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    const { bytesRead } = await fh.read(one, 0, 1, mid - 1);
    if (bytesRead === 1) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** An in-memory backend for tests and the simulator. */
export class MemoryBackend implements BlockBackend {
  readonly data: Uint8Array;
  flushes = 0;
  constructor(readonly size_bytes: number) {
    this.data = new Uint8Array(size_bytes);
  }
  async read(offset_bytes: number, length_bytes: number): Promise<Uint8Array> {
    return this.data.slice(offset_bytes, offset_bytes + length_bytes);
  }
  async write(offset_bytes: number, data: Uint8Array): Promise<void> {
    this.data.set(data, offset_bytes);
  }
  async flush(): Promise<void> {
    this.flushes++;
  }
  async trim(): Promise<void> {}
  async writeZeroes(offset_bytes: number, length_bytes: number): Promise<void> {
    this.data.fill(0, offset_bytes, offset_bytes + length_bytes);
  }
  async close(): Promise<void> {}
}
