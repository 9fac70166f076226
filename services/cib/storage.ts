// What the consensus core hands to durable storage and boots from. Types only, plus a small
// in-memory storage for tests; the real one is file-storage.ts.
import type { Entry } from "./messages.ts";

/** The part of a node's Raft state that must survive a crash (Raft paper, Figure 2 "Persistent state"). */
export interface HardState {
  /** Latest term this node has seen; never goes back. */
  term: number;
  /** Candidate voted for in `term`, or 0 for none. */
  vote: number;
  /**
   * Highest index known committed. Not needed for safety (the leader tells us again), but it lets
   * a restarted node re-apply its committed entries at once instead of waiting for a leader.
   */
  commit: number;
}

export interface SnapshotMeta {
  /** Index of the last entry the snapshot covers. */
  index: number;
  /** Term of that entry: the log-matching check needs it after the entry itself is gone. */
  term: number;
  /** The voter set at `index`, for when the voter set becomes changeable. */
  voters: number[];
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** The state machine's own serialisation of its whole state at `meta.index`; opaque to Raft. */
  data: Uint8Array;
}

/** Everything a node needs to start again where it crashed. */
export interface PersistentState {
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Contiguous entries following the snapshot (or index 1). */
  entries: Entry[];
}

/** The durable half of a Ready, as file-storage.ts and MemoryStorage take it. */
export interface Persist {
  hardState: HardState | null;
  snapshot: Snapshot | null;
  entries: Entry[];
}

export interface RaftStorage {
  /** Make `p` durable before returning (fsync). A snapshot replaces the whole log. */
  save(p: Persist): void;
  /** Record a snapshot taken by this node and drop the log entries it covers. */
  compact(snapshot: Snapshot): void;
  /** What a restart would load: for the simulator's checker and for tests. */
  durable(): PersistentState;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: 0, commit: 0 };

/** Storage that keeps everything in memory: for unit tests of the core. */
export class MemoryStorage implements RaftStorage {
  private hs: HardState = { ...EMPTY_HARD_STATE };
  private snap: Snapshot | null = null;
  private ents: Entry[] = [];

  save(p: Persist): void {
    if (p.snapshot) {
      this.snap = p.snapshot;
      this.ents = [];
    }
    if (p.entries.length > 0) {
      const first = p.entries[0]!.index;
      const base = this.snap?.meta.index ?? 0;
      const keep = first - base - 1;
      if (keep < 0 || keep > this.ents.length) throw new Error(`MemoryStorage: entry ${first} does not follow ${base + this.ents.length}`);
      this.ents = this.ents.slice(0, keep).concat(p.entries);
    }
    if (p.hardState) this.hs = { ...p.hardState };
  }

  compact(snapshot: Snapshot): void {
    const base = this.snap?.meta.index ?? 0;
    if (snapshot.meta.index <= base) return;
    this.ents = this.ents.slice(snapshot.meta.index - base);
    this.snap = snapshot;
  }

  durable(): PersistentState {
    return { hardState: { ...this.hs }, snapshot: this.snap, entries: [...this.ents] };
  }
}
