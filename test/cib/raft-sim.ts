// A deterministic simulator of the CIB: the real Raft cores, the real CIB state machine and the
// real file storage (on a filesystem that loses unflushed writes) of every voter in one process,
// on a virtual clock, joined by a virtual network that drops, delays, duplicates, reorders and
// partitions. Messages go through the real encoder and decoder. Everything random comes from one
// seed (test/sim's Rng), so a failing seed replays exactly.
//
// A node is a CibReplica, the runtime's own glue: it ticks every tick_ms of its own (drifting)
// clock, steps what arrives, and after a disk latency drains its Readies by the contract
// (persist, send, apply, advance), compacting its log every `compactEvery` entries. A crash loses the core and whatever
// the filesystem had not flushed; a crash can also be armed to strike inside the next writes.
import { EventQueue } from "../sim/event-queue.ts";
import { createHash } from "node:crypto";
import { type CibState, type Command, emptyState, encodeSnapshot } from "../../services/cib/cib.ts";
import { FileStorage, type Opened, StorageError } from "../../services/cib/file-storage.ts";
import { InvariantError } from "../../services/cib/invariant.ts";
import { encodeMessage, type Message } from "../../services/cib/messages.ts";
import { quorumOf } from "../../services/cib/progress.ts";
import type { ProposeResult, Raft, RaftConfig } from "../../services/cib/raft.ts";
import { CibReplica } from "../../services/cib/replica.ts";
import { Rng } from "../sim/simulator.ts";
import { Checker } from "./checker.ts";
import { FakeFs, FsCrash } from "./fake-fs.ts";

export interface CibSimOptions {
  seed: number;
  voters?: number[];
  tick_ms?: number;
  electionTicks?: number;
  heartbeatTicks?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Compact once this many applied entries follow the snapshot. */
  compactEvery?: number;
  /** Small chunks make snapshot transfer take several round trips. */
  snapshotChunkBytes?: number;
  /** Entry bytes per append; 1 sends one entry per message, so acknowledgements split batches. */
  maxMessageBytes?: number;
  /** Largest clock rate error of a node (1e-3 = 1000 ppm). */
  drift?: number;
  diskLatency_ms?: [number, number];
}

export interface LinkFault {
  cut: boolean;
  loss: number;
  duplicate: number;
  delay_ms: number;
  jitter_ms: number;
}

const HEALTHY: LinkFault = { cut: false, loss: 0, duplicate: 0, delay_ms: 0.2, jitter_ms: 0.3 };
export const NODE_NAMES: Record<number, string> = { 1: "host-a", 2: "host-b", 3: "arb", 4: "n4", 5: "n5" };
const DIR = "/var/lib/hapd/cib";

interface SimNode {
  id: number;
  up: boolean;
  incarnation: number;
  fs: FakeFs;
  /** The durable state as a restart would load it (reopened at every crash). */
  storage: FileStorage | null;
  opened: Opened | null;
  replica: CibReplica | null;
  /** The core of the running replica (null when down). */
  raft: Raft | null;
  /** The CIB as last applied (kept when the node goes down). */
  cib: CibState;
  readyScheduled: boolean;
  rate: number;
  commitChecked: number;
  leaderTerm: number;
  tornRepairs: number;
  snapshotsInstalled: number;
  /** Term and vote as of the last completed drain: durable, so a restart must not go below. */
  durableTerm: number;
  durableVote: number;
}

export class CibSim {
  readonly rng: Rng;
  readonly checker: Checker;
  readonly nodes = new Map<number, SimNode>();
  readonly voters: number[];
  now = 0;
  private readonly opts: Required<CibSimOptions>;
  private queue = new EventQueue();
  private faults = new Map<string, LinkFault>();
  private readonly lines: string[] = [];
  private stopped = false;
  delivered = 0;
  proposals = 0;
  private seq = 0;

  constructor(opts: CibSimOptions) {
    this.opts = {
      voters: [1, 2, 3],
      tick_ms: 50,
      electionTicks: 10,
      heartbeatTicks: 2,
      preVote: true,
      checkQuorum: true,
      compactEvery: 40,
      snapshotChunkBytes: 700,
      maxMessageBytes: 16_000,
      drift: 1e-3,
      diskLatency_ms: [0.1, 4],
      ...opts,
    };
    this.voters = this.opts.voters;
    this.rng = new Rng(opts.seed);
    this.checker = new Checker(quorumOf(this.voters.length), () => this.now);
    for (const id of this.voters) {
      this.nodes.set(id, {
        id,
        up: false,
        incarnation: 0,
        fs: new FakeFs(),
        storage: null,
        opened: null,
        replica: null,
        raft: null,
        cib: emptyState(),
        readyScheduled: false,
        rate: 1 + (this.rng.next() * 2 - 1) * this.opts.drift,
        commitChecked: 0,
        leaderTerm: 0,
        tornRepairs: 0,
        snapshotsInstalled: 0,
        durableTerm: 0,
        durableVote: 0,
      });
    }
  }

  name(id: number): string {
    return NODE_NAMES[id] ?? `n${id}`;
  }

  // ---- nodes ----------------------------------------------------------------------------------

  start(id: number): void {
    const n = this.node(id);
    if (n.up) return;
    let opened = n.opened;
    if (!opened) {
      try {
        opened = FileStorage.open(n.fs, DIR);
      } catch (e) {
        this.violate(`${this.name(id)} cannot start: ${(e as Error).message}`);
        return;
      }
    }
    n.opened = null;
    for (const r of opened.report) this.note(`${this.name(id)} storage: ${r}`);
    if (opened.report.some((r) => r.includes("torn"))) n.tornRepairs++;
    n.storage = opened.storage;
    n.incarnation++;
    n.up = true;
    n.readyScheduled = false;
    const replica = new CibReplica({
      raft: this.raftConfig(id, n.incarnation),
      storage: opened.storage,
      restored: opened.state,
      send: (m) => this.transmit(id, m),
      compactEvery: this.opts.compactEvery,
      log: (line) => this.note(line),
      onApply: (e, _result, state) => {
        this.checker.onApply(id, e.index, e.term, e.data);
        n.cib = state;
      },
      onRestore: (meta, state) => {
        n.cib = state;
        n.snapshotsInstalled++;
        this.checker.onRestore(id, meta.index, digest(state));
      },
      onCompact: (snap, state) => this.checker.onCompact(id, snap.meta.index, digest(state)),
    });
    n.replica = replica;
    n.raft = replica.raft;
    n.cib = replica.state;
    n.commitChecked = n.raft.snapshotIndex;
    n.leaderTerm = 0;
    if (n.raft.term < n.durableTerm || (n.raft.term === n.durableTerm && n.raft.vote !== n.durableVote)) {
      this.violate(`${this.name(id)} restarted with term ${n.raft.term} vote ${n.raft.vote}, but had persisted term ${n.durableTerm} vote ${n.durableVote}`);
    }
    this.checker.onStart(id, n.raft.snapshotIndex, digest(n.cib));
    this.note(`start ${this.name(id)} (incarnation ${n.incarnation}, term ${n.raft.term}, ${opened.state.entries.length} entries after snapshot ${n.raft.snapshotIndex})`);
    this.scheduleTick(id, n.incarnation, this.rng.next() * this.opts.tick_ms);
    this.afterEvent(n);
  }

  startAll(): void {
    for (const id of this.voters) this.start(id);
  }

  /** Power loss: the core and all unflushed writes are gone. */
  crash(id: number): void {
    const n = this.node(id);
    if (!n.up) return;
    n.up = false;
    n.replica = null;
    n.raft = null;
    n.fs.crashAfter(null);
    n.fs.crash(() => this.rng.next());
    // Open the survivors now: this is what the restart will see, and what the durability check counts.
    try {
      n.opened = FileStorage.open(n.fs, DIR);
      n.storage = n.opened.storage;
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      this.violate(`${this.name(id)} storage refused after a crash: ${e.message}`);
      n.storage = null;
    }
    this.note(`crash ${this.name(id)}`);
  }

  /** Arm a crash that strikes inside one of the node's next few filesystem calls. */
  crashDuringWrite(id: number): void {
    const n = this.node(id);
    if (!n.up) return;
    n.fs.crashAfter(this.rng.int(1, 6));
    this.note(`${this.name(id)} will crash inside a write`);
  }

  /** Cancel crashes armed by crashDuringWrite (before the final settle). */
  disarm(): void {
    for (const n of this.nodes.values()) n.fs.crashAfter(null);
  }

  private raftConfig(id: number, incarnation: number): RaftConfig {
    return {
      id,
      voters: this.voters,
      electionTicks: this.opts.electionTicks,
      heartbeatTicks: this.opts.heartbeatTicks,
      preVote: this.opts.preVote,
      checkQuorum: this.opts.checkQuorum,
      snapshotChunkBytes: this.opts.snapshotChunkBytes,
      maxMessageBytes: this.opts.maxMessageBytes,
      randomSeed: this.opts.seed * 1009 + id * 31 + incarnation,
    };
  }

  private scheduleTick(id: number, incarnation: number, delay_ms: number): void {
    this.schedule(delay_ms, () => {
      const n = this.node(id);
      if (!n.up || n.incarnation !== incarnation || !n.raft) return;
      n.raft.tick();
      this.afterEvent(n);
      this.scheduleTick(id, incarnation, this.opts.tick_ms * n.rate);
    });
  }

  /** After anything happened on a node: check it, and schedule its Ready after a disk latency. */
  private afterEvent(n: SimNode): void {
    const raft = n.raft;
    if (!n.up || !raft) return;
    this.observe(n, raft);
    if (n.readyScheduled || !raft.hasReady()) return;
    n.readyScheduled = true;
    const [lo, hi] = this.opts.diskLatency_ms;
    const incarnation = n.incarnation;
    this.schedule(lo + this.rng.next() * (hi - lo), () => {
      if (n.incarnation !== incarnation) return;
      n.readyScheduled = false;
      this.handleReady(n);
    });
  }

  private handleReady(n: SimNode): void {
    if (!n.up || !n.replica) return;
    try {
      n.replica.drain();
    } catch (e) {
      if (!(e instanceof FsCrash)) throw e;
      this.crash(n.id);
      return;
    }
    n.durableTerm = n.replica.raft.term;
    n.durableVote = n.replica.raft.vote;
    this.afterEvent(n);
  }

  private observe(n: SimNode, raft: Raft): void {
    if (raft.role === "leader" && n.leaderTerm !== raft.term) {
      n.leaderTerm = raft.term;
      this.checker.onLeader(n.id, raft.term, raft);
      this.note(`${this.name(n.id)} is leader (DC) in term ${raft.term}`);
    }
    const commit = raft.commitIndex;
    for (let i = n.commitChecked + 1; i <= commit; i++) {
      const t = raft.termAt(i);
      if (t === null) continue;
      let copies = 0;
      for (const other of this.nodes.values()) if (other.storage?.holds(i, t)) copies++;
      this.checker.onCommit(n.id, i, t, copies);
    }
    n.commitChecked = Math.max(n.commitChecked, commit);
  }

  // ---- network --------------------------------------------------------------------------------

  private key(from: number, to: number): string {
    return `${from}>${to}`;
  }

  fault(from: number, to: number): LinkFault {
    return this.faults.get(this.key(from, to)) ?? HEALTHY;
  }

  setFault(from: number, to: number, f: Partial<LinkFault>): void {
    this.faults.set(this.key(from, to), { ...this.fault(from, to), ...f });
  }

  setFaultBoth(a: number, b: number, f: Partial<LinkFault>): void {
    this.setFault(a, b, f);
    this.setFault(b, a, f);
  }

  cut(a: number, b: number): void {
    this.setFaultBoth(a, b, { cut: true });
    this.note(`cut ${this.name(a)} <-> ${this.name(b)}`);
  }

  isolate(id: number): void {
    for (const other of this.voters) if (other !== id) this.setFaultBoth(id, other, { cut: true });
    this.note(`isolate ${this.name(id)}`);
  }

  heal(): void {
    this.faults.clear();
    this.note("heal all links");
  }

  private transmit(from: number, m: Message): void {
    const f = this.fault(from, m.to);
    if (f.cut || this.rng.chance(f.loss)) return;
    const bytes = encodeMessage(m);
    const copies = this.rng.chance(f.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.schedule(f.delay_ms + this.rng.next() * f.jitter_ms, () => this.deliver(from, m.to, bytes));
    }
  }

  private deliver(from: number, to: number, bytes: Uint8Array): void {
    const n = this.nodes.get(to);
    if (!n?.up || !n.replica) return;
    const dropped = n.replica.receive(bytes, from);
    if (dropped !== null) {
      this.violate(`${this.name(to)} could not decode a message from ${this.name(from)}: ${dropped}`);
      return;
    }
    this.delivered++;
    this.afterEvent(n);
  }

  // ---- clients --------------------------------------------------------------------------------

  propose(id: number, cmd: Command): ProposeResult {
    const n = this.node(id);
    if (!n.up || !n.replica) return { kind: "refused", reason: "node down" };
    const r = n.replica.propose(cmd);
    this.proposals++;
    this.afterEvent(n);
    return r;
  }

  transfer(from: number, to: number): { ok: true } | { ok: false; reason: string } {
    const n = this.node(from);
    if (!n.raft) return { ok: false, reason: "node down" };
    const r = n.raft.transferLeadership(to);
    this.afterEvent(n);
    return r;
  }

  /** A random command, proposed on a random node, every 20-400 ms until stopWorkload(). */
  startWorkload(): void {
    this.stopped = false;
    const next = () => {
      if (this.stopped) return;
      const id = this.rng.pick(this.voters);
      const n = this.node(id);
      if (n.up) this.propose(id, this.randomCommand(n));
      this.schedule(this.rng.int(20, 400), next);
    };
    this.schedule(this.rng.int(20, 400), next);
  }

  stopWorkload(): void {
    this.stopped = true;
  }

  randomCommand(n: SimNode): Command {
    const node = this.rng.pick(["host-a", "host-b", "arb"]);
    const resource = this.rng.pick(["vm1", "vm2", "ip1", "web"]);
    const id = this.rng.chance(0.5) ? { origin: this.name(n.id), seq: ++this.seq } : undefined;
    const base = id ? { id } : {};
    switch (this.rng.int(0, 5)) {
      case 0:
        // Compare-and-set on the version this node has applied: some lose the race, by design.
        return { ...base, kind: "config", version: n.cib.config.version + 1, doc: { rev: this.seq, by: this.name(n.id) } };
      case 1:
        return {
          ...base,
          kind: "op-result",
          node,
          resource,
          result: { op: this.rng.pick(["start", "stop", "monitor"]), interval_ms: this.rng.pick([0, 10_000]), rc: this.rng.pick([0, 0, 0, 1, 7]), expected_rc: 0, call_id: this.seq, exec_time_ms: this.rng.int(0, 500), at_ms: Math.floor(this.now) },
        };
      case 2:
        return { ...base, kind: "fail-count", node, resource, action: this.rng.chance(0.8) ? "increment" : "reset", at_ms: Math.floor(this.now) };
      case 3:
        return { ...base, kind: "node-attr", node, name: this.rng.pick(["pingd", "site"]), value: this.rng.chance(0.8) ? String(this.rng.int(0, 100)) : null };
      case 4:
        return { ...base, kind: "node-flags", node, standby: this.rng.chance(0.5) };
      default:
        return { ...base, kind: "cleanup", resource, node: this.rng.chance(0.5) ? node : undefined };
    }
  }

  // ---- the event loop -------------------------------------------------------------------------

  schedule(delay_ms: number, run: () => void): void {
    this.queue.push(this.now + Math.max(0, delay_ms), run);
  }

  /** Run virtual time forward. A broken core invariant ends the run as a violation. */
  run(duration_ms: number): void {
    const until = this.now + duration_ms;
    while (this.queue.nextAt <= until && this.checker.violations.length === 0) {
      const ev = this.queue.shift()!;
      this.now = ev.at;
      try {
        ev.run();
      } catch (e) {
        if (!(e instanceof InvariantError)) throw e;
        this.violate(e.message);
      }
    }
    this.now = until;
  }

  // ---- observation ----------------------------------------------------------------------------

  node(id: number): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  raft(id: number): Raft {
    const r = this.node(id).raft;
    if (!r) throw new Error(`${this.name(id)} is down`);
    return r;
  }

  /** The leader of the highest term among the nodes that are up, if any. */
  leader(): number | null {
    let best: Raft | null = null;
    for (const n of this.nodes.values()) {
      if (n.up && n.raft?.role === "leader" && (!best || n.raft.term > best.term)) best = n.raft;
    }
    return best?.id ?? null;
  }

  digestOf(id: number): string {
    return digest(this.node(id).cib);
  }

  /** After healing: one leader, every log and state machine the same. */
  convergence(): string[] {
    const problems: string[] = [];
    const up = [...this.nodes.values()].filter((n) => n.up && n.raft);
    if (up.length !== this.voters.length) problems.push(`only ${up.map((n) => this.name(n.id))} are up`);
    const leaders = up.filter((n) => n.raft!.role === "leader");
    if (leaders.length !== 1) problems.push(`${leaders.length} leaders: ${leaders.map((n) => `${this.name(n.id)}@${n.raft!.term}`)}`);
    const first = up[0];
    if (!first) return problems;
    for (const n of up) {
      const r = n.raft!;
      const f = first.raft!;
      if (r.commitIndex !== f.commitIndex || r.appliedIndex !== r.commitIndex || r.lastIndex !== f.lastIndex) {
        problems.push(`${this.name(n.id)}: commit ${r.commitIndex}, applied ${r.appliedIndex}, last ${r.lastIndex} vs ${this.name(first.id)}: commit ${f.commitIndex}, last ${f.lastIndex}`);
      }
      if (r.term !== f.term || r.leader() !== f.leader()) problems.push(`${this.name(n.id)} term ${r.term} leader ${r.leader()} vs term ${f.term} leader ${f.leader()}`);
      if (digest(n.cib) !== digest(first.cib)) problems.push(`${this.name(n.id)} holds a different CIB from ${this.name(first.id)}`);
    }
    return problems;
  }

  note(message: string): void {
    this.lines.push(`${this.now.toFixed(1).padStart(10)} ${message}`);
    if (this.lines.length > 4000) this.lines.splice(0, 1000);
  }

  private violate(message: string): void {
    this.checker.violations.push(`at ${this.now.toFixed(1)} ms: ${message}`);
    this.note(`VIOLATION ${message}`);
  }

  get violations(): readonly string[] {
    return this.checker.violations;
  }

  tail(lines = 40): string {
    return this.lines.slice(-lines).join("\n");
  }
}

export function digest(state: CibState): string {
  return createHash("sha1").update(encodeSnapshot(state)).digest("hex");
}
