// The rules of the Raft paper (Ongaro & Ousterhout, "In Search of an Understandable Consensus
// Algorithm", 2014), one test per sentence, quoted. Section numbers are the paper's.
import { describe, expect, it } from "vitest";
import { Net } from "../../test/cib/net.ts";
import type { Entry, Message } from "./messages.ts";
import { Raft, type RaftConfig } from "./raft.ts";
import type { PersistentState } from "./storage.ts";

/** A core whose Ready is handled at once (nothing to persist in these tests); returns its messages. */
function drain(r: Raft): Message[] {
  const out: Message[] = [];
  while (r.hasReady()) {
    const rd = r.ready();
    out.push(...rd.messages);
    r.advance();
  }
  return out;
}

function core(id: number, voters: number[], extra: Partial<RaftConfig> = {}, state?: PersistentState): Raft {
  return new Raft({ id, voters, electionTicks: 10, heartbeatTicks: 1, preVote: false, randomSeed: id, ...extra }, state);
}

/** A log from a list of terms: terms[k] is the term of index k+1. */
function logOf(terms: number[], currentTerm = terms[terms.length - 1] ?? 0, commit = 0): PersistentState {
  const entries: Entry[] = terms.map((term, k) => ({ index: k + 1, term, data: `e${k + 1}@${term}` }));
  return { hardState: { term: currentTerm, vote: 0, commit }, snapshot: null, entries };
}

function tickUntil(r: Raft, pred: () => boolean, max = 100): number {
  for (let i = 1; i <= max; i++) {
    r.tick();
    if (pred()) return i;
  }
  throw new Error("condition never held");
}

function terms(r: Raft): number[] {
  const out: number[] = [];
  for (let i = r.snapshotIndex + 1; i <= r.lastIndex; i++) out.push(r.termAt(i)!);
  return out;
}

describe("§5.1 Raft basics", () => {
  it("“If one server's current term is smaller than the other's, then it updates its current term to the larger value. If a candidate or leader discovers that its term is out of date, it immediately reverts to follower state.”", () => {
    for (const role of ["follower", "candidate", "leader"] as const) {
      const net = new Net([1, 2, 3], { preVote: false });
      if (role !== "follower") {
        net.raft(1).campaign();
        if (role === "leader") net.stabilize();
        else net.take();
      }
      expect(net.raft(1).role).toBe(role);
      net.raft(1).step({ type: "heartbeat", from: 2, to: 1, term: 5, commit: 0 });
      expect(net.raft(1).term).toBe(5);
      expect(net.raft(1).role).toBe("follower");
      expect(net.raft(1).leader()).toBe(2);
    }
  });

  it("“If a server receives a request with a stale term number, it rejects the request.”", () => {
    const r = core(1, [1, 2, 3], {}, logOf([1, 2], 3));
    r.step({ type: "append", from: 2, to: 1, term: 2, prevIndex: 2, prevTerm: 2, entries: [{ index: 3, term: 2, data: "stale" }], commit: 3 });
    expect(r.lastIndex).toBe(2);
    expect(r.commitIndex).toBe(0);
    // The answer carries the newer term, so the stale leader steps down (check-quorum's variant).
    expect(drain(r)).toEqual([expect.objectContaining({ type: "append-resp", to: 2, term: 3 })]);
  });
});

describe("§5.2 Leader election", () => {
  it("“When servers start up, they begin as followers.”", () => {
    expect(core(1, [1, 2, 3]).role).toBe("follower");
  });

  it("“To begin an election, a follower increments its current term and transitions to candidate state. It then votes for itself and issues RequestVote RPCs in parallel to each of the other servers”", () => {
    const r = core(1, [1, 2, 3]);
    tickUntil(r, () => r.role === "candidate");
    expect(r.term).toBe(1);
    expect(r.vote).toBe(1);
    const msgs = drain(r);
    expect(msgs.map((m) => [m.type, m.to, m.term])).toEqual([
      ["vote", 2, 1],
      ["vote", 3, 1],
    ]);
  });

  it("“A candidate wins an election if it receives votes from a majority of the servers in the full cluster for the same term.”", () => {
    const cases: Array<{ voters: number[]; grants: Record<number, boolean>; role: string }> = [
      { voters: [1, 2, 3], grants: { 2: true }, role: "leader" },
      { voters: [1, 2, 3], grants: { 2: false, 3: false }, role: "follower" },
      { voters: [1, 2, 3], grants: { 2: false }, role: "candidate" },
      { voters: [1, 2, 3, 4, 5], grants: { 2: true }, role: "candidate" },
      { voters: [1, 2, 3, 4, 5], grants: { 2: true, 3: true }, role: "leader" },
      { voters: [1, 2, 3, 4, 5], grants: { 2: false, 3: false, 4: false }, role: "follower" },
    ];
    for (const c of cases) {
      const r = core(1, c.voters);
      r.campaign();
      drain(r);
      for (const [from, granted] of Object.entries(c.grants)) r.step({ type: "vote-resp", from: Number(from), to: 1, term: 1, reject: !granted });
      expect(r.role, JSON.stringify(c)).toBe(c.role);
    }
  });

  it("“Each server will vote for at most one candidate in a given term, on a first-come-first-served basis”", () => {
    const r = core(1, [1, 2, 3]);
    const ask = (from: number) => {
      r.step({ type: "vote", from, to: 1, term: 1, lastIndex: 0, lastTerm: 0, transfer: false });
      const resp = drain(r).find((m) => m.type === "vote-resp")!;
      return resp.type === "vote-resp" && !resp.reject;
    };
    expect(ask(2)).toBe(true);
    expect(ask(3)).toBe(false);
    expect(ask(2)).toBe(true); // the same candidate asking again (a duplicate) keeps its vote
  });

  it("“If the leader's term is at least as large as the candidate's current term, then the candidate recognizes the leader as legitimate and returns to follower state.”", () => {
    const r = core(1, [1, 2, 3]);
    r.campaign();
    expect(r.role).toBe("candidate");
    r.step({ type: "append", from: 2, to: 1, term: 1, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 });
    expect(r.role).toBe("follower");
    expect(r.leader()).toBe(2);
  });

  it("“If the term in the RPC is smaller than the candidate's current term, then the candidate rejects the RPC and continues in candidate state.”", () => {
    const r = core(1, [1, 2, 3], {}, logOf([], 4));
    r.campaign();
    r.step({ type: "append", from: 2, to: 1, term: 3, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 });
    expect(r.role).toBe("candidate");
    expect(r.term).toBe(5);
  });

  it("“Raft uses randomized election timeouts … chosen randomly from a fixed interval”: [electionTicks, 2·electionTicks)", () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const r = core(1, [1, 2, 3], { randomSeed: seed });
      seen.add(tickUntil(r, () => r.role === "candidate", 50));
    }
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...seen)).toBeLessThan(20);
    expect(seen.size).toBeGreaterThan(5);
  });

  it("“Leaders send periodic heartbeats (AppendEntries RPCs that carry no log entries) to all followers in order to maintain their authority.”", () => {
    const net = new Net([1, 2, 3], { heartbeatTicks: 2 });
    net.campaign(1);
    net.raft(1).tick();
    expect(net.take()).toEqual([]);
    net.raft(1).tick();
    expect(net.take().map((m) => [m.type, m.to])).toEqual([
      ["heartbeat", 2],
      ["heartbeat", 3],
    ]);
  });
});

describe("§5.3 Log replication", () => {
  it("“The leader appends the command to its log as a new entry, then issues AppendEntries RPCs in parallel to each of the other servers to replicate the entry.”", () => {
    const net = new Net([1, 2, 3]);
    net.campaign(1);
    const r = net.raft(1).propose("x");
    expect(r).toEqual({ kind: "appended", index: 2, term: 1 });
    const msgs = net.take().filter((m) => m.type === "append");
    expect(msgs.map((m) => m.to).sort()).toEqual([2, 3]);
    for (const m of msgs) if (m.type === "append") expect(m.entries).toEqual([{ index: 2, term: 1, data: "x" }]);
  });

  it("“A log entry is committed once the leader that created the entry has replicated it on a majority of the servers”", () => {
    for (const voters of [
      [1, 2, 3],
      [1, 2, 3, 4, 5],
    ]) {
      const net = new Net(voters);
      net.campaign(1);
      net.raft(1).propose("x");
      const appends = net.take().filter((m) => m.type === "append");
      const need = Math.floor(voters.length / 2); // followers needed besides the leader
      for (const [k, m] of appends.entries()) {
        net.deliver(m);
        const resp = net.take().find((x) => x.type === "append-resp")!;
        net.deliver(resp);
        net.drainReadies();
        expect(net.raft(1).commitIndex, `${voters.length} voters, ${k + 1} acks`).toBe(k + 1 >= need ? 2 : 1);
      }
    }
  });

  it("“it includes that index in future AppendEntries RPCs (including heartbeats) so that the other servers eventually find out”", () => {
    const net = new Net([1, 2, 3]);
    net.campaign(1);
    net.propose(1, "x");
    // Followers learn the commit of "x" from the next message after the leader committed it.
    net.tickAll(1);
    for (const id of [2, 3]) expect(net.raft(id).commitIndex).toBe(2);
    expect(net.node(3).applied.map((e) => e.data)).toEqual(["x"]);
  });

  it("“If the follower does not find an entry in its log with the same index and term, then it refuses the new entries.”", () => {
    const r = core(2, [1, 2, 3], {}, logOf([1, 1, 2], 2));
    r.step({ type: "append", from: 1, to: 2, term: 3, prevIndex: 3, prevTerm: 3, entries: [{ index: 4, term: 3, data: "n" }], commit: 0 });
    expect(r.lastIndex).toBe(3);
    const resp = drain(r).find((m) => m.type === "append-resp")!;
    expect(resp).toMatchObject({ reject: true, index: 3, rejectHint: 3, logTerm: 2 });
  });

  it("“If an existing entry conflicts with a new one (same index but different terms), delete the existing entry and all that follow it” (Figure 2)", () => {
    const r = core(2, [1, 2, 3], {}, logOf([1, 1, 2, 2, 2], 2));
    r.step({ type: "append", from: 1, to: 2, term: 3, prevIndex: 2, prevTerm: 1, entries: [{ index: 3, term: 3, data: "new" }], commit: 0 });
    expect(terms(r)).toEqual([1, 1, 3]);
    const rd = r.ready();
    // The overwrite goes to storage as entries from index 3, replacing what is stored there.
    expect(rd.entries).toEqual([{ index: 3, term: 3, data: "new" }]);
    r.advance();
  });

  it("“The leader handles inconsistencies by forcing the followers' logs to duplicate its own” (Figure 7, a–f)", () => {
    const leader = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers = [
      [1, 1, 1, 4, 4, 5, 5, 6, 6], // (a) missing an entry
      [1, 1, 1, 4], // (b) missing many
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], // (c) an extra uncommitted entry
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // (d) extra entries of a later term
      [1, 1, 1, 4, 4, 4, 4], // (e) missing and extra
      [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], // (f) a leader of terms 2 and 3 that never replicated
    ];
    const ids = [1, 2, 3, 4, 5, 6, 7];
    const restored = new Map<number, PersistentState>([[1, logOf(leader, 7, 3)]]);
    followers.forEach((f, k) => restored.set(k + 2, logOf(f, 7, 3)));
    const net = new Net(ids, { preVote: false }, restored);
    net.campaign(1);
    expect(net.raft(1).role).toBe("leader");
    expect(net.raft(1).term).toBe(8);
    net.tickAll(3);
    for (const id of ids) expect(terms(net.raft(id)), `node ${id}`).toEqual([...leader, 8]);
    // Log Matching made them equal entry by entry, data included.
    for (const id of ids) expect(net.raft(id).commitIndex).toBe(11);
  });

  it("fast backtracking: a follower with a long divergent tail costs one rejection per term, not per entry", () => {
    const restored = new Map<number, PersistentState>([
      [1, logOf([1, ...Array(50).fill(2)], 4, 1)],
      [2, logOf([1, ...Array(80).fill(3)], 4, 1)],
      [3, logOf([1, ...Array(50).fill(2)], 4, 1)],
    ]);
    const net = new Net([1, 2, 3], { preVote: false }, restored);
    let rejections = 0;
    net.filter = (m) => {
      if (m.type === "append-resp" && m.reject) rejections++;
      return true;
    };
    net.campaign(1);
    net.tickAll(2);
    expect(terms(net.raft(2))).toEqual(terms(net.raft(1)));
    expect(rejections).toBeLessThanOrEqual(2);
  });
});

describe("§5.4.1 Election restriction", () => {
  it("“the voter denies its vote if its own log is more up-to-date than that of the candidate … If the logs have last entries with different terms, then the log with the later term is more up-to-date. If the logs end with the same term, then whichever log is longer is more up-to-date.”", () => {
    // The voter's log ends at index 2, term 2.
    const cases: Array<[lastIndex: number, lastTerm: number, granted: boolean]> = [
      [1, 3, true], // later term, shorter log
      [3, 1, false], // longer log, earlier term
      [2, 2, true], // the same
      [1, 2, false], // same term, shorter
      [3, 2, true], // same term, longer
    ];
    for (const [lastIndex, lastTerm, granted] of cases) {
      const r = core(1, [1, 2, 3], {}, logOf([1, 2], 2));
      r.step({ type: "vote", from: 2, to: 1, term: 3, lastIndex, lastTerm, transfer: false });
      const resp = drain(r).find((m) => m.type === "vote-resp");
      expect(resp && resp.type === "vote-resp" && !resp.reject, `candidate (${lastIndex}, ${lastTerm})`).toBe(granted);
    }
  });

  it("“Raft uses the voting process to prevent a candidate from winning an election unless its log contains all committed entries.”", () => {
    // Entry 2 is on a majority (1 and 2); node 3 lacks it and cannot become leader.
    const restored = new Map<number, PersistentState>([
      [1, logOf([1, 1], 1, 2)],
      [2, logOf([1, 1], 1, 2)],
      [3, logOf([1], 1, 1)],
    ]);
    const net = new Net([1, 2, 3], { preVote: false }, restored);
    net.crash(1);
    net.campaign(3);
    expect(net.raft(3).role).not.toBe("leader");
    net.campaign(2);
    expect(net.raft(2).role).toBe("leader");
  });
});

describe("§5.4.2 Committing entries from previous terms", () => {
  it("“Raft never commits log entries from previous terms by counting replicas. Only log entries from the leader's current term are committed by counting replicas”", () => {
    // Leader in term 4 with an entry of term 2 (index 2) and its own no-op (index 3).
    const r = core(1, [1, 2, 3, 4, 5], {}, logOf([1, 2], 3, 1));
    r.campaign();
    drain(r);
    for (const from of [2, 3]) r.step({ type: "vote-resp", from, to: 1, term: 4, reject: false });
    expect(r.role).toBe("leader");
    drain(r);
    expect(r.termAt(3)).toBe(4);
    // A majority (1, 2, 3) holds index 2 — it is still not committed: its term is 2, not 4.
    for (const from of [2, 3]) r.step({ type: "append-resp", from, to: 1, term: 4, index: 2, reject: false, rejectHint: 0, logTerm: 0 });
    drain(r);
    expect(r.commitIndex).toBe(1);
    // "once an entry from the current term has been committed in this way, then all prior entries are committed indirectly"
    for (const from of [2, 3]) r.step({ type: "append-resp", from, to: 1, term: 4, index: 3, reject: false, rejectHint: 0, logTerm: 0 });
    drain(r);
    expect(r.commitIndex).toBe(3);
    expect(r.isDc()).toBe(true);
  });

  it("Figure 8: an old-term entry on a majority can still be overwritten, so it must not count as committed", () => {
    // The state of Figure 8 (c): S1 (leader of term 2) put index 2 on S2; S5 (leader of term 3)
    // wrote its own index 2 only locally. S1 comes back and wins term 4.
    const ids = [1, 2, 3, 4, 5];
    const restored = new Map<number, PersistentState>([
      [1, logOf([1, 2], 3, 1)],
      [2, logOf([1, 2], 3, 1)],
      [3, logOf([1], 3, 1)],
      [4, logOf([1], 3, 1)],
      [5, logOf([1, 3], 3, 1)],
    ]);
    // The paper's algorithm: no pre-vote, no leader lease (check-quorum), so S5 may campaign at once.
    const net = new Net(ids, { preVote: false, checkQuorum: false }, restored);
    net.cut(1, 4);
    net.cut(1, 5);
    // Index 3 (S1's entry of term 4) never reaches a follower; everything else does.
    net.filter = (m) => (m.type === "append" ? { ...m, entries: m.entries.filter((e) => e.index < 3) } : true);
    net.campaign(1);
    expect(net.raft(1).role).toBe("leader");
    expect(net.raft(1).term).toBe(4);
    net.tickAll(3);
    // (c): index 2 (term 2) is now on S1, S2 and S3 — a majority — and is NOT committed.
    for (const id of [1, 2, 3]) expect(net.raft(id).termAt(2)).toBe(2);
    expect(net.raft(1).commitIndex).toBe(1);
    // (d): S1 crashes; S5 can be elected by S2, S3, S4 (its last term 3 beats their 2)…
    net.crash(1);
    net.filter = null;
    net.heal();
    net.campaign(5); // term 4: S2 and S3 already voted for S1 in it
    net.campaign(5); // term 5
    expect(net.raft(5).role).toBe("leader");
    expect(net.raft(5).term).toBe(5);
    net.tickAll(3);
    // …and replaces index 2 everywhere. Had S1 counted it committed, a committed entry would be lost.
    for (const id of [2, 3, 4, 5]) expect(net.raft(id).termAt(2)).toBe(3);
  });

  it("Figure 8 (e): once the leader's own-term entry is on a majority, the older entry is committed and safe", () => {
    const ids = [1, 2, 3, 4, 5];
    const restored = new Map<number, PersistentState>([
      [1, logOf([1, 2], 3, 1)],
      [2, logOf([1, 2], 3, 1)],
      [3, logOf([1], 3, 1)],
      [4, logOf([1], 3, 1)],
      [5, logOf([1, 3], 3, 1)],
    ]);
    const net = new Net(ids, { preVote: false, checkQuorum: false }, restored);
    net.cut(1, 4);
    net.cut(1, 5);
    net.campaign(1);
    net.tickAll(2);
    expect(net.raft(1).commitIndex).toBe(3);
    net.crash(1);
    net.heal();
    net.campaign(5);
    expect(net.raft(5).role).not.toBe("leader"); // S2 and S3 hold term 4 now: S5 cannot win
    for (const id of [2, 3]) expect(net.raft(id).termAt(2)).toBe(2);
  });
});
