// The Raft log as the core sees it: a snapshot point followed by entries, with the three marks
// that move along it. Invariant: snapshotIndex <= applied <= committed <= lastIndex, and
// persisted <= lastIndex; entries after `persisted` are the ones the next Ready hands out.
import { type Entry, ENTRY_OVERHEAD_BYTES, wireBytesOf } from "./messages.ts";
import type { SnapshotMeta } from "./storage.ts";
import { invariant } from "./invariant.ts";

export class RaftLog {
  private snapIndex: number;
  private snapTerm: number;
  /** entries[k].index === snapIndex + 1 + k */
  private ents: Entry[];
  /** Wire cost of each entry, computed once: batching reads it on every send. */
  private sizes: number[];
  committed: number;
  applied: number;
  /** Highest index the caller has made durable; entries after it are unstable. */
  persisted: number;

  constructor(snapshot: SnapshotMeta | null, entries: Entry[], commit: number) {
    this.snapIndex = snapshot?.index ?? 0;
    this.snapTerm = snapshot?.term ?? 0;
    this.ents = [];
    this.sizes = [];
    let prevTerm = this.snapTerm;
    for (const [k, e] of entries.entries()) {
      invariant(e.index === this.snapIndex + 1 + k, `restored entry ${e.index} is not contiguous after ${this.snapIndex + k}`);
      invariant(e.term >= prevTerm, `restored entry ${e.index} has term ${e.term} below ${prevTerm}`);
      prevTerm = e.term;
      this.ents.push(e);
      this.sizes.push(entryBytes(e));
    }
    invariant(commit <= this.lastIndex(), `restored commit ${commit} is beyond the last index ${this.lastIndex()}`);
    this.committed = Math.max(commit, this.snapIndex);
    this.applied = this.snapIndex;
    this.persisted = this.lastIndex();
  }

  get snapshotIndex(): number {
    return this.snapIndex;
  }

  get snapshotTerm(): number {
    return this.snapTerm;
  }

  firstIndex(): number {
    return this.snapIndex + 1;
  }

  lastIndex(): number {
    return this.snapIndex + this.ents.length;
  }

  lastTerm(): number {
    return this.ents.length === 0 ? this.snapTerm : this.ents[this.ents.length - 1]!.term;
  }

  /** Term of the entry at `index`; null when compacted away or not there yet. */
  term(index: number): number | null {
    if (index === this.snapIndex) return this.snapTerm;
    if (index < this.snapIndex || index > this.lastIndex()) return null;
    return this.ents[index - this.snapIndex - 1]!.term;
  }

  entry(index: number): Entry | null {
    if (index <= this.snapIndex || index > this.lastIndex()) return null;
    return this.ents[index - this.snapIndex - 1]!;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: a log is more up-to-date if its last term is later, or equal with a longer log. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm() || (lastTerm === this.lastTerm() && lastIndex >= this.lastIndex());
  }

  /**
   * The largest index <= `index` whose term is <= `term` (or the snapshot point). A follower uses
   * it to hint where its log could match the leader's; the leader uses it on that hint.
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    while (i > this.snapIndex) {
      if (this.term(i)! <= term) return i;
      i--;
    }
    return i;
  }

  /**
   * AppendEntries on a follower (§5.3): if the entry at prevIndex has prevTerm, drop whatever
   * conflicts with `entries`, append the new ones, and advance commit. Returns the index of the
   * last new entry, or null when the consistency check fails.
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, entries: Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + entries.length;
    const conflict = entries.find((e) => !this.matchTerm(e.index, e.term));
    if (conflict) this.append(entries.slice(conflict.index - prevIndex - 1));
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** Append, replacing the entries from the first new index on. Committed entries never change. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    invariant(first > this.committed, `append at ${first} would overwrite committed entries up to ${this.committed}`);
    invariant(first <= this.lastIndex() + 1, `append at ${first} leaves a gap after ${this.lastIndex()}`);
    invariant(entries[0]!.term >= (this.term(first - 1) ?? 0), `entry ${first} has a term below its predecessor`);
    const keep = first - this.snapIndex - 1;
    this.ents.length = keep;
    this.sizes.length = keep;
    for (const e of entries) {
      this.ents.push(e);
      this.sizes.push(entryBytes(e));
    }
    this.persisted = Math.min(this.persisted, first - 1);
  }

  /**
   * Entries from `from` on, at least one if any exist, at most `maxBytes` of wire cost beyond
   * the first. Null when `from` is compacted away (the follower needs a snapshot).
   */
  entriesFrom(from: number, maxBytes: number, maxCount: number): Entry[] | null {
    if (from <= this.snapIndex) return null;
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = from - this.snapIndex - 1; i < this.ents.length && out.length < maxCount; i++) {
      bytes += this.sizes[i]!;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(this.ents[i]!);
    }
    return out;
  }

  /** Wire cost of the entries in (after, upTo]. */
  bytesBetween(after: number, upTo: number): number {
    let bytes = 0;
    for (let i = Math.max(after, this.snapIndex) + 1; i <= Math.min(upTo, this.lastIndex()); i++) bytes += this.sizes[i - this.snapIndex - 1]!;
    return bytes;
  }

  unstable(): Entry[] {
    return this.ents.slice(this.persisted - this.snapIndex);
  }

  stableTo(index: number): void {
    invariant(index <= this.lastIndex(), `persisted ${index} beyond the last index ${this.lastIndex()}`);
    this.persisted = index;
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    invariant(index <= this.lastIndex(), `commit ${index} is beyond the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Committed entries not yet handed out for applying, at most `max`. */
  nextCommitted(max: number): Entry[] {
    const from = this.applied - this.snapIndex;
    return this.ents.slice(from, Math.min(this.committed - this.snapIndex, from + max));
  }

  appliedTo(index: number): void {
    invariant(index >= this.applied, `applied index going back from ${this.applied} to ${index}`);
    invariant(index <= this.committed, `applied ${index} beyond commit ${this.committed}`);
    this.applied = index;
  }

  /** Replace the whole log by a snapshot received from the leader (§7). */
  restore(meta: SnapshotMeta): void {
    invariant(meta.index > this.committed, `snapshot at ${meta.index} is not beyond commit ${this.committed}`);
    this.snapIndex = meta.index;
    this.snapTerm = meta.term;
    this.ents = [];
    this.sizes = [];
    this.committed = meta.index;
    this.applied = meta.index;
    this.persisted = meta.index;
  }

  /** Drop the applied entries up to `index`, now held by a snapshot of the state machine. */
  compact(index: number): void {
    if (index <= this.snapIndex) return;
    invariant(index <= this.applied, `compaction at ${index} beyond applied ${this.applied}`);
    this.snapTerm = this.term(index)!;
    this.ents = this.ents.slice(index - this.snapIndex);
    this.sizes = this.sizes.slice(index - this.snapIndex);
    this.snapIndex = index;
  }
}

function entryBytes(e: Entry): number {
  return wireBytesOf(e.data) + ENTRY_OVERHEAD_BYTES;
}
