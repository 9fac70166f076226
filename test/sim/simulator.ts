// A deterministic simulator of the cluster: the real cores of every node in one process, on a
// virtual clock, joined by a virtual network that drops, delays, duplicates, reorders and
// partitions. Everything random comes from one seeded generator, so a failing seed replays
// exactly (print the seed; rerun with SIM_SEED=<seed>).
//
// The checker runs after every delivered event and asserts the safety properties; liveness
// (the cluster heals once faults stop) is asserted by the tests after a settle period.
import { MembershipCore, type CoreConfig, type Effect, type NodeSpec, type View, LINK_ID, linkName } from "../../services/membership/core.ts";
import { ClusterKey } from "../../services/shared/wire.ts";
import { EventQueue } from "./event-queue.ts";
import { seededRandom } from "../../services/shared/random.ts";
import type { QuorumState } from "../../services/quorum/quorum.ts";

export class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed >>> 0 || 0x9e3779b9);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    const x = xs[Math.floor(this.next() * xs.length)];
    if (x === undefined) throw new Error("pick from empty list");
    return x;
  }
}

export interface LinkFault {
  loss: number;
  delay_ms: number;
  jitter_ms: number;
  duplicate: number;
  /** Packets from `from` to `to` on this link are lost entirely. */
  cut: boolean;
}

const HEALTHY: LinkFault = { loss: 0, delay_ms: 0.2, jitter_ms: 0.3, duplicate: 0, cut: false };

export const LAB_NODES: NodeSpec[] = [
  { id: 1, name: "host-a", role: "host", votes: 1 },
  { id: 2, name: "host-b", role: "host", votes: 1 },
  { id: 3, name: "arb", role: "arbitrator", votes: 1 },
];

export interface SimOptions {
  seed: number;
  nodes?: NodeSpec[];
  heartbeatInterval_ms?: number;
  lostTimeout_ms?: number;
  lease_ms?: number;
  waitForAll?: boolean;
  tick_ms?: number;
  /** Maximum clock rate error of a node, e.g. 1e-4 = 100 ppm. */
  drift?: number;
}

interface SimNode {
  spec: NodeSpec;
  up: boolean;
  incarnation: number;
  core: MembershipCore | null;
  /** Local clock = offset + rate * virtual time. */
  offset_ms: number;
  rate: number;
  lastViewId: number;
  viewChanges: number;
  quorumLosses: number;
  wasQuorate: boolean;
}

export interface Violation {
  at_ms: number;
  message: string;
}

export class Simulator {
  readonly rng: Rng;
  readonly key = new ClusterKey(new Uint8Array(32).fill(7));
  readonly nodes = new Map<number, SimNode>();
  readonly log: string[] = [];
  readonly violations: Violation[] = [];
  now = 0;
  private queue = new EventQueue();
  private faults = new Map<string, LinkFault>();
  private readonly opts: Required<SimOptions>;
  /** Counts of view installations per node, for "no spurious view change" checks. */
  delivered = 0;
  /** Hooks for tests that put more cores on each node (fencing, self-fence): effects and ticks. */
  onEffects: ((id: number, effects: Effect[], localNow_ms: number) => void) | null = null;
  onTick: ((id: number, localNow_ms: number) => void) | null = null;

  constructor(opts: SimOptions) {
    this.opts = {
      nodes: LAB_NODES,
      heartbeatInterval_ms: 100,
      lostTimeout_ms: 600,
      lease_ms: 450,
      waitForAll: false,
      tick_ms: 10,
      drift: 1e-4,
      ...opts,
    };
    this.rng = new Rng(opts.seed);
    for (const spec of this.opts.nodes) {
      this.nodes.set(spec.id, {
        spec,
        up: false,
        incarnation: 0,
        core: null,
        offset_ms: this.rng.int(0, 1_000_000),
        rate: 1 + (this.rng.next() * 2 - 1) * this.opts.drift,
        lastViewId: 0,
        viewChanges: 0,
        quorumLosses: 0,
        wasQuorate: false,
      });
    }
  }

  // ---- topology -----------------------------------------------------------------------------

  linksBetween(a: number, b: number): number[] {
    const ra = this.nodes.get(a)?.spec.role;
    const rb = this.nodes.get(b)?.spec.role;
    const links = [LINK_ID.ring0, LINK_ID.ring1];
    if (ra === "host" && rb === "host") links.push(LINK_ID.serial);
    return links;
  }

  private coreConfig(id: number, incarnation: number): CoreConfig {
    const linksTo = new Map<number, number[]>();
    for (const other of this.nodes.keys()) if (other !== id) linksTo.set(other, this.linksBetween(id, other));
    return {
      self: id,
      incarnation,
      nodes: this.opts.nodes,
      linksTo,
      timing: { heartbeatInterval_ms: this.opts.heartbeatInterval_ms, lostTimeout_ms: this.opts.lostTimeout_ms, lease_ms: this.opts.lease_ms },
      waitForAll: this.opts.waitForAll,
    };
  }

  idOf(name: string): number {
    for (const n of this.nodes.values()) if (n.spec.name === name) return n.spec.id;
    throw new Error(`no node named ${name}`);
  }

  nameOf(id: number): string {
    return this.nodes.get(id)?.spec.name ?? `#${id}`;
  }

  private localTime(n: SimNode): number {
    return n.offset_ms + n.rate * this.now;
  }

  // ---- faults -------------------------------------------------------------------------------

  private faultKey(from: number, to: number, link: number): string {
    return `${from}>${to}@${link}`;
  }

  fault(from: number, to: number, link: number): LinkFault {
    return this.faults.get(this.faultKey(from, to, link)) ?? HEALTHY;
  }

  setFault(from: number, to: number, link: number, f: Partial<LinkFault>): void {
    this.faults.set(this.faultKey(from, to, link), { ...this.fault(from, to, link), ...f });
  }

  /** Apply a fault both ways on the given links (all links when omitted). */
  setFaultBoth(a: number, b: number, f: Partial<LinkFault>, links?: number[]): void {
    for (const l of links ?? this.linksBetween(a, b)) {
      this.setFault(a, b, l, f);
      this.setFault(b, a, l, f);
    }
  }

  cut(a: number, b: number, links?: number[]): void {
    this.setFaultBoth(a, b, { cut: true }, links);
    this.note(`cut ${this.nameOf(a)} <-> ${this.nameOf(b)} on ${(links ?? this.linksBetween(a, b)).map(linkName).join(",")}`);
  }

  heal(): void {
    this.faults.clear();
    this.note("heal all links");
  }

  // ---- nodes --------------------------------------------------------------------------------

  start(id: number): void {
    const n = this.nodes.get(id);
    if (!n || n.up) return;
    n.incarnation += 1;
    n.up = true;
    n.lastViewId = 0;
    n.wasQuorate = false;
    n.core = new MembershipCore(this.coreConfig(id, n.incarnation), this.key);
    this.note(`start ${n.spec.name} (incarnation ${n.incarnation})`);
    this.apply(id, n.core.start(this.localTime(n)));
    this.scheduleTick(id, n.incarnation, this.rng.next() * this.opts.tick_ms);
  }

  crash(id: number): void {
    const n = this.nodes.get(id);
    if (!n || !n.up) return;
    n.up = false;
    n.core = null;
    this.note(`crash ${n.spec.name}`);
  }

  startAll(): void {
    for (const id of this.nodes.keys()) this.start(id);
  }

  setResources(id: number, count: number): void {
    this.nodes.get(id)?.core?.setResources(count);
  }

  private scheduleTick(id: number, incarnation: number, delay_ms: number): void {
    this.schedule(delay_ms, () => {
      const n = this.nodes.get(id);
      if (!n || !n.up || n.incarnation !== incarnation || !n.core) return;
      this.apply(id, n.core.tick(this.localTime(n)));
      if (n.up && n.incarnation === incarnation) this.onTick?.(id, this.localTime(n));
      this.scheduleTick(id, incarnation, this.opts.tick_ms);
    });
  }

  // ---- the event loop -----------------------------------------------------------------------

  schedule(delay_ms: number, run: () => void): void {
    this.queue.push(this.now + Math.max(0, delay_ms), run);
  }

  run(duration_ms: number): void {
    const until = this.now + duration_ms;
    while (this.queue.nextAt <= until) {
      const ev = this.queue.shift()!;
      this.now = ev.at;
      ev.run();
      this.check();
    }
    this.now = until;
  }

  /** A node's own clock now (what its cores see). */
  localNow(id: number): number {
    const n = this.nodes.get(id);
    return n ? this.localTime(n) : 0;
  }

  private apply(id: number, effects: Effect[]): void {
    const n = this.nodes.get(id);
    if (!n) return;
    this.onEffects?.(id, effects, this.localTime(n));
    for (const e of effects) {
      switch (e.kind) {
        case "send":
          for (const to of e.to) this.transmit(id, to, e.link, e.bytes);
          break;
        case "view":
          if (e.view.id <= n.lastViewId) this.violate(`${n.spec.name} installed view ${e.view.id} after ${n.lastViewId}: view ids must grow`);
          n.lastViewId = e.view.id;
          n.viewChanges += 1;
          this.note(`${n.spec.name} view ${e.view.id} [${e.view.members.map((m) => this.nameOf(m)).join(" ")}]`);
          break;
        case "quorum":
          if (!e.state.quorate && n.wasQuorate) n.quorumLosses += 1;
          n.wasQuorate = e.state.quorate;
          this.note(`${n.spec.name} quorum ${e.state.quorate ? "yes" : "no"} (${e.state.votes}/${e.state.expected}${e.state.reason ? `: ${e.state.reason}` : ""})`);
          break;
        case "drop":
          if (e.reason !== "replay") this.note(`${n.spec.name} drop ${e.reason}: ${e.detail}`);
          break;
        default:
          break;
      }
    }
  }

  private transmit(from: number, to: number, link: number, bytes: Uint8Array): void {
    const f = this.fault(from, to, link);
    if (f.cut || this.rng.chance(f.loss)) return;
    const copies = this.rng.chance(f.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = f.delay_ms + this.rng.next() * f.jitter_ms;
      this.schedule(delay, () => {
        const n = this.nodes.get(to);
        if (!n || !n.up || !n.core) return;
        this.delivered++;
        this.apply(to, n.core.receive(link, bytes, this.localTime(n)));
      });
    }
  }

  /** Deliver raw bytes to a node as if they arrived on a link: for garbage and replay tests. */
  inject(to: number, link: number, bytes: Uint8Array): Effect[] {
    const n = this.nodes.get(to);
    if (!n || !n.core) return [];
    const fx = n.core.receive(link, bytes, this.localTime(n));
    this.apply(to, fx);
    return fx;
  }

  // ---- observation --------------------------------------------------------------------------

  view(id: number): View | null {
    return this.nodes.get(id)?.core?.view ?? null;
  }

  quorum(id: number): QuorumState | null {
    return this.nodes.get(id)?.core?.quorumState ?? null;
  }

  core(id: number): MembershipCore | null {
    return this.nodes.get(id)?.core ?? null;
  }

  /** How often a node went from quorate to not quorate in this run. */
  quorumLosses(id: number): number {
    return this.nodes.get(id)?.quorumLosses ?? 0;
  }

  viewChanges(id: number): number {
    return this.nodes.get(id)?.viewChanges ?? 0;
  }

  upNodes(): number[] {
    return [...this.nodes.values()].filter((n) => n.up).map((n) => n.spec.id);
  }

  note(message: string): void {
    this.log.push(`${this.now.toFixed(1).padStart(9)} ${message}`);
    if (this.log.length > 5000) this.log.splice(0, this.log.length - 4000);
  }

  private violate(message: string): void {
    this.violations.push({ at_ms: this.now, message });
    this.note(`VIOLATION ${message}`);
  }

  /**
   * Safety, checked after every event: two nodes that both hold quorum never exclude each other
   * (at most one quorate partition); a quorate node is a member of its own view.
   */
  private check(): void {
    const quorate: Array<{ id: number; members: Set<number> }> = [];
    for (const n of this.nodes.values()) {
      if (!n.up || !n.core) continue;
      const q = n.core.quorumState;
      const v = n.core.view;
      if (!v.members.includes(n.spec.id)) this.violate(`${n.spec.name} is not in its own view ${v.id}`);
      if (q.quorate) quorate.push({ id: n.spec.id, members: new Set(v.members) });
    }
    for (let i = 0; i < quorate.length; i++) {
      for (let j = i + 1; j < quorate.length; j++) {
        const x = quorate[i]!;
        const y = quorate[j]!;
        if (!x.members.has(y.id) && !y.members.has(x.id)) {
          this.violate(`split brain: ${this.nameOf(x.id)} [${[...x.members].map((m) => this.nameOf(m))}] and ${this.nameOf(y.id)} [${[...y.members].map((m) => this.nameOf(m))}] both quorate`);
        }
      }
    }
  }

  /** Nodes that are up and mutually connected on at least one link both ways. */
  connected(a: number, b: number): boolean {
    return this.linksBetween(a, b).some((l) => !this.fault(a, b, l).cut && !this.fault(b, a, l).cut);
  }

  tail(lines = 60): string {
    return this.log.slice(-lines).join("\n");
  }
}
