// One CIB voter: the Raft core, the CIB state machine and durable storage, with the Ready loop
// done by the contract (raft.ts, Ready). This is the glue the node runtime uses, and the one the
// simulator drives, so the loop is tested as shipped. It does no I/O of its own: storage and
// `send` are ports; time arrives as tick().
import { type ApplyResult, applyEntry, type CibState, type Command, decodeSnapshot, emptyState, encodeCommand, encodeSnapshot } from "./cib.ts";
import { decodeMessage, type Entry, type Message } from "./messages.ts";
import { type ProposeResult, Raft, type RaftConfig } from "./raft.ts";
import type { PersistentState, RaftStorage, Snapshot, SnapshotMeta } from "./storage.ts";

export interface ReplicaOptions {
  raft: RaftConfig;
  storage: RaftStorage;
  /** What the storage loaded (file-storage.ts `open().state`). */
  restored: PersistentState;
  /** Put a message on the network. Called only once the state it depends on is durable. */
  send: (m: Message) => void;
  /** Compact once this many applied entries follow the snapshot. Default 10,000. */
  compactEvery?: number;
  /** Log lines worth keeping: elections, step-downs, snapshots. */
  log?: (line: string) => void;
  /** Every applied entry with its result (null for the leaders' no-ops), in log order. */
  onApply?: (entry: Entry, result: ApplyResult | null, state: CibState) => void;
  onRestore?: (meta: SnapshotMeta, state: CibState) => void;
  onCompact?: (snapshot: Snapshot, state: CibState) => void;
}

export class CibReplica {
  readonly raft: Raft;
  private cib: CibState;
  private readonly compactEvery: number;

  constructor(private readonly opts: ReplicaOptions) {
    this.raft = new Raft(opts.raft, opts.restored);
    this.cib = opts.restored.snapshot ? decodeSnapshot(opts.restored.snapshot.data) : emptyState();
    this.compactEvery = opts.compactEvery ?? 10_000;
  }

  /** The CIB as applied here: committed, possibly behind the leader's. */
  get state(): CibState {
    return this.cib;
  }

  tick(): void {
    this.raft.tick();
  }

  step(m: Message): void {
    this.raft.step(m);
  }

  /** A `Service` payload from the authenticated `sender`: decode and step. Returns why it was dropped, or null. */
  receive(payload: Uint8Array, sender: number): string | null {
    const d = decodeMessage(payload, sender);
    if (!d.ok) return d.error;
    this.raft.step(d.value);
    return null;
  }

  propose(cmd: Command): ProposeResult {
    return this.raft.propose(encodeCommand(cmd));
  }

  /**
   * Handle every pending Ready: persist, send, apply, advance; then compact when due. Call it
   * after each batch of inputs (ticks, messages, proposals). A storage error propagates: the
   * caller must stop the process, because a failed fsync leaves no durable promise to stand on.
   */
  drain(): void {
    while (this.raft.hasReady()) {
      const rd = this.raft.ready();
      this.opts.storage.save(rd);
      for (const m of rd.messages) this.opts.send(m);
      if (rd.snapshot) {
        this.cib = decodeSnapshot(rd.snapshot.data);
        this.opts.onRestore?.(rd.snapshot.meta, this.cib);
      }
      for (const e of rd.committed) {
        const out = applyEntry(this.cib, e);
        this.cib = out.state;
        this.opts.onApply?.(e, out.result, this.cib);
      }
      for (const line of rd.notes) this.opts.log?.(line);
      this.raft.advance();
      this.maybeCompact();
    }
  }

  private maybeCompact(): void {
    const applied = this.raft.appliedIndex;
    if (applied - this.raft.snapshotIndex < this.compactEvery) return;
    const snapshot = this.raft.compact(applied, encodeSnapshot(this.cib));
    this.opts.onCompact?.(snapshot, this.cib);
    this.opts.storage.compact(snapshot);
  }
}
