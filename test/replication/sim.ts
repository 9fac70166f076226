// A deterministic simulator for two replication cores: a virtual clock (EventQueue), one TCP-like
// connection between the hosts (in order, dropped whole on a cut), data and metadata disks that
// lose unflushed writes on a crash (FakeDisk), and a "cluster" that outdates a peer for the
// fencing hook. A seed replays a run exactly.
import { ReplicationCore } from "../../services/replication/core.ts";
import { Flag, MetaStore, metadataBytes, type VolumeMeta } from "../../services/replication/metadata.ts";
import { DEFAULT_CONFIG, type CoreConfig, type Effect, type PeerMsg } from "../../services/replication/types.ts";
import { EventQueue } from "../sim/event-queue.ts";
import { Rng } from "../sim/simulator.ts";
import { FakeDisk } from "./fake-disk.ts";

export const BLOCK_BYTES = 4096;
const UUID = "6f1c2a3b-4d5e-4f60-8172-8394a5b6c7d8";

export interface SimOptions {
  seed: number;
  size_bytes?: number;
  region_bytes?: number;
  config?: Partial<CoreConfig>;
}

export class SimNode {
  core: ReplicationCore | null = null;
  store!: MetaStore;
  incarnation = 0;
  /** The transport epoch this node was told is up (0 = none). */
  transportEpoch = 0;
  readonly log: string[] = [];
  readonly effects: Effect[] = [];
  /** The backing disk fails every I/O from now on (nothing written, reads fail). */
  failIo = false;
  /** Acks carrying data (reads served by the peer), by request. */
  readonly reads = new Map<number, Uint8Array | null>();
  constructor(
    readonly id: number,
    readonly data: FakeDisk,
    readonly metaDisk: FakeDisk,
  ) {}
  get alive(): boolean {
    return this.core !== null;
  }
  get c(): ReplicationCore {
    if (!this.core) throw new Error(`node ${this.id} is down`);
    return this.core;
  }
}

export class ReplSim {
  readonly q = new EventQueue();
  now = 0;
  readonly rng: Rng;
  readonly nodes: [SimNode, SimNode];
  linkUp = true;
  /** The cluster does not answer fencing requests (the Primary stays suspended until the peer confirms over the link). */
  clusterDown = false;
  /** draining: closed gracefully, messages already sent still arrive (TCP's FIN follows the data). */
  private transport = { active: false, draining: false, epoch: 0, lastDeliver_ms: [0, 0] };
  readonly size_bytes: number;
  readonly region_bytes: number;
  private readonly cfg: Omit<CoreConfig, "nodeId" | "newGeneration">;
  /** Acknowledgements to the application, by node. */
  onAck: (node: SimNode, req: number, ok: boolean) => void = () => {};

  constructor(opts: SimOptions) {
    this.rng = new Rng(opts.seed);
    this.size_bytes = opts.size_bytes ?? 1024 * 1024;
    this.region_bytes = opts.region_bytes ?? 64 * 1024;
    this.cfg = { ...DEFAULT_CONFIG, volume: "vol0", ...opts.config };
    const g0 = 0x1000n + BigInt(opts.seed);
    this.nodes = [1, 2].map((id) => {
      const n = new SimNode(id, new FakeDisk(this.size_bytes), new FakeDisk(metadataBytes(this.size_bytes, this.region_bytes)));
      // Two zeroed disks are identical: format both in sync, as `create --assume-clean` would.
      n.store = MetaStore.create(n.metaDisk, "vol0", { uuid: UUID, size_bytes: this.size_bytes, region_bytes: this.region_bytes, current: g0 });
      n.store.commit({ ...n.store.meta, flags: Flag.CONSISTENT });
      return n;
    }) as [SimNode, SimNode];
    for (const n of this.nodes) this.boot(n);
    this.connectorTick();
  }

  other(n: SimNode): SimNode {
    return n === this.nodes[0] ? this.nodes[1] : this.nodes[0];
  }

  private boot(n: SimNode): void {
    n.store = MetaStore.attach(n.metaDisk, "vol0", { size_bytes: this.size_bytes, region_bytes: this.region_bytes });
    const meta = n.store.meta;
    n.incarnation++;
    n.transportEpoch = 0;
    n.core = new ReplicationCore({ ...this.cfg, nodeId: n.id, newGeneration: () => BigInt(this.rng.int(1, 2 ** 31)) * 0x100000000n + BigInt(this.rng.int(0, 2 ** 31)) }, meta);
    this.exec(n, n.core.start());
    this.exec(n, n.core.connect());
  }

  // ---- running ----

  at(delay_ms: number, n: SimNode | null, run: () => void): void {
    const inc = n?.incarnation;
    this.q.push(this.now + delay_ms, () => {
      if (n && (!n.alive || n.incarnation !== inc)) return;
      run();
    });
  }

  runFor(duration_ms: number): void {
    const end = this.now + duration_ms;
    while (this.q.nextAt <= end) {
      const ev = this.q.shift()!;
      this.now = ev.at;
      ev.run();
    }
    this.now = end;
  }

  runUntil(pred: () => boolean, limit_ms: number): boolean {
    const end = this.now + limit_ms;
    while (!pred()) {
      if (this.now >= end) return false;
      this.runFor(1);
    }
    return true;
  }

  // ---- effects ----

  exec(n: SimNode, effects: Effect[]): void {
    for (const e of effects) {
      if (!n.alive) return;
      n.effects.push(e);
      switch (e.kind) {
        case "send":
          this.send(n, e.msg);
          break;
        case "disk-write": {
          this.at(this.diskDelay(), n, () => {
            if (n.failIo) return this.exec(n, n.c.diskDone(e.io, false));
            n.data.writeAt(e.offset_bytes, e.data);
            if (e.fua) n.data.sync();
            this.exec(n, n.c.diskDone(e.io, true));
          });
          break;
        }
        case "disk-read":
          this.at(this.diskDelay(), n, () => this.exec(n, n.failIo ? n.c.diskDone(e.io, false) : n.c.diskDone(e.io, true, n.data.readAt(e.offset_bytes, e.length_bytes))));
          break;
        case "disk-flush":
          this.at(this.diskDelay(), n, () => {
            if (n.failIo) return this.exec(n, n.c.diskDone(e.io, false));
            n.data.sync();
            this.exec(n, n.c.diskDone(e.io, true));
          });
          break;
        case "meta-commit":
          n.store.commit(e.meta);
          break;
        case "ack":
          if (n.reads.has(e.req)) n.reads.set(e.req, e.ok ? (e.data ?? null) : null);
          else this.onAck(n, e.req, e.ok);
          break;
        case "outdate-peer":
          this.at(1, n, () => this.fencePeer(n));
          break;
        case "disconnect":
          this.closeTransport(true);
          break;
        case "log":
          n.log.push(`${this.now.toFixed(2)} ${e.level} ${e.message}`);
          break;
        case "split-brain":
        case "preserve-divergent":
          break;
      }
    }
  }

  private diskDelay(): number {
    return 0.05 + this.rng.next() * 0.4;
  }

  /** The cluster: outdate the peer if it runs; a dead peer counts as fenced (it was powered off). */
  private fencePeer(n: SimNode): void {
    if (this.clusterDown) return;
    const p = this.other(n);
    if (p.alive) {
      const r = p.c.outdate();
      this.exec(p, r.effects);
      if (!r.ok) {
        n.log.push(`${this.now} cluster could not outdate node ${p.id}: ${r.message}`);
        return;
      }
    }
    this.exec(n, n.c.fenceConfirmed());
  }

  private send(from: SimNode, msg: PeerMsg): void {
    const t = this.transport;
    if (!t.active || from.transportEpoch !== t.epoch) return;
    const to = this.other(from);
    const dir = from.id - 1;
    const deliver = Math.max(this.now + 0.03 + this.rng.next() * 0.1, t.lastDeliver_ms[dir]!);
    t.lastDeliver_ms[dir] = deliver;
    const epoch = t.epoch;
    this.q.push(deliver, () => {
      if (!(t.active || t.draining) || t.epoch !== epoch || !to.alive || to.transportEpoch !== epoch) return;
      this.exec(to, to.c.receive(msg));
    });
  }

  private closeTransport(graceful = false): void {
    const t = this.transport;
    if (!t.active) return;
    t.active = false;
    t.draining = graceful;
    const epoch = t.epoch;
    const drained_ms = graceful ? Math.max(...t.lastDeliver_ms) - this.now : 0;
    // Each side notices on its own schedule (TCP reset, keepalive, ping timeout).
    for (const n of this.nodes) {
      if (!n.alive) continue;
      this.at(Math.max(0, drained_ms) + 0.5 + this.rng.next() * 10, n, () => {
        if (n.transportEpoch !== epoch) return;
        n.transportEpoch = 0;
        this.exec(n, n.c.transportDown("connection lost"));
      });
    }
  }

  private connectorTick(): void {
    this.q.push(this.now + 5, () => {
      const [a, b] = this.nodes;
      const t = this.transport;
      if (!t.active && this.linkUp && a.alive && b.alive && a.c.conn === "Connecting" && b.c.conn === "Connecting" && a.transportEpoch === 0 && b.transportEpoch === 0) {
        t.active = true;
        t.draining = false;
        t.epoch++;
        t.lastDeliver_ms = [this.now, this.now];
        a.transportEpoch = b.transportEpoch = t.epoch;
        this.exec(a, a.c.transportUp());
        this.exec(b, b.c.transportUp());
      }
      this.connectorTick();
    });
  }

  // ---- faults ----

  cut(): void {
    this.linkUp = false;
    this.transport.draining = false;
    this.closeTransport();
  }

  heal(): void {
    this.linkUp = true;
  }

  crash(n: SimNode): void {
    n.core = null;
    n.incarnation++;
    n.transportEpoch = 0;
    n.data.crash(this.rng);
    n.metaDisk.crash(this.rng);
    this.closeTransport();
  }

  restart(n: SimNode): void {
    this.boot(n);
  }

  promote(n: SimNode, force = false): { ok: boolean; message: string } {
    const r = n.c.promote(force);
    this.exec(n, r.effects);
    return r;
  }

  meta(n: SimNode): VolumeMeta {
    return n.store.meta;
  }

  inSync(): boolean {
    const [a, b] = this.nodes;
    return a.alive && b.alive && a.c.repl === "Established" && b.c.repl === "Established" && a.c.diskState === "UpToDate" && b.c.diskState === "UpToDate";
  }
}

/** The application: block writes stamped with their id, one outstanding per block, and flushes. */
export class Client {
  private nextReq = 1;
  readonly issued = new Map<number, number[]>(); // block -> stamps in issue order
  readonly lastAcked = new Map<number, number>();
  readonly durable = new Map<number, number>();
  private readonly inflight = new Set<number>();
  private readonly pendingFlush = new Map<number, Map<number, number>>();
  private readonly blockOf = new Map<number, number>();
  running = false;
  failures = 0;

  constructor(
    private readonly sim: ReplSim,
    public node: SimNode,
    private readonly blocks: number,
  ) {
    sim.onAck = (n, req, ok) => this.ack(n, req, ok);
  }

  start(): void {
    this.running = true;
    this.tick();
  }

  stop(): void {
    this.running = false;
  }

  get outstanding(): number {
    return this.inflight.size + this.pendingFlush.size;
  }

  private tick(): void {
    this.sim.at(0.05 + this.sim.rng.next() * 0.3, null, () => {
      if (!this.running) return;
      const n = this.node;
      if (n.alive && n.c.role === "Primary" && this.outstanding < 16) {
        if (this.sim.rng.chance(0.1)) this.flush();
        else this.write();
      }
      this.tick();
    });
  }

  private write(): void {
    const block = this.sim.rng.int(0, this.blocks - 1);
    if (this.inflight.has(block)) return;
    const req = this.nextReq++;
    const data = new Uint8Array(BLOCK_BYTES).fill(req & 0xff);
    new DataView(data.buffer).setUint32(0, req);
    this.inflight.add(block);
    this.blockOf.set(req, block);
    const list = this.issued.get(block) ?? [];
    list.push(req);
    this.issued.set(block, list);
    this.sim.exec(this.node, this.node.c.write(req, block * BLOCK_BYTES, data, this.sim.rng.chance(0.05)));
  }

  private flush(): void {
    const req = this.nextReq++;
    this.pendingFlush.set(req, new Map(this.lastAcked));
    this.sim.exec(this.node, this.node.c.flush(req));
  }

  private ack(n: SimNode, req: number, ok: boolean): void {
    if (n !== this.node) return;
    if (!ok) this.failures++;
    const snap = this.pendingFlush.get(req);
    if (snap) {
      this.pendingFlush.delete(req);
      if (ok) for (const [b, s] of snap) if ((this.durable.get(b) ?? 0) < s) this.durable.set(b, s);
      return;
    }
    const block = this.blockOf.get(req);
    if (block === undefined) return;
    this.inflight.delete(block);
    if (ok) this.lastAcked.set(block, req);
  }

  /** Forget requests of a crashed node: they will never be answered. */
  abandon(): void {
    this.inflight.clear();
    this.pendingFlush.clear();
  }

  /** Blocks whose content is not the required stamp or a later one (by issue order). */
  check(disk: Uint8Array, required: Map<number, number>): string[] {
    const bad: string[] = [];
    for (let b = 0; b < this.blocks; b++) {
      const stamp = new DataView(disk.buffer, disk.byteOffset + b * BLOCK_BYTES, 4).getUint32(0);
      const need = required.get(b);
      if (need === undefined) continue;
      const list = this.issued.get(b) ?? [];
      const allowed = list.slice(list.indexOf(need));
      if (!allowed.includes(stamp)) bad.push(`block ${b}: has write ${stamp}, acknowledged ${need}`);
    }
    return bad;
  }
}

export function digest(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.byteLength; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return (h >>> 0).toString(16);
}
