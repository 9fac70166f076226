// Failure scenarios of the CIB on the simulator (real cores, state machine and storage), each
// with the property it shows. The checker asserts the safety properties throughout.
import { describe, expect, it } from "vitest";
import { type CibSim as Sim, CibSim } from "./raft-sim.ts";

const TICK_MS = 50;
const ELECTION_MS = 10 * TICK_MS;

function settled(opts: Partial<ConstructorParameters<typeof CibSim>[0]> = {}): { sim: Sim; leader: number } {
  const sim = new CibSim({ seed: 7, ...opts });
  sim.startAll();
  sim.run(3000);
  const leader = sim.leader();
  if (leader === null) throw new Error(`no leader\n${sim.tail()}`);
  return { sim, leader };
}

function attr(sim: Sim, id: number, value: string) {
  return sim.propose(id, { kind: "node-attr", node: "host-a", name: "probe", value });
}

function explain(sim: Sim): string {
  return `\n${sim.violations.join("\n")}\n--- simulator log ---\n${sim.tail(40)}`;
}

describe("CIB scenarios", () => {
  it("a leader cut off into a minority steps down (check-quorum); the majority elects a new DC; the minority commits nothing", () => {
    const { sim, leader } = settled();
    const term = sim.raft(leader).term;
    const commit = sim.raft(leader).commitIndex;
    sim.isolate(leader);
    expect(attr(sim, leader, "lost").kind).toBe("appended");
    sim.run(ELECTION_MS + 2 * TICK_MS);
    expect(sim.raft(leader).role, explain(sim)).toBe("follower");
    expect(sim.raft(leader).commitIndex).toBe(commit);
    sim.run(2000);
    const next = sim.leader()!;
    expect(next).not.toBe(leader);
    expect(sim.raft(next).term).toBeGreaterThan(term);
    expect(attr(sim, next, "kept").kind).toBe("appended");
    sim.run(500);
    expect(sim.raft(leader).commitIndex).toBe(commit);
    sim.heal();
    sim.run(3000);
    expect(sim.convergence(), explain(sim)).toEqual([]);
    // The cut-off leader's entry was never committed and is gone; the majority's is everywhere.
    for (const id of sim.voters) expect(sim.node(id).cib.nodes["host-a"]?.attributes.probe).toBe("kept");
    expect(sim.violations).toEqual([]);
  });

  it("pre-vote: a follower isolated for a long time rejoins without raising the term or disturbing the DC", () => {
    const { sim, leader } = settled();
    const term = sim.raft(leader).term;
    const follower = sim.voters.find((id) => id !== leader)!;
    sim.isolate(follower);
    sim.run(20_000);
    expect(sim.raft(follower).term).toBe(term);
    sim.heal();
    sim.run(3000);
    expect(sim.leader()).toBe(leader);
    for (const id of sim.voters) expect(sim.raft(id).term).toBe(term);
    expect(sim.convergence(), explain(sim)).toEqual([]);
  });

  it("without pre-vote, the same rejoin raises the term and deposes the DC (the disruption pre-vote prevents)", () => {
    const { sim, leader } = settled({ preVote: false });
    const term = sim.raft(leader).term;
    const follower = sim.voters.find((id) => id !== leader)!;
    sim.isolate(follower);
    sim.run(20_000);
    expect(sim.raft(follower).term).toBeGreaterThan(term + 10);
    sim.heal();
    sim.run(3000);
    expect(sim.raft(leader).term).toBeGreaterThan(term + 10);
    expect(sim.violations).toEqual([]);
  });

  it("a node alone (both peers down) never commits, whatever it is asked", () => {
    const { sim, leader } = settled();
    const others = sim.voters.filter((id) => id !== leader);
    for (const id of others) sim.crash(id);
    const commit = sim.raft(leader).commitIndex;
    for (let i = 0; i < 10; i++) {
      attr(sim, leader, `alone-${i}`);
      sim.run(500);
    }
    expect(sim.raft(leader).commitIndex).toBe(commit);
    expect(sim.raft(leader).role).not.toBe("leader");
    for (const id of others) sim.start(id);
    sim.run(4000);
    expect(sim.convergence(), explain(sim)).toEqual([]);
  });

  it("a node down while the log was compacted catches up from a snapshot when it returns", () => {
    const { sim, leader } = settled({ compactEvery: 30 });
    const follower = sim.voters.find((id) => id !== leader)!;
    sim.crash(follower);
    for (let i = 0; i < 120; i++) {
      attr(sim, leader, `v${i}`);
      sim.run(20);
    }
    sim.run(1000);
    expect(sim.raft(leader).snapshotIndex).toBeGreaterThan(sim.node(follower).storage!.durable().entries.at(-1)?.index ?? 0);
    sim.start(follower);
    sim.run(3000);
    expect(sim.node(follower).snapshotsInstalled).toBeGreaterThan(0);
    expect(sim.convergence(), explain(sim)).toEqual([]);
    expect(sim.node(follower).cib.nodes["host-a"]?.attributes.probe).toBe("v119");
  });

  it("a crash inside a write leaves a torn record that the restart truncates, and the node catches up", () => {
    const { sim, leader } = settled({ seed: 11 });
    const follower = sim.voters.find((id) => id !== leader)!;
    let torn = false;
    for (let attempt = 0; attempt < 20 && !torn; attempt++) {
      sim.crashDuringWrite(follower);
      for (let i = 0; i < 5; i++) {
        attr(sim, leader, `w${attempt}-${i}`);
        sim.run(30);
      }
      sim.start(follower);
      sim.run(500);
      torn = sim.node(follower).tornRepairs > 0;
    }
    expect(torn, explain(sim)).toBe(true);
    sim.run(2000);
    expect(sim.convergence(), explain(sim)).toEqual([]);
  });

  it("leadership transfer hands the DC role to a chosen node with no committed entry lost", () => {
    const { sim, leader } = settled();
    const target = sim.voters.find((id) => id !== leader)!;
    attr(sim, leader, "before");
    sim.run(200);
    expect(sim.transfer(leader, target)).toEqual({ ok: true });
    sim.run(1000);
    expect(sim.leader()).toBe(target);
    attr(sim, target, "after");
    sim.run(500);
    expect(sim.convergence(), explain(sim)).toEqual([]);
    for (const id of sim.voters) expect(sim.node(id).cib.nodes["host-a"]?.attributes.probe).toBe("after");
  });
});
