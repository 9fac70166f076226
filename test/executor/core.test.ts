// The executor core without I/O: effects in, results out, driven by hand.
import { describe, expect, it } from "vitest";
import { type ExecutorEffect, type TransitionReport, ExecutorCore, GraphError, validateGraph } from "../../services/executor/core.ts";
import { act, graph } from "./helpers.ts";

const runs = (effects: ExecutorEffect[]): string[] => effects.flatMap((e) => (e.kind === "run" ? [e.action.key] : []));
const finished = (effects: ExecutorEffect[]): TransitionReport | undefined => effects.find((e) => e.kind === "finished")?.report;

describe("ordering", () => {
  it("launches an action only after all its inputs completed, independents at once", () => {
    // a → b → c, and d with no inputs; e waits for both b and d.
    const core = new ExecutorCore(graph(act(0, "a_start_0"), act(1, "b_start_0", [0]), act(2, "c_start_0", [1]), act(3, "d_start_0"), act(4, "e_start_0", [1, 3])), { concurrency_max: 10 });
    expect(runs(core.start())).toEqual(["a_start_0", "d_start_0"]);
    expect(runs(core.complete(3, { ok: true, reason: "" }))).toEqual([]);
    expect(runs(core.complete(0, { ok: true, reason: "" }))).toEqual(["b_start_0"]);
    expect(runs(core.complete(1, { ok: true, reason: "" }))).toEqual(["c_start_0", "e_start_0"]);
    expect(runs(core.complete(4, { ok: true, reason: "" }))).toEqual([]);
    const last = core.complete(2, { ok: true, reason: "" });
    expect(finished(last)).toEqual({ outcome: "complete", reason: "", completed: [0, 1, 2, 3, 4], failed: [], skipped: [], not_run: [] });
  });

  it("completes pseudo actions itself, without an effect or a slot", () => {
    const core = new ExecutorCore(graph(act(0, "a_stop_0"), act(1, "g_stopped_0", [0], { pseudo: true, node: null }), act(2, "a_start_0", [1])), { concurrency_max: 1 });
    expect(runs(core.start())).toEqual(["a_stop_0"]);
    expect(runs(core.complete(0, { ok: true, reason: "" }))).toEqual(["a_start_0"]);
    expect(core.state(1)).toBe("done");
  });

  it("an empty graph finishes at once", () => {
    expect(finished(new ExecutorCore(graph(), { concurrency_max: 1 }).start())?.outcome).toBe("complete");
  });
});

describe("parallelism", () => {
  it("never runs more than concurrency_max, and fills a slot as soon as one frees", () => {
    const actions = Array.from({ length: 10 }, (_, i) => act(i, `r${i}_start_0`));
    const core = new ExecutorCore(graph(...actions), { concurrency_max: 3 });
    expect(runs(core.start())).toEqual(["r0_start_0", "r1_start_0", "r2_start_0"]);
    for (let i = 0; i < 7; i++) expect(runs(core.complete(i, { ok: true, reason: "" }))).toEqual([`r${i + 3}_start_0`]);
    for (let i = 7; i < 9; i++) expect(core.complete(i, { ok: true, reason: "" })).toEqual([]);
    expect(finished(core.complete(9, { ok: true, reason: "" }))?.completed).toHaveLength(10);
  });

  it("bounds actions per node too", () => {
    const core = new ExecutorCore(graph(act(0, "a_start_0"), act(1, "b_start_0"), act(2, "c_start_0", [], { node: "host-b" })), { concurrency_max: 10, node_concurrency_max: 1 });
    expect(runs(core.start())).toEqual(["a_start_0", "c_start_0"]);
    expect(runs(core.complete(0, { ok: true, reason: "" }))).toEqual(["b_start_0"]);
  });

  it("random graphs and completion orders: inputs first, bound held, everything completes (seeded)", () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const n = 1 + rand(30);
      const actions = Array.from({ length: n }, (_, i) => {
        const inputs = [...new Set(Array.from({ length: rand(3) }, () => rand(Math.max(i, 1))).filter((j) => j < i))];
        return act(i, `r${i}_start_0`, inputs, { pseudo: rand(5) === 0 });
      });
      const limit = 1 + rand(4);
      const core = new ExecutorCore(graph(...actions), { concurrency_max: limit });
      const running: number[] = [];
      const done = new Set<number>();
      // A pseudo input is satisfied when its own inputs are: the core completes it on the spot.
      const satisfied = (j: number): boolean => (actions[j]!.pseudo ? actions[j]!.inputs.every(satisfied) : done.has(j));
      let report: TransitionReport | undefined;
      const take = (effects: ExecutorEffect[]): void => {
        for (const e of effects) {
          if (e.kind === "finished") report = e.report;
          else {
            for (const j of e.action.inputs) expect(satisfied(j)).toBe(true);
            running.push(e.action.id);
          }
        }
        expect(running.length).toBeLessThanOrEqual(limit);
      };
      take(core.start());
      while (running.length > 0) {
        const id = running.splice(rand(running.length), 1)[0]!;
        done.add(id);
        take(core.complete(id, { ok: true, reason: "" }));
      }
      expect(report?.outcome, `round ${round}`).toBe("complete");
      expect(report?.completed).toHaveLength(n);
    }
  });
});

describe("failures", () => {
  // a → b → c; d independent and queued behind a full slot.
  const chain = () => graph(act(0, "a_start_0"), act(1, "b_start_0", [0]), act(2, "c_start_0", [1]), act(3, "x_start_0"), act(4, "d_start_0"));

  it("a failure skips its dependents and, by default, stops the transition for a replan", () => {
    const core = new ExecutorCore(chain(), { concurrency_max: 2 });
    expect(runs(core.start())).toEqual(["a_start_0", "x_start_0"]);
    expect(core.complete(0, { ok: false, reason: "ocf:heartbeat:Dummy start: generic (rc 1)" })).toEqual([]);
    expect(core.state(1)).toBe("skipped");
    expect(core.state(2)).toBe("skipped");
    // The running action is awaited; d is never launched.
    const report = finished(core.complete(3, { ok: true, reason: "" }));
    expect(report).toEqual({
      outcome: "failed",
      reason: "#0 a_start_0 failed: ocf:heartbeat:Dummy start: generic (rc 1)",
      completed: [3],
      failed: [{ id: 0, reason: "ocf:heartbeat:Dummy start: generic (rc 1)" }],
      skipped: [1, 2],
      not_run: [4],
    });
  });

  it("with abort_on_failure off, independent work goes on and only dependents are skipped", () => {
    const core = new ExecutorCore(chain(), { concurrency_max: 2, abort_on_failure: false });
    core.start();
    expect(runs(core.complete(0, { ok: false, reason: "boom" }))).toEqual(["d_start_0"]);
    core.complete(3, { ok: true, reason: "" });
    const report = finished(core.complete(4, { ok: true, reason: "" }));
    expect(report).toMatchObject({ outcome: "failed", completed: [3, 4], skipped: [1, 2], not_run: [] });
  });
});

describe("abort and replan", () => {
  it("stops launching, waits for running actions, reports what completed", () => {
    const core = new ExecutorCore(graph(act(0, "a_start_0"), act(1, "b_start_0"), act(2, "c_start_0", [0]), act(3, "d_start_0")), { concurrency_max: 2 });
    expect(runs(core.start())).toEqual(["a_start_0", "b_start_0"]);
    expect(core.abort("host-b left the view")).toEqual([]);
    expect(core.complete(0, { ok: true, reason: "" })).toEqual([]);
    const report = finished(core.complete(1, { ok: false, reason: "timed out" }));
    expect(report).toEqual({ outcome: "aborted", reason: "host-b left the view", completed: [0], failed: [{ id: 1, reason: "timed out" }], skipped: [], not_run: [2, 3] });
    expect(core.report).toEqual(report);
    expect(core.abort("again")).toEqual([]);
  });

  it("abort with nothing running finishes at once", () => {
    const core = new ExecutorCore(graph(act(0, "a_start_0"), act(1, "b_start_0", [0])), { concurrency_max: 1 });
    core.start();
    core.complete(0, { ok: true, reason: "" });
    core.complete(1, { ok: true, reason: "" });
    const c2 = new ExecutorCore(graph(act(0, "a_start_0", [], { pseudo: true }), act(1, "b_start_0", [0])), { concurrency_max: 1 });
    c2.abort("before start");
    expect(finished(c2.start())).toMatchObject({ outcome: "aborted", not_run: [0, 1] });
  });
});

describe("bad graphs and misuse", () => {
  it("rejects loops, dangling inputs and bad ids, naming the action", () => {
    expect(() => validateGraph(graph(act(0, "a_start_0", [1]), act(1, "b_start_0", [0])))).toThrow(new GraphError("the graph has an ordering loop through #0 a_start_0, #1 b_start_0"));
    expect(() => validateGraph(graph(act(0, "a_start_0", [7])))).toThrow("action #0 a_start_0 waits for #7, which is not in the graph");
    expect(() => validateGraph(graph(act(1, "a_start_0")))).toThrow("action a_start_0 has id 1 at position 0");
    expect(() => new ExecutorCore(graph(), { concurrency_max: 0 })).toThrow("concurrency_max must be a positive integer");
  });

  it("completing an action that is not running is a caller bug", () => {
    const core = new ExecutorCore(graph(act(0, "a_start_0"), act(1, "b_start_0", [0])), { concurrency_max: 1 });
    core.start();
    expect(() => core.complete(1, { ok: true, reason: "" })).toThrow("ExecutorCore.complete(#1): the action is pending, not running");
  });
});
