// The edge of one replicated volume on one node: the ReplicationCore driven by real I/O — the
// backing file (FileBackend), the metadata file (MetaStore over FdMetaDevice) and the peer link
// (PeerLink). It is itself a BlockBackend, so the NBD server can serve it to QEMU unchanged.
import * as fs from "node:fs";
import { open as openAsync, type FileHandle } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { FileBackend, type BlockBackend } from "./backend.ts";
import { ReplicationCore } from "./core.ts";
import { FdMetaDevice, Flag, MetaStore, type VolumeMeta } from "./metadata.ts";
import { PeerLink } from "./transport.ts";
import { DEFAULT_CONFIG, type CoreConfig, type Effect } from "./types.ts";
import type { ClusterKey } from "../shared/wire.ts";

export interface VolumeOptions {
  name: string;
  dataPath: string;
  metaPath: string;
  nodeId: number;
  peerId: number;
  key: ClusterKey;
  /** Where the lower node id listens and the higher one connects. */
  peerAddress: { host: string; port: number };
  config?: Partial<CoreConfig>;
  /** Fencing hook: ask the cluster to outdate the peer; resolve true once it confirmed. */
  outdatePeer?: () => Promise<boolean>;
  /** Divergent regions of a split-brain victim are copied here before being overwritten. */
  preserveDir?: string;
  /** Aligned writes of the backing file with O_DIRECT where the file system allows it (default true). */
  directIo?: boolean;
  /** Encrypt the peer link (default) or only authenticate it (config `link_encryption`). */
  linkEncryption?: boolean;
  /** Resync bandwidth cap (bytes/s) on the source's reads; 0 or absent = unpaced. */
  resyncRate_bytes_s?: number;
  log?: (level: string, message: string) => void;
  /** Opens the backing file (tests substitute a backend that fails on demand); default FileBackend. */
  openBackend?: (path: string, direct: boolean) => Promise<BlockBackend>;
  /** Sees the events a service reports in status (split brain, verify results, preserved copies). */
  observe?: (e: Extract<Effect, { kind: "split-brain" | "verify-done" | "preserve-divergent" }> & { path?: string }) => void;
}

const ZERO_CHUNK_BYTES = 1024 * 1024;
/** Writes up to this size may run inline (runInline); larger ones would hold the event loop too long. */
const INLINE_WRITE_MAX_BYTES = 64 * 1024;

export function newGeneration(): bigint {
  return randomBytes(8).readBigUInt64BE(0) | 1n;
}

export class Volume implements BlockBackend {
  readonly core: ReplicationCore;
  private readonly link: PeerLink;
  private nextReq = 1;
  private closed = false;
  /** Effects run strictly in order; an asynchronous metadata commit holds back everything after it. */
  private readonly queue: Effect[] = [];
  private committing = false;
  private resyncNext_ms = 0;
  /** Asynchronous disk operations (reads, writes, flushes) not yet completed (see runInline). */
  private asyncIo = 0;
  private readonly pending = new Map<number, { resolve: (data?: Uint8Array) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly o: VolumeOptions,
    private readonly backend: BlockBackend,
    private readonly store: MetaStore,
    private readonly metaFd: number,
    private readonly metaFh: FileHandle,
  ) {
    this.core = new ReplicationCore({ ...DEFAULT_CONFIG, ...o.config, nodeId: o.nodeId, volume: o.name, newGeneration }, store.meta);
    this.link = new PeerLink({
      key: o.key,
      selfId: o.nodeId,
      peerId: o.peerId,
      volume: o.name,
      listen: o.peerAddress,
      encrypt: o.linkEncryption ?? true,
      onUp: () => this.run(this.core.transportUp()),
      onMessage: (m) => this.run(this.core.receive(m)),
      onDown: (reason) => this.run(this.core.transportDown(reason)),
    });
  }

  /** Formats metadata for a new volume. `assumeClean`: both sides start identical (zeroed) and UpToDate. */
  static format(metaPath: string, name: string, init: { uuid: string; size_bytes: number; current: bigint; assumeClean: boolean }): void {
    const fd = fs.openSync(metaPath, "w+", 0o600);
    try {
      const store = MetaStore.create(new FdMetaDevice(fs, fd), name, init);
      if (init.assumeClean) store.commit({ ...store.meta, flags: Flag.CONSISTENT });
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Attaches (refusing bad metadata with a MetadataError naming the volume) and starts the link. */
  static async open(o: VolumeOptions): Promise<Volume> {
    const backend = o.openBackend ? await o.openBackend(o.dataPath, o.directIo ?? true) : await FileBackend.open(o.dataPath, { direct: o.directIo ?? true });
    const metaFd = fs.openSync(o.metaPath, "r+");
    try {
      const store = MetaStore.attach(new FdMetaDevice(fs, metaFd), o.name, { size_bytes: backend.size_bytes });
      // Commits go through an async handle so an fdatasync does not stall the event loop.
      const v = new Volume(o, backend, store, metaFd, await openAsync(o.metaPath, "r+"));
      v.run(v.core.start());
      v.run(v.core.connect());
      await v.link.start();
      return v;
    } catch (e) {
      fs.closeSync(metaFd);
      await backend.close();
      throw e;
    }
  }

  get size_bytes(): number {
    return this.backend.size_bytes;
  }

  promote(force = false, twoPrimaries = false): { ok: boolean; message: string } {
    const r = this.core.promote(force, twoPrimaries);
    this.run(r.effects);
    return r;
  }

  demote(): { ok: boolean; message: string } {
    const r = this.core.demote();
    this.run(r.effects);
    return r;
  }

  async read(offset_bytes: number, length_bytes: number): Promise<Uint8Array> {
    if (this.core.role !== "Primary") throw Object.assign(new Error(`volume ${this.o.name} is not Primary here`), { code: "EPERM" });
    if (this.core.diskFailure === null) {
      try {
        return await this.track(this.backend.read(offset_bytes, length_bytes));
      } catch (e) {
        // A local read error detaches the disk like a write error; the read is then retried
        // through the peer if it is connected and UpToDate (readFromPeer fails it otherwise).
        this.run(this.core.localIoFailed(`read failed: ${(e as Error).message}`));
      }
    }
    const req = this.nextReq++;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(req, { resolve: (d) => resolve(d ?? new Uint8Array(0)), reject });
      this.run(this.core.readFromPeer(req, offset_bytes, length_bytes));
    });
  }

  write(offset_bytes: number, data: Uint8Array, fua: boolean): Promise<void> {
    return this.submit((req) => this.core.write(req, offset_bytes, data, fua));
  }

  flush(): Promise<void> {
    return this.submit((req) => this.core.flush(req));
  }

  async trim(): Promise<void> {
    // Advisory in NBD: contents become unspecified. Not replicated, nothing to do.
  }

  async writeZeroes(offset_bytes: number, length_bytes: number, _mayTrim: boolean, fua: boolean): Promise<void> {
    // Zeroes are data: they go through replication like any write.
    for (let at = 0; at < length_bytes; at += ZERO_CHUNK_BYTES) {
      const n = Math.min(ZERO_CHUNK_BYTES, length_bytes - at);
      await this.write(offset_bytes + at, new Uint8Array(n), fua && at + n >= length_bytes);
    }
  }

  /** The cluster marked this disk Outdated (read from the CIB by the service). */
  outdate(): { ok: boolean; message: string } {
    const r = this.core.outdate();
    this.run(r.effects);
    return r;
  }

  invalidate(): { ok: boolean; message: string } {
    const r = this.core.invalidate();
    this.run(r.effects);
    return r;
  }

  /** Split-brain victim: divergent regions are copied aside, then replaced by the peer's. */
  discardLocalData(): void {
    this.run(this.core.discardLocalData());
  }

  get region_bytes(): number {
    return this.store.meta.region_bytes;
  }

  /** Online verify; the result arrives as a log line (and a `verify-done` effect). */
  verify(): { ok: boolean; message: string } {
    const r = this.core.startVerify();
    this.run(r.effects);
    return r;
  }

  connect(): void {
    this.run(this.core.connect());
  }

  /** Detach the disk as after a local I/O error (DRBD's `detach`; tests use it to inject one). */
  detach(reason: string): void {
    this.run(this.core.localIoFailed(reason));
  }

  disconnect(reason = "operator disconnect"): void {
    this.run(this.core.disconnect(reason));
  }

  async close(): Promise<void> {
    // Completions and link events after this point would touch closed descriptors.
    this.closed = true;
    await this.link.stop();
    for (const p of this.pending.values()) p.reject(new Error(`volume ${this.o.name} closed`));
    this.pending.clear();
    // Let a commit in progress finish: its slot must not be left half written by us.
    for (let i = 0; i < 5000 && this.committing; i++) await new Promise((r) => setTimeout(r, 1));
    fs.closeSync(this.metaFd);
    await this.metaFh.close();
    await this.backend.close();
  }

  private submit(issue: (req: number) => Effect[]): Promise<void> {
    const req = this.nextReq++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(req, { resolve: () => resolve(), reject });
      this.run(issue(req));
    });
  }

  /**
   * Executes effects in order. The core requires a meta-commit to be durable before any later
   * effect runs; the commit is asynchronous here, so the queue waits for it instead of the thread.
   */
  private run(effects: Effect[]): void {
    if (this.closed) return;
    this.queue.push(...effects);
    while (!this.committing && this.queue.length > 0 && !this.closed) {
      const e = this.queue.shift()!;
      if (e.kind === "meta-commit") this.commitAsync(e.meta);
      else this.perform(e);
    }
  }

  private commitAsync(meta: VolumeMeta): void {
    this.committing = true;
    const c = this.store.beginCommit(meta);
    void (async () => {
      let done = 0;
      while (done < c.bytes.byteLength) done += (await this.metaFh.write(c.bytes, done, c.bytes.byteLength - done, c.offset_bytes + done)).bytesWritten;
      await this.metaFh.datasync();
    })().then(
      () => {
        c.done();
        this.committing = false;
        this.run([]);
      },
      (err) => {
        // Without durable metadata no write may proceed: stay blocked, loudly.
        this.o.log?.("error", `volume ${this.o.name}: metadata commit failed: ${String(err)}; I/O is blocked`);
      },
    );
  }

  private perform(e: Effect): void {
    switch (e.kind) {
      case "send":
        this.link.send(e.msg);
        break;
      case "disk-write": {
        const sync = this.backend.writeSync;
        if (sync && e.data.byteLength <= INLINE_WRITE_MAX_BYTES && this.asyncIo === 0) {
          this.runInline(e.io, () => sync.call(this.backend, e.offset_bytes, e.data, e.fua));
          break;
        }
        this.track(this.backend.write(e.offset_bytes, e.data, e.fua)).then(
          () => this.run(this.core.diskDone(e.io, true)),
          () => this.run(this.core.diskDone(e.io, false)),
        );
        break;
      }
      case "disk-read":
        if (e.resync && (this.o.resyncRate_bytes_s ?? 0) > 0) {
          this.pacedRead(e);
          break;
        }
        this.track(this.backend.read(e.offset_bytes, e.length_bytes)).then(
          (d) => this.run(this.core.diskDone(e.io, true, d)),
          () => this.run(this.core.diskDone(e.io, false)),
        );
        break;
      case "disk-flush": {
        const sync = this.backend.flushSync;
        if (sync && this.asyncIo === 0) {
          this.runInline(e.io, () => sync.call(this.backend));
          break;
        }
        this.track(this.backend.flush()).then(
          () => this.run(this.core.diskDone(e.io, true)),
          () => this.run(this.core.diskDone(e.io, false)),
        );
        break;
      }
      case "meta-commit":
        break; // handled by run()
      case "ack": {
        const p = this.pending.get(e.req);
        this.pending.delete(e.req);
        if (e.ok) p?.resolve(e.data);
        else p?.reject(Object.assign(new Error(`volume ${this.o.name}: ${e.error ?? "write failed"}`), { code: "EIO" }));
        break;
      }
      case "outdate-peer":
        if (!this.o.outdatePeer) {
          this.o.log?.("error", `volume ${this.o.name}: I/O suspended: no fencing hook is wired to outdate the peer`);
          break;
        }
        this.o.outdatePeer().then(
          (ok) => ok && this.run(this.core.fenceConfirmed()),
          (err) => this.o.log?.("error", `volume ${this.o.name}: outdating the peer failed: ${String(err)}; I/O stays suspended`),
        );
        break;
      case "disconnect":
        this.link.drop(e.reason);
        break;
      case "preserve-divergent":
        this.preserve(e.regions, e.reason);
        break;
      case "verify-done":
        this.o.observe?.(e);
        if (!e.complete) this.o.log?.("warn", `volume ${this.o.name}: verify stopped with the connection after ${e.checked} regions`);
        break;
      case "split-brain":
        this.o.observe?.(e);
        this.o.log?.("error", e.reason);
        break;
      case "log":
        this.o.log?.(e.level, e.message);
        break;
    }
  }

  /** Counts an asynchronous disk operation while it is in flight. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.asyncIo++;
    return p.finally(() => this.asyncIo--);
  }

  /**
   * A small write or a flush while no other disk operation is in flight runs on this thread:
   * nothing else is waiting for the disk, and the two thread hand-offs of an asynchronous call
   * (~40 µs each way here, plus waking this process) were a large part of a queue-depth-1
   * writer's latency on both hosts. Under load (anything else in flight) the asynchronous path
   * keeps the event loop free. The completion is still reported through run(), after the
   * effects already queued, exactly as an asynchronous completion would be.
   */
  private runInline(io: number, op: () => void): void {
    let ok = true;
    try {
      op();
    } catch {
      ok = false;
    }
    queueMicrotask(() => this.run(this.core.diskDone(io, ok)));
  }

  /**
   * Resync pacing: each source read waits for its share of the rate. Pacing the read (not the
   * send) keeps the peer stream in order; a write that lands meanwhile makes the core re-read.
   */
  private pacedRead(e: Extract<Effect, { kind: "disk-read" }>): void {
    const now = performance.now();
    const start = Math.max(now, this.resyncNext_ms);
    this.resyncNext_ms = start + (e.length_bytes * 1000) / this.o.resyncRate_bytes_s!;
    setTimeout(() => {
      if (this.closed) return;
      this.track(this.backend.read(e.offset_bytes, e.length_bytes)).then(
        (d) => this.run(this.core.diskDone(e.io, true, d)),
        () => this.run(this.core.diskDone(e.io, false)),
      );
    }, start - now);
  }

  /** Synchronous on purpose: the copy must be complete before any resync write is issued. */
  private preserve(regions: number[], reason: string): void {
    const dir = this.o.preserveDir ?? `${this.o.dataPath}.d`;
    fs.mkdirSync(dir, { recursive: true });
    const path = `${dir}/divergent-${new Date().toISOString().replace(/[:.]/g, "-")}.img`;
    const region_bytes = this.store.meta.region_bytes;
    const src = fs.openSync(this.o.dataPath, "r");
    const dst = fs.openSync(path, "w", 0o600);
    try {
      const buf = new Uint8Array(region_bytes);
      for (const r of regions) {
        const n = fs.readSync(src, buf, 0, region_bytes, r * region_bytes);
        fs.writeSync(dst, buf, 0, n, r * region_bytes);
      }
      fs.fsyncSync(dst);
    } finally {
      fs.closeSync(src);
      fs.closeSync(dst);
    }
    this.o.log?.("warn", `volume ${this.o.name}: ${regions.length} divergent regions saved to ${path} before resync (${reason})`);
    this.o.observe?.({ kind: "preserve-divergent", regions, reason, path });
  }
}
