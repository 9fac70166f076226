// Crash at every point of a storage workload, on a filesystem that loses unflushed writes, and
// check what a restart loads: never a refusal (a crash only tears what was not yet acknowledged),
// and always the state acknowledged before the interrupted call or after it (or, for a snapshot
// installation cut between its two files, the new snapshot with the old log's hard state).
//
//   STORAGE_SEEDS=20 bun --bun vitest run test/cib/file-storage-crash   # more workloads
import { describe, expect, it } from "vitest";
import { FileStorage } from "../../services/cib/file-storage.ts";
import type { Entry } from "../../services/cib/messages.ts";
import { MemoryStorage, type PersistentState, type Persist, type Snapshot } from "../../services/cib/storage.ts";
import { Rng } from "../sim/simulator.ts";
import { FakeFs, FsCrash } from "./fake-fs.ts";

type Step = { kind: "save"; p: Persist } | { kind: "compact"; snapshot: Snapshot };

const DIR = "/var/lib/hapd/cib";
const SEEDS = Number(process.env.STORAGE_SEEDS ?? 6);

/** A plausible sequence of calls, as a node's Ready loop and compactions would make them. */
function workload(seed: number, length: number): Step[] {
  const rng = new Rng(seed);
  const steps: Step[] = [];
  let term = 1;
  let vote = 1;
  let commit = 0;
  let snapIndex = 0;
  let last = 0;
  const words = ["a", "é", "漢字", '{"k":"v"}', "x".repeat(700)];
  const data = () => Array.from({ length: rng.int(1, 3) }, () => rng.pick(words)).join("-");
  const entries = (from: number, n: number): Entry[] => Array.from({ length: n }, (_, k) => ({ index: from + k, term, data: data() }));
  for (let i = 0; i < length; i++) {
    const roll = rng.int(0, 9);
    if (roll <= 4) {
      const ents = entries(last + 1, rng.int(1, 4));
      last += ents.length;
      commit = Math.max(commit, rng.int(commit, last));
      steps.push({ kind: "save", p: { hardState: { term, vote, commit }, snapshot: null, entries: ents } });
    } else if (roll === 5 && last > commit) {
      // A new leader overwrites our uncommitted tail.
      term += 1;
      vote = rng.int(1, 3);
      const from = rng.int(Math.max(commit, snapIndex) + 1, last);
      const ents = entries(from, rng.int(1, 3));
      last = from + ents.length - 1;
      steps.push({ kind: "save", p: { hardState: { term, vote, commit }, snapshot: null, entries: ents } });
    } else if (roll === 6) {
      term += 1;
      vote = rng.int(0, 3);
      steps.push({ kind: "save", p: { hardState: { term, vote, commit }, snapshot: null, entries: [] } });
    } else if (roll === 7 && commit > snapIndex) {
      snapIndex = rng.int(snapIndex + 1, commit);
      steps.push({ kind: "compact", snapshot: { meta: { index: snapIndex, term: termOf(steps, snapIndex), voters: [1, 2, 3] }, data: bytes(rng, rng.int(0, 1500)) } });
    } else if (roll === 8) {
      // A snapshot from the leader, beyond our log; sometimes from a leader of a newer term.
      if (rng.chance(0.5)) {
        term += 1;
        vote = 0;
      }
      snapIndex = last + rng.int(1, 4);
      last = snapIndex;
      commit = snapIndex;
      const ents = rng.chance(0.5) ? entries(last + 1, rng.int(1, 2)) : [];
      last += ents.length;
      steps.push({ kind: "save", p: { hardState: { term, vote, commit }, snapshot: { meta: { index: snapIndex, term, voters: [1, 2, 3] }, data: bytes(rng, rng.int(0, 1500)) }, entries: ents } });
    } else {
      commit = Math.max(commit, rng.int(commit, last));
      steps.push({ kind: "save", p: { hardState: { term, vote, commit }, snapshot: null, entries: [] } });
    }
  }
  return steps;
}

/** Term of the entry at `index` as the steps so far leave it (for a compaction's snapshot). */
function termOf(steps: Step[], index: number): number {
  const m = new MemoryStorage();
  for (const s of steps) run(m, s);
  const st = m.durable();
  if (st.snapshot && st.snapshot.meta.index === index) return st.snapshot.meta.term;
  const e = st.entries.find((x) => x.index === index);
  if (!e) throw new Error(`workload: no entry ${index}`);
  return e.term;
}

function bytes(rng: Rng, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => rng.int(0, 255));
}

function run(s: { save(p: Persist): void; compact(snap: Snapshot): void }, step: Step): void {
  if (step.kind === "save") s.save(step.p);
  else s.compact(step.snapshot);
}

function canon(st: PersistentState): string {
  return JSON.stringify({
    hs: st.hardState,
    snap: st.snapshot ? { meta: st.snapshot.meta, data: Buffer.from(st.snapshot.data).toString("base64") } : null,
    entries: st.entries,
  });
}

/** The states a restart may load after a crash inside `step`, given the state before it. */
function acceptable(before: PersistentState, step: Step | undefined): string[] {
  const out = [canon(before)];
  if (!step) return out;
  const m = new MemoryStorage();
  m.save({ hardState: before.hardState, snapshot: before.snapshot, entries: before.entries });
  run(m, step);
  const after = m.durable();
  out.push(canon(after));
  if (step.kind === "save" && step.p.snapshot) {
    // Snapshot file renamed, new log not yet: the new snapshot with the old log's hard state and
    // entries, kept only when they continue the snapshot.
    const meta = step.p.snapshot.meta;
    const at = before.entries.find((e) => e.index === meta.index);
    const entries = at && at.term === meta.term ? before.entries.filter((e) => e.index > meta.index) : [];
    const lastIndex = meta.index + entries.length;
    const commit = Math.max(meta.index, Math.min(before.hardState.commit, lastIndex));
    const newer = meta.term > before.hardState.term;
    const hardState = newer ? { term: meta.term, vote: 0, commit } : { ...before.hardState, commit };
    out.push(canon({ hardState, snapshot: step.p.snapshot, entries }));
  }
  return out;
}

function stateBefore(steps: Step[], k: number): PersistentState {
  const m = new MemoryStorage();
  for (const s of steps.slice(0, k)) run(m, s);
  return m.durable();
}

describe("file storage under crashes at every point", () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`workload ${seed}: every crash point loads an acknowledged state`, () => {
      const steps = workload(seed, 40);
      // Count the mutating calls of an uninterrupted run: the crash points.
      const clean = new FakeFs();
      const { storage } = FileStorage.open(clean, DIR);
      for (const s of steps) run(storage, s);
      const points = clean.ops;
      expect(points).toBeGreaterThan(100);
      const rng = new Rng(seed * 1000);
      const failures: string[] = [];
      let torn = 0;
      /** How often the loaded state was the one before the call, after it, or the mixed one. */
      const outcomes: number[] = [0, 0, 0];
      for (let n = 1; n <= points + 1; n++) {
        const fs = new FakeFs();
        fs.crashAfter(n);
        let k = -1; // the step that was interrupted; -1: the first open()
        try {
          const { storage: s } = FileStorage.open(fs, DIR);
          for (k = 0; k < steps.length; k++) run(s, steps[k]!);
        } catch (e) {
          if (!(e instanceof FsCrash)) throw e;
        }
        fs.crash(() => rng.next());
        // Crash the recovery itself now and then: it must be restartable too.
        if (n % 3 === 0) {
          fs.crashAfter(rng.int(1, 4));
          try {
            FileStorage.open(fs, DIR);
          } catch (e) {
            if (!(e instanceof FsCrash)) throw e;
          }
          fs.crash(() => rng.next());
          fs.crashAfter(null);
        }
        let loaded;
        try {
          loaded = FileStorage.open(fs, DIR);
        } catch (e) {
          failures.push(`crash point ${n} (step ${k}): open refused: ${(e as Error).message}`);
          continue;
        }
        if (loaded.report.some((r) => r.includes("torn"))) torn++;
        const ok = acceptable(stateBefore(steps, Math.max(0, k)), k >= 0 && k < steps.length ? steps[k] : undefined);
        const which = ok.indexOf(canon(loaded.state));
        if (which < 0) {
          failures.push(`crash point ${n} (step ${k}): loaded ${canon(loaded.state).slice(0, 300)}`);
          continue;
        }
        outcomes[which] = (outcomes[which] ?? 0) + 1;
        // The repaired files take new writes and load them again.
        const st = loaded.state;
        const last = (st.entries[st.entries.length - 1]?.index ?? st.snapshot?.meta.index ?? 0) + 1;
        const e = { index: last, term: st.hardState.term, data: "after-recovery" };
        loaded.storage.save({ hardState: { ...st.hardState, commit: st.hardState.commit }, snapshot: null, entries: [e] });
        const again = FileStorage.open(fs, DIR);
        expect(again.state.entries.at(-1)).toEqual(e);
        if (failures.length > 3) break;
      }
      expect(failures, failures.join("\n")).toEqual([]);
      // The crashes did tear records, or this test proves less than it claims.
      expect(torn).toBeGreaterThan(0);
      expect(outcomes[0]).toBeGreaterThan(0);
      expect(outcomes[1]).toBeGreaterThan(0);
      if (process.env.DEBUG_CRASH) console.log({ seed, points, torn, outcomes });
    });
  }
});
