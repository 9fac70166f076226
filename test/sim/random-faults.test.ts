// Many seeds of random faults against the real cores. Each seed: start the cluster, inject a
// random sequence of partitions, one-way cuts, loss, delay, duplication, crashes and restarts,
// then heal everything and let it settle. Safety is checked after every event by the simulator;
// here we check that it healed: one view holding every node, quorate everywhere.
//
//   SIM_SEEDS=2000 bun --bun vitest run test/sim/random-faults   # a longer run
//   SIM_SEED=1234  bun --bun vitest run test/sim/random-faults   # replay one seed exactly
import { describe, expect, it } from "vitest";
import { LINK_ID } from "../../services/membership/core.ts";
import { Simulator } from "./simulator.ts";

const SEED_START = Number(process.env.SIM_SEED_START ?? 1);
const SEEDS = process.env.SIM_SEED ? [Number(process.env.SIM_SEED)] : range(SEED_START, Number(process.env.SIM_SEEDS ?? 120));

function range(start: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + i);
}

export function runSeed(seed: number): { sim: Simulator; problems: string[] } {
  const sim = new Simulator({ seed, waitForAll: seed % 3 === 0 });
  const ids = [...sim.nodes.keys()];
  const rng = sim.rng;
  sim.startAll();
  sim.run(rng.int(500, 4000));
  const steps = rng.int(3, 14);
  for (let i = 0; i < steps; i++) {
    const a = rng.pick(ids);
    const b = rng.pick(ids.filter((x) => x !== a));
    const links = sim.linksBetween(a, b);
    switch (rng.int(0, 8)) {
      case 0:
        sim.cut(a, b);
        break;
      case 1:
        sim.cut(a, b, [rng.pick(links)]);
        break;
      case 2: // one-way: a no longer hears b on every link
        for (const l of links) sim.setFault(b, a, l, { cut: true });
        sim.note(`one-way cut ${sim.nameOf(b)} -> ${sim.nameOf(a)}`);
        break;
      case 3: {
        const loss = rng.next() * 0.6;
        sim.setFaultBoth(a, b, { loss, jitter_ms: rng.int(0, 80), delay_ms: rng.int(0, 40) });
        sim.note(`loss ${(loss * 100).toFixed(0)}% ${sim.nameOf(a)} <-> ${sim.nameOf(b)}`);
        break;
      }
      case 4:
        sim.setFaultBoth(a, b, { duplicate: 0.3, jitter_ms: 30 }, [LINK_ID.ring0]);
        break;
      case 5:
        sim.crash(a);
        break;
      case 6:
        sim.start(a);
        break;
      case 7:
        sim.setResources(a, rng.int(0, 3));
        break;
      default:
        sim.heal();
        break;
    }
    sim.run(rng.int(20, 3000));
  }
  sim.heal();
  for (const id of ids) sim.start(id);
  sim.run(6000);

  const problems = sim.violations.map((v) => `at ${v.at_ms.toFixed(1)} ms: ${v.message}`);
  const views = ids.map((id) => sim.view(id));
  const first = views[0];
  for (const [i, v] of views.entries()) {
    const name = sim.nameOf(ids[i]!);
    if (!v || !first) problems.push(`${name} has no view`);
    else if (v.id !== first.id || v.members.join() !== ids.join()) problems.push(`${name} did not heal: view ${v.id} [${v.members}]`);
    if (!sim.quorum(ids[i]!)?.quorate) problems.push(`${name} not quorate after healing: ${sim.quorum(ids[i]!)?.reason}`);
  }
  return { sim, problems };
}

describe("random faults over many seeds", () => {
  it(`holds safety and heals on ${SEEDS.length} seeds`, () => {
    const failures: string[] = [];
    for (const seed of SEEDS) {
      const { sim, problems } = runSeed(seed);
      if (problems.length > 0) {
        failures.push(
          `seed ${seed}: ${problems.join("; ")}\n  replay: SIM_SEED=${seed} bun --bun vitest run test/sim/random-faults\n${sim.tail(30)}`,
        );
        if (failures.length >= 3) break;
      }
    }
    expect(failures, failures.join("\n\n")).toEqual([]);
  });
});
