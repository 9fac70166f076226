// The classic quorum-server cases, on the simulator with the real cores.
import { describe, expect, it } from "vitest";
import { Simulator } from "./simulator.ts";

const A = 1;
const B = 2;
const ARB = 3;

function settled(seed = 1, waitForAll = false): Simulator {
  const sim = new Simulator({ seed, waitForAll });
  sim.startAll();
  sim.run(3000);
  return sim;
}

function members(sim: Simulator, id: number): number[] {
  return sim.view(id)?.members ?? [];
}

function explain(sim: Simulator): string {
  return `\n--- simulator log (seed ${sim.rng ? "" : ""}) ---\n${sim.tail(40)}`;
}

describe("quorum cases", () => {
  it("all up: one view of three, every node quorate", () => {
    const sim = settled();
    for (const id of [A, B, ARB]) {
      expect(members(sim, id), explain(sim)).toEqual([A, B, ARB]);
      expect(sim.quorum(id)?.quorate).toBe(true);
      expect(sim.quorum(id)?.votes).toBe(3);
    }
    const ids = new Set([A, B, ARB].map((id) => sim.view(id)?.id));
    expect(ids.size).toBe(1);
    expect(sim.violations).toEqual([]);
  });

  it("one host down: the other host and the arbitrator keep quorum", () => {
    const sim = settled();
    sim.crash(B);
    sim.run(2000);
    for (const id of [A, ARB]) {
      expect(members(sim, id), explain(sim)).toEqual([A, ARB]);
      expect(sim.quorum(id)?.quorate).toBe(true);
    }
    expect(sim.violations).toEqual([]);
  });

  it("hosts lose each other but both reach arb: arb sides with host-a (lowest id) when nobody holds resources", () => {
    const sim = settled();
    sim.cut(A, B);
    sim.run(3000);
    expect(members(sim, A), explain(sim)).toEqual([A, ARB]);
    expect(members(sim, ARB)).toEqual([A, ARB]);
    expect(sim.quorum(A)?.quorate).toBe(true);
    expect(sim.quorum(ARB)?.quorate).toBe(true);
    expect(members(sim, B)).toEqual([B]);
    expect(sim.quorum(B)?.quorate).toBe(false);
    expect(sim.violations).toEqual([]);
  });

  it("hosts lose each other: arb's vote is sticky to the side that holds resources", () => {
    const sim = settled(2);
    sim.setResources(B, 2);
    sim.run(500);
    sim.cut(A, B);
    sim.run(3000);
    expect(members(sim, B), explain(sim)).toEqual([B, ARB]);
    expect(sim.quorum(B)?.quorate).toBe(true);
    expect(members(sim, A)).toEqual([A]);
    expect(sim.quorum(A)?.quorate).toBe(false);
    // And the choice stays put while the cut lasts, even if host-a later reports resources.
    sim.setResources(A, 5);
    sim.run(3000);
    expect(sim.quorum(B)?.quorate, explain(sim)).toBe(true);
    expect(sim.quorum(A)?.quorate).toBe(false);
    expect(sim.violations).toEqual([]);
  });

  it("a node dying never costs the survivors their quorum, on any seed", () => {
    for (let seed = 100; seed < 160; seed++) {
      const sim = settled(seed);
      const victim = sim.rng.pick([A, B, ARB]);
      const survivors = [A, B, ARB].filter((x) => x !== victim);
      sim.run(sim.rng.int(0, 100));
      const before = survivors.map((id) => sim.quorumLosses(id));
      sim.crash(victim);
      sim.run(2500);
      for (const [i, id] of survivors.entries()) {
        expect(sim.quorumLosses(id) - before[i]!, `seed ${seed}, ${sim.nameOf(victim)} crashed${explain(sim)}`).toBe(0);
        expect(members(sim, id)).toEqual(survivors);
      }
    }
  });

  it("arb down: both hosts keep quorum", () => {
    const sim = settled(3);
    sim.crash(ARB);
    sim.run(2000);
    for (const id of [A, B]) {
      expect(members(sim, id), explain(sim)).toEqual([A, B]);
      expect(sim.quorum(id)?.quorate).toBe(true);
    }
  });

  it("one host and arb down: the survivor has no quorum and says so", () => {
    const sim = settled(4);
    sim.crash(B);
    sim.crash(ARB);
    sim.run(2000);
    expect(members(sim, A)).toEqual([A]);
    const q = sim.quorum(A);
    expect(q?.quorate).toBe(false);
    expect(q?.reason).toMatch(/1 of 3 votes, 2 needed/);
  });

  it("wait-for-all: a cold start without host-b holds no quorum until host-b has been seen", () => {
    const sim = new Simulator({ seed: 5, waitForAll: true });
    sim.start(A);
    sim.start(ARB);
    sim.run(3000);
    expect(members(sim, A)).toEqual([A, ARB]);
    expect(sim.quorum(A)?.quorate).toBe(false);
    expect(sim.quorum(A)?.reason).toMatch(/wait-for-all/);
    sim.start(B);
    sim.run(2000);
    expect(sim.quorum(A)?.quorate, explain(sim)).toBe(true);
    // Once established, losing a host is an ordinary majority question.
    sim.crash(B);
    sim.run(2000);
    expect(sim.quorum(A)?.quorate).toBe(true);
    expect(sim.quorum(ARB)?.quorate).toBe(true);
  });

  it("a link going down and coming back changes link state, not membership", () => {
    const sim = settled(6);
    const before = [A, B, ARB].map((id) => sim.viewChanges(id));
    sim.cut(A, B, [0]);
    sim.run(2000);
    const status = sim.core(A)?.status();
    const toB = status?.peers.find((p) => p.id === B);
    expect(toB?.links[0]).toBe(false);
    expect(toB?.links[1]).toBe(true);
    sim.heal();
    sim.run(2000);
    expect(sim.core(A)?.status().peers.find((p) => p.id === B)?.links[0]).toBe(true);
    expect([A, B, ARB].map((id) => sim.viewChanges(id))).toEqual(before);
  });

  it("20% loss and 50 ms jitter on ring0 for five minutes: no view change", () => {
    const sim = settled(7);
    const before = [A, B, ARB].map((id) => sim.viewChanges(id));
    for (const a of [A, B, ARB]) for (const b of [A, B, ARB]) if (a !== b) sim.setFault(a, b, 0, { loss: 0.2, jitter_ms: 50 });
    sim.run(5 * 60_000);
    expect([A, B, ARB].map((id) => sim.viewChanges(id)), explain(sim)).toEqual(before);
    for (const id of [A, B, ARB]) expect(sim.quorum(id)?.quorate).toBe(true);
    expect(sim.violations).toEqual([]);
  });

  it("a dead node is declared lost within one second by default", () => {
    const sim = settled(8);
    const t0 = sim.now;
    sim.crash(ARB);
    let detected = -1;
    for (let i = 0; i < 200 && detected < 0; i++) {
      sim.run(10);
      if (!members(sim, A).includes(ARB) && !members(sim, B).includes(ARB)) detected = sim.now - t0;
    }
    expect(detected).toBeGreaterThan(0);
    expect(detected).toBeLessThan(1000);
  });
});
