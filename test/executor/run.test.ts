// The executor end to end on one node: the real scheduler's graph, run through the real agents;
// abort and replan while agents are running; the graph-to-agent adapter.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCib } from "../../services/crm/cib-xml.ts";
import type { PrimitiveDef } from "../../services/crm/model.ts";
import { schedule } from "../../services/crm/scheduler.ts";
import { dispatchFor, judge, primitiveId, primitivesOf } from "../../services/executor/adapter.ts";
import type { AgentOptions } from "../../services/executor/agents/index.ts";
import type { OpResult } from "../../services/executor/agents/types.ts";
import type { GraphAction } from "../../services/executor/core.ts";
import { agentDispatch, runTransition } from "../../services/executor/run.ts";
import { FIXTURES, type Sandbox, act, graph, sandbox } from "./helpers.ts";

let sb: Sandbox;
let agents: AgentOptions;
beforeAll(() => {
  sb = sandbox();
  agents = { ocf_root: sb.ocf_root, env_extra: { HA_RSCTMP: sb.dir }, kill_grace_ms: 200 };
});
afterAll(() => sb.cleanup());

function prim(id: string, type: string, params: Record<string, string>, provider = "heartbeat", cls: PrimitiveDef["class"] = "ocf"): PrimitiveDef {
  return { kind: "primitive", id, class: cls, provider, type, params, meta: {}, utilization: {}, ops: [] };
}

describe("a scheduler transition run through real agents", () => {
  it("probes, starts in order and runs the first monitor: Dummy then hapd:marker", async () => {
    const state = join(sb.dir, "d1.state");
    const marker = join(sb.dir, "m1.marker");
    const xml = readFileSync(join(FIXTURES, "cib", "dummy-then-marker.xml"), "utf8").replace("STATE", state).replace("MARKER", marker);
    const input = readCib(xml);
    const t = schedule(input, { now_s: 1_700_000_000 });
    const primitives = primitivesOf(input.config.resources);
    const results: [string, OpResult][] = [];
    const run = runTransition(t.graph, {
      concurrency_max: 4,
      dispatch: agentDispatch({ lookup: (id) => primitives.get(id), agents, onResult: (a, r) => results.push([a.key, r]) }),
    });
    const report = await run.done;
    expect(report).toMatchObject({ outcome: "complete", failed: [], skipped: [], not_run: [] });
    expect(report.completed).toHaveLength(t.graph.actions.length);
    // Probes found nothing running (rc 7, which the graph expected), then the starts ran.
    const rcs = Object.fromEntries(results.map(([k, r]) => [k, r.rc]));
    expect(rcs).toEqual({ d1_monitor_0: 7, m1_monitor_0: 7, d1_start_0: 0, d1_monitor_10000: 0, m1_start_0: 0 });
    // The marker's start waited for Dummy's (the order constraint).
    const order = results.map(([k]) => k);
    expect(order.indexOf("m1_start_0")).toBeGreaterThan(order.indexOf("d1_start_0"));
    expect(existsSync(state) && existsSync(marker)).toBe(true);
  });
});

describe("failures and abort with real agents", () => {
  const primitives = new Map<string, PrimitiveDef>([
    ["slow", prim("slow", "fake", { mode: "hang", pidfile: "" }, "hapd-test")],
    ["d2", prim("d2", "Dummy", {})],
    ["gone", prim("gone", "NoSuchAgent", {})],
    ["mk", prim("mk", "marker", {}, "", "hapd")],
  ]);
  beforeAll(() => {
    primitives.get("slow")!.params["pidfile"] = join(sb.dir, "slow.pid");
    primitives.get("d2")!.params["state"] = join(sb.dir, "d2.state");
    primitives.get("mk")!.params["path"] = join(sb.dir, "mk.marker");
  });
  const dispatch = () => agentDispatch({ lookup: (id) => primitives.get(id), agents });

  it("abort while agents run: nothing new starts, the running ones finish, the rest can be replanned", async () => {
    const g = graph(act(0, "slow_start_0", [], { timeout_ms: 300 }), act(1, "d2_start_0"), act(2, "mk_start_0", [1]));
    const run = runTransition(g, { concurrency_max: 2, dispatch: dispatch() });
    expect(run.core.state(0)).toBe("running");
    expect(run.core.state(1)).toBe("running");
    run.abort("host-b left the view");
    const report = await run.done;
    expect(report.outcome).toBe("aborted");
    expect(report.reason).toBe("host-b left the view");
    expect(report.completed).toEqual([1]);
    expect(report.failed).toEqual([{ id: 0, reason: "ocf:hapd-test:fake start timed out after 300 ms; its process group was killed" }]);
    expect(report.not_run).toEqual([2]);
    expect(existsSync(join(sb.dir, "mk.marker"))).toBe(false);
    // The replan: the scheduler would now emit what is left (here, by hand).
    const again = await runTransition(graph(act(0, "mk_start_0")), { concurrency_max: 2, dispatch: dispatch() }).done;
    expect(again.outcome).toBe("complete");
    expect(existsSync(join(sb.dir, "mk.marker"))).toBe(true);
  });

  it("a missing agent fails its action by name and its dependents never run", async () => {
    const g = graph(act(0, "gone_start_0"), act(1, "mk_stop_0", [0]));
    const report = await runTransition(g, { concurrency_max: 1, dispatch: dispatch() }).done;
    expect(report.outcome).toBe("failed");
    expect(report.failed[0]!.reason).toBe(`ocf:heartbeat:NoSuchAgent is not installed: ${sb.ocf_root}/resource.d/heartbeat/NoSuchAgent does not exist`);
    expect(report.skipped).toEqual([1]);
  });

  it("a probe that finds the resource running is unexpected: the transition stops for a replan", async () => {
    const g1 = await runTransition(graph(act(0, "d2_start_0")), { concurrency_max: 1, dispatch: dispatch() }).done;
    expect(g1.outcome).toBe("complete");
    const probe = act(0, "d2_monitor_0", [], { meta: { op_target_rc: "7" } });
    const report = await runTransition(graph(probe, act(1, "d2_start_0", [0])), { concurrency_max: 1, dispatch: dispatch() }).done;
    expect(report).toMatchObject({ outcome: "failed", skipped: [1], failed: [{ id: 0, reason: "success (rc 0); expected rc 7" }] });
  });

  it("fencing and shutdown go to another service; without one they fail by name", async () => {
    const g = graph(act(0, "stonith-host-b-reboot", [], { task: "stonith", resource: null, node: "host-b", fenceAction: "reboot" }));
    const report = await runTransition(g, { concurrency_max: 1, dispatch: dispatch() }).done;
    expect(report.failed[0]!.reason).toBe("#0 stonith-host-b-reboot: no handler for fence on this executor");
    const fenced: string[] = [];
    const ok = await runTransition(g, {
      concurrency_max: 1,
      dispatch: agentDispatch({
        lookup: () => undefined,
        other: async (_a, d) => {
          if (d.kind === "fence") fenced.push(`${d.action} ${d.node}`);
          return { ok: true, reason: "" };
        },
      }),
    }).done;
    expect(ok.outcome).toBe("complete");
    expect(fenced).toEqual(["reboot host-b"]);
  });
});

describe("adapter", () => {
  const d: PrimitiveDef = {
    ...prim("db", "Dummy", { state: "/x" }),
    ops: [{ id: "m", name: "monitor", interval_ms: 30_000, intervalText: "30s", attrs: {}, meta: {}, params: { OCF_CHECK_LEVEL: "20" } }],
  };
  const lookup = (id: string): PrimitiveDef | undefined => (id === "db" ? d : undefined);

  it("turns a clone instance's monitor into an agent request with depth, timeout and meta", () => {
    const a: GraphAction = act(3, "db:1_monitor_30000", [], { task: "monitor", resource: "db:1", interval_ms: 30_000, timeout_ms: 15_000, meta: { interval: "30000", timeout: "15000" } });
    expect(primitiveId("db:1")).toBe("db");
    expect(dispatchFor(a, lookup)).toEqual({
      kind: "agent",
      spec: { class: "ocf", provider: "heartbeat", type: "Dummy" },
      request: { action: "monitor", instance: "db:1", params: { state: "/x" }, meta: { interval: "30000", timeout: "15000", on_node: "host-a" }, timeout_ms: 15_000, interval_ms: 30_000, depth: 20 },
    });
  });

  it("routes cancel, refuses unknown resources and tasks by name, judges by the expected rc", () => {
    expect(dispatchFor(act(0, "db_monitor_30000", [], { task: "cancel", resource: "db", meta: { task: "monitor", interval: "30000" } }), lookup)).toEqual({ kind: "cancel", resource: "db", node: "host-a", task: "monitor", interval_ms: 30_000 });
    expect(dispatchFor(act(0, "zz_start_0", [], { resource: "zz" }), lookup)).toEqual({ kind: "invalid", reason: "#0 zz_start_0: resource zz is not in the configuration" });
    expect(dispatchFor(act(0, "db_frobnicate_0", [], { task: "frobnicate", resource: "db" }), lookup).kind).toBe("invalid");
    const r = (rc: number): OpResult => ({ action: "stop", exec: "done", rc, code: rc === 7 ? "not-running" : "success", reason: "", stdout: "", stderr: "", output_truncated: false });
    expect(judge(act(0, "db_stop_0", [], { task: "stop" }), r(7)).ok).toBe(true);
    expect(judge(act(0, "db_monitor_10000", [], { task: "monitor", meta: { op_target_rc: "8" } }), r(0))).toEqual({ ok: false, reason: "success (rc 0); expected rc 8" });
  });
});
