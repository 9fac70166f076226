// What a leader knows about each follower's log, and how it paces replication to it (the
// probe / replicate / snapshot states of etcd's tracker). Plus the majority arithmetic.
import { invariant } from "./invariant.ts";

/**
 * probe: we do not know where the follower's log matches ours; one append in flight, then wait.
 * replicate: it matches up to `match`; stream appends, at most `maxInflight` unacknowledged.
 * snapshot: it needs entries we compacted away; send the snapshot one chunk at a time.
 */
export type ProgressState = "probe" | "replicate" | "snapshot";

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** probe/snapshot: a message is out and we wait for its answer (or the next heartbeat's). */
  paused = false;
  /** snapshot: the index being sent and the offset of the next chunk. */
  pendingSnapshot = 0;
  snapshotOffset = 0;
  /** The leader's tick count when this follower last answered (check-quorum). */
  lastHeard_tick = 0;
  /** Last index of each unacknowledged append, oldest first; bounded by maxInflight. */
  private inflight: number[] = [];

  constructor(
    next: number,
    private readonly maxInflight: number,
  ) {
    this.next = next;
  }

  isPaused(): boolean {
    return this.state === "replicate" ? this.inflight.length >= this.maxInflight : this.paused;
  }

  /** A successful answer up to `index`. Returns whether it told us something new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      this.paused = false;
      updated = true;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejection of the append whose prevIndex was `rejected`; `hint` is where the logs may match.
   * Returns false for an answer to an older append, which must be ignored.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === "snapshot") return false;
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.paused = false;
    return true;
  }

  /** An append carrying entries up to `last` went out (none: `last` is null). */
  sent(last: number | null): void {
    if (this.state === "replicate" && last !== null) {
      this.next = last + 1;
      this.inflight.push(last);
      invariant(this.inflight.length <= this.maxInflight, "inflight appends over the bound");
    } else if (this.state === "probe") {
      this.paused = true;
    }
  }

  freeInflightTo(index: number): void {
    while (this.inflight.length > 0 && this.inflight[0]! <= index) this.inflight.shift();
  }

  /** A heartbeat answer frees one slot, so a replicate stream whose acks were lost restarts. */
  freeOneInflight(): void {
    this.inflight.shift();
  }

  becomeProbe(): void {
    this.next = this.state === "snapshot" ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.state = "probe";
    this.paused = false;
    this.inflight = [];
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.state = "replicate";
    this.paused = false;
    this.inflight = [];
  }

  becomeSnapshot(index: number): void {
    this.state = "snapshot";
    this.pendingSnapshot = index;
    this.snapshotOffset = 0;
    this.paused = false;
    this.inflight = [];
  }
}

export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** The highest index held by a majority, given each voter's match index. */
export function majorityIndex(matches: number[]): number {
  const sorted = [...matches].sort((a, b) => b - a);
  return sorted[quorumOf(sorted.length) - 1] ?? 0;
}

export type VoteOutcome = "won" | "lost" | "pending";

export function voteOutcome(voters: number, granted: number, rejected: number): VoteOutcome {
  const q = quorumOf(voters);
  if (granted >= q) return "won";
  if (voters - rejected < q) return "lost";
  return "pending";
}
