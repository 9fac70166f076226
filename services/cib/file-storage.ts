// Crash-safe storage of a node's Raft state in two files of its state directory:
//
//   raft.log   append-only records. Each is [u32 body length][u32 CRC-32C of body][body].
//              The first record is a header naming the snapshot the log continues (base index
//              and term); every later one is a batch: an optional hard state and entries. One
//              save() is one record, written and fsynced before save() returns. On replay an
//              entry at index i replaces every entry from i on, and the last hard state wins.
//   raft.snap  the newest snapshot, one checksummed record, replaced with write/fsync/rename.
//
// Torn writes. A crash can only damage what was written since the last fsync, which is the last
// record: a record that is cut short or fails its checksum, with nothing valid after it, is a torn
// tail. It is truncated and reported; its content was never acknowledged to anyone. A bad record
// with a valid one after it is corruption of data that was acknowledged: we refuse to start and
// name the file and the offset. A snapshot that fails its checksum is refused the same way.
//
// Compaction and snapshot installation write the snapshot first, then a new log (through a
// temporary file and rename) whose header names that snapshot. A crash between the two leaves a
// log that continues an older snapshot; open() keeps its entries only if it holds the new
// snapshot's last entry (so the chain is intact), and always keeps its hard state.
import { join } from "node:path";
import { ByteReader, ByteWriter, DecodeError } from "../shared/codec.ts";
import { crc32c } from "./crc32c.ts";
import { type Fs, writeFileAtomic } from "./fs.ts";
import type { Entry } from "./messages.ts";
import type { HardState, Persist, PersistentState, RaftStorage, Snapshot, SnapshotMeta } from "./storage.ts";

export const LOG_FILE = "raft.log";
export const SNAPSHOT_FILE = "raft.snap";
/** Largest record we write or accept: bounds one save() and what a bad length can make us read. */
export const MAX_RECORD_BYTES = 64 << 20;
const FRAME_HEADER_BYTES = 8;
const LOG_MAGIC = 0x48434c47; // "HCLG"
const SNAP_MAGIC = 0x4843534e; // "HCSN"
const FORMAT = 1;
const REC_HEADER = 1;
const REC_BATCH = 2;

/** The storage cannot be trusted: the node must not start on it. The message names the file. */
export class StorageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StorageError";
  }
}

export interface Opened {
  storage: FileStorage;
  state: PersistentState;
  /** What open() repaired (a torn tail truncated, leftovers removed): worth a warning in the log. */
  report: string[];
}

export class FileStorage implements RaftStorage {
  private hs: HardState;
  private snap: Snapshot | null;
  /** The snapshot the current log file continues. */
  private base: { index: number; term: number };
  /** Mirror of the entries in the log file after `base` (some may be covered by `snap`). */
  private ents: Entry[];
  private fd: number;

  private constructor(
    private readonly fs: Fs,
    private readonly dir: string,
    st: { hs: HardState; snap: Snapshot | null; base: { index: number; term: number }; ents: Entry[]; fd: number },
  ) {
    this.hs = st.hs;
    this.snap = st.snap;
    this.base = st.base;
    this.ents = st.ents;
    this.fd = st.fd;
  }

  get logPath(): string {
    return join(this.dir, LOG_FILE);
  }

  get snapshotPath(): string {
    return join(this.dir, SNAPSHOT_FILE);
  }

  static open(fs: Fs, dir: string): Opened {
    fs.mkdirp(dir);
    const report: string[] = [];
    const logPath = join(dir, LOG_FILE);
    const snapPath = join(dir, SNAPSHOT_FILE);
    for (const tmp of [`${logPath}.tmp`, `${snapPath}.tmp`]) {
      if (fs.exists(tmp)) {
        fs.unlink(tmp);
        report.push(`removed ${tmp}, left by a crash during a rewrite`);
      }
    }
    const snapBytes = fs.readFile(snapPath);
    const snap = snapBytes === null ? null : decodeSnapshotFile(snapBytes, snapPath);
    const logBytes = fs.readFile(logPath);
    if (logBytes === null) {
      if (snap !== null) {
        throw new StorageError(`${logPath} is missing but ${snapPath} exists: this node's term and vote are lost, so it could vote twice in one term; refusing to start (restore the directory, or empty it to rejoin with a fresh copy from the leader)`);
      }
      writeFileAtomic(fs, logPath, headerRecord({ index: 0, term: 0 }));
      const fd = fs.open(logPath, "append");
      const hs = { term: 0, vote: 0, commit: 0 };
      return { storage: new FileStorage(fs, dir, { hs, snap: null, base: { index: 0, term: 0 }, ents: [], fd }), state: { hardState: hs, snapshot: null, entries: [] }, report };
    }

    const parsed = parseLog(logBytes, logPath, report);
    const fd = fs.open(logPath, "append");
    if (parsed.validBytes < logBytes.byteLength) {
      fs.truncate(fd, parsed.validBytes);
      fs.fsync(fd);
    }
    const storage = new FileStorage(fs, dir, { hs: parsed.hs, snap, base: parsed.base, ents: parsed.ents, fd });
    const state = storage.reconcile(report);
    return { storage, state, report };
  }

  /** Join the snapshot and the log into the state a restart resumes from (see the file comment). */
  private reconcile(report: string[]): PersistentState {
    const snapIndex = this.snap?.meta.index ?? 0;
    const snapTerm = this.snap?.meta.term ?? 0;
    let entries: Entry[];
    if (this.base.index === snapIndex && this.base.term === snapTerm) {
      entries = this.ents;
    } else if (this.base.index < snapIndex) {
      const at = this.ents[snapIndex - this.base.index - 1];
      if (at && at.term === snapTerm) {
        entries = this.ents.slice(snapIndex - this.base.index);
      } else {
        report.push(`${this.logPath} continues a snapshot at ${this.base.index}, older than ${this.snapshotPath} at ${snapIndex}, and does not hold its last entry: ${this.ents.length} uncommitted entries dropped (a crash during snapshot installation)`);
        entries = [];
      }
    } else {
      throw new StorageError(`${this.logPath} continues a snapshot at index ${this.base.index}, but ${this.snapshotPath} ${this.snap ? `holds index ${snapIndex}` : "is missing"}: refusing to start (the snapshot file was lost or replaced by an older one)`);
    }
    const lastIndex = snapIndex + entries.length;
    const lastTerm = entries.length > 0 ? entries[entries.length - 1]!.term : snapTerm;
    let hs = this.hs;
    if (snapTerm > hs.term) {
      // A snapshot from a leader of a newer term, renamed into place before the log that records
      // that term: adopt its term with no vote. Safe: a vote in that term would have been on disk
      // before it was sent, and the disk says our term was older.
      report.push(`${this.snapshotPath} is of term ${snapTerm}, newer than the stored term ${hs.term} (a crash during snapshot installation): adopting term ${snapTerm} with no vote`);
      hs = { term: snapTerm, vote: 0, commit: hs.commit };
    }
    if (lastTerm > hs.term) {
      throw new StorageError(`${this.logPath}: the log holds term ${lastTerm}, above the stored current term ${hs.term}: refusing to start (the file was altered)`);
    }
    let commit = hs.commit;
    if (commit > lastIndex) {
      report.push(`${this.logPath}: stored commit index ${commit} is beyond the last entry ${lastIndex}; using ${lastIndex}`);
      commit = lastIndex;
    }
    if (commit < snapIndex) commit = snapIndex;
    hs = { ...hs, commit };
    if (this.base.index !== snapIndex || this.base.term !== snapTerm || hs.term !== this.hs.term) {
      // Re-base the log on the snapshot now, so later appends follow what we loaded.
      this.rewriteLog({ index: snapIndex, term: snapTerm, voters: this.snap?.meta.voters ?? [] }, entries, hs);
    } else {
      this.ents = entries;
      this.hs = hs;
    }
    return this.durable();
  }

  save(p: Persist): void {
    if (p.snapshot) {
      this.installSnapshot(p.snapshot, p.entries, p.hardState ?? this.hs);
      return;
    }
    if (p.entries.length === 0 && p.hardState === null) return;
    const first = p.entries[0]?.index;
    const snapIndex = this.snap?.meta.index ?? 0;
    if (first !== undefined) {
      const last = this.lastIndex();
      if (first > last + 1) throw new StorageError(`${this.logPath}: entry ${first} would leave a gap after ${last}`);
      if (first <= snapIndex) throw new StorageError(`${this.logPath}: entry ${first} is inside the snapshot at ${snapIndex}`);
    }
    const record = batchRecord(p.hardState, p.entries);
    this.fs.append(this.fd, record);
    this.fs.fsync(this.fd);
    if (first !== undefined) {
      this.ents.length = first - this.base.index - 1;
      this.ents.push(...p.entries);
    }
    if (p.hardState) this.hs = { ...p.hardState };
  }

  compact(snapshot: Snapshot): void {
    const snapIndex = this.snap?.meta.index ?? 0;
    if (snapshot.meta.index <= snapIndex) return;
    if (snapshot.meta.index > this.lastIndex()) throw new StorageError(`${this.logPath}: snapshot at ${snapshot.meta.index} is beyond the last entry ${this.lastIndex()}`);
    writeFileAtomic(this.fs, this.snapshotPath, snapshotRecord(snapshot));
    const keep = this.ents.filter((e) => e.index > snapshot.meta.index);
    this.snap = snapshot;
    this.rewriteLog(snapshot.meta, keep, this.hs);
  }

  /**
   * Whether the entry (index, term) is durable here, or covered by the durable snapshot (whose
   * prefix is committed, so its terms are not stored). For the simulator's checker.
   */
  holds(index: number, term: number): boolean {
    const snapIndex = this.snap?.meta.index ?? 0;
    if (index < snapIndex) return true;
    if (index === snapIndex) return this.snap?.meta.term === term;
    return this.ents[index - this.base.index - 1]?.term === term;
  }

  durable(): PersistentState {
    return { hardState: { ...this.hs }, snapshot: this.snap, entries: [...this.ents] };
  }

  close(): void {
    this.fs.close(this.fd);
  }

  private installSnapshot(snapshot: Snapshot, entries: Entry[], hs: HardState): void {
    writeFileAtomic(this.fs, this.snapshotPath, snapshotRecord(snapshot));
    this.snap = snapshot;
    this.rewriteLog(snapshot.meta, entries, hs);
  }

  private rewriteLog(base: SnapshotMeta, entries: Entry[], hs: HardState): void {
    if (entries.length > 0 && entries[0]!.index !== base.index + 1) throw new StorageError(`${this.logPath}: entries after a snapshot at ${base.index} start at ${entries[0]!.index}`);
    this.fs.close(this.fd);
    const w = new ByteWriter(1024);
    w.bytes(headerRecord(base)).bytes(batchRecord(hs, entries));
    writeFileAtomic(this.fs, this.logPath, w.finish());
    this.fd = this.fs.open(this.logPath, "append");
    this.base = { index: base.index, term: base.term };
    this.ents = [...entries];
    this.hs = { ...hs };
  }

  /** The mirror is based on the snapshot point after open() and every rewrite. */
  private lastIndex(): number {
    return this.base.index + this.ents.length;
  }
}

// ---- records --------------------------------------------------------------------------------

function frame(body: Uint8Array): Uint8Array {
  if (body.byteLength > MAX_RECORD_BYTES) throw new StorageError(`record of ${body.byteLength} bytes is over the ${MAX_RECORD_BYTES}-byte limit`);
  return new ByteWriter(body.byteLength + FRAME_HEADER_BYTES).u32(body.byteLength).u32(crc32c(body)).bytes(body).finish();
}

function headerRecord(base: { index: number; term: number }): Uint8Array {
  return frame(new ByteWriter(32).u8(REC_HEADER).u32(LOG_MAGIC).u8(FORMAT).u53(base.index).u53(base.term).finish());
}

function batchRecord(hs: HardState | null, entries: Entry[]): Uint8Array {
  const w = new ByteWriter(64);
  w.u8(REC_BATCH).u8(hs ? 1 : 0);
  if (hs) w.u53(hs.term).u8(hs.vote).u53(hs.commit);
  w.u32(entries.length);
  const enc = new TextEncoder();
  for (const e of entries) {
    const data = enc.encode(e.data);
    w.u53(e.index).u53(e.term).u32(data.byteLength).bytes(data);
  }
  return frame(w.finish());
}

type FrameRead = { ok: true; body: Uint8Array; next: number } | { ok: false; reason: string };

function readFrame(bytes: Uint8Array, offset: number): FrameRead {
  const left = bytes.byteLength - offset;
  if (left < FRAME_HEADER_BYTES) return { ok: false, reason: `${left} bytes, short of a record header` };
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, FRAME_HEADER_BYTES);
  const length = view.getUint32(0);
  const crc = view.getUint32(4);
  if (length === 0 || length > MAX_RECORD_BYTES) return { ok: false, reason: `implausible record length ${length}` };
  if (length > left - FRAME_HEADER_BYTES) return { ok: false, reason: `record of ${length} bytes cut short at ${left - FRAME_HEADER_BYTES}` };
  const body = bytes.subarray(offset + FRAME_HEADER_BYTES, offset + FRAME_HEADER_BYTES + length);
  if (crc32c(body) !== crc) return { ok: false, reason: "checksum mismatch" };
  return { ok: true, body, next: offset + FRAME_HEADER_BYTES + length };
}

/** Whether any valid record starts after `offset`: then the damage is not a torn tail. */
function validRecordAfter(bytes: Uint8Array, offset: number): number | null {
  for (let at = offset + 1; at + FRAME_HEADER_BYTES < bytes.byteLength; at++) {
    if (readFrame(bytes, at).ok) return at;
  }
  return null;
}

interface ParsedLog {
  hs: HardState;
  base: { index: number; term: number };
  ents: Entry[];
  validBytes: number;
}

function parseLog(bytes: Uint8Array, path: string, report: string[]): ParsedLog {
  let offset = 0;
  let hs: HardState = { term: 0, vote: 0, commit: 0 };
  let base: { index: number; term: number } | null = null;
  const ents: Entry[] = [];
  while (offset < bytes.byteLength) {
    const f = readFrame(bytes, offset);
    if (!f.ok) {
      const after = validRecordAfter(bytes, offset);
      if (after !== null || base === null) {
        throw new StorageError(`${path}: corrupt record at byte ${offset} (${f.reason})${after !== null ? `, with a valid record at byte ${after} after it` : " in the header"}: data that was acknowledged is damaged; refusing to start (restore the directory, or empty it to rejoin with a fresh copy from the leader)`);
      }
      report.push(`${path}: torn record at byte ${offset} (${f.reason}; ${bytes.byteLength - offset} bytes) from a crash during a write: truncated`);
      break;
    }
    try {
      const r = new ByteReader(f.body);
      const type = r.u8("record type");
      if (base === null) {
        if (type !== REC_HEADER) throw new DecodeError(`first record has type ${type}, not a header`);
        if (r.u32("magic") !== LOG_MAGIC) throw new DecodeError("not a CIB log (bad magic)");
        const format = r.u8("format");
        if (format !== FORMAT) throw new DecodeError(`format ${format}, this build reads ${FORMAT}`);
        base = { index: r.u53("base index"), term: r.u53("base term") };
      } else {
        if (type !== REC_BATCH) throw new DecodeError(`record type ${type}, expected a batch`);
        if (r.u8("flags") & 1) hs = { term: r.u53("term"), vote: r.u8("vote"), commit: r.u53("commit") };
        const count = r.u32("entry count");
        const dec = new TextDecoder("utf-8", { fatal: true });
        for (let i = 0; i < count; i++) {
          const e = { index: r.u53("index"), term: r.u53("term"), data: dec.decode(r.bytesOf(r.u32("data length"), "data")) };
          const last = base.index + ents.length;
          if (e.index <= base.index || e.index > last + 1) throw new DecodeError(`entry ${e.index} does not follow the log (base ${base.index}, last ${last})`);
          ents.length = e.index - base.index - 1;
          const prevTerm = ents.length > 0 ? ents[ents.length - 1]!.term : base.term;
          if (e.term < prevTerm) throw new DecodeError(`entry ${e.index} has term ${e.term} below its predecessor's ${prevTerm}`);
          ents.push(e);
        }
      }
      r.end("record");
    } catch (e) {
      if (!(e instanceof DecodeError) && !(e instanceof TypeError)) throw e;
      throw new StorageError(`${path}: record at byte ${offset} passes its checksum but is invalid (${e.message}): refusing to start`);
    }
    offset = f.next;
  }
  if (base === null) throw new StorageError(`${path}: no header record: refusing to start`);
  return { hs, base, ents, validBytes: offset };
}

function snapshotRecord(s: Snapshot): Uint8Array {
  const body = new ByteWriter(s.data.byteLength + 64).u53(s.meta.index).u53(s.meta.term).u8(s.meta.voters.length);
  for (const v of s.meta.voters) body.u8(v);
  body.u32(s.data.byteLength).bytes(s.data);
  const b = body.finish();
  return new ByteWriter(b.byteLength + 16).u32(SNAP_MAGIC).u8(FORMAT).u32(b.byteLength).u32(crc32c(b)).bytes(b).finish();
}

function decodeSnapshotFile(bytes: Uint8Array, path: string): Snapshot {
  try {
    const r = new ByteReader(bytes);
    if (r.u32("magic") !== SNAP_MAGIC) throw new DecodeError("not a CIB snapshot (bad magic)");
    const format = r.u8("format");
    if (format !== FORMAT) throw new DecodeError(`format ${format}, this build reads ${FORMAT}`);
    const length = r.u32("length");
    const crc = r.u32("checksum");
    const body = r.bytesOf(length, "snapshot body");
    r.end("snapshot file");
    if (crc32c(body) !== crc) throw new DecodeError("checksum mismatch");
    const b = new ByteReader(body);
    const meta: SnapshotMeta = { index: b.u53("index"), term: b.u53("term"), voters: [] };
    const voters = b.u8("voter count");
    for (let i = 0; i < voters; i++) meta.voters.push(b.u8("voter"));
    const data = b.bytesOf(b.u32("data length"), "data").slice();
    b.end("snapshot body");
    return { meta, data };
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    throw new StorageError(`${path} is corrupt (${e.message}): refusing to start on a snapshot that cannot be trusted (restore the directory, or empty it to rejoin with a fresh copy from the leader)`);
  }
}
