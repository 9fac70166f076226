// The runtime's bridge between the replicated CIB and the scheduler: the world as membership and
// fencing see it must give the decisions an operator expects (fence a lost node before its
// resources move; no fencing for a node that left cleanly or was already fenced; the arbitrator
// never runs or probes anything; moves and restarts layered over the operator's YAML).
import { describe, expect, it } from "vitest";
import { type CibState, type OpRecord, applyEntry, emptyState, encodeCommand } from "../cib/cib.ts";
import { type NodeCondition, type World, anonymousClonePrimitives, clusterInput, housekeeping, recordDigest, recordedRole, resolvedPrimitives, resourceViews, runtimeConfig } from "./cib-input.ts";
import { schedule, transitionSummary } from "./scheduler.ts";

const YAML = `
defaults:
  resource: { stickiness: 100 }
resources:
  - id: svc
    agent: "ocf:heartbeat:Dummy"
    operations:
      - { name: monitor, interval: 2s, timeout: 10s }
constraints:
  - { location: svc-prefers-a, resource: svc, node: host-a, score: 50 }
`;
const HOSTS = ["host-a", "host-b"];
const ARBS = ["arb"];

let seq = 0;
function apply(st: CibState, cmd: Parameters<typeof encodeCommand>[0]): CibState {
  seq += 1;
  const out = applyEntry(st, { index: seq, term: 1, data: encodeCommand(cmd) });
  expect(out.result?.ok, JSON.stringify(out.result)).toBe(true);
  return out.state;
}

function rec(op: string, interval_ms: number, rc: number, expected: number, call_id: number, digest?: string): OpRecord {
  const r: OpRecord = { op, interval_ms, rc, expected_rc: expected, call_id, exec_time_ms: 1, at_ms: 1_700_000_000_000 + call_id, op_status: 0 };
  if (digest) r.digest = digest;
  return r;
}

function world(a: World["nodes"][number]["condition"], b: World["nodes"][number]["condition"] = "member", quorate = true): World {
  return { quorate, dc: "host-b", nodes: [{ name: "host-a", condition: a }, { name: "host-b", condition: b }, { name: "arb", condition: "member" }] };
}

/** svc probed on both hosts, started on host-a with its monitor, every digest as the scheduler computes it. */
function runningOnA(): { st: CibState; config: ReturnType<typeof runtimeConfig> } {
  const config = runtimeConfig({ yaml: YAML }, HOSTS, ARBS);
  const prim = resolvedPrimitives(config).get("svc")!;
  let st = apply(emptyState(), { kind: "config", version: 1, doc: { yaml: YAML } });
  st = apply(st, { kind: "op-result", node: "host-a", resource: "svc", result: rec("monitor", 0, 7, 7, 1, recordDigest(prim, "monitor", 0, 20000)) });
  st = apply(st, { kind: "op-result", node: "host-b", resource: "svc", result: rec("monitor", 0, 7, 7, 2, recordDigest(prim, "monitor", 0, 20000)) });
  st = apply(st, { kind: "op-result", node: "host-a", resource: "svc", result: rec("start", 0, 0, 0, 3, recordDigest(prim, "start", 0, 20000)) });
  st = apply(st, { kind: "op-result", node: "host-a", resource: "svc", result: rec("monitor", 2000, 0, 0, 4, recordDigest(prim, "monitor", 2000, 10000)) });
  return { st, config };
}

describe("CIB → scheduler input", () => {
  it("a settled cluster needs nothing: the recorded digests match the configuration", () => {
    const { st, config } = runningOnA();
    const t = schedule(clusterInput(st, config, world("member")), { now_s: 1_700_000_100 });
    expect(t.graph.actions.filter((a) => !a.pseudo)).toEqual([]);
  });

  it("a lost host is fenced before its resource starts on the survivor", () => {
    const { st, config } = runningOnA();
    const t = schedule(clusterInput(st, config, world("lost")), { now_s: 1_700_000_100 });
    expect(transitionSummary(t)).toEqual(["  * Fence (reboot) host-a 'peer is no longer part of the cluster'", "  * Move       svc     ( host-a -> host-b )"]);
    const fence = t.graph.actions.find((a) => a.task === "stonith")!;
    const start = t.graph.actions.find((a) => a.task === "start" && a.resource === "svc")!;
    expect(start.node).toBe("host-b");
    // The start depends, directly or through pseudo actions, on the fencing.
    const reaches = (from: number, to: number, seen = new Set<number>()): boolean =>
      from === to || (!seen.has(from) && (seen.add(from), t.graph.actions[from]!.inputs.some((i) => reaches(i, to, seen))));
    expect(reaches(start.id, fence.id)).toBe(true);
  });

  it("a host confirmed fenced, or one that left cleanly, is not fenced again: its resource just starts elsewhere", () => {
    const { st, config } = runningOnA();
    for (const cond of ["fenced", "left"] as const) {
      const t = schedule(clusterInput(st, config, world(cond)), { now_s: 1_700_000_100 });
      expect(t.graph.actions.some((a) => a.task === "stonith")).toBe(false);
      expect(transitionSummary(t)).toEqual(["  * Start      svc     ( host-b )"]);
    }
  });

  it("a start still pending on one host (a DC changed meanwhile) is not started on the other", () => {
    const config = runtimeConfig({ yaml: YAML }, HOSTS, ARBS);
    const prim = resolvedPrimitives(config).get("svc")!;
    let st = apply(emptyState(), { kind: "config", version: 1, doc: { yaml: YAML } });
    st = apply(st, { kind: "op-result", node: "host-a", resource: "svc", result: rec("monitor", 0, 7, 7, 1, recordDigest(prim, "monitor", 0, 20000)) });
    st = apply(st, { kind: "op-result", node: "host-b", resource: "svc", result: rec("monitor", 0, 7, 7, 2, recordDigest(prim, "monitor", 0, 20000)) });
    st = apply(st, { kind: "op-result", node: "host-a", resource: "svc", result: { ...rec("start", 0, 193, 0, 3, recordDigest(prim, "start", 0, 20000)), op_status: -1 } });
    expect(st.resources["svc"]!["host-a"]!.last_failure).toBeNull();
    const t = schedule(clusterInput(st, config, world("member")), { now_s: 1_700_000_100 });
    expect(t.graph.actions.some((a) => a.task === "start")).toBe(false);
    // ... and if host-a is lost with the start pending, it is fenced before svc starts elsewhere.
    const lost = schedule(clusterInput(st, config, world("lost")), { now_s: 1_700_000_100 });
    expect(transitionSummary(lost)[0]).toBe("  * Fence (reboot) host-a 'peer is no longer part of the cluster'");
  });

  it("without quorum nothing is started and nobody is fenced", () => {
    const { st, config } = runningOnA();
    const t = schedule(clusterInput(st, config, world("lost", "member", false)), { now_s: 1_700_000_100 });
    expect(t.graph.actions.some((a) => a.task === "start" || a.task === "stonith")).toBe(false);
  });

  it("the arbitrator is never probed and never chosen, even when both hosts are in standby", () => {
    const config = runtimeConfig({ yaml: YAML }, HOSTS, ARBS);
    let st = apply(emptyState(), { kind: "config", version: 1, doc: { yaml: YAML } });
    let t = schedule(clusterInput(st, config, world("member")), { now_s: 1_700_000_100 });
    expect(t.graph.actions.filter((a) => a.node === "arb")).toEqual([]);
    expect(t.graph.actions.filter((a) => a.task === "monitor" && a.interval_ms === 0).map((a) => a.node).sort()).toEqual(["host-a", "host-b"]);
    st = apply(st, { kind: "node-flags", node: "host-a", standby: true });
    st = apply(st, { kind: "node-flags", node: "host-b", standby: true });
    t = schedule(clusterInput(st, config, world("member")), { now_s: 1_700_000_100 });
    expect(t.graph.actions.some((a) => a.task === "start")).toBe(false);
  });

  it("standby moves the resource; a move preference and a Stopped target role are layered over the YAML", () => {
    const { st: base, config } = runningOnA();
    const st = apply(base, { kind: "node-flags", node: "host-a", standby: true });
    expect(transitionSummary(schedule(clusterInput(st, config, world("member")), { now_s: 1_700_000_100 }))).toEqual(["  * Move       svc     ( host-a -> host-b )"]);
    const moved = runtimeConfig({ yaml: YAML, moves: { svc: "host-b" } }, HOSTS, ARBS);
    expect(transitionSummary(schedule(clusterInput(base, moved, world("member")), { now_s: 1_700_000_100 }))).toEqual(["  * Move       svc     ( host-a -> host-b )"]);
    const held = runtimeConfig({ yaml: YAML, target_roles: { svc: "Stopped" } }, HOSTS, ARBS);
    expect(transitionSummary(schedule(clusterInput(base, held, world("member")), { now_s: 1_700_000_100 }))).toEqual(["  * Stop       svc     ( host-a )  due to node availability"]);
  });

  it("a failed monitor is recovered in place; at migration-threshold the resource moves", () => {
    const yaml = YAML.replace("defaults:\n  resource: { stickiness: 100 }", "defaults:\n  resource: { stickiness: 100, migration_threshold: 2 }");
    const config = runtimeConfig({ yaml }, HOSTS, ARBS);
    const prim = resolvedPrimitives(config).get("svc")!;
    let { st } = runningOnA();
    st = apply(st, { kind: "op-result", node: "host-a", resource: "svc", result: rec("monitor", 2000, 7, 0, 5, recordDigest(prim, "monitor", 2000, 10000)), fail: "increment" });
    expect(transitionSummary(schedule(clusterInput(st, config, world("member")), { now_s: 1_700_000_100 }))).toEqual(["  * Recover    svc     ( host-a )"]);
    st = apply(st, { kind: "op-result", node: "host-a", resource: "svc", result: rec("stop", 0, 0, 0, 6, recordDigest(prim, "stop", 0, 20000)) });
    st = apply(st, { kind: "op-result", node: "host-a", resource: "svc", result: rec("start", 0, 0, 0, 7, recordDigest(prim, "start", 0, 20000)) });
    st = apply(st, { kind: "op-result", node: "host-a", resource: "svc", result: rec("monitor", 2000, 7, 0, 8, recordDigest(prim, "monitor", 2000, 10000)), fail: "increment" });
    expect(st.resources["svc"]!["host-a"]!.fail_count).toBe(2);
    expect(transitionSummary(schedule(clusterInput(st, config, world("member")), { now_s: 1_700_000_100 }))).toEqual(["  * Recover    svc     ( host-a -> host-b )"]);
  });

  it("a changed parameter restarts the resource (digest mismatch)", () => {
    const { st } = runningOnA();
    const changed = runtimeConfig({ yaml: YAML.replace('agent: "ocf:heartbeat:Dummy"', 'agent: "ocf:heartbeat:Dummy"\n    params: { fake: "2" }') }, HOSTS, ARBS);
    expect(transitionSummary(schedule(clusterInput(st, changed, world("member")), { now_s: 1_700_000_100 }))).toEqual(["  * Restart    svc     ( host-a )  due to resource definition change"]);
  });
});

describe("CIB commands for the resource manager", () => {
  it("forget-node drops a fenced node's records and fail counts; a rejoin keeps the fail counts", () => {
    let { st } = runningOnA();
    st = apply(st, { kind: "op-result", node: "host-a", resource: "svc", result: rec("monitor", 2000, 7, 0, 9), fail: "increment" });
    const kept = apply(st, { kind: "forget-node", node: "host-a", keep_fail_counts: true });
    expect(kept.resources["svc"]!["host-a"]!.ops).toEqual({});
    expect(kept.resources["svc"]!["host-a"]!.fail_count).toBe(1);
    const gone = apply(st, { kind: "forget-node", node: "host-a", keep_fail_counts: false });
    expect(Object.keys(gone.resources["svc"]!)).toEqual(["host-b"]);
  });

  it("a failed stop sets the fail count to INFINITY; op-delete removes a cancelled monitor", () => {
    let { st } = runningOnA();
    st = apply(st, { kind: "op-result", node: "host-a", resource: "svc", result: rec("stop", 0, 1, 0, 10), fail: "infinity" });
    expect(st.resources["svc"]!["host-a"]!.fail_count).toBe(1_000_000);
    st = apply(st, { kind: "op-delete", node: "host-a", resource: "svc", key: "monitor_2000" });
    expect(Object.keys(st.resources["svc"]!["host-a"]!.ops).sort()).toEqual(["monitor_0", "start_0", "stop_0"]);
  });

  it("a probe that finds the resource running is knowledge, not a failure", () => {
    const st = apply(emptyState(), { kind: "op-result", node: "host-b", resource: "svc", result: rec("monitor", 0, 0, 7, 1) });
    expect(st.resources["svc"]!["host-b"]!.last_failure).toBeNull();
  });
});

describe("DC housekeeping", () => {
  it("forgets a fenced node; re-probes a member whose records predate its incarnation, whichever DC sees it", () => {
    const { st } = runningOnA(); // call ids 1..4: incarnation 0's
    const fresh = new Map<string, NodeCondition>();
    const w = (incarnation: number): World => ({ quorate: true, dc: "arb", nodes: [{ name: "host-a", condition: "member", incarnation }, { name: "host-b", condition: "member", incarnation: 0 }, { name: "arb", condition: "member" }] });
    // Same life as the records (call ids ≥ 0 × 1000): nothing to do, even for a brand-new DC.
    expect(housekeeping(st, w(0), fresh)).toEqual([]);
    // host-a restarted (incarnation 5: its records' call ids are below 5000): probe it afresh.
    expect(housekeeping(st, w(5), new Map())).toEqual([{ kind: "forget-node", node: "host-a", keep_fail_counts: true }]);
    expect(housekeeping(st, world("fenced"), new Map())).toEqual([{ kind: "forget-node", node: "host-a", keep_fail_counts: false }]);
  });

  it("leaves stonith resources (from an imported Pacemaker CIB) and their constraints out: the fencing service fences", () => {
    const yaml = `resources:\n  - { id: vm1, agent: "ocf:heartbeat:Dummy" }\n  - { id: fence-a, agent: "stonith:fence_ipmilan" }\nconstraints:\n  - { location: l2, resource: fence-a, node: host-a, score: -INFINITY }\n  - { order: o, first: fence-a, then: vm1 }\n`;
    const c = runtimeConfig({ yaml }, HOSTS, ARBS);
    expect(c.resources.map((r) => r.id)).toEqual(["vm1"]);
    expect(c.constraints.map((x) => x.id)).toEqual(["hapd-arbitrator-runs-nothing-vm1"]);
  });

  it("names the primitives of anonymous clones", () => {
    const yaml = `resources:\n  - clone: c1\n    resource: { id: p1, agent: "hapd:marker" }\n  - clone: c2\n    meta: { globally-unique: "true" }\n    resource: { id: p2, agent: "hapd:marker" }\n  - { id: p3, agent: "hapd:marker" }\n`;
    expect([...anonymousClonePrimitives(runtimeConfig({ yaml }, HOSTS, ARBS))]).toEqual(["p1"]);
  });
});

describe("what status shows", () => {
  it("the role follows the latest role-changing result", () => {
    expect(recordedRole({ start_0: rec("start", 0, 0, 0, 1), monitor_2000: rec("monitor", 2000, 0, 0, 2) })).toBe("Started");
    expect(recordedRole({ start_0: rec("start", 0, 0, 0, 1), stop_0: rec("stop", 0, 0, 0, 3) })).toBeNull();
    expect(recordedRole({ start_0: rec("start", 0, 0, 0, 1), monitor_2000: rec("monitor", 2000, 7, 0, 2) })).toBeNull();
    expect(recordedRole({ monitor_0: rec("monitor", 0, 8, 7, 1) })).toBe("Promoted");
    expect(recordedRole({ start_0: rec("start", 0, 0, 0, 1), promote_0: rec("promote", 0, 0, 0, 2), demote_0: rec("demote", 0, 0, 0, 3) })).toBe("Unpromoted");
  });

  it("resource views name where it runs, the fail counts, the last failure and a move", () => {
    let { st } = runningOnA();
    st = apply(st, { kind: "op-result", node: "host-a", resource: "svc", result: { ...rec("monitor", 2000, 7, 0, 9), exit_reason: "No process state file found" }, fail: "increment" });
    st = apply(st, { kind: "op-result", node: "host-a", resource: "svc", result: rec("stop", 0, 0, 0, 10) });
    st = apply(st, { kind: "op-result", node: "host-b", resource: "svc", result: rec("start", 0, 0, 0, 11) });
    const [v] = resourceViews(st, runtimeConfig({ yaml: YAML, moves: { svc: "host-b" } }, HOSTS, ARBS));
    expect(v).toMatchObject({ id: "svc", agent: "ocf:heartbeat:Dummy", active: [{ node: "host-b", role: "Started" }], fail_counts: { "host-a": 1 }, moved_to: "host-b", managed: true });
    expect(v!.last_failure).toMatchObject({ node: "host-a", op: "monitor (2s)", rc: 7, reason: "No process state file found" });
  });
});
