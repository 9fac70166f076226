// A disk that forgets what was not synced. Writes change the visible content at once and are
// queued; sync() makes the queue durable. crash() keeps the durable content plus a random subset
// of the queued writes (a disk cache reorders), one of them possibly torn at 512-byte sectors.
// crashAfter(n) makes the n-th mutating call from now throw DiskCrash, to stop a workload there.
import type { Rng } from "../sim/simulator.ts";
import type { MetaDevice } from "../../services/replication/metadata.ts";

export class DiskCrash extends Error {
  constructor() {
    super("simulated crash");
    this.name = "DiskCrash";
  }
}

const SECTOR_BYTES = 512;

export class FakeDisk implements MetaDevice {
  durable: Uint8Array;
  current: Uint8Array;
  private pending: { offset_bytes: number; bytes: Uint8Array }[] = [];
  private countdown: number | null = null;
  ops = 0;

  constructor(size_bytes: number) {
    this.durable = new Uint8Array(size_bytes);
    this.current = new Uint8Array(size_bytes);
  }

  crashAfter(n: number | null): void {
    this.countdown = n;
  }

  private tick(): void {
    this.ops++;
    if (this.countdown === null) return;
    this.countdown--;
    if (this.countdown <= 0) {
      this.countdown = null;
      throw new DiskCrash();
    }
  }

  readAt(offset_bytes: number, length_bytes: number): Uint8Array {
    return this.current.slice(offset_bytes, offset_bytes + length_bytes);
  }

  writeAt(offset_bytes: number, bytes: Uint8Array): void {
    this.tick();
    this.current.set(bytes, offset_bytes);
    this.pending.push({ offset_bytes, bytes: bytes.slice() });
  }

  sync(): void {
    this.tick();
    for (const w of this.pending) this.durable.set(w.bytes, w.offset_bytes);
    this.pending = [];
  }

  get unsyncedWrites(): number {
    return this.pending.length;
  }

  /** Power loss: what survives is durable + a random subset of the queue, maybe one torn write. */
  crash(rng: Rng): void {
    const torn = this.pending.length > 0 && rng.chance(0.5) ? rng.int(0, this.pending.length - 1) : -1;
    this.pending.forEach((w, i) => {
      if (i === torn) {
        for (let s = 0; s < w.bytes.byteLength; s += SECTOR_BYTES) {
          if (rng.chance(0.5)) this.durable.set(w.bytes.subarray(s, s + SECTOR_BYTES), w.offset_bytes + s);
        }
      } else if (rng.chance(0.5)) this.durable.set(w.bytes, w.offset_bytes);
    });
    this.pending = [];
    this.current = this.durable.slice();
    this.countdown = null;
  }
}
