// Volume metadata: identity, generation identifiers, the out-of-sync bitmap and the activity log,
// kept in two alternating slots so that a crash at any point leaves a valid copy.
//
// Commit protocol: encode the next state with sequence = current + 1, write it to the slot NOT
// holding the current state, sync. Only after sync returns is the new state in force. On attach,
// both slots are read and checked (magic, version, SHA-256 over the slot), and the valid slot
// with the higher sequence wins. A torn or lost write therefore costs at most the commit that
// was in progress, which nobody has acted on yet.
//
// Layout of a slot (big-endian), padded to a multiple of 4096 bytes:
//   0 magic "HAPDVOL\x01" | 8 format u32 | 12 slot bytes u32 | 16 seq u64 | 24 uuid[16]
//   40 size bytes u64 | 48 region bytes u32 | 52 flags u32 | 56 gen current u64 | 64 gen bitmap u64
//   72 history[0] u64 | 80 history[1] u64 | 88 al count u32 | 92 bitmap bytes u32
//   96 al entries u32[AL_SLOTS] | then bitmap | last 32 bytes: SHA-256 of everything before.
//
// Region size: 1 MiB by default. A region is the unit of the bitmap and of the activity log. The
// whole slot is rewritten on every commit, so the bitmap must stay small: 1 MiB regions give a
// 128 KiB bitmap per TiB (one 4 KiB bitmap write granularity would be 32 MiB per TiB). The cost
// is resync amplification for scattered small writes during a disconnect: at most one region per
// dirty write, bounded by the volume size. DRBD splits this into a 4 KiB bitmap and 4 MiB AL
// extents because it updates bitmap pages in place; with whole-slot commits one size is simpler.
import { createHash } from "node:crypto";

export const MAGIC = new Uint8Array([0x48, 0x41, 0x50, 0x44, 0x56, 0x4f, 0x4c, 0x01]); // "HAPDVOL\x01"
export const FORMAT_VERSION = 1;
export const DEFAULT_REGION_BYTES = 1024 * 1024;
/** Hot regions tracked by the activity log; each AL change is one metadata commit. */
export const AL_SLOTS = 1024;
const HEADER_BYTES = 96;
const HASH_BYTES = 32;
const ALIGN_BYTES = 4096;

export const Flag = {
  /** The data is a consistent image (false during a sync target's resync or before first sync). */
  CONSISTENT: 1 << 0,
  /** The cluster marked this disk Outdated: it may not be promoted. */
  OUTDATED: 1 << 1,
  /** The node was Primary: after a crash the activity log's regions must be resynced. */
  PRIMARY: 1 << 2,
  /** The volume was taken down cleanly: the activity log is empty of writes in flight. */
  CLEAN: 1 << 3,
} as const;

/** The device the metadata lives on (a separate file or the end of the backing device). */
export interface MetaDevice {
  readAt(offset_bytes: number, length_bytes: number): Uint8Array;
  writeAt(offset_bytes: number, bytes: Uint8Array): void;
  /** Every write before this call is durable when it returns. */
  sync(): void;
}

export interface Generations {
  /** Changes whenever this node starts writing without its peer (becomes Primary disconnected). */
  current: bigint;
  /** The current id at the moment the bitmap started collecting (0n = bitmap empty/unused). */
  bitmap: bigint;
  history: [bigint, bigint];
}

export class Bitmap {
  readonly bits: Uint8Array;
  constructor(readonly regions: number, bits?: Uint8Array) {
    this.bits = bits ?? new Uint8Array(Math.ceil(regions / 8));
  }
  get(i: number): boolean {
    return ((this.bits[i >> 3]! >> (i & 7)) & 1) === 1;
  }
  set(i: number): void {
    this.bits[i >> 3]! |= 1 << (i & 7);
  }
  clear(i: number): void {
    this.bits[i >> 3]! &= ~(1 << (i & 7));
  }
  count(): number {
    let n = 0;
    for (let i = 0; i < this.regions; i++) if (this.get(i)) n++;
    return n;
  }
  setAll(): void {
    for (let i = 0; i < this.regions; i++) this.set(i);
  }
  clearAll(): void {
    this.bits.fill(0);
  }
  or(other: Bitmap): void {
    for (let i = 0; i < this.bits.byteLength; i++) this.bits[i]! |= other.bits[i] ?? 0;
  }
  dirty(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.regions; i++) if (this.get(i)) out.push(i);
    return out;
  }
  clone(): Bitmap {
    return new Bitmap(this.regions, this.bits.slice());
  }
}

export interface VolumeMeta {
  uuid: string;
  size_bytes: number;
  region_bytes: number;
  seq: bigint;
  flags: number;
  gen: Generations;
  /** Region indexes of the activity log, most recently used last. */
  al: number[];
  bitmap: Bitmap;
}

export type CommitInput = Omit<VolumeMeta, "seq" | "uuid" | "size_bytes" | "region_bytes">;

export class MetadataError extends Error {
  constructor(
    readonly volume: string,
    detail: string,
  ) {
    super(`volume ${volume}: ${detail}`);
    this.name = "MetadataError";
  }
}

export function regionCount(size_bytes: number, region_bytes: number): number {
  return Math.ceil(size_bytes / region_bytes);
}

export function slotBytes(size_bytes: number, region_bytes: number): number {
  const raw = HEADER_BYTES + AL_SLOTS * 4 + Math.ceil(regionCount(size_bytes, region_bytes) / 8) + HASH_BYTES;
  return Math.ceil(raw / ALIGN_BYTES) * ALIGN_BYTES;
}

/** Bytes the metadata needs on its device: two slots. */
export function metadataBytes(size_bytes: number, region_bytes = DEFAULT_REGION_BYTES): number {
  return 2 * slotBytes(size_bytes, region_bytes);
}

export function encodeSlot(m: VolumeMeta): Uint8Array {
  const total = slotBytes(m.size_bytes, m.region_bytes);
  if (m.al.length > AL_SLOTS) throw new RangeError(`activity log holds ${m.al.length} regions, at most ${AL_SLOTS}`);
  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  b.set(MAGIC, 0);
  v.setUint32(8, FORMAT_VERSION);
  v.setUint32(12, total);
  v.setBigUint64(16, m.seq);
  b.set(uuidBytes(m.uuid), 24);
  v.setBigUint64(40, BigInt(m.size_bytes));
  v.setUint32(48, m.region_bytes);
  v.setUint32(52, m.flags);
  v.setBigUint64(56, m.gen.current);
  v.setBigUint64(64, m.gen.bitmap);
  v.setBigUint64(72, m.gen.history[0]);
  v.setBigUint64(80, m.gen.history[1]);
  v.setUint32(88, m.al.length);
  v.setUint32(92, m.bitmap.bits.byteLength);
  m.al.forEach((r, i) => v.setUint32(HEADER_BYTES + i * 4, r));
  b.set(m.bitmap.bits, HEADER_BYTES + AL_SLOTS * 4);
  b.set(sha256(b.subarray(0, total - HASH_BYTES)), total - HASH_BYTES);
  return b;
}

export type SlotResult = { ok: true; meta: VolumeMeta } | { ok: false; reason: string };

/** Total: any bytes give a meta or a reason. */
export function decodeSlot(b: Uint8Array): SlotResult {
  if (b.byteLength < HEADER_BYTES + HASH_BYTES) return { ok: false, reason: "slot shorter than its header" };
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < MAGIC.byteLength; i++) if (b[i] !== MAGIC[i]) return { ok: false, reason: "no metadata magic (not formatted, or overwritten)" };
  const format = v.getUint32(8);
  if (format !== FORMAT_VERSION) return { ok: false, reason: `metadata format ${format}, this build reads ${FORMAT_VERSION}` };
  const total = v.getUint32(12);
  if (total !== b.byteLength) return { ok: false, reason: `slot length field ${total} does not match the slot size ${b.byteLength}` };
  const want = sha256(b.subarray(0, total - HASH_BYTES));
  const have = b.subarray(total - HASH_BYTES);
  if (!want.every((x, i) => x === have[i])) return { ok: false, reason: "checksum mismatch (torn write or corruption)" };
  const size_bytes = Number(v.getBigUint64(40));
  const region_bytes = v.getUint32(48);
  const alCount = v.getUint32(88);
  const bitmapBytes = v.getUint32(92);
  if (region_bytes === 0 || !Number.isSafeInteger(size_bytes)) return { ok: false, reason: "size or region size out of range" };
  const regions = regionCount(size_bytes, region_bytes);
  if (bitmapBytes !== Math.ceil(regions / 8) || slotBytes(size_bytes, region_bytes) !== total) return { ok: false, reason: "bitmap size does not match volume size" };
  if (alCount > AL_SLOTS) return { ok: false, reason: `activity log count ${alCount} above ${AL_SLOTS}` };
  const al: number[] = [];
  for (let i = 0; i < alCount; i++) {
    const r = v.getUint32(HEADER_BYTES + i * 4);
    if (r >= regions) return { ok: false, reason: `activity log entry ${r} beyond the last region ${regions - 1}` };
    al.push(r);
  }
  const bmStart = HEADER_BYTES + AL_SLOTS * 4;
  return {
    ok: true,
    meta: {
      uuid: uuidString(b.subarray(24, 40)),
      size_bytes,
      region_bytes,
      seq: v.getBigUint64(16),
      flags: v.getUint32(52),
      gen: { current: v.getBigUint64(56), bitmap: v.getBigUint64(64), history: [v.getBigUint64(72), v.getBigUint64(80)] },
      al,
      bitmap: new Bitmap(regions, b.slice(bmStart, bmStart + bitmapBytes)),
    },
  };
}

/** Reads, validates and commits a volume's metadata on a MetaDevice at a fixed offset. */
export class MetaStore {
  private constructor(
    private readonly dev: MetaDevice,
    readonly volume: string,
    private readonly base_bytes: number,
    private state: VolumeMeta,
    /** The slot (0 or 1) that holds `state`. */
    private slot: number,
  ) {}

  get meta(): VolumeMeta {
    return cloneMeta(this.state);
  }

  /** Formats a new volume: a fresh uuid and generation, Inconsistent (not yet synced), empty bitmap. */
  static create(dev: MetaDevice, volume: string, init: { uuid: string; size_bytes: number; region_bytes?: number; current: bigint }, base_bytes = 0): MetaStore {
    const region_bytes = init.region_bytes ?? DEFAULT_REGION_BYTES;
    const meta: VolumeMeta = {
      uuid: init.uuid,
      size_bytes: init.size_bytes,
      region_bytes,
      seq: 1n,
      flags: 0,
      gen: { current: init.current, bitmap: 0n, history: [0n, 0n] },
      al: [],
      bitmap: new Bitmap(regionCount(init.size_bytes, region_bytes)),
    };
    const slot = slotBytes(init.size_bytes, region_bytes);
    // Invalidate the second slot first, so an old format's higher sequence cannot win.
    dev.writeAt(base_bytes + slot, new Uint8Array(ALIGN_BYTES));
    dev.writeAt(base_bytes, encodeSlot(meta));
    dev.sync();
    return new MetaStore(dev, volume, base_bytes, meta, 0);
  }

  /**
   * Reads both slots and attaches to the newest valid one. Touches nothing; on failure throws a
   * MetadataError naming the volume and what is wrong with each slot.
   */
  static attach(dev: MetaDevice, volume: string, expect: { size_bytes: number; region_bytes?: number }, base_bytes = 0): MetaStore {
    const slot = slotBytes(expect.size_bytes, expect.region_bytes ?? DEFAULT_REGION_BYTES);
    const results = [0, 1].map((i) => decodeSlot(dev.readAt(base_bytes + i * slot, slot)));
    let best: { meta: VolumeMeta; slot: number } | null = null;
    results.forEach((r, i) => {
      if (r.ok && (best === null || r.meta.seq > best.meta.seq)) best = { meta: r.meta, slot: i };
    });
    if (best === null) {
      const why = results.map((r, i) => `slot ${i}: ${r.ok ? "ok" : r.reason}`).join("; ");
      throw new MetadataError(volume, `refusing to attach: no valid metadata copy (${why})`);
    }
    const b: { meta: VolumeMeta; slot: number } = best;
    if (b.meta.size_bytes !== expect.size_bytes) {
      throw new MetadataError(volume, `refusing to attach: metadata says ${b.meta.size_bytes} bytes, the backing device has ${expect.size_bytes}`);
    }
    return new MetaStore(dev, volume, base_bytes, b.meta, b.slot);
  }

  /** Makes `next` the durable state. When it returns, a crash leaves `next` (or a later state). */
  commit(next: CommitInput): void {
    const c = this.beginCommit(next);
    this.dev.writeAt(c.offset_bytes, c.bytes);
    this.dev.sync();
    c.done();
  }

  /**
   * The same commit in two halves, for an edge that writes asynchronously: write `bytes` at
   * `offset_bytes` of the device, sync it, then call done(). Commits must not overlap.
   */
  beginCommit(next: CommitInput): { offset_bytes: number; bytes: Uint8Array; done: () => void } {
    const meta: VolumeMeta = { ...cloneMeta({ ...this.state, ...next }), seq: this.state.seq + 1n, uuid: this.state.uuid, size_bytes: this.state.size_bytes, region_bytes: this.state.region_bytes };
    const target = 1 - this.slot;
    return {
      offset_bytes: this.base_bytes + target * slotBytes(meta.size_bytes, meta.region_bytes),
      bytes: encodeSlot(meta),
      done: () => {
        this.state = meta;
        this.slot = target;
      },
    };
  }
}

export function cloneMeta(m: VolumeMeta): VolumeMeta {
  return { ...m, gen: { ...m.gen, history: [m.gen.history[0], m.gen.history[1]] }, al: [...m.al], bitmap: m.bitmap.clone() };
}

function sha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(b).digest());
}

function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new RangeError(`not a uuid: ${uuid}`);
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return b;
}

function uuidString(b: Uint8Array): string {
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A MetaDevice over a file descriptor (node:fs sync calls: metadata commits are small and rare). */
export class FdMetaDevice implements MetaDevice {
  constructor(
    private readonly fs: typeof import("node:fs"),
    private readonly fd: number,
  ) {}
  readAt(offset_bytes: number, length_bytes: number): Uint8Array {
    const b = new Uint8Array(length_bytes);
    let done = 0;
    while (done < length_bytes) {
      const n = this.fs.readSync(this.fd, b, done, length_bytes - done, offset_bytes + done);
      if (n === 0) break; // past the end reads as zeros: an unformatted slot
      done += n;
    }
    return b;
  }
  writeAt(offset_bytes: number, bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.byteLength) done += this.fs.writeSync(this.fd, bytes, done, bytes.byteLength - done, offset_bytes + done);
  }
  sync(): void {
    this.fs.fdatasyncSync(this.fd);
  }
}
