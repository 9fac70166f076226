// Many seeds of random faults against three real CIB voters (Raft core, state machine, file
// storage). Each seed: start, run a client workload throughout, inject a random sequence of
// partitions, one-way cuts, loss, duplication and reordering, crashes (some inside a write) and
// restarts; then heal, restart everyone, and let it settle. The checker asserts the safety
// properties after every event; at the end every node must hold the same log and the same CIB,
// and a new command must commit everywhere (liveness).
//
//   SIM_SEEDS=2000 bun --bun vitest run test/cib/random-faults      # a longer run
//   SIM_SEED=1234  bun --bun vitest run test/cib/random-faults      # replay one seed exactly
//   SIM_SEED_START=5000 SIM_SEEDS=500 ...                            # another range
import { describe, expect, it } from "vitest";
import { CibSim } from "./raft-sim.ts";

const SEED_START = Number(process.env.SIM_SEED_START ?? 1);
const SEEDS = process.env.SIM_SEED ? [Number(process.env.SIM_SEED)] : range(SEED_START, Number(process.env.SIM_SEEDS ?? 150));

/** About 50 ms a seed on these machines; long runs must not hit vitest's default timeout. */
const TIMEOUT_MS = Math.max(60_000, SEEDS.length * 300);

function range(start: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + i);
}

export function runSeed(seed: number, voters = [1, 2, 3]): { sim: CibSim; problems: string[] } {
  const sim = new CibSim({ seed, voters, compactEvery: 20 + (seed % 4) * 20, maxMessageBytes: seed % 2 === 0 ? 1 : 16_000 });
  const rng = sim.rng;
  sim.startAll();
  sim.startWorkload();
  sim.run(rng.int(300, 3000));
  const steps = rng.int(3, 14);
  for (let i = 0; i < steps; i++) {
    const a = rng.pick(voters);
    const b = rng.pick(voters.filter((x) => x !== a));
    switch (rng.int(0, 9)) {
      case 0:
        sim.isolate(a);
        break;
      case 1:
        sim.cut(a, b);
        break;
      case 2:
        sim.setFault(b, a, { cut: true });
        sim.note(`one-way cut ${sim.name(b)} -> ${sim.name(a)}`);
        break;
      case 3: {
        const loss = rng.next() * 0.5;
        sim.setFaultBoth(a, b, { loss, delay_ms: rng.int(0, 30), jitter_ms: rng.int(0, 60) });
        sim.note(`loss ${(loss * 100).toFixed(0)}% ${sim.name(a)} <-> ${sim.name(b)}`);
        break;
      }
      case 4:
        sim.setFaultBoth(a, b, { duplicate: 0.3, jitter_ms: rng.int(5, 80) });
        sim.note(`duplicate and reorder ${sim.name(a)} <-> ${sim.name(b)}`);
        break;
      case 5:
        sim.crash(a);
        break;
      case 6:
        sim.crashDuringWrite(a);
        break;
      case 7:
        sim.start(a);
        break;
      case 8: {
        // The leader is the usual victim: take it away specifically.
        const l = sim.leader();
        if (l !== null) rng.chance(0.5) ? sim.isolate(l) : sim.crash(l);
        break;
      }
      default:
        sim.heal();
        break;
    }
    sim.run(rng.int(50, 3000));
  }
  sim.heal();
  sim.disarm();
  for (const id of voters) sim.start(id);
  sim.run(8000);
  sim.stopWorkload();
  sim.run(3000);
  const problems = [...sim.violations];
  if (problems.length === 0) {
    // Liveness: a new command commits and is applied everywhere.
    const leader = sim.leader();
    if (leader === null) problems.push("no leader after healing");
    else {
      const r = sim.propose(leader, { kind: "node-attr", node: "arb", name: "final", value: String(seed) });
      sim.run(2000);
      if (r.kind !== "appended") problems.push(`final proposal not appended: ${JSON.stringify(r)}`);
      problems.push(...sim.convergence());
      for (const id of voters) {
        if (sim.node(id).cib.nodes.arb?.attributes.final !== String(seed)) problems.push(`${sim.name(id)} did not apply the final command`);
      }
    }
  }
  return { sim, problems };
}

function runMany(seeds: number[], voters: number[], file: string): { failures: string[]; stats: string } {
  const failures: string[] = [];
  let applied = 0;
  let elections = 0;
  let torn = 0;
  let snapshots = 0;
  let committed = 0;
  for (const seed of seeds) {
    const { sim, problems } = runSeed(seed, voters);
    applied += sim.checker.appliedCount;
    elections += sim.checker.elections;
    committed += sim.checker.highestCommitted;
    for (const n of sim.nodes.values()) {
      torn += n.tornRepairs;
      snapshots += n.snapshotsInstalled;
    }
    if (problems.length > 0) {
      failures.push(`seed ${seed}: ${problems.slice(0, 5).join("; ")}\n  replay: SIM_SEED=${seed} node_modules/.bin/bun --bun node_modules/.bin/vitest run ${file}\n${sim.tail(40)}`);
      if (failures.length >= 3) break;
    }
  }
  return { failures, stats: `${seeds.length} seeds: ${committed} entries committed, ${applied} applications, ${elections} elections, ${snapshots} snapshots installed, ${torn} torn tails repaired` };
}

describe("CIB consensus under random faults", () => {
  it(`holds safety and converges on ${SEEDS.length} seeds (3 voters)`, () => {
    const { failures, stats } = runMany(SEEDS, [1, 2, 3], "test/cib/random-faults");
    console.log(`cib random faults, 3 voters: ${stats}`);
    expect(failures, failures.join("\n\n")).toEqual([]);
  }, TIMEOUT_MS);

  it("holds safety and converges with 5 voters (the core is not tied to 3)", () => {
    const seeds = process.env.SIM_SEED ? SEEDS : range(SEED_START + 100_000, Math.max(5, Math.floor(SEEDS.length / 10)));
    const { failures, stats } = runMany(seeds, [1, 2, 3, 4, 5], "test/cib/random-faults -t '5 voters'");
    console.log(`cib random faults, 5 voters: ${stats}`);
    expect(failures, failures.join("\n\n")).toEqual([]);
  }, TIMEOUT_MS);
});
