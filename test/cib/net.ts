// A synchronous network of Raft cores for unit tests (the shape of etcd's `network` in
// raft_test.go): messages are delivered in order until nothing moves, with per-link drops. Every
// Ready is handled by the contract: persist, then send, then apply, then advance.
import { Raft, type RaftConfig, type Ready } from "../../services/cib/raft.ts";
import type { Entry, Message } from "../../services/cib/messages.ts";
import { MemoryStorage, type PersistentState } from "../../services/cib/storage.ts";

export interface NetNode {
  raft: Raft;
  storage: MemoryStorage;
  /** Data of every applied non-empty entry, in order (per incarnation of the core). */
  applied: Entry[];
  up: boolean;
}

export class Net {
  readonly nodes = new Map<number, NetNode>();
  private queue: Message[] = [];
  private cuts = new Set<string>();
  /** Return false to drop a message, or another message to deliver in its place. */
  filter: ((m: Message) => boolean | Message) | null = null;
  readonly notes: string[] = [];
  /** Sees every Ready before it is handled. */
  onReady: ((id: number, rd: Ready) => void) | null = null;

  constructor(
    readonly ids: number[],
    private readonly overrides: Partial<RaftConfig> = {},
    restored: Map<number, PersistentState> = new Map(),
  ) {
    for (const id of ids) {
      const storage = new MemoryStorage();
      const state = restored.get(id);
      if (state) storage.save({ hardState: state.hardState, snapshot: state.snapshot, entries: state.entries });
      this.nodes.set(id, { raft: this.core(id, state), storage, applied: [], up: true });
    }
  }

  private core(id: number, state?: PersistentState): Raft {
    return new Raft({ id, voters: this.ids, electionTicks: 10, heartbeatTicks: 1, randomSeed: id * 7, ...this.overrides }, state);
  }

  raft(id: number): Raft {
    return this.node(id).raft;
  }

  node(id: number): NetNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  cut(a: number, b: number): void {
    this.cuts.add(`${a}>${b}`);
    this.cuts.add(`${b}>${a}`);
  }

  isolate(id: number): void {
    for (const other of this.ids) if (other !== id) this.cut(id, other);
  }

  heal(): void {
    this.cuts.clear();
  }

  /** Lose the core and everything not in storage; the node is down until restart(). */
  crash(id: number): void {
    this.node(id).up = false;
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
  }

  restart(id: number): void {
    const n = this.node(id);
    n.raft = this.core(id, n.storage.durable());
    n.applied = [];
    n.up = true;
  }

  /** Handle every pending Ready, then deliver messages, until nothing moves. */
  stabilize(maxSteps = 100_000): void {
    for (let steps = 0; steps < maxSteps; steps++) {
      this.drainReadies();
      const m = this.queue.shift();
      if (!m) return;
      this.deliver(m);
    }
    throw new Error("network did not settle");
  }

  deliver(m: Message): void {
    const to = this.nodes.get(m.to);
    if (!to?.up || this.cuts.has(`${m.from}>${m.to}`)) return;
    const f = this.filter ? this.filter(m) : true;
    if (f === false) return;
    to.raft.step(f === true ? m : f);
  }

  drainReadies(): void {
    for (const n of this.nodes.values()) {
      if (!n.up) continue;
      while (n.raft.hasReady()) {
        const rd = n.raft.ready();
        this.onReady?.(n.raft.id, rd);
        n.storage.save(rd);
        this.queue.push(...rd.messages);
        n.applied.push(...rd.committed.filter((e) => e.data !== ""));
        this.notes.push(...rd.notes);
        n.raft.advance();
      }
    }
  }

  /** Messages produced so far and not yet delivered; taking them removes them. */
  take(): Message[] {
    this.drainReadies();
    const out = this.queue;
    this.queue = [];
    return out;
  }

  tick(id: number, times = 1): void {
    for (let i = 0; i < times; i++) this.raft(id).tick();
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) if (n.up) n.raft.tick();
      this.stabilize();
    }
  }

  campaign(id: number): void {
    this.raft(id).campaign();
    this.stabilize();
  }

  propose(id: number, data: string): void {
    this.raft(id).propose(data);
    this.stabilize();
  }

  leaders(): number[] {
    return this.ids.filter((id) => this.node(id).up && this.raft(id).role === "leader");
  }
}
