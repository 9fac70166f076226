// From the scheduler's graph actions to agent operations, and from agent results back to the
// core's "did it do what the graph expected". Pure: no I/O here.
//
// The graph carries the resource id, the task, the node and the operation meta (timeout and
// interval in ms, op_target_rc, on-fail, notify_*). It does not carry the agent or its
// parameters: those come from the configuration's primitive (model.ts PrimitiveDef), looked up
// by id, with a clone instance's ":N" suffix removed.
import type { PrimitiveDef, ResourceDef } from "../crm/model.ts";
import type { AgentSpec } from "./agents/index.ts";
import { type OpRequest, type OpResult, OCF_RC, isAgentAction } from "./agents/types.ts";
import type { ActionOutcome, GraphAction } from "./core.ts";

export type Dispatch =
  | { kind: "agent"; spec: AgentSpec; request: OpRequest }
  /** Stop a recurring monitor (the node runtime owns recurring operations). */
  | { kind: "cancel"; resource: string; node: string | null; task: string; interval_ms: number }
  | { kind: "fence"; node: string; action: string; reason: string }
  | { kind: "shutdown"; node: string }
  | { kind: "invalid"; reason: string };

/** Every primitive of a configuration by id, through groups and clones: the usual `lookup`. */
export function primitivesOf(resources: readonly ResourceDef[]): Map<string, PrimitiveDef> {
  const out = new Map<string, PrimitiveDef>();
  const visit = (r: ResourceDef): void => {
    if (r.kind === "primitive") out.set(r.id, r);
    else if (r.kind === "group") r.children.forEach(visit);
    else visit(r.child);
  };
  resources.forEach(visit);
  return out;
}

/** "vm:1" → "vm": clone instances share their primitive's definition. */
export function primitiveId(resource: string): string {
  const i = resource.lastIndexOf(":");
  return i > 0 && /^\d+$/.test(resource.slice(i + 1)) ? resource.slice(0, i) : resource;
}

/** Monitor depth: the op's OCF_CHECK_LEVEL (an op instance attribute), or a "depth" meta. */
function depthFor(a: GraphAction, rsc: PrimitiveDef): number | undefined {
  const fromMeta = a.meta["OCF_CHECK_LEVEL"] ?? a.meta["depth"];
  const op = rsc.ops.find((o) => o.name === a.task && o.interval_ms === a.interval_ms);
  const text = fromMeta ?? op?.params["OCF_CHECK_LEVEL"];
  if (text === undefined) return undefined;
  const n = Number(text);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

export function dispatchFor(a: GraphAction, lookup: (id: string) => PrimitiveDef | undefined): Dispatch {
  if (a.task === "stonith") {
    if (a.node === null) return { kind: "invalid", reason: `#${a.id} ${a.key}: fencing without a target node` };
    return { kind: "fence", node: a.node, action: a.fenceAction ?? "reboot", reason: a.reason ?? "" };
  }
  if (a.task === "do_shutdown") {
    if (a.node === null) return { kind: "invalid", reason: `#${a.id} ${a.key}: shutdown without a node` };
    return { kind: "shutdown", node: a.node };
  }
  if (a.resource === null) return { kind: "invalid", reason: `#${a.id} ${a.key}: ${a.task} without a resource` };
  if (a.task === "cancel") {
    return { kind: "cancel", resource: a.resource, node: a.node, task: a.meta["task"] ?? "monitor", interval_ms: Number(a.meta["interval"] ?? a.interval_ms) };
  }
  if (!isAgentAction(a.task)) return { kind: "invalid", reason: `#${a.id} ${a.key}: "${a.task}" is not an agent action` };
  const rsc = lookup(primitiveId(a.resource));
  if (rsc === undefined) return { kind: "invalid", reason: `#${a.id} ${a.key}: resource ${a.resource} is not in the configuration` };

  const op = rsc.ops.find((o) => o.name === a.task && o.interval_ms === a.interval_ms);
  const params: Record<string, string> = { ...rsc.params };
  for (const [k, v] of Object.entries(op?.params ?? {})) if (k !== "OCF_CHECK_LEVEL") params[k] = v;
  const meta: Record<string, string> = { ...a.meta };
  if (a.node !== null) meta["on_node"] = a.node;
  const request: OpRequest = {
    action: a.task,
    instance: a.resource,
    params,
    meta,
    // The scheduler always sets a timeout (its default is 20 s); 0 here would be a graph bug.
    timeout_ms: a.timeout_ms > 0 ? a.timeout_ms : 20_000,
    interval_ms: a.interval_ms,
  };
  const depth = depthFor(a, rsc);
  if (depth !== undefined) request.depth = depth;
  const spec: AgentSpec = { class: rsc.class, type: rsc.type };
  if (rsc.provider !== undefined) spec.provider = rsc.provider;
  return { kind: "agent", spec, request };
}

/** The rc the graph expects: op_target_rc when set (7 for a probe, 8 for a promoted monitor), else 0. */
export function expectedRc(a: GraphAction): number {
  const t = a.meta["op_target_rc"];
  return t !== undefined && /^\d+$/.test(t) ? Number(t) : OCF_RC.SUCCESS;
}

/** Did the operation do what the graph expected? A stop that finds nothing running did. */
export function judge(a: GraphAction, r: OpResult): ActionOutcome {
  if (r.exec !== "done") return { ok: false, reason: r.reason };
  const expected = expectedRc(a);
  if (r.rc === expected) return { ok: true, reason: "" };
  if (a.task === "stop" && r.rc === OCF_RC.NOT_RUNNING) return { ok: true, reason: "" };
  const why = r.reason !== "" ? r.reason : `${r.code} (rc ${r.rc})`;
  return { ok: false, reason: `${why}; expected rc ${expected}` };
}
