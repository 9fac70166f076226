// The safety properties of Raft (paper, Figure 3), checked against every node of a simulation
// as it runs. The simulator reports what it sees; this records it and names every violation.
//
// - Election Safety: at most one leader (DC) per term.
// - Leader Completeness: a new leader's log holds every entry committed so far.
// - State Machine Safety: no two nodes apply different entries at one index; each node applies
//   indices in order, without gaps (a snapshot jumps to its index with the state others had there).
// - Durability: an entry counted as committed is on the disks of a majority, so no crash pattern
//   can lose it (in particular a minority never commits).

export interface LogView {
  /** Term of the entry at `index` in this node's log; null when absent or compacted. */
  termAt(index: number): number | null;
  readonly snapshotIndex: number;
}

export class Checker {
  readonly violations: string[] = [];
  private readonly applied = new Map<number, { term: number; data: string }>();
  private readonly committed = new Map<number, number>();
  private maxCommitted = 0;
  private readonly leaders = new Map<number, number>();
  private readonly digests = new Map<number, string>();
  /** Per node: last applied index of its current incarnation. */
  private readonly lastApplied = new Map<number, number>();
  appliedCount = 0;
  elections = 0;

  constructor(
    private readonly quorum: number,
    private readonly now: () => number,
  ) {}

  private violate(message: string): void {
    this.violations.push(`at ${this.now().toFixed(1)} ms: ${message}`);
  }

  /** A node (re)started from its durable state: applying resumes after its snapshot. */
  onStart(node: number, snapshotIndex: number, digest: string): void {
    this.lastApplied.set(node, snapshotIndex);
    if (snapshotIndex > 0) this.checkDigest(node, snapshotIndex, digest, "restarted from a snapshot");
  }

  onRestore(node: number, index: number, digest: string): void {
    const last = this.lastApplied.get(node) ?? 0;
    if (index <= last) this.violate(`node ${node} restored a snapshot at ${index}, not beyond its applied ${last}`);
    this.lastApplied.set(node, index);
    this.checkDigest(node, index, digest, "installed a snapshot");
  }

  onCompact(node: number, index: number, digest: string): void {
    this.checkDigest(node, index, digest, "compacted");
  }

  private checkDigest(node: number, index: number, digest: string, what: string): void {
    const known = this.digests.get(index);
    if (known === undefined) this.digests.set(index, digest);
    else if (known !== digest) this.violate(`node ${node} ${what} at ${index} with a state unlike another node's at that index`);
  }

  onApply(node: number, index: number, term: number, data: string): void {
    this.appliedCount++;
    const last = this.lastApplied.get(node) ?? 0;
    if (index !== last + 1) this.violate(`node ${node} applied ${index} after ${last}: out of order or with a gap`);
    this.lastApplied.set(node, index);
    const seen = this.applied.get(index);
    if (!seen) this.applied.set(index, { term, data });
    else if (seen.term !== term || seen.data !== data) {
      this.violate(`State Machine Safety: node ${node} applied (${index}, term ${term}) ${short(data)}, another node applied (term ${seen.term}) ${short(seen.data)}`);
    }
  }

  /** A node's commit index passed `index`, whose entry has `term` in its log. */
  onCommit(node: number, index: number, term: number, durableCopies: number): void {
    const known = this.committed.get(index);
    if (known === undefined) {
      this.committed.set(index, term);
      this.maxCommitted = Math.max(this.maxCommitted, index);
    } else if (known !== term) {
      this.violate(`node ${node} committed (${index}, term ${term}) but (${index}, term ${known}) was committed before`);
    }
    if (durableCopies < this.quorum) this.violate(`node ${node} counts (${index}, term ${term}) committed, but only ${durableCopies} disks hold it (quorum ${this.quorum})`);
  }

  onLeader(node: number, term: number, log: LogView): void {
    this.elections++;
    const other = this.leaders.get(term);
    if (other !== undefined && other !== node) this.violate(`Election Safety: nodes ${other} and ${node} both leader (DC) in term ${term}`);
    this.leaders.set(term, node);
    for (let i = log.snapshotIndex + 1; i <= this.maxCommitted; i++) {
      const t = this.committed.get(i);
      if (t !== undefined && log.termAt(i) !== t) {
        this.violate(`Leader Completeness: node ${node}, leader in term ${term}, lacks committed (${i}, term ${t}) (has ${log.termAt(i)})`);
        return;
      }
    }
  }

  leaderOf(term: number): number | undefined {
    return this.leaders.get(term);
  }

  get highestCommitted(): number {
    return this.maxCommitted;
  }
}

function short(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
