// The parts of the core beyond the paper's Figure 2: pre-vote and check-quorum (Ongaro's thesis
// §9.6 and §6.2), snapshots, leadership transfer, forwarding, limits, and the Ready contract.
import { describe, expect, it } from "vitest";
import { Net } from "../../test/cib/net.ts";
import { InvariantError } from "./invariant.ts";
import type { Message } from "./messages.ts";
import { Raft } from "./raft.ts";
import type { PersistentState } from "./storage.ts";

function leaderNet(extra = {}): Net {
  const net = new Net([1, 2, 3], extra);
  net.campaign(1);
  expect(net.raft(1).role).toBe("leader");
  return net;
}

describe("leader lost (the membership's hint)", () => {
  it("after the hint a campaign wins at once; without it the followers still honour the dead leader's lease", () => {
    const net = leaderNet();
    const term = net.raft(1).term;
    net.crash(1);
    net.campaign(2);
    expect(net.raft(2).role).not.toBe("leader");
    expect(net.raft(2).term).toBe(term);
    net.raft(3).leaderLost();
    net.raft(2).leaderLost();
    net.campaign(2);
    expect(net.raft(2).role).toBe("leader");
    expect(net.raft(3).leader()).toBe(2);
  });
});

describe("pre-vote", () => {
  it("an isolated node probes without raising its term", () => {
    const net = leaderNet();
    const term = net.raft(1).term;
    net.isolate(3);
    net.tickAll(200);
    expect(net.raft(3).term).toBe(term);
    expect(net.raft(3).role).toBe("pre-candidate");
  });

  it("a node that rejoins after isolation does not depose a healthy leader", () => {
    const net = leaderNet();
    const term = net.raft(1).term;
    net.isolate(3);
    net.tickAll(200);
    net.heal();
    net.tickAll(50);
    expect(net.raft(1).role).toBe("leader");
    for (const id of [1, 2, 3]) expect(net.raft(id).term).toBe(term);
    expect(net.raft(3).leader()).toBe(1);
  });

  it("without pre-vote the same rejoin raises the term and deposes the leader (what pre-vote prevents)", () => {
    const net = leaderNet({ preVote: false });
    const term = net.raft(1).term;
    net.isolate(3);
    net.tickAll(200);
    expect(net.raft(3).term).toBeGreaterThan(term + 5);
    net.heal();
    net.tickAll(50);
    expect(net.raft(1).term).toBeGreaterThan(term + 5);
  });

  it("a refused pre-vote leaves the voter's term alone; a refused real vote would have raised it", () => {
    const state = (): PersistentState => ({ hardState: { term: 2, vote: 0, commit: 0 }, snapshot: null, entries: [{ index: 1, term: 2, data: "x" }] });
    const pre = new Raft({ id: 1, voters: [1, 2, 3] }, state());
    pre.step({ type: "prevote", from: 2, to: 1, term: 3, lastIndex: 0, lastTerm: 0, transfer: false });
    expect(pre.term).toBe(2);
    expect(pre.ready().messages).toEqual([{ type: "prevote-resp", from: 1, to: 2, term: 2, reject: true }]);
    const real = new Raft({ id: 1, voters: [1, 2, 3] }, state());
    real.step({ type: "vote", from: 2, to: 1, term: 3, lastIndex: 0, lastTerm: 0, transfer: false });
    expect(real.term).toBe(3);
    expect(real.ready().messages).toEqual([{ type: "vote-resp", from: 1, to: 2, term: 3, reject: true }]);
  });
});

describe("check-quorum", () => {
  it("a leader that hears from no majority for electionTicks steps down, not before", () => {
    const net = leaderNet();
    net.isolate(1);
    for (let i = 1; i < 10; i++) {
      net.raft(1).tick();
      net.stabilize();
      expect(net.raft(1).role).toBe("leader");
    }
    net.raft(1).tick();
    expect(net.raft(1).role).toBe("follower");
    expect(net.raft(1).leader()).toBe(0);
    expect(net.raft(1).ready().notes.join()).toMatch(/stepping down .* heard from no majority for 10 ticks/);
  });

  it("a leader that keeps hearing a majority stays leader", () => {
    const net = leaderNet();
    net.isolate(3);
    net.tickAll(100);
    expect(net.raft(1).role).toBe("leader");
  });

  it("a follower that hears its leader ignores a campaign at a higher term (the leader lease)", () => {
    const net = leaderNet();
    const term = net.raft(2).term;
    net.raft(2).step({ type: "vote", from: 3, to: 2, term: term + 1, lastIndex: 100, lastTerm: term, transfer: false });
    expect(net.raft(2).term).toBe(term);
    expect(net.take()).toEqual([]);
    // Leadership transfer is the exception: it comes from the leader itself.
    net.raft(2).step({ type: "vote", from: 3, to: 2, term: term + 1, lastIndex: 100, lastTerm: term, transfer: true });
    expect(net.raft(2).term).toBe(term + 1);
  });

  it("a deposed leader that was cut off learns the new term from the answer to its heartbeat", () => {
    const net = leaderNet({ checkQuorum: true });
    net.isolate(1);
    net.tickAll(40);
    const leader = net.leaders().find((id) => id !== 1)!;
    expect(leader).toBeDefined();
    net.heal();
    net.tickAll(3);
    expect(net.raft(1).role).toBe("follower");
    expect(net.raft(1).term).toBe(net.raft(leader).term);
    expect(net.raft(1).leader()).toBe(leader);
  });
});

describe("snapshots (InstallSnapshot, §7)", () => {
  function compactLeader(net: Net, id: number): void {
    const r = net.raft(id);
    const data = new TextEncoder().encode(JSON.stringify(net.node(id).applied.map((e) => e.data)));
    const snap = r.compact(r.appliedIndex, data);
    net.node(id).storage.compact(snap);
  }

  it("a follower that missed compacted entries catches up from the snapshot, in chunks, despite lost chunks", () => {
    const net = leaderNet({ snapshotChunkBytes: 16 });
    net.crash(3);
    for (let i = 0; i < 30; i++) net.propose(1, `cmd-${i}`);
    compactLeader(net, 1);
    expect(net.raft(1).snapshotIndex).toBe(31);
    net.propose(1, "after");
    let chunks = 0;
    let dropped = 0;
    net.filter = (m) => {
      if (m.type !== "snapshot") return true;
      chunks++;
      if (chunks % 4 === 0) {
        dropped++;
        return false;
      }
      return true;
    };
    const installed: Uint8Array[] = [];
    net.onReady = (id, rd) => {
      if (id === 3 && rd.snapshot) installed.push(rd.snapshot.data);
    };
    net.restart(3);
    for (let i = 0; i < 200 && net.raft(3).appliedIndex < 32; i++) net.tickAll(1);
    expect(dropped).toBeGreaterThan(0);
    expect(chunks).toBeGreaterThan(20);
    expect(installed).toHaveLength(1);
    expect(JSON.parse(new TextDecoder().decode(installed[0]!))).toHaveLength(30);
    expect(net.raft(3).appliedIndex).toBe(32);
    expect(net.node(3).applied.map((e) => e.data)).toEqual(["after"]);
    expect(net.node(3).storage.durable().snapshot?.meta.index).toBe(31);
  });

  it("a snapshot that ends at an entry the follower already holds only advances its commit", () => {
    const r = new Raft({ id: 2, voters: [1, 2, 3] }, { hardState: { term: 1, vote: 0, commit: 0 }, snapshot: null, entries: [1, 2, 3].map((index) => ({ index, term: 1, data: "x" })) });
    r.step({ type: "snapshot", from: 1, to: 2, term: 1, meta: { index: 2, term: 1, voters: [1, 2, 3] }, offset: 0, chunk: new Uint8Array([1]), done: true });
    const rd = r.ready();
    expect(rd.snapshot).toBeNull();
    expect(r.commitIndex).toBe(2);
    expect(rd.messages[0]).toMatchObject({ type: "append-resp", index: 2, reject: false });
    r.advance();
  });
});

describe("leadership transfer", () => {
  it("hands leadership to a caught-up follower", () => {
    const net = leaderNet();
    net.propose(1, "x");
    const term = net.raft(1).term;
    expect(net.raft(1).transferLeadership(2)).toEqual({ ok: true });
    net.stabilize();
    expect(net.raft(2).role).toBe("leader");
    expect(net.raft(2).term).toBe(term + 1);
    net.propose(2, "y");
    for (const id of [1, 2, 3]) expect(net.node(id).applied.map((e) => e.data)).toEqual(["x", "y"]);
  });

  it("brings a lagging target up to date first, and refuses proposals meanwhile", () => {
    const net = leaderNet();
    net.cut(1, 3);
    for (let i = 0; i < 5; i++) net.propose(1, `c${i}`);
    expect(net.raft(3).lastIndex).toBeLessThan(net.raft(1).lastIndex);
    net.raft(1).transferLeadership(3);
    expect(net.raft(1).propose("during")).toMatchObject({ kind: "refused", reason: expect.stringMatching(/transferred to 3/) });
    net.heal();
    net.tickAll(3);
    expect(net.raft(3).role).toBe("leader");
    expect(net.node(3).applied.map((e) => e.data)).toEqual(["c0", "c1", "c2", "c3", "c4"]);
  });

  it("gives up after an election timeout when the target does not answer", () => {
    const net = leaderNet();
    net.isolate(3);
    net.propose(1, "x");
    net.raft(1).transferLeadership(3);
    net.tickAll(12);
    expect(net.raft(1).role).toBe("leader");
    expect(net.raft(1).propose("y").kind).toBe("appended");
  });
});

describe("proposals", () => {
  it("a follower forwards to the leader; without a leader it refuses", () => {
    const net = new Net([1, 2, 3]);
    expect(net.raft(2).propose("x")).toEqual({ kind: "refused", reason: "no leader known" });
    net.campaign(1);
    expect(net.raft(2).propose("x")).toEqual({ kind: "forwarded", to: 1 });
    net.stabilize();
    for (const id of [1, 2, 3]) expect(net.node(id).applied.map((e) => e.data)).toEqual(["x"]);
  });

  it("refuses an entry that cannot fit one message, an empty one, and more than the uncommitted budget", () => {
    const net = leaderNet({ maxUncommittedBytes: 2000 });
    expect(net.raft(1).propose("x".repeat(30_000))).toMatchObject({ kind: "refused", reason: expect.stringMatching(/over the 24000-byte limit/) });
    expect(net.raft(1).propose("").kind).toBe("refused");
    net.isolate(1);
    const results = Array.from({ length: 40 }, () => net.raft(1).propose("y".repeat(100)).kind);
    expect(results).toContain("appended");
    expect(results.at(-1)).toBe("refused");
  });
});

describe("the Ready contract", () => {
  it("a vote is in the hard state of the same Ready as the answer that grants it", () => {
    const r = new Raft({ id: 1, voters: [1, 2, 3] });
    r.step({ type: "vote", from: 2, to: 1, term: 1, lastIndex: 0, lastTerm: 0, transfer: false });
    const rd = r.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 2, commit: 0 });
    expect(rd.messages).toEqual([{ type: "vote-resp", from: 1, to: 2, term: 1, reject: false }]);
    r.advance();
    expect(r.hasReady()).toBe(false);
  });

  it("appended entries travel in the same Ready as the messages that announce them", () => {
    const net = leaderNet();
    net.raft(1).propose("x");
    const rd = net.raft(1).ready();
    expect(rd.entries.map((e) => e.data)).toEqual(["x"]);
    expect(rd.messages.some((m: Message) => m.type === "append" && m.entries.some((e) => e.data === "x"))).toBe(true);
    net.raft(1).advance();
  });

  it("a lone voter commits only after its own entry is persisted (advance)", () => {
    const r = new Raft({ id: 1, voters: [1] });
    r.campaign();
    expect(r.role).toBe("leader");
    r.propose("x");
    expect(r.commitIndex).toBe(0);
    const rd = r.ready();
    expect(rd.committed).toEqual([]);
    r.advance();
    expect(r.commitIndex).toBe(2);
    expect(r.ready().committed.map((e) => e.data)).toEqual(["", "x"]);
    r.advance();
  });

  it("stepping between ready() and advance() is a caller bug and throws", () => {
    const r = new Raft({ id: 1, voters: [1, 2, 3] });
    r.ready();
    expect(() => r.tick()).toThrow(InvariantError);
    expect(() => r.ready()).toThrow(/ready\(\) called again/);
  });
});

describe("invariants", () => {
  it("refuses a restored log whose term is above the stored current term", () => {
    expect(() => new Raft({ id: 1, voters: [1, 2, 3] }, { hardState: { term: 1, vote: 0, commit: 0 }, snapshot: null, entries: [{ index: 1, term: 2, data: "x" }] })).toThrow(InvariantError);
  });

  it("refuses a restored commit beyond the log", () => {
    expect(() => new Raft({ id: 1, voters: [1, 2, 3] }, { hardState: { term: 1, vote: 0, commit: 5 }, snapshot: null, entries: [] })).toThrow(/commit 5 is beyond/);
  });

  it("trips on a second leader in its own term", () => {
    const net = leaderNet();
    const term = net.raft(1).term;
    expect(() => net.raft(1).step({ type: "append", from: 2, to: 1, term, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 })).toThrow(/two leaders in term/);
  });

  it("a leader is the DC only once an entry of its own term is committed", () => {
    const net = new Net([1, 2, 3]);
    net.raft(1).campaign();
    // Deliver the votes but not yet the appends.
    for (let i = 0; i < 10 && net.raft(1).role !== "leader"; i++) for (const m of net.take()) if (m.type !== "append") net.deliver(m);
    expect(net.raft(1).role).toBe("leader");
    expect(net.raft(1).isDc()).toBe(false);
    net.stabilize();
    expect(net.raft(1).isDc()).toBe(true);
  });
});
