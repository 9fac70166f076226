// From the replicated CIB (services/cib/cib.ts) and what the node knows of the world (membership,
// quorum, fencing) to the scheduler's input, and back out to the status an operator reads. Pure:
// the node runtime (services/node/crm-controller.ts) calls these with what it holds.
//
// The mapping follows Pacemaker's CIB so the scheduler that agrees with crm_simulate decides here
// too:
// - a node in the quorate view is `in_ccm=true crmd=online join=member expected=member`;
// - a node that is out and was fenced, left cleanly, or never ran anything is clean offline
//   (`expected=down`), with no history: nothing of it runs;
// - a node that is out otherwise is `expected=member`: the scheduler fences it ("peer is no
//   longer part of the cluster") and orders recovery of its resources after the fencing.
// Fencing itself is the appliance's service (IPMI, then the watchdog), so the configuration
// carries `hapd-builtin-fencing=true` instead of a stonith resource. The arbitrator votes but runs
// nothing: every resource gets a -INFINITY location there with resource-discovery=never.
import type { CibState, OpRecord as CibOpRecord } from "../cib/cib.ts";
import { digestParams, opDigest } from "./digest.ts";
import { type ClusterConfig, type ClusterInput, type NodeStatus, type OpRecord, type PrimitiveDef, type ResourceDef, INFINITY, isFalse, isTrue } from "./model.ts";
import { parseCrmYaml } from "./yaml-config.ts";

/** The scheduler's crm_feature_set for what we build (per-operation fail counts). */
const FEATURE_SET = "3.16.2";

export type NodeCondition =
  /** In the current view. */
  | "member"
  /** Out of the view, confirmed fenced (powered off) since. */
  | "fenced"
  /** Out of the view after announcing a clean stop (its resources were stopped). */
  | "left"
  /** Out of the view for a reason nobody confirmed: it must be fenced before its resources move. */
  | "lost";

export interface World {
  quorate: boolean;
  dc: string | null;
  /**
   * `incarnation`: a member's current incarnation (membership heartbeats carry it). Call ids are
   * incarnation × 1000 + n, so records with a smaller call id were made by an earlier life of the
   * node: it restarted or was power-cycled since, and what it runs must be probed afresh.
   */
  nodes: ReadonlyArray<{ name: string; condition: NodeCondition; incarnation?: number }>;
}

/**
 * The configuration document in the CIB: the operator's YAML as written, plus what the resource
 * commands add on top without rewriting it (`hapd resource move` → a preference named
 * cli-prefer-RSC as crm_resource --move makes; `restart` → a temporary target-role).
 */
export interface ConfigDoc {
  yaml: string;
  moves?: Record<string, string>;
  target_roles?: Record<string, string>;
}

export function isConfigDoc(doc: unknown): doc is ConfigDoc {
  return typeof doc === "object" && doc !== null && typeof (doc as { yaml?: unknown }).yaml === "string";
}

/** Has the CIB any operation recorded for this node (it ran, or was probed for, something)? */
export function hasRecords(cib: CibState, node: string): boolean {
  return Object.values(cib.resources).some((on) => Object.hasOwn(on, node) && Object.keys(on[node]!.ops).length > 0);
}

/**
 * One node's condition from what this node knows. Out of the view and unconfirmed with records
 * in the CIB means "lost" (fence it first); out with no records means nothing of it can be
 * running that the cluster started (as Pacemaker's startup-fencing=false for a node never seen).
 */
export function nodeCondition(k: { member: boolean; fenced: boolean; leftCleanly: boolean; hasRecords: boolean }): NodeCondition {
  if (k.member) return "member";
  if (k.fenced) return "fenced";
  if (k.leftCleanly) return "left";
  return k.hasRecords ? "lost" : "left";
}

/** Does the CIB hold records this node made in an earlier incarnation? */
export function hasStaleRecords(cib: CibState, node: string, incarnation: number): boolean {
  const floor = incarnation * 1000;
  return Object.values(cib.resources).some((on) => Object.hasOwn(on, node) && Object.values(on[node]!.ops).some((o) => o.call_id < floor));
}

/**
 * What the DC proposes before it plans: a fenced node's records go (nothing of it runs); a
 * member whose records come from an earlier incarnation (it restarted or was power-cycled, seen
 * by whichever DC) or that is back after being away in this DC's time is probed afresh (its fail
 * counts stay). `previous` is updated.
 */
export function housekeeping(cib: CibState, world: World, previous: Map<string, NodeCondition>): Array<{ kind: "forget-node"; node: string; keep_fail_counts: boolean }> {
  const out: Array<{ kind: "forget-node"; node: string; keep_fail_counts: boolean }> = [];
  for (const n of world.nodes) {
    const before = previous.get(n.name);
    previous.set(n.name, n.condition);
    if (n.condition === "fenced" && hasRecords(cib, n.name)) out.push({ kind: "forget-node", node: n.name, keep_fail_counts: false });
    else if (n.condition === "member" && hasRecords(cib, n.name)) {
      const restarted = n.incarnation !== undefined && hasStaleRecords(cib, n.name, n.incarnation);
      const back = before !== undefined && before !== "member";
      if (restarted || back) out.push({ kind: "forget-node", node: n.name, keep_fail_counts: true });
    }
  }
  return out;
}

/** Primitives of anonymous clones: their results are recorded under the primitive id, not "id:N". */
export function anonymousClonePrimitives(config: ClusterConfig): Set<string> {
  const out = new Set<string>();
  const visit = (r: ResourceDef, anon: boolean): void => {
    if (r.kind === "primitive") {
      if (anon) out.add(r.id);
    } else if (r.kind === "group") r.children.forEach((c) => visit(c, anon));
    else visit(r.child, anon || !isTrue({ ...config.rscDefaults, ...r.meta }["globally-unique"]));
  };
  config.resources.forEach((r) => visit(r, false));
  return out;
}

/** The configuration the DC schedules: the operator's YAML plus what the appliance implies. */
export function runtimeConfig(doc: ConfigDoc, hosts: readonly string[], arbitrators: readonly string[]): ClusterConfig {
  const config = parseCrmYaml(doc.yaml, "CIB configuration", [...hosts, ...arbitrators]);
  config.properties["hapd-builtin-fencing"] = "true";
  // stonith-class primitives (an imported Pacemaker configuration has them) are not run: the
  // fencing service fences with the node configuration's BMCs and watchdogs. They, and the
  // constraints that name them, are left out of what the DC schedules.
  const fencingDevices = new Set(config.resources.filter((r) => r.kind === "primitive" && r.class === "stonith").map((r) => r.id));
  if (fencingDevices.size > 0) {
    config.resources = config.resources.filter((r) => !fencingDevices.has(r.id));
    config.constraints = config.constraints.filter((c) => (c.kind === "location" ? !fencingDevices.has(c.rsc) : c.kind === "colocation" ? !fencingDevices.has(c.rsc) && !fencingDevices.has(c.withRsc) : !fencingDevices.has(c.first) && !fencingDevices.has(c.then)));
  }
  for (const [rsc, node] of Object.entries(doc.moves ?? {})) {
    config.constraints.push({ kind: "location", id: `cli-prefer-${rsc}`, rsc, node, score: INFINITY, rules: [] });
  }
  const setRole = (r: ResourceDef): void => {
    const role = doc.target_roles?.[r.id];
    if (role !== undefined) r.meta["target-role"] = role;
    if (r.kind === "group") r.children.forEach(setRole);
    if (r.kind === "clone") setRole(r.child);
  };
  config.resources.forEach(setRole);
  for (const arb of arbitrators) {
    for (const r of config.resources) {
      config.constraints.push({ kind: "location", id: `hapd-arbitrator-runs-nothing-${r.id}`, rsc: r.id, node: arb, score: -INFINITY, rules: [], discovery: "never" });
    }
  }
  return config;
}

/** Every primitive by id with the instance attributes it inherits from its group or clone. */
export function resolvedPrimitives(config: ClusterConfig): Map<string, PrimitiveDef> {
  const out = new Map<string, PrimitiveDef>();
  const visit = (r: ResourceDef, inherited: Record<string, string>): void => {
    if (r.kind === "primitive") out.set(r.id, { ...r, params: { ...inherited, ...r.params } });
    else if (r.kind === "group") for (const c of r.children) visit(c, { ...inherited, ...(r.params ?? {}) });
    else visit(r.child, { ...inherited, ...(r.params ?? {}) });
  };
  for (const r of config.resources) visit(r, {});
  return out;
}

/**
 * The digest the scheduler compares with (plan.ts checkActionConfig): the primitive's parameters
 * overridden by the operation's own; a probe, promote or migrate_from is judged against start's.
 */
export function recordDigest(prim: PrimitiveDef, task: string, interval_ms: number, timeout_ms: number): string {
  let t = task;
  if (interval_ms === 0 && (t === "monitor" || t === "migrate_from" || t === "promote")) t = "start";
  const op = prim.ops.find((o) => o.name === t && o.interval_ms === interval_ms);
  return opDigest(digestParams(prim.params, op?.params ?? {}, interval_ms, timeout_ms));
}

function toOpRecord(rsc: string, key: string, r: CibOpRecord, idSuffix = ""): OpRecord {
  const rec: OpRecord = {
    id: `${rsc}_${key}${idSuffix}`,
    operationKey: `${rsc}_${key}`,
    operation: r.op,
    callId: r.call_id,
    rc: r.rc,
    opStatus: r.op_status ?? 0,
    interval_ms: r.interval_ms,
    targetRc: r.expected_rc,
    transitionKey: `0:0:${r.expected_rc}:hapd`,
    lastRcChange: Math.floor(r.at_ms / 1000),
    crmFeatureSet: FEATURE_SET,
  };
  if (r.digest !== undefined) rec.opDigest = r.digest;
  if (r.exit_reason !== undefined) rec.exitReason = r.exit_reason;
  return rec;
}

/** The scheduler's input: configuration + the CIB's status + the world as this node sees it. */
export function clusterInput(cib: CibState, config: ClusterConfig, world: World): ClusterInput {
  const nodes: NodeStatus[] = [];
  for (const n of config.nodes) {
    const w = world.nodes.find((x) => x.name === n.uname);
    const condition: NodeCondition = w?.condition ?? "left";
    const flags = Object.hasOwn(cib.nodes, n.uname) ? cib.nodes[n.uname]! : { standby: false, maintenance: false, attributes: {} };
    const attributes: Record<string, string> = { ...flags.attributes };
    if (flags.standby) attributes["standby"] = "on";
    if (flags.maintenance) attributes["maintenance"] = "true";
    const member = condition === "member";
    const history: NonNullable<NodeStatus["history"]> = [];
    // A node that is out and clean runs nothing: its stale records must not count as "active".
    const withHistory = member || condition === "lost";
    for (const rsc of Object.keys(cib.resources).sort()) {
      const on = cib.resources[rsc]!;
      if (!Object.hasOwn(on, n.uname)) continue;
      const r = on[n.uname]!;
      if (r.fail_count > 0) {
        const failedKey = r.last_failure ? `${r.last_failure.op}_${r.last_failure.interval_ms}` : "start_0";
        attributes[`fail-count-${rsc}#${failedKey}`] = r.fail_count >= 1_000_000 ? "INFINITY" : String(r.fail_count);
        if (r.last_failure_ms !== null) attributes[`last-failure-${rsc}#${failedKey}`] = String(Math.floor(r.last_failure_ms / 1000));
      }
      if (!withHistory) continue;
      const ops = Object.keys(r.ops)
        .sort()
        .map((k) => toOpRecord(rsc, k, r.ops[k]!));
      const lf = r.last_failure;
      if (lf && !ops.some((o) => o.callId === lf.call_id)) ops.push(toOpRecord(rsc, `${lf.op}_${lf.interval_ms}`, lf, "_last_failure"));
      if (ops.length > 0) history.push({ id: rsc, ops });
    }
    nodes.push({
      id: n.id,
      uname: n.uname,
      inCcm: member ? "true" : "false",
      crmd: member ? "online" : "offline",
      join: member ? "member" : "down",
      expected: member || condition === "lost" ? "member" : "down",
      attributes,
      history: withHistory ? history : null,
    });
  }
  const status: ClusterInput["status"] = { haveQuorum: world.quorate, crmFeatureSet: FEATURE_SET, nodes };
  if (world.dc !== null) status.dcUuid = world.dc;
  return { config, status };
}

// ---- what `hapd status` shows -----------------------------------------------------------------

export type ActiveRole = "Started" | "Promoted" | "Unpromoted";

/**
 * What the recorded operations say runs on one node: the latest role-changing result wins
 * (call ids order them, as the scheduler does). A failed recurring monitor means "not running".
 */
export function recordedRole(ops: Readonly<Record<string, CibOpRecord>>): ActiveRole | null {
  const list = Object.values(ops).sort((a, b) => a.call_id - b.call_id);
  let role: ActiveRole | null = null;
  for (const o of list) {
    const ok = o.rc === o.expected_rc && (o.op_status ?? 0) === 0;
    switch (o.op) {
      case "start":
      case "migrate_from":
        if (ok) role = "Started";
        break;
      case "stop":
      case "migrate_to":
        if (ok || o.rc === 7) role = null;
        break;
      case "promote":
        if (ok) role = "Promoted";
        break;
      case "demote":
        if (ok) role = "Unpromoted";
        break;
      case "monitor":
        if (o.rc === 7) role = null;
        else if (o.rc === 8) role = "Promoted";
        else if (o.rc === 0 && role === null) role = "Started";
        break;
      default:
        break;
    }
  }
  return role;
}

export interface ResourceView {
  id: string;
  agent: string;
  parent: string | null;
  active: Array<{ node: string; role: ActiveRole }>;
  fail_counts: Record<string, number>;
  last_failure: { node: string; op: string; rc: number; reason: string; at_ms: number } | null;
  managed: boolean;
  target_role: string | null;
  moved_to: string | null;
}

/** One entry per configured primitive (clone instances folded into it), from the CIB's records. */
export function resourceViews(cib: CibState, config: ClusterConfig): ResourceView[] {
  const out: ResourceView[] = [];
  const visit = (r: ResourceDef, parent: string | null, meta: Record<string, string>): void => {
    const m = { ...meta, ...r.meta };
    if (r.kind === "group") return r.children.forEach((c) => visit(c, r.id, m));
    if (r.kind === "clone") return visit(r.child, r.id, m);
    const agent = [r.class, r.provider, r.type].filter((x) => x !== undefined).join(":");
    const v: ResourceView = { id: r.id, agent, parent, active: [], fail_counts: {}, last_failure: null, managed: !isFalse(m["is-managed"]) && !isTrue(m["maintenance"]), target_role: m["target-role"] ?? null, moved_to: null };
    const top = parent ?? r.id;
    const move = config.constraints.find((c) => c.kind === "location" && c.id === `cli-prefer-${top}`);
    if (move && move.kind === "location") v.moved_to = move.node ?? null;
    for (const key of Object.keys(cib.resources).sort()) {
      if (key !== r.id && !key.startsWith(`${r.id}:`)) continue;
      for (const node of Object.keys(cib.resources[key]!).sort()) {
        const on = cib.resources[key]![node]!;
        const role = recordedRole(on.ops);
        if (role) v.active.push({ node, role });
        if (on.fail_count > 0) v.fail_counts[node] = (v.fail_counts[node] ?? 0) + on.fail_count;
        const lf = on.last_failure;
        if (lf && (v.last_failure === null || lf.at_ms > v.last_failure.at_ms)) {
          v.last_failure = { node, op: lf.interval_ms > 0 ? `${lf.op} (${lf.interval_ms / 1000}s)` : lf.op, rc: lf.rc, reason: lf.exit_reason ?? "", at_ms: lf.at_ms };
        }
      }
    }
    out.push(v);
  };
  const defaults = { ...config.rscDefaults };
  for (const r of config.resources) visit(r, null, defaults);
  return out;
}
