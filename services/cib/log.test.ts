// The log's arithmetic: matching, conflicts, backtracking hints, batching, compaction.
import { describe, expect, it } from "vitest";
import { InvariantError } from "./invariant.ts";
import { RaftLog } from "./log.ts";
import type { Entry } from "./messages.ts";

function ents(terms: number[], from = 1): Entry[] {
  return terms.map((term, k) => ({ index: from + k, term, data: `d${from + k}` }));
}

describe("raft log", () => {
  it("findConflictByTerm: the last index at or below `index` whose term is at most `term`", () => {
    const log = new RaftLog(null, ents([1, 1, 2, 2, 4, 4, 4, 5]), 0);
    expect(log.findConflictByTerm(8, 5)).toBe(8);
    expect(log.findConflictByTerm(8, 4)).toBe(7);
    expect(log.findConflictByTerm(8, 3)).toBe(4);
    expect(log.findConflictByTerm(8, 1)).toBe(2);
    expect(log.findConflictByTerm(8, 0)).toBe(0);
    expect(log.findConflictByTerm(20, 3)).toBe(4); // beyond the log: start at its end
  });

  it("after compaction the hint stops at the snapshot point", () => {
    const log = new RaftLog({ index: 4, term: 2, voters: [1] }, ents([4, 4, 5], 5), 4);
    expect(log.term(4)).toBe(2);
    expect(log.term(3)).toBeNull();
    expect(log.findConflictByTerm(7, 1)).toBe(4);
  });

  it("maybeAppend appends after a match, keeps matching entries, truncates a conflict, commits up to the last new entry", () => {
    const log = new RaftLog(null, ents([1, 1, 1, 1]), 0);
    log.stableTo(4);
    expect(log.maybeAppend(1, 1, 3, ents([1, 1], 2))).toBe(3);
    expect(log.lastIndex()).toBe(4); // matching entries do not truncate what follows them
    expect(log.committed).toBe(3);
    expect(log.unstable()).toEqual([]);
    expect(log.maybeAppend(3, 1, 3, ents([2], 4))).toBe(4);
    expect(log.term(4)).toBe(2);
    expect(log.persisted).toBe(3); // the replaced entry must be written again
    expect(log.maybeAppend(4, 9, 3, [])).toBeNull();
  });

  it("never overwrites a committed entry", () => {
    const log = new RaftLog(null, ents([1, 1, 1]), 3);
    expect(() => log.maybeAppend(1, 1, 3, ents([2], 2))).toThrow(InvariantError);
  });

  it("entriesFrom sends at least one entry and stops at the byte budget", () => {
    const log = new RaftLog(null, ents([1, 1, 1, 1, 1]), 0);
    expect(log.entriesFrom(1, 0, 100)).toHaveLength(1);
    expect(log.entriesFrom(1, 1_000_000, 100)).toHaveLength(5);
    expect(log.entriesFrom(1, 1_000_000, 2)).toHaveLength(2);
    expect(log.entriesFrom(6, 1_000_000, 100)).toEqual([]);
  });

  it("isUpToDate compares last term first, then length (§5.4.1)", () => {
    const log = new RaftLog(null, ents([1, 2]), 0);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(5, 1)).toBe(false);
    expect(log.isUpToDate(2, 2)).toBe(true);
    expect(log.isUpToDate(1, 2)).toBe(false);
  });

  it("the marks never go back", () => {
    const log = new RaftLog(null, ents([1, 1, 1]), 2);
    log.appliedTo(2);
    expect(() => log.appliedTo(1)).toThrow(/applied index going back/);
    expect(() => log.commitTo(9)).toThrow(/beyond the last index/);
    log.commitTo(1); // an older commit from a delayed message is ignored
    expect(log.committed).toBe(2);
  });

  it("compaction keeps the term of the snapshot point for the consistency check", () => {
    const log = new RaftLog(null, ents([1, 2, 3, 3]), 4);
    log.appliedTo(3);
    log.compact(3);
    expect(log.snapshotIndex).toBe(3);
    expect(log.matchTerm(3, 3)).toBe(true);
    expect(log.entriesFrom(3, 100, 100)).toBeNull();
    expect(log.entriesFrom(4, 100, 100)).toHaveLength(1);
    expect(() => log.compact(4)).toThrow(/beyond applied/);
  });
});
