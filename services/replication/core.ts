// The replication state machine of one volume on one node, without I/O (docs/replication.md).
//
// Inputs: commands (promote, demote, connect, disconnect, outdate, resolve), transport events
// (transportUp, transportDown, receive), application I/O (write, flush) and completions of the
// I/O it asked for (diskDone). Every input returns effects, to be executed IN ORDER by the edge:
// a `meta-commit` must be durable before any later effect runs (the simulator commits
// synchronously; Volume holds its effect queue until its asynchronous commit is durable) — that is
// how the activity log is written ahead of the data.
import { createHash } from "node:crypto";
import { handshakeHello, type CoreConfig, type DiskState, type ConnState, type ReplState, type Effect, type PeerMsg, type IoPurpose, type PromoteResult } from "./types.ts";
import { decide, hex, syncSet, type Hello, type Role } from "./handshake.ts";
import { AL_SLOTS, Flag, cloneMeta, type VolumeMeta } from "./metadata.ts";

export type { CoreConfig, Effect, PeerMsg } from "./types.ts";

/** Regions after a write's last one that join the activity log in the same commit. */
const AL_PREFETCH = 31;

interface AppWrite {
  req: number;
  offset_bytes: number;
  length_bytes: number;
  regions: number[];
  localDone: boolean;
  /** Protocol C: the peer wrote it; A/B: the peer received it; or the peer is gone (bitmap marked). */
  peerDone: boolean;
  acked: boolean;
  error: string | null;
  seq: number;
}

interface AppFlush {
  req: number;
  error?: string;
  localDone: boolean;
  peerDone: boolean;
  acked: boolean;
  seq: number;
}

type Held = { kind: "write"; req: number; offset_bytes: number; data: Uint8Array; fua: boolean } | { kind: "flush"; req: number };
type PeerOp =
  | { kind: "write"; seq: number; offset_bytes: number; data: Uint8Array; fua: boolean; resync: number | null }
  | { kind: "flush"; seq: number }
  | { kind: "verify"; region: number; digest: Uint8Array; offset_bytes: number; length_bytes: number }
  | { kind: "csum"; region: number; block_bytes: number; digests: Uint8Array; offset_bytes: number; length_bytes: number }
  | { kind: "read"; seq: number; offset_bytes: number; length_bytes: number };

interface VerifyRun {
  next: number;
  reading: Map<number, { redo: boolean }>;
  awaiting: Set<number>;
  /** Regions whose read raced a write: read again once no local write to them is in flight. */
  retry: Set<number>;
  outOfSync: number[];
  checked: number;
}

export class ReplicationCore {
  private meta: VolumeMeta;
  role: Role = "Secondary";
  conn: ConnState = "StandAlone";
  repl: ReplState = "Off";
  /** Fencing in progress: writes are not acknowledged until the cluster confirms the peer is outdated. */
  suspended = false;
  /** Why the connection stopped (split brain, refusal), for status. */
  lastError = "";
  private peer: Hello | null = null;
  private discardMyData = false;
  private nextIo = 1;
  private seq = 0;
  private readonly io = new Map<number, IoPurpose>();
  private readonly writes = new Map<number, AppWrite>();
  private readonly flushes = new Map<number, AppFlush>();
  private readonly bySeq = new Map<number, number>();
  private held: Held[] = [];
  private readonly alRefs = new Map<number, number>();
  private unackedSent_bytes = 0;
  // Secondary side: peer writes applied in arrival order; overlapping ones never concurrently.
  private peerQueue: PeerOp[] = [];
  private readonly peerInFlight = new Map<number, { offset_bytes: number; length_bytes: number }>();
  // Resync source: regions being read, and those written by the application meanwhile.
  private readonly rsReading = new Map<number, { redo: boolean }>();
  private readonly rsSent = new Set<number>();
  /**
   * Checksum resync, source: regions read and digested, waiting for the target's answer. The data
   * read is kept to send the differing blocks; `redo` when the application wrote to the region
   * meanwhile (that write went to the peer after our digests, so the kept data is stale).
   */
  private readonly rsCsum = new Map<number, { data: Uint8Array; redo: boolean }>();
  /** Checksum resync, target: a region's block writes still in flight (its rs-ack waits for all). */
  private readonly rsParts = new Map<number, number>();
  /** The current (or last) resync as source: bytes sent, and bytes found equal by checksum and not sent. */
  resyncSent_bytes = 0;
  resyncSkipped_bytes = 0;
  /**
   * Why the local disk was detached (an I/O error on the backing file), or null while attached.
   * Detached = Diskless (DRBD's on-io-error detach): a Primary goes on through an UpToDate peer;
   * the metadata says Inconsistent with every region out of sync, so a later attach (the volume
   * brought down and up again) takes a full resync from the peer (cheap with csums).
   */
  diskFailure: string | null = null;
  /** A Diskless Primary's reads waiting for the peer, by message seq. */
  private readonly peerReads = new Map<number, { req: number; length_bytes: number }>();
  private verify: VerifyRun | null = null;

  constructor(
    private readonly cfg: CoreConfig,
    meta: VolumeMeta,
  ) {
    this.meta = cloneMeta(meta);
  }

  // ---- status ----

  get diskState(): DiskState {
    if (this.diskFailure !== null) return "Diskless";
    if ((this.meta.flags & Flag.CONSISTENT) === 0) return "Inconsistent";
    if ((this.meta.flags & Flag.OUTDATED) !== 0) return "Outdated";
    return "UpToDate";
  }

  get generations() {
    return { ...this.meta.gen };
  }

  get outOfSyncRegions(): number {
    return this.meta.bitmap.count();
  }

  get peerRole(): Role | null {
    return this.conn === "Connected" ? (this.peer?.role ?? null) : null;
  }

  snapshot(): VolumeMeta {
    return cloneMeta(this.meta);
  }

  // ---- lifecycle ----

  /** After attach: a node that crashed as Primary resyncs its activity log's regions. */
  start(): Effect[] {
    if ((this.meta.flags & Flag.PRIMARY) === 0 && this.meta.al.length === 0) return [];
    for (const r of this.meta.al) this.meta.bitmap.set(r);
    const n = this.meta.al.length;
    this.meta.al = [];
    this.meta.flags &= ~Flag.PRIMARY;
    return [this.commit(), this.log("warn", `was Primary when it stopped: ${n} regions of the activity log marked out of sync`)];
  }

  connect(): Effect[] {
    // Diskless has nothing to sync into: it stays away until attached again (a new core).
    if (this.diskFailure !== null && this.role !== "Primary") return [this.log("warn", `volume ${this.cfg.volume}: Diskless (${this.diskFailure}): attach the disk again before connecting`)];
    if (this.conn === "StandAlone") this.conn = "Connecting";
    return [];
  }

  disconnect(reason = "operator disconnect"): Effect[] {
    // A Primary leaving an in-sync peer tells it first that it is now Outdated (best effort: the
    // link is dropped right after; the cluster's mark, asked for by peerLost, is the guarantee).
    const tell: Effect[] = this.role === "Primary" && this.conn === "Connected" && this.repl === "Established" && this.peer?.role === "Secondary" ? [{ kind: "send", msg: { t: "outdate" } }] : [];
    const out = this.peerLost(reason);
    this.conn = "StandAlone";
    return [...tell, { kind: "disconnect", reason }, ...out];
  }

  transportUp(): Effect[] {
    if (this.conn !== "Connecting") return [{ kind: "disconnect", reason: `not accepting a connection while ${this.conn}` }];
    this.conn = "Handshake";
    this.peer = null;
    return [{ kind: "send", msg: { t: "hello", hello: this.hello() } }];
  }

  transportDown(reason: string): Effect[] {
    return this.peerLost(reason);
  }

  private hello(): Hello {
    return handshakeHello(this.cfg, this.meta, this.role, this.discardMyData);
  }

  // ---- commands ----

  /**
   * `twoPrimaries`: the explicit request to become a second Primary beside a Primary peer (the
   * live-migration window). Granted only when the configuration allows it, the peers are
   * connected and in sync (Established, no resync), this disk is UpToDate and the protocol is C,
   * so each side's writes are on both disks before either acknowledges them.
   */
  promote(force = false, twoPrimaries = false): PromoteResult {
    if (this.role === "Primary") return { ok: true, message: "already Primary", effects: [] };
    if (this.diskFailure !== null) return { ok: false, message: `volume ${this.cfg.volume}: refusing promotion: Diskless (${this.diskFailure}); fix the disk and attach it (\`hapd volume attach ${this.cfg.volume}\`), or promote the peer`, effects: [] };
    if (this.conn === "Handshake") return { ok: false, message: `volume ${this.cfg.volume}: handshake with the peer in progress; retry`, effects: [] };
    if (twoPrimaries) {
      const v = this.cfg.volume;
      if (!this.cfg.allowTwoPrimaries) return { ok: false, message: `volume ${v}: dual-primary is not allowed by the configuration (allow_two_primaries: true on both hosts)`, effects: [] };
      if (this.conn !== "Connected" || this.repl !== "Established") return { ok: false, message: `volume ${v}: dual-primary needs the peer connected and in sync (now ${this.conn}${this.conn === "Connected" ? `/${this.repl}` : ""})`, effects: [] };
      if (this.cfg.protocol !== "C") return { ok: false, message: `volume ${v}: dual-primary needs protocol C (this volume uses ${this.cfg.protocol})`, effects: [] };
      if (this.diskState !== "UpToDate" || force) return { ok: false, message: `volume ${v}: dual-primary needs an UpToDate disk and no --force (disk ${this.diskState})`, effects: [] };
    } else if (this.peerRole === "Primary") {
      return { ok: false, message: `volume ${this.cfg.volume}: the peer is Primary${this.cfg.allowTwoPrimaries ? "; a second Primary needs the explicit request (--allow-two-primaries)" : "; dual-primary is not enabled"}`, effects: [] };
    }
    const out: Effect[] = [];
    const ds = this.diskState;
    if (ds !== "UpToDate") {
      const why =
        ds === "Outdated"
          ? "the cluster marked this disk Outdated: the peer acknowledged writes this disk does not have"
          : "this disk is Inconsistent: a resync did not finish, parts of it are older than others";
      if (!force) return { ok: false, message: `volume ${this.cfg.volume}: refusing promotion: ${why}. Promote the peer, or use force to accept losing those writes`, effects: [] };
      out.push(this.log("error", `volume ${this.cfg.volume}: FORCED promotion of a disk in state ${ds}: ${why}. Writes acknowledged elsewhere may be lost and a split brain will be reported when the peers meet`));
      this.meta.flags |= Flag.CONSISTENT;
      this.meta.flags &= ~Flag.OUTDATED;
    }
    // Writing without the peer starts a new lineage, so the handshake can tell who moved on.
    const alone = !this.replicating();
    if (alone || ds !== "UpToDate") this.rotate();
    this.role = "Primary";
    this.meta.flags |= Flag.PRIMARY;
    out.push(this.commit());
    if (this.conn === "Connected") out.push({ kind: "send", msg: { t: "role", role: "Primary" } });
    if (alone && this.cfg.fencing === "resource-only") {
      // The peer's disk may be UpToDate and promotable: it must be outdated before we acknowledge.
      this.suspended = true;
      out.push({ kind: "outdate-peer" }, this.log("warn", `volume ${this.cfg.volume}: promoted without the peer; I/O suspended until the cluster confirms the peer is outdated`));
    }
    return { ok: true, message: force && ds !== "UpToDate" ? `promoted by force (${ds})` : "promoted", effects: out };
  }

  demote(): PromoteResult {
    if (this.role === "Secondary") return { ok: true, message: "already Secondary", effects: [] };
    if (this.writes.size + this.flushes.size + this.held.length > 0) return { ok: false, message: `volume ${this.cfg.volume}: I/O in flight; stop the guest first`, effects: [] };
    this.role = "Secondary";
    this.meta.flags &= ~Flag.PRIMARY;
    this.meta.al = [];
    const out: Effect[] = [this.commit()];
    if (this.conn === "Connected") out.push({ kind: "send", msg: { t: "role", role: "Secondary" } });
    // A Diskless Secondary serves nothing: leave the peer until the disk is attached again.
    if (this.diskFailure !== null && this.conn !== "StandAlone") out.push(...this.disconnect("Diskless after demotion"));
    return { ok: true, message: "demoted", effects: out };
  }

  /** The cluster marks this disk Outdated (the Primary's fencing handler). */
  outdate(): PromoteResult {
    if (this.role === "Primary") return { ok: false, message: `volume ${this.cfg.volume}: a Primary cannot be outdated`, effects: [] };
    const out: Effect[] = [];
    // The Primary has given up on us; whatever this side believes about the link is stale.
    if (this.conn === "Handshake" || this.conn === "Connected") out.push({ kind: "disconnect", reason: "outdated by the cluster" }, ...this.peerLost("outdated by the cluster"));
    if ((this.meta.flags & Flag.CONSISTENT) !== 0) this.meta.flags |= Flag.OUTDATED;
    out.push(this.commit());
    return { ok: true, message: "outdated", effects: out };
  }

  /**
   * Operator: throw this disk's contents away and take a full copy from the peer (DRBD's
   * `invalidate`). Inconsistent with every region marked, so the next handshake makes this side
   * the target of a full resync whichever lineage it is on.
   */
  invalidate(): PromoteResult {
    if (this.role === "Primary") return { ok: false, message: `volume ${this.cfg.volume}: demote before invalidating this node's data`, effects: [] };
    const out: Effect[] = [];
    // Drop the connection: the peer must see our new (Inconsistent) state in a fresh handshake.
    if (this.conn === "Handshake" || this.conn === "Connected") out.push({ kind: "disconnect", reason: "invalidated by the operator" }, ...this.peerLost("invalidated by the operator"));
    this.meta.flags &= ~(Flag.CONSISTENT | Flag.OUTDATED);
    this.meta.bitmap.setAll();
    if (this.conn === "StandAlone") this.conn = "Connecting";
    out.push(this.commit(), this.log("warn", `volume ${this.cfg.volume}: invalidated: this disk is Inconsistent and takes a full copy from the peer at the next connection`));
    return { ok: true, message: "invalidated: a full resync from the peer follows", effects: out };
  }

  /** Operator: this node is the split-brain victim. Its divergent regions are preserved before the resync. */
  discardLocalData(): Effect[] {
    if (this.role === "Primary") return [this.log("error", `volume ${this.cfg.volume}: demote before discarding this node's data`)];
    this.discardMyData = true;
    if (this.conn === "StandAlone") this.conn = "Connecting";
    return [this.log("warn", `volume ${this.cfg.volume}: this node's changes will be replaced by the peer's at the next connection`)];
  }

  fenceConfirmed(): Effect[] {
    if (!this.suspended) return [];
    this.suspended = false;
    const out: Effect[] = [this.log("info", `volume ${this.cfg.volume}: the cluster confirmed the peer is outdated; resuming I/O`)];
    for (const w of [...this.writes.values()]) this.finishWrite(w, out);
    for (const f of [...this.flushes.values()]) this.finishFlush(f, out);
    this.pump(out);
    return out;
  }

  /**
   * Online verify: compare every region's SHA-256 with the peer's while the volume is in use.
   * Regions found different are marked out of sync (resynced at the next connection). Run it on
   * the Primary: only there do replicated writes and the verify reads share one order.
   */
  startVerify(): PromoteResult {
    if (this.diskFailure !== null) return { ok: false, message: `volume ${this.cfg.volume}: Diskless (${this.diskFailure}): nothing to verify`, effects: [] };
    if (this.conn !== "Connected" || this.repl !== "Established") return { ok: false, message: `volume ${this.cfg.volume}: verify needs an established connection (now ${this.conn}/${this.repl})`, effects: [] };
    if (this.peer?.role === "Primary") return { ok: false, message: `volume ${this.cfg.volume}: run verify on the Primary`, effects: [] };
    if (this.verify) return { ok: false, message: `volume ${this.cfg.volume}: verify already running`, effects: [] };
    this.verify = { next: 0, reading: new Map(), awaiting: new Set(), retry: new Set(), outOfSync: [], checked: 0 };
    const out: Effect[] = [this.log("info", `volume ${this.cfg.volume}: online verify started (${this.meta.bitmap.regions} regions)`)];
    this.verifyPump(out);
    return { ok: true, message: "verify started", effects: out };
  }

  get verifying(): boolean {
    return this.verify !== null;
  }

  private verifyPump(out: Effect[]): void {
    const v = this.verify;
    if (!v) return;
    const regions = this.meta.bitmap.regions;
    for (const r of [...v.retry]) {
      if (this.localWriteInFlight(r)) continue;
      v.retry.delete(r);
      this.startVerifyRead(r, out);
    }
    while (v.next < regions && v.reading.size + v.awaiting.size < this.cfg.resyncInFlightMax) {
      if (this.localWriteInFlight(v.next)) break; // keep order simple: wait for that write to land
      this.startVerifyRead(v.next++, out);
    }
    if (v.next >= regions && v.reading.size === 0 && v.awaiting.size === 0 && v.retry.size === 0) {
      this.verify = null;
      v.outOfSync.sort((x, y) => x - y);
      out.push(
        { kind: "verify-done", checked: v.checked, outOfSync: v.outOfSync, complete: true },
        this.log(v.outOfSync.length ? "warn" : "info", `volume ${this.cfg.volume}: verify finished: ${v.checked} regions checked, ${v.outOfSync.length} out of sync${v.outOfSync.length ? " (marked; they resync at the next connection)" : ""}`),
      );
      if (v.outOfSync.length) out.push(this.commit());
    }
  }

  private startVerifyRead(region: number, out: Effect[]): void {
    this.verify!.reading.set(region, { redo: false });
    const offset_bytes = region * this.meta.region_bytes;
    const length_bytes = Math.min(this.meta.region_bytes, this.meta.size_bytes - offset_bytes);
    out.push({ kind: "disk-read", io: this.newIo({ kind: "ov-read", region, epoch: this.epoch }), offset_bytes, length_bytes });
  }

  private verifyReadDone(region: number, epoch: number, data: Uint8Array | undefined, out: Effect[]): void {
    const v = this.verify;
    const st = v?.reading.get(region);
    if (!v || !st || epoch !== this.epoch) return;
    v.reading.delete(region);
    if (st.redo || data === undefined) {
      v.retry.add(region);
      return this.verifyPump(out);
    }
    v.awaiting.add(region);
    out.push({ kind: "send", msg: { t: "ov-req", region, digest: sha256(data) } });
  }

  // ---- application I/O (Primary) ----

  write(req: number, offset_bytes: number, data: Uint8Array, fua: boolean): Effect[] {
    const out: Effect[] = [];
    if (this.role !== "Primary") return [{ kind: "ack", req, ok: false, error: "not Primary" }];
    if (offset_bytes < 0 || offset_bytes + data.byteLength > this.meta.size_bytes || data.byteLength === 0) return [{ kind: "ack", req, ok: false, error: "out of range" }];
    this.held.push({ kind: "write", req, offset_bytes, data, fua });
    this.pump(out);
    return out;
  }

  flush(req: number): Effect[] {
    const out: Effect[] = [];
    if (this.role !== "Primary") return [{ kind: "ack", req, ok: false, error: "not Primary" }];
    this.held.push({ kind: "flush", req });
    this.pump(out);
    return out;
  }

  private canIssue(): boolean {
    if (this.suspended || this.conn === "Handshake") return false;
    if (this.cfg.protocol === "A" && this.replicating() && this.unackedSent_bytes > this.cfg.sendQueueMax_bytes) return false;
    return true;
  }

  private pump(out: Effect[]): void {
    while (this.held.length > 0 && this.canIssue()) {
      const h = this.held[0]!;
      if (h.kind === "write" ? !this.issueWrite(h, out) : !this.issueFlush(h.req, out)) break;
      this.held.shift();
    }
  }

  private replicating(): boolean {
    return this.conn === "Connected" && (this.repl === "Established" || this.repl === "SyncSource");
  }

  private regionsOf(offset_bytes: number, length_bytes: number): number[] {
    const first = Math.floor(offset_bytes / this.meta.region_bytes);
    const last = Math.floor((offset_bytes + length_bytes - 1) / this.meta.region_bytes);
    const out: number[] = [];
    for (let r = first; r <= last; r++) out.push(r);
    return out;
  }

  /** The activity log must name a region before a write to it reaches the disk (write-ahead). */
  private ensureAl(regions: number[], out: Effect[]): boolean {
    const needed = regions.filter((r) => !this.meta.al.includes(r));
    if (needed.length === 0) return true;
    // Each AL change is a synchronous metadata commit (an fdatasync). Sequential writers would pay
    // one per region; taking the next few regions in the same commit pays one per AL_PREFETCH+1.
    const last = regions[regions.length - 1]!;
    const missing = [...needed];
    for (let r = last + 1; r <= last + AL_PREFETCH && r < this.meta.bitmap.regions; r++) if (!this.meta.al.includes(r)) missing.push(r);
    const evictable = this.meta.al.filter((r) => (this.alRefs.get(r) ?? 0) === 0 && !regions.includes(r));
    if (this.meta.al.length + missing.length - AL_SLOTS > evictable.length) missing.length = needed.length;
    const excess = this.meta.al.length + missing.length - AL_SLOTS;
    if (excess > evictable.length) return false;
    const evict = new Set(evictable.slice(0, Math.max(0, excess)));
    this.meta.al = [...this.meta.al.filter((r) => !evict.has(r)), ...missing];
    out.push(this.commit());
    return true;
  }

  private issueWrite(h: Held & { kind: "write" }, out: Effect[]): boolean {
    const regions = this.regionsOf(h.offset_bytes, h.data.byteLength);
    if (regions.length > AL_SLOTS) {
      out.push({ kind: "ack", req: h.req, ok: false, error: `write spans ${regions.length} regions, more than the activity log holds` });
      return true;
    }
    if (this.diskFailure !== null) return this.issuePeerOnlyWrite(h, regions, out);
    if (!this.ensureAl(regions, out)) return false;
    for (const r of regions) this.alRefs.set(r, (this.alRefs.get(r) ?? 0) + 1);
    const w: AppWrite = { req: h.req, offset_bytes: h.offset_bytes, length_bytes: h.data.byteLength, regions, localDone: false, peerDone: true, acked: false, error: null, seq: 0 };
    if (this.replicating()) {
      w.seq = ++this.seq;
      w.peerDone = false;
      this.bySeq.set(w.seq, w.req);
      this.unackedSent_bytes += h.data.byteLength;
      out.push({ kind: "send", msg: { t: "data", seq: w.seq, offset_bytes: h.offset_bytes, data: h.data, fua: h.fua } });
      for (const r of regions) {
        const reading = this.rsReading.get(r);
        if (reading) reading.redo = true; // the resync read may predate this write
        const digested = this.rsCsum.get(r);
        if (digested) digested.redo = true;
        const verifying = this.verify?.reading.get(r);
        if (verifying) verifying.redo = true;
      }
    } else {
      for (const r of regions) this.meta.bitmap.set(r);
    }
    this.writes.set(w.req, w);
    out.push({ kind: "disk-write", io: this.newIo({ kind: "app-write", req: h.req }), offset_bytes: h.offset_bytes, data: h.data, fua: h.fua });
    if (this.cfg.protocol === "A" && this.replicating() && this.unackedSent_bytes > this.cfg.sendQueueMax_bytes && this.cfg.congestion === "disconnect") {
      const reason = `congestion: ${this.unackedSent_bytes} bytes unacknowledged, limit ${this.cfg.sendQueueMax_bytes}`;
      out.push({ kind: "disconnect", reason }, ...this.peerLost(reason));
    }
    return true;
  }

  /** The peer holds the only copy (Established = its disk is UpToDate). */
  private peerServes(): boolean {
    return this.conn === "Connected" && this.repl === "Established";
  }

  /** Diskless Primary: the write goes to the peer only, and is acknowledged when the peer has it. */
  private issuePeerOnlyWrite(h: Held & { kind: "write" }, regions: number[], out: Effect[]): boolean {
    if (!this.peerServes()) {
      out.push({ kind: "ack", req: h.req, ok: false, error: `Diskless (${this.diskFailure}) and no UpToDate peer` });
      return true;
    }
    for (const r of regions) this.alRefs.set(r, (this.alRefs.get(r) ?? 0) + 1);
    const w: AppWrite = { req: h.req, offset_bytes: h.offset_bytes, length_bytes: h.data.byteLength, regions, localDone: true, peerDone: false, acked: false, error: null, seq: ++this.seq };
    this.bySeq.set(w.seq, w.req);
    this.unackedSent_bytes += h.data.byteLength;
    this.writes.set(w.req, w);
    out.push({ kind: "send", msg: { t: "data", seq: w.seq, offset_bytes: h.offset_bytes, data: h.data, fua: h.fua } });
    return true;
  }

  /** Diskless Primary: a read served by the peer, answered with an `ack` carrying the data. */
  readFromPeer(req: number, offset_bytes: number, length_bytes: number): Effect[] {
    if (this.role !== "Primary") return [{ kind: "ack", req, ok: false, error: "not Primary" }];
    if (length_bytes <= 0 || offset_bytes < 0 || offset_bytes + length_bytes > this.meta.size_bytes) return [{ kind: "ack", req, ok: false, error: "out of range" }];
    if (!this.peerServes()) return [{ kind: "ack", req, ok: false, error: `Diskless (${this.diskFailure ?? "no local disk"}) and no UpToDate peer` }];
    const seq = ++this.seq;
    this.peerReads.set(seq, { req, length_bytes });
    return [{ kind: "send", msg: { t: "rd-req", seq, offset_bytes, length_bytes } }];
  }

  /**
   * The edge saw a local I/O error outside the core's own requests (an application read): the
   * disk is detached, as for a failed write.
   */
  localIoFailed(what: string): Effect[] {
    const out: Effect[] = [];
    this.detach(what, out);
    this.pump(out);
    return out;
  }

  /** On a local I/O error: Failed → Diskless (DRBD's on-io-error detach). */
  private detach(reason: string, out: Effect[]): void {
    if (this.diskFailure !== null) return;
    this.diskFailure = reason;
    const served = this.role === "Primary" && this.peerServes();
    out.push(this.log("error", `volume ${this.cfg.volume}: local disk I/O error (${reason}): disk Failed, detached → Diskless; ${served ? "I/O goes on through the peer" : "I/O fails until the disk is attached again"}`));
    // When the peer holds everything (in sync) or this disk is a sync target anyway, it is not
    // to be trusted again without a full resync: Inconsistent, every region marked. When it may
    // be the only good copy (alone, or the resync source), its metadata stays as it is: marking
    // it Inconsistent would let a later handshake copy an Outdated peer over acknowledged writes.
    if (this.peerServes() || this.repl === "SyncTarget") {
      this.meta.flags &= ~(Flag.CONSISTENT | Flag.OUTDATED);
      this.meta.bitmap.setAll();
      this.meta.al = [];
      out.push(this.commit());
    }
    this.rsReading.clear();
    this.rsCsum.clear();
    if (this.verify) {
      out.push({ kind: "verify-done", checked: this.verify.checked, outOfSync: this.verify.outOfSync, complete: false });
      this.verify = null;
    }
    // A Secondary (or a Primary without an UpToDate peer, e.g. a resync source) has no data to
    // offer: part, so the Primary marks what we miss and fences us through the cluster.
    if (!served) out.push(...this.disconnect(`local disk failed: ${reason}`));
  }

  private issueFlush(req: number, out: Effect[]): boolean {
    const f: AppFlush = { req, localDone: false, peerDone: true, acked: false, seq: 0 };
    if (this.diskFailure !== null) {
      if (!this.peerServes()) {
        out.push({ kind: "ack", req, ok: false, error: `Diskless (${this.diskFailure}) and no UpToDate peer` });
        return true;
      }
      // The peer's disk is the only one: the flush goes there whatever the protocol.
      f.localDone = true;
      f.peerDone = false;
      f.seq = ++this.seq;
      this.bySeq.set(f.seq, -req - 1);
      this.flushes.set(req, f);
      out.push({ kind: "send", msg: { t: "flush", seq: f.seq } });
      return true;
    }
    // Protocol C: a flush is durable on both disks. A and B promise only the local disk.
    if (this.replicating() && this.cfg.protocol === "C") {
      f.seq = ++this.seq;
      f.peerDone = false;
      this.bySeq.set(f.seq, -req - 1);
      out.push({ kind: "send", msg: { t: "flush", seq: f.seq } });
    }
    this.flushes.set(req, f);
    out.push({ kind: "disk-flush", io: this.newIo({ kind: "app-flush", req }) });
    return true;
  }

  private finishWrite(w: AppWrite, out: Effect[]): void {
    // Diskless: the peer's copy is the only one, whatever the protocol.
    const peerOk = (this.cfg.protocol === "A" && this.diskFailure === null) || w.peerDone;
    if (!w.acked && w.localDone && peerOk && !this.suspended) {
      w.acked = true;
      out.push(w.error ? { kind: "ack", req: w.req, ok: false, error: w.error } : { kind: "ack", req: w.req, ok: true });
    }
    if (w.acked && w.localDone && w.peerDone) {
      this.writes.delete(w.req);
      for (const r of w.regions) this.alRefs.set(r, (this.alRefs.get(r) ?? 1) - 1);
    }
  }

  private finishFlush(f: AppFlush, out: Effect[]): void {
    if (!f.acked && f.localDone && f.peerDone && !this.suspended) {
      f.acked = true;
      this.flushes.delete(f.req);
      out.push(f.error ? { kind: "ack", req: f.req, ok: false, error: f.error } : { kind: "ack", req: f.req, ok: true });
    }
  }

  // ---- completions ----

  diskDone(io: number, ok: boolean, data?: Uint8Array): Effect[] {
    const p = this.io.get(io);
    if (p === undefined) return [];
    this.io.delete(io);
    const out: Effect[] = [];
    switch (p.kind) {
      case "app-write": {
        const w = this.writes.get(p.req);
        if (!w) break;
        w.localDone = true;
        if (!ok) {
          this.detach("write failed", out);
          // Sent to a peer that still serves: the peer's copy stands in for ours.
          if (w.seq === 0 || !this.peerServes()) w.error = "local disk write failed";
        }
        this.finishWrite(w, out);
        this.resyncPump(out);
        this.verifyPump(out);
        break;
      }
      case "app-flush": {
        const f = this.flushes.get(p.req);
        if (!f) break;
        f.localDone = true;
        if (!ok) {
          this.detach("flush failed", out);
          if (this.peerServes() && f.seq === 0) {
            // Protocol A/B did not send this flush: the peer's disk must now make it good.
            f.seq = ++this.seq;
            f.peerDone = false;
            this.bySeq.set(f.seq, -f.req - 1);
            out.push({ kind: "send", msg: { t: "flush", seq: f.seq } });
          } else if (!this.peerServes()) f.error = "local disk flush failed";
        }
        this.finishFlush(f, out);
        break;
      }
      case "peer-write":
      case "peer-flush":
        this.peerInFlight.delete(io);
        if (!ok && p.epoch === this.epoch) {
          // No ack: the Primary keeps the write in its bitmap when we part (detach disconnects).
          this.detach(p.kind === "peer-flush" ? "flush failed" : "write failed", out);
          break;
        }
        if (p.epoch === this.epoch) {
          const left = p.resync !== null ? (this.rsParts.get(p.resync) ?? 1) - 1 : 0;
          if (p.resync !== null && left > 0) {
            this.rsParts.set(p.resync, left);
          } else if (p.resync !== null) {
            this.rsParts.delete(p.resync);
            this.meta.bitmap.clear(p.resync);
            out.push({ kind: "send", msg: { t: "rs-ack", region: p.resync } });
          } else if (p.kind === "peer-flush" || this.cfg.protocol === "C") {
            out.push({ kind: "send", msg: { t: "ack", seq: p.seq, kind: p.kind === "peer-flush" ? "flush" : "write", ok } });
          }
        }
        this.drainPeerQueue(out);
        break;
      case "rs-read":
        if (!ok) this.detach("resync read failed", out);
        this.resyncReadDone(p.region, p.epoch, ok ? data : undefined, out);
        break;
      case "peer-read": {
        this.peerInFlight.delete(io);
        if (p.epoch === this.epoch) {
          out.push({ kind: "send", msg: { t: "rd-rep", seq: p.seq, ok: ok && data !== undefined, data: ok && data ? data : new Uint8Array(0) } });
          if (!ok) this.detach("read failed", out);
        }
        this.drainPeerQueue(out);
        break;
      }
      case "ov-read":
        if (!ok) this.detach("verify read failed", out);
        this.verifyReadDone(p.region, p.epoch, ok ? data : undefined, out);
        break;
      case "cs-peer-read": {
        this.peerInFlight.delete(io);
        if (!ok) {
          this.detach("checksum read failed", out);
          break;
        }
        if (p.epoch === this.epoch && this.repl === "SyncTarget") {
          const n = p.digests.byteLength / DIGEST_BYTES;
          const differ = new Uint8Array(Math.ceil(n / 8));
          // A failed read proves nothing equal: ask for every block.
          const mine = ok && data !== undefined ? blockDigests(data, p.block_bytes) : null;
          for (let i = 0; i < n; i++) {
            const same = mine !== null && Buffer.compare(mine.subarray(i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES), p.digests.subarray(i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES)) === 0;
            if (!same) differ[i >> 3]! |= 1 << (i & 7);
          }
          out.push({ kind: "send", msg: { t: "cs-rep", region: p.region, differ } });
        }
        this.drainPeerQueue(out);
        break;
      }
      case "ov-peer-read": {
        this.peerInFlight.delete(io);
        if (!ok) {
          this.detach("verify read failed", out);
          break;
        }
        if (p.epoch === this.epoch) {
          const equal = ok && data !== undefined && sha256(data).every((x, i) => x === p.digest[i]);
          if (!equal) this.meta.bitmap.set(p.region);
          out.push({ kind: "send", msg: { t: "ov-rep", region: p.region, equal } });
          if (!equal) out.push(this.log("warn", `volume ${this.cfg.volume}: verify: region ${p.region} differs from the peer's`));
        }
        this.drainPeerQueue(out);
        break;
      }
    }
    this.pump(out);
    return out;
  }

  // ---- the peer ----

  /** Bumped on every connection, so completions of an old connection do not answer a new one. */
  private epoch = 0;

  receive(msg: PeerMsg): Effect[] {
    const out: Effect[] = [];
    if (this.conn !== "Handshake" && this.conn !== "Connected") return out;
    const bad = this.invalid(msg);
    if (bad !== null) {
      // An authenticated peer that sends nonsense has a bug; never let it write outside the volume.
      const reason = `protocol error from the peer: ${bad}`;
      return [this.log("error", `volume ${this.cfg.volume}: ${reason}`), { kind: "disconnect", reason }, ...this.peerLost(reason)];
    }
    switch (msg.t) {
      case "hello":
        return this.onHello(msg.hello);
      case "data":
        if (this.repl === "Off") return out;
        if (this.cfg.protocol !== "C") out.push({ kind: "send", msg: { t: "ack", seq: msg.seq, kind: "recv", ok: true } });
        this.peerQueue.push({ kind: "write", seq: msg.seq, offset_bytes: msg.offset_bytes, data: msg.data, fua: msg.fua, resync: null });
        this.drainPeerQueue(out);
        return out;
      case "flush":
        this.peerQueue.push({ kind: "flush", seq: msg.seq });
        this.drainPeerQueue(out);
        return out;
      case "ack":
        this.onAck(msg.seq, out);
        this.pump(out);
        return out;
      case "rs-data":
        if (this.repl !== "SyncTarget") return out;
        this.peerQueue.push({ kind: "write", seq: 0, offset_bytes: msg.region * this.meta.region_bytes, data: msg.data, fua: false, resync: msg.region });
        this.drainPeerQueue(out);
        return out;
      case "cs-req": {
        if (this.repl !== "SyncTarget") return out;
        const offset_bytes = msg.region * this.meta.region_bytes;
        const length_bytes = Math.min(this.meta.region_bytes, this.meta.size_bytes - offset_bytes);
        // Queued like a write: the digest is taken after earlier writes landed, before later ones.
        this.peerQueue.push({ kind: "csum", region: msg.region, block_bytes: msg.block_bytes, digests: msg.digests, offset_bytes, length_bytes });
        this.drainPeerQueue(out);
        return out;
      }
      case "cs-rep":
        this.csumReply(msg.region, msg.differ, out);
        return out;
      case "outdate":
        // Only a Primary outdates its peer; two Primaries (dual-primary) do not outdate each other.
        if (this.role === "Primary") return out;
        if ((this.meta.flags & Flag.CONSISTENT) !== 0) this.meta.flags |= Flag.OUTDATED;
        // The commit is durable before the ack goes out (effects run in order).
        out.push(this.commit(), { kind: "send", msg: { t: "outdate-ack" } }, this.log("warn", `volume ${this.cfg.volume}: the Primary marked this disk ${this.diskState} over the link`));
        return out;
      case "outdate-ack":
        if (this.role !== "Primary" || !this.suspended) return out;
        // The peer can no longer be promoted with older data: as good as the cluster's answer
        // (which still follows, and clears once the peer is UpToDate again).
        this.suspended = false;
        out.push(this.log("info", `volume ${this.cfg.volume}: the peer confirmed over the link that it is Outdated or Inconsistent; resuming I/O`));
        for (const w of [...this.writes.values()]) this.finishWrite(w, out);
        for (const f of [...this.flushes.values()]) this.finishFlush(f, out);
        this.pump(out);
        return out;
      case "rd-req":
        if (this.repl !== "Established" || this.diskFailure !== null) {
          out.push({ kind: "send", msg: { t: "rd-rep", seq: msg.seq, ok: false, data: new Uint8Array(0) } });
          return out;
        }
        this.peerQueue.push({ kind: "read", seq: msg.seq, offset_bytes: msg.offset_bytes, length_bytes: msg.length_bytes });
        this.drainPeerQueue(out);
        return out;
      case "rd-rep": {
        const req = this.peerReads.get(msg.seq)?.req;
        if (req === undefined) return out;
        this.peerReads.delete(msg.seq);
        out.push(msg.ok ? { kind: "ack", req, ok: true, data: msg.data } : { kind: "ack", req, ok: false, error: "the peer could not read" });
        return out;
      }
      case "rs-blocks":
        if (this.repl !== "SyncTarget") return out;
        this.receiveBlocks(msg.region, msg.block_bytes, msg.mask, msg.data, out);
        return out;
      case "rs-ack":
        if (this.repl !== "SyncSource") return out;
        this.rsSent.delete(msg.region);
        this.meta.bitmap.clear(msg.region);
        this.resyncPump(out);
        return out;
      case "rs-done":
        return this.onResyncDone(msg.current);
      case "role":
        if (this.peer) this.peer.role = msg.role;
        return out;
      case "ov-req": {
        const offset_bytes = msg.region * this.meta.region_bytes;
        const length_bytes = Math.min(this.meta.region_bytes, this.meta.size_bytes - offset_bytes);
        this.peerQueue.push({ kind: "verify", region: msg.region, digest: msg.digest, offset_bytes, length_bytes });
        this.drainPeerQueue(out);
        return out;
      }
      case "ov-rep": {
        const v = this.verify;
        if (!v || !v.awaiting.delete(msg.region)) return out;
        v.checked++;
        if (!msg.equal) {
          v.outOfSync.push(msg.region);
          this.meta.bitmap.set(msg.region);
        }
        this.verifyPump(out);
        return out;
      }
    }
  }

  /** Both nodes are Primary by explicit request (the peer's writes then arrive here too). */
  private dualPrimary(): boolean {
    return this.cfg.allowTwoPrimaries && this.role === "Primary" && this.peer?.role === "Primary";
  }

  /** Why a message cannot be right in the current state, or null. */
  private invalid(msg: PeerMsg): string | null {
    const regions = this.meta.bitmap.regions;
    switch (msg.t) {
      case "hello":
        return this.conn === "Handshake" ? null : "hello after the handshake";
      case "data":
        if (msg.data.byteLength === 0 || msg.offset_bytes + msg.data.byteLength > this.meta.size_bytes) return `write of ${msg.data.byteLength} bytes at ${msg.offset_bytes} is outside the volume`;
        return this.role === "Primary" && !this.dualPrimary() ? "replicated write sent to a Primary" : null;
      case "rs-data": {
        if (msg.region >= regions) return `resync region ${msg.region} beyond the last region ${regions - 1}`;
        const expected = Math.min(this.meta.region_bytes, this.meta.size_bytes - msg.region * this.meta.region_bytes);
        return msg.data.byteLength === expected ? null : `resync data of ${msg.data.byteLength} bytes for a region of ${expected}`;
      }
      case "rs-ack":
        return msg.region < regions ? null : `resync ack for region ${msg.region} beyond the last region`;
      case "ov-req":
      case "ov-rep":
        return msg.region < regions ? null : `verify of region ${msg.region} beyond the last region`;
      case "rd-req":
        if (msg.length_bytes === 0 || msg.length_bytes > 32 * 1024 * 1024 || msg.offset_bytes + msg.length_bytes > this.meta.size_bytes) return `read of ${msg.length_bytes} bytes at ${msg.offset_bytes} is outside the volume`;
        return this.role === "Primary" && !this.dualPrimary() ? "read request sent to a Primary" : null;
      case "rd-rep": {
        const r = this.peerReads.get(msg.seq);
        return r === undefined || !msg.ok || msg.data.byteLength === r.length_bytes ? null : `read reply of ${msg.data.byteLength} bytes for ${r.length_bytes} requested`;
      }
      case "cs-req": {
        if (msg.region >= regions) return `checksum request for region ${msg.region} beyond the last region`;
        const n = this.blocksIn(msg.region, msg.block_bytes);
        return n < 0 ? `checksum block size ${msg.block_bytes}` : msg.digests.byteLength === n * DIGEST_BYTES ? null : `${msg.digests.byteLength} digest bytes for ${n} blocks`;
      }
      case "cs-rep": {
        if (msg.region >= regions) return `checksum reply for region ${msg.region} beyond the last region`;
        return msg.differ.byteLength === Math.ceil(this.blocksIn(msg.region, this.cfg.csumBlock_bytes) / 8) ? null : `checksum reply mask of ${msg.differ.byteLength} bytes`;
      }
      case "rs-blocks": {
        if (msg.region >= regions) return `resync blocks for region ${msg.region} beyond the last region`;
        const n = this.blocksIn(msg.region, msg.block_bytes);
        if (n < 0 || msg.mask.byteLength !== Math.ceil(n / 8)) return `resync block mask of ${msg.mask.byteLength} bytes (block size ${msg.block_bytes})`;
        let want = 0;
        for (let i = 0; i < msg.mask.byteLength * 8; i++) {
          if (!maskBit(msg.mask, i)) continue;
          if (i >= n) return `resync block mask names block ${i} of ${n}`;
          want += this.blockRange(msg.region, msg.block_bytes, i).length_bytes;
        }
        return msg.data.byteLength === want ? null : `resync blocks of ${msg.data.byteLength} bytes for a mask of ${want}`;
      }
      case "role":
        // Two promotions crossed on the wire while dual-primary is not allowed (or not in sync):
        // part now; the generations tell the story at the next handshake.
        if (msg.role !== "Primary" || this.role !== "Primary") return null;
        return this.cfg.allowTwoPrimaries && this.conn === "Connected" && this.repl === "Established" ? null : "both nodes became Primary at once";
      default:
        return null;
    }
  }

  private onAck(seq: number, out: Effect[]): void {
    const key = this.bySeq.get(seq);
    if (key === undefined) return;
    this.bySeq.delete(seq);
    if (key < 0) {
      const f = this.flushes.get(-key - 1);
      if (f) {
        f.peerDone = true;
        this.finishFlush(f, out);
      }
      return;
    }
    const w = this.writes.get(key);
    if (!w) return;
    w.peerDone = true;
    this.unackedSent_bytes -= w.length_bytes;
    this.finishWrite(w, out);
  }

  private drainPeerQueue(out: Effect[]): void {
    while (this.peerQueue.length > 0) {
      const op = this.peerQueue[0]!;
      if (op.kind === "flush") {
        // A flush covers the writes before it: wait until they have completed.
        if (this.peerInFlight.size > 0) return;
        this.peerQueue.shift();
        const io = this.newIo({ kind: "peer-flush", seq: op.seq, resync: null, epoch: this.epoch });
        this.peerInFlight.set(io, { offset_bytes: 0, length_bytes: 0 });
        out.push({ kind: "disk-flush", io });
        continue;
      }
      const length_bytes = op.kind === "write" ? op.data.byteLength : op.length_bytes;
      const end = op.offset_bytes + length_bytes;
      for (const f of this.peerInFlight.values()) {
        if (f.length_bytes === 0 || (op.offset_bytes < f.offset_bytes + f.length_bytes && f.offset_bytes < end)) return;
      }
      this.peerQueue.shift();
      if (op.kind === "read") {
        const io = this.newIo({ kind: "peer-read", seq: op.seq, epoch: this.epoch });
        this.peerInFlight.set(io, { offset_bytes: op.offset_bytes, length_bytes });
        out.push({ kind: "disk-read", io, offset_bytes: op.offset_bytes, length_bytes });
        continue;
      }
      if (op.kind === "csum") {
        const io = this.newIo({ kind: "cs-peer-read", region: op.region, block_bytes: op.block_bytes, digests: op.digests, epoch: this.epoch });
        this.peerInFlight.set(io, { offset_bytes: op.offset_bytes, length_bytes });
        out.push({ kind: "disk-read", io, offset_bytes: op.offset_bytes, length_bytes });
        continue;
      }
      if (op.kind === "verify") {
        // In the stream's order: after earlier writes landed, before later overlapping ones start.
        const io = this.newIo({ kind: "ov-peer-read", region: op.region, digest: op.digest, epoch: this.epoch });
        this.peerInFlight.set(io, { offset_bytes: op.offset_bytes, length_bytes });
        out.push({ kind: "disk-read", io, offset_bytes: op.offset_bytes, length_bytes });
        continue;
      }
      const io = this.newIo({ kind: "peer-write", seq: op.seq, resync: op.resync, epoch: this.epoch });
      this.peerInFlight.set(io, { offset_bytes: op.offset_bytes, length_bytes: op.data.byteLength });
      out.push({ kind: "disk-write", io, offset_bytes: op.offset_bytes, data: op.data, fua: op.fua });
    }
  }

  private onHello(peer: Hello): Effect[] {
    if (this.conn !== "Handshake") return [];
    this.peer = peer;
    const mine = this.hello();
    const d = decide(mine, peer, this.cfg.splitBrain);
    const out: Effect[] = [];
    if (d.kind === "refuse" || d.kind === "split-brain") {
      this.lastError = d.reason;
      this.conn = "StandAlone";
      this.peer = null;
      out.push(this.log("error", `volume ${this.cfg.volume}: ${d.reason}`), { kind: "disconnect", reason: d.reason });
      if (d.kind === "split-brain") out.push({ kind: "split-brain", reason: d.reason });
      this.pump(out);
      return out;
    }
    this.epoch++;
    this.conn = "Connected";
    this.lastError = "";
    this.discardMyData = false;
    this.unackedSent_bytes = 0;
    if (d.kind === "none") {
      this.repl = "Established";
      this.meta.flags &= ~Flag.OUTDATED;
      this.retireBitmapGeneration();
      out.push(this.commit(), this.log("info", `volume ${this.cfg.volume}: connected, in sync`));
    } else {
      const set = syncSet(d, this.meta.bitmap.bits, peer.bitmap, this.meta.bitmap.regions);
      if (d.source === this.cfg.nodeId) {
        this.repl = "SyncSource";
        this.meta.bitmap = set;
        this.resyncSent_bytes = 0;
        this.resyncSkipped_bytes = 0;
        // The target adopts our current lineage now, so our bitmap counts from it from here on.
        this.retireBitmapGeneration(false);
        out.push(this.commit(), this.log("info", `volume ${this.cfg.volume}: resync to node ${d.target}: ${set.count()} regions (${d.why})`));
        // Fencing still waits for the cluster, but the peer is reachable again: outdate it over
        // the link (it is our sync target, so Inconsistent once it handled the handshake).
        if (this.role === "Primary" && this.suspended && peer.role !== "Primary") out.push({ kind: "send", msg: { t: "outdate" } });
        this.resyncPump(out);
      } else {
        if (d.victim) out.push({ kind: "preserve-divergent", regions: set.dirty(), reason: d.why });
        this.repl = "SyncTarget";
        this.meta.bitmap = set;
        this.meta.flags &= ~Flag.CONSISTENT;
        // Adopting the source's lineage now makes an interrupted resync resumable by bitmap.
        this.meta.gen = { current: peer.gen.current, bitmap: 0n, history: [this.meta.gen.current, this.meta.gen.history[0]] };
        out.push(this.commit(), this.log("info", `volume ${this.cfg.volume}: resync from node ${d.source}: ${set.count()} regions (${d.why})`));
      }
    }
    this.pump(out);
    return out;
  }

  private resyncPump(out: Effect[]): void {
    if (this.repl !== "SyncSource") return;
    for (const r of this.meta.bitmap.dirty()) {
      if (this.rsReading.size + this.rsSent.size + this.rsCsum.size >= this.cfg.resyncInFlightMax) break;
      if (this.rsReading.has(r) || this.rsSent.has(r) || this.rsCsum.has(r)) continue;
      // A read racing a local write that is not on the disk yet could send stale data after
      // that write's Data message; wait for the write to land (diskDone pumps again).
      if (this.localWriteInFlight(r)) continue;
      this.startResyncRead(r, out);
    }
    if (this.meta.bitmap.count() === 0 && this.rsReading.size === 0 && this.rsSent.size === 0 && this.rsCsum.size === 0) {
      this.repl = "Established";
      out.push({ kind: "send", msg: { t: "rs-done", current: this.meta.gen.current } });
      this.retireBitmapGeneration();
      const skipped = this.resyncSkipped_bytes > 0 ? ` (${this.resyncSent_bytes} bytes sent, ${this.resyncSkipped_bytes} skipped as equal by checksum)` : "";
      out.push(this.commit(), this.log("info", `volume ${this.cfg.volume}: resync finished${skipped}`));
    }
  }

  private localWriteInFlight(region: number): boolean {
    for (const w of this.writes.values()) if (!w.localDone && w.regions.includes(region)) return true;
    return false;
  }

  private startResyncRead(region: number, out: Effect[]): void {
    this.rsReading.set(region, { redo: false });
    const offset_bytes = region * this.meta.region_bytes;
    const length_bytes = Math.min(this.meta.region_bytes, this.meta.size_bytes - offset_bytes);
    out.push({ kind: "disk-read", io: this.newIo({ kind: "rs-read", region, epoch: this.epoch }), offset_bytes, length_bytes, resync: true });
  }

  private resyncReadDone(region: number, epoch: number, data: Uint8Array | undefined, out: Effect[]): void {
    const r = this.rsReading.get(region);
    if (epoch !== this.epoch || r === undefined) return;
    this.rsReading.delete(region);
    if (this.repl !== "SyncSource") return;
    // Written meanwhile: read again once that write is on the disk (resyncPump checks).
    if (r.redo || data === undefined) return this.resyncPump(out);
    if (this.cfg.csums) {
      this.rsCsum.set(region, { data, redo: false });
      out.push({ kind: "send", msg: { t: "cs-req", region, block_bytes: this.cfg.csumBlock_bytes, digests: blockDigests(data, this.cfg.csumBlock_bytes) } });
      return;
    }
    this.rsSent.add(region);
    this.resyncSent_bytes += data.byteLength;
    out.push({ kind: "send", msg: { t: "rs-data", region, data } });
  }

  /** Blocks of `block_bytes` in a region (the last may be short); -1 for a block size we refuse. */
  private blocksIn(region: number, block_bytes: number): number {
    if (!Number.isInteger(block_bytes) || block_bytes < 512 || block_bytes > this.meta.region_bytes) return -1;
    const length_bytes = Math.min(this.meta.region_bytes, this.meta.size_bytes - region * this.meta.region_bytes);
    return Math.ceil(length_bytes / block_bytes);
  }

  private blockRange(region: number, block_bytes: number, i: number): { offset_bytes: number; length_bytes: number } {
    const start = region * this.meta.region_bytes;
    const end = Math.min(start + this.meta.region_bytes, this.meta.size_bytes);
    const offset_bytes = start + i * block_bytes;
    return { offset_bytes, length_bytes: Math.min(block_bytes, end - offset_bytes) };
  }

  /** Source: the target said which blocks differ; send those (or, if written meanwhile, start the region over). */
  private csumReply(region: number, differ: Uint8Array, out: Effect[]): void {
    const c = this.rsCsum.get(region);
    if (this.repl !== "SyncSource" || c === undefined) return;
    this.rsCsum.delete(region);
    // The digests predate an application write the peer has now received: the target's answer
    // may describe blocks we would send stale. Read the region again (resyncPump).
    if (c.redo) return this.resyncPump(out);
    const bb = this.cfg.csumBlock_bytes;
    const n = Math.ceil(c.data.byteLength / bb);
    const runs: Uint8Array[] = [];
    // Our own mask of the blocks we send, so stray bits in the peer's answer never reach the wire.
    const mask = new Uint8Array(Math.ceil(n / 8));
    let sent = 0;
    for (let i = 0; i < n; i++) {
      if (!maskBit(differ, i)) continue;
      mask[i >> 3]! |= 1 << (i & 7);
      const piece = c.data.subarray(i * bb, Math.min((i + 1) * bb, c.data.byteLength));
      runs.push(piece);
      sent += piece.byteLength;
    }
    // One copy of the differing blocks only (never of the equal ones); an empty mask sends none.
    const data = runs.length === 1 ? runs[0]! : Buffer.concat(runs);
    this.resyncSent_bytes += sent;
    this.resyncSkipped_bytes += c.data.byteLength - sent;
    this.rsSent.add(region);
    out.push({ kind: "send", msg: { t: "rs-blocks", region, block_bytes: bb, mask, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) } });
  }

  /** Target: write the blocks the source sent; the region is in sync once all of them landed. */
  private receiveBlocks(region: number, block_bytes: number, mask: Uint8Array, data: Uint8Array, out: Effect[]): void {
    const n = this.blocksIn(region, block_bytes);
    const writes: { offset_bytes: number; data: Uint8Array }[] = [];
    let at = 0;
    for (let i = 0; i < n; i++) {
      if (!maskBit(mask, i)) continue;
      const b = this.blockRange(region, block_bytes, i);
      const piece = data.subarray(at, at + b.length_bytes);
      at += b.length_bytes;
      const last = writes[writes.length - 1];
      // Adjacent differing blocks are one write: their bytes are adjacent in the message too.
      if (last && last.offset_bytes + last.data.byteLength === b.offset_bytes) last.data = data.subarray(at - last.data.byteLength - b.length_bytes, at);
      else writes.push({ offset_bytes: b.offset_bytes, data: piece });
    }
    if (writes.length === 0) {
      this.meta.bitmap.clear(region);
      out.push({ kind: "send", msg: { t: "rs-ack", region } });
      return;
    }
    this.rsParts.set(region, writes.length);
    for (const w of writes) this.peerQueue.push({ kind: "write", seq: 0, offset_bytes: w.offset_bytes, data: w.data, fua: false, resync: region });
    this.drainPeerQueue(out);
  }

  private onResyncDone(current: bigint): Effect[] {
    if (this.repl !== "SyncTarget") return [];
    this.repl = "Established";
    this.meta.flags |= Flag.CONSISTENT;
    this.meta.flags &= ~Flag.OUTDATED;
    this.meta.gen = { ...this.meta.gen, current, bitmap: 0n };
    this.meta.bitmap.clearAll();
    return [this.commit(), this.log("info", `volume ${this.cfg.volume}: resync finished, UpToDate`)];
  }

  private retireBitmapGeneration(clearBits = true): void {
    if (this.meta.gen.bitmap !== 0n) this.meta.gen = { current: this.meta.gen.current, bitmap: 0n, history: [this.meta.gen.bitmap, this.meta.gen.history[0]] };
    if (clearBits) this.meta.bitmap.clearAll();
  }

  private peerLost(reason: string): Effect[] {
    const out: Effect[] = [];
    if (this.conn !== "Handshake" && this.conn !== "Connected") return out;
    const wasReplicating = this.replicating();
    // Established means the peer's disk is UpToDate (a target becomes so only at rs-done); a
    // sync target is Inconsistent and cannot be promoted, so it needs no fencing.
    const peerWasUpToDate = this.conn === "Connected" && this.repl === "Established";
    this.conn = "Connecting";
    this.repl = "Off";
    this.peer = null;
    this.epoch++;
    this.rsReading.clear();
    this.rsSent.clear();
    this.rsCsum.clear();
    this.rsParts.clear();
    this.peerQueue = [];
    if (this.verify) {
      out.push({ kind: "verify-done", checked: this.verify.checked, outOfSync: this.verify.outOfSync, complete: false });
      this.verify = null;
    }
    this.bySeq.clear();
    this.unackedSent_bytes = 0;
    out.push(this.log("warn", `volume ${this.cfg.volume}: lost the peer: ${reason}`));
    for (const { req } of this.peerReads.values()) out.push({ kind: "ack", req, ok: false, error: `Diskless and lost the peer: ${reason}` });
    this.peerReads.clear();
    if (this.diskFailure !== null) {
      // No disk and no peer: nothing can complete. No new lineage and no fencing either: the
      // peer holds the only good copy and must stay promotable.
      this.conn = "StandAlone";
      for (const w of this.writes.values()) {
        if (!w.peerDone) {
          w.peerDone = true;
          w.error = `Diskless and lost the peer: ${reason}`;
        }
      }
      for (const f of this.flushes.values()) {
        if (!f.peerDone) {
          f.peerDone = true;
          f.error = `Diskless and lost the peer: ${reason}`;
        }
      }
      for (const w of [...this.writes.values()]) this.finishWrite(w, out);
      for (const f of [...this.flushes.values()]) this.finishFlush(f, out);
      this.pump(out);
      return out;
    }
    if (this.role !== "Primary") return out;
    // Writes the peer may not have: their regions go to the bitmap for the next resync.
    for (const w of this.writes.values()) {
      if (!w.peerDone) {
        w.peerDone = true;
        for (const r of w.regions) this.meta.bitmap.set(r);
      }
    }
    for (const f of this.flushes.values()) f.peerDone = true;
    if (wasReplicating) this.rotate();
    if (wasReplicating && peerWasUpToDate && this.cfg.fencing === "resource-only") {
      // Resource-level fencing: no write is acknowledged until the cluster has marked the peer
      // Outdated, so the peer cannot be promoted with data older than what we acknowledge.
      this.suspended = true;
      out.push({ kind: "outdate-peer" }, this.log("warn", `volume ${this.cfg.volume}: I/O suspended until the cluster confirms the peer is outdated`));
    }
    out.push(this.commit());
    for (const w of [...this.writes.values()]) this.finishWrite(w, out);
    for (const f of [...this.flushes.values()]) this.finishFlush(f, out);
    this.pump(out);
    return out;
  }

  /** A new data lineage: the old current becomes the base of the bitmap (or history). */
  private rotate(): void {
    const g = this.meta.gen;
    const next = this.cfg.newGeneration();
    if (g.bitmap === 0n) this.meta.gen = { current: next, bitmap: g.current, history: g.history };
    else this.meta.gen = { current: next, bitmap: g.bitmap, history: [g.current, g.history[0]] };
  }

  private newIo(p: IoPurpose): number {
    const id = this.nextIo++;
    this.io.set(id, p);
    return id;
  }

  private commit(): Effect {
    return { kind: "meta-commit", meta: cloneMeta(this.meta) };
  }

  private log(level: "info" | "warn" | "error", message: string): Effect {
    return { kind: "log", level, message };
  }

  describe(): string {
    return `role ${this.role}, disk ${this.diskState}, connection ${this.conn}/${this.repl}, generation ${hex(this.meta.gen.current)}, out of sync ${this.outOfSyncRegions} regions`;
  }
}


function sha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(b).digest());
}

const DIGEST_BYTES = 32;

/** SHA-256 of each `block_bytes` block of `data` (the last may be short), concatenated. */
function blockDigests(data: Uint8Array, block_bytes: number): Uint8Array {
  const n = Math.ceil(data.byteLength / block_bytes);
  const out = new Uint8Array(n * DIGEST_BYTES);
  for (let i = 0; i < n; i++) out.set(createHash("sha256").update(data.subarray(i * block_bytes, Math.min((i + 1) * block_bytes, data.byteLength))).digest(), i * DIGEST_BYTES);
  return out;
}

function maskBit(mask: Uint8Array, i: number): boolean {
  return ((mask[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
}
