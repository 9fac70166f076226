// The resource model: what the cluster should run (configuration) and what it knows about the
// world (status). Both are plain data; the scheduler (scheduler.ts) is a pure function of them.
//
// The model follows Pacemaker 2.1's CIB closely so that a CIB converts without loss
// (cib-xml.ts) and the scheduler can agree with crm_simulate. Meta-attributes are kept as the
// string map Pacemaker uses (resource-stickiness, migration-threshold, target-role, ...); the
// typed helpers below read them. Validation (validateConfig) rejects what the scheduler cannot
// honour: unknown references, duplicate ids, ordering and colocation loops, and a migratable
// resource that depends on a non-migratable one. Every error names the element and the reason.

export const INFINITY = 1_000_000;

/** A score as Pacemaker adds them: ±INFINITY absorb, -INFINITY wins over +INFINITY. */
export function addScores(a: number, b: number): number {
  if (a <= -INFINITY || b <= -INFINITY) return -INFINITY;
  if (a >= INFINITY || b >= INFINITY) return INFINITY;
  const sum = a + b;
  if (sum >= INFINITY) return INFINITY;
  if (sum <= -INFINITY) return -INFINITY;
  return sum;
}

/** Parses a score ("INFINITY", "+INFINITY", "-INFINITY", an integer); null when it is not one. */
export function parseScore(text: string): number | null {
  const t = text.trim();
  if (/^\+?inf(inity)?$/i.test(t)) return INFINITY;
  if (/^-inf(inity)?$/i.test(t)) return -INFINITY;
  if (!/^[+-]?\d+$/.test(t)) return null;
  const n = Number.parseInt(t, 10);
  return Math.max(-INFINITY, Math.min(INFINITY, n));
}

export function formatScore(n: number): string {
  if (n >= INFINITY) return "INFINITY";
  if (n <= -INFINITY) return "-INFINITY";
  return String(n);
}

/** Parses an interval or timeout ("10s", "1m", "500ms", "PT10S", "30") into milliseconds. */
export function parseDuration_ms(text: string): number | null {
  const t = text.trim();
  if (/^P/i.test(t)) return isoDuration_ms(t);
  const m = /^(\d+(?:\.\d+)?)\s*(ms|msec|s|sec|m|min|h|hr)?$/i.exec(t);
  if (!m) return null;
  const value = Number(m[1]);
  const unit = (m[2] ?? "s").toLowerCase();
  const factor = unit === "ms" || unit === "msec" ? 1 : unit === "m" || unit === "min" ? 60_000 : unit === "h" || unit === "hr" ? 3_600_000 : 1000;
  return Math.round(value * factor);
}

export type ResourceClass = "ocf" | "lsb" | "stonith" | "systemd" | "service" | "hapd";

export type RoleName = "Stopped" | "Started" | "Unpromoted" | "Promoted";

export interface OpDef {
  id: string;
  name: string; // start, stop, monitor, promote, demote, migrate_to, migrate_from, ...
  interval_ms: number;
  /** The interval as written (kept for digests and for the import). */
  intervalText: string;
  timeout?: string;
  role?: RoleName;
  onFail?: string;
  enabled?: boolean;
  /** Any other attribute written on the <op> element (start-delay, record-pending, ...). */
  attrs: Record<string, string>;
  /** meta_attributes of the op. */
  meta: Record<string, string>;
  /** instance_attributes of the op (OCF_CHECK_LEVEL lives here). */
  params: Record<string, string>;
}

export interface PrimitiveDef {
  kind: "primitive";
  id: string;
  class: ResourceClass;
  provider?: string;
  type: string;
  params: Record<string, string>;
  meta: Record<string, string>;
  utilization: Record<string, number>;
  ops: OpDef[];
}

export interface GroupDef {
  kind: "group";
  id: string;
  meta: Record<string, string>;
  /** Instance attributes every member inherits (members' own values win). */
  params?: Record<string, string>;
  children: PrimitiveDef[];
}

export interface CloneDef {
  kind: "clone";
  id: string;
  meta: Record<string, string>;
  /** Instance attributes the cloned resource inherits. */
  params?: Record<string, string>;
  /** True for a promotable clone (meta promotable=true, or a legacy <master>). */
  promotable: boolean;
  child: PrimitiveDef | GroupDef;
}

export type ResourceDef = PrimitiveDef | GroupDef | CloneDef;

export interface RuleExpression {
  attribute: string;
  operation: "lt" | "gt" | "lte" | "gte" | "eq" | "ne" | "defined" | "not_defined";
  value?: string;
  type?: "string" | "integer" | "number" | "version";
}

export interface LocationRule {
  id: string;
  score?: number;
  scoreAttribute?: string;
  booleanOp: "and" | "or";
  role?: RoleName;
  expressions: RuleExpression[];
}

export interface LocationConstraint {
  kind: "location";
  id: string;
  rsc: string;
  node?: string;
  score?: number;
  role?: RoleName;
  rules: LocationRule[];
  discovery?: "always" | "never" | "exclusive";
}

export interface ColocationConstraint {
  kind: "colocation";
  id: string;
  /** The dependent: placed relative to withRsc. */
  rsc: string;
  withRsc: string;
  score: number;
  rscRole?: RoleName;
  withRscRole?: RoleName;
  nodeAttribute?: string;
  influence?: boolean;
}

export type OrderAction = "start" | "stop" | "promote" | "demote";
export type OrderKind = "Mandatory" | "Optional" | "Serialize";

export interface OrderConstraint {
  kind: "order";
  id: string;
  first: string;
  then: string;
  firstAction: OrderAction;
  thenAction: OrderAction;
  orderKind: OrderKind;
  symmetrical?: boolean;
  /** Set only when the CIB used the deprecated score attribute instead of kind. */
  legacyScore?: number;
}

export type Constraint = LocationConstraint | ColocationConstraint | OrderConstraint;

export interface NodeDef {
  id: string;
  uname: string;
  type: "member" | "ping" | "remote";
  /** Permanent node attributes (<instance_attributes> of the node). */
  attributes: Record<string, string>;
  utilization: Record<string, number>;
  score?: number;
}

export interface ClusterConfig {
  /** crm_config name/value pairs (stonith-enabled, no-quorum-policy, symmetric-cluster, ...). */
  properties: Record<string, string>;
  nodes: NodeDef[];
  resources: ResourceDef[];
  constraints: Constraint[];
  rscDefaults: Record<string, string>;
  opDefaults: Record<string, string>;
}

// --- status ---------------------------------------------------------------------------------

export interface OpRecord {
  id: string;
  /** operation_key (rsc_task_interval); Pacemaker falls back to the id when it is absent. */
  operationKey?: string;
  operation: string;
  callId: number;
  rc: number;
  opStatus: number;
  interval_ms: number;
  /** Expected rc from the transition key (-1 when there is none). */
  targetRc: number;
  /** The full transition key (needed to tell a probe from a monitor). */
  transitionKey?: string;
  lastRcChange?: number;
  opDigest?: string;
  restartDigest?: string;
  opForceRestart?: string;
  /** op-secure-params / op-secure-digest: the digest without the listed (private) parameters. */
  secureParams?: string;
  secureDigest?: string;
  crmFeatureSet?: string;
  migrateSource?: string;
  migrateTarget?: string;
  exitReason?: string;
}

export interface ResourceHistory {
  id: string;
  class?: string;
  provider?: string;
  type?: string;
  container?: string;
  ops: OpRecord[];
}

export interface NodeStatus {
  id: string;
  uname: string;
  inCcm?: string;
  crmd?: string;
  join?: string;
  expected?: string;
  /** Transient attributes: fail-count-*, last-failure-*, master-*, standby, shutdown, ... */
  attributes: Record<string, string>;
  /** null when the node_state has no <lrm> section. */
  history: ResourceHistory[] | null;
}

export interface ClusterStatus {
  haveQuorum: boolean;
  /** no-quorum-panic on the CIB: lets no-quorum-policy=suicide act before quorum was ever had. */
  noQuorumPanic?: boolean;
  dcUuid?: string;
  /** The CIB's crm_feature_set (decides legacy fail-count names). */
  crmFeatureSet?: string;
  nodes: NodeStatus[];
}

export interface ClusterInput {
  config: ClusterConfig;
  status: ClusterStatus;
}

// --- typed reading of meta-attributes ------------------------------------------------------

export function isTrue(value: string | undefined): boolean {
  if (value === undefined) return false;
  return /^(true|on|yes|y|1)$/i.test(value.trim());
}

export function isFalse(value: string | undefined): boolean {
  if (value === undefined) return false;
  return /^(false|off|no|n|0)$/i.test(value.trim());
}

export function roleFromText(text: string | undefined): RoleName | undefined {
  if (text === undefined) return undefined;
  switch (text.toLowerCase()) {
    case "stopped":
      return "Stopped";
    case "started":
      return "Started";
    case "unpromoted":
    case "slave":
      return "Unpromoted";
    case "promoted":
    case "master":
      return "Promoted";
    default:
      return undefined;
  }
}

// --- validation ------------------------------------------------------------------------------

export class ModelError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = "ModelError";
  }
}

/** Every resource id in the configuration, with its definition and its path in the tree. */
export function indexResources(config: ClusterConfig): Map<string, { def: ResourceDef; path: string; parent?: string }> {
  const out = new Map<string, { def: ResourceDef; path: string; parent?: string }>();
  const add = (def: ResourceDef, path: string, parent?: string) => {
    if (out.has(def.id)) throw new ModelError(path, `duplicate resource id '${def.id}' (first at ${out.get(def.id)!.path})`);
    out.set(def.id, parent === undefined ? { def, path } : { def, path, parent });
    if (def.kind === "group") def.children.forEach((c, i) => add(c, `${path}.children[${i}]`, def.id));
    if (def.kind === "clone") add(def.child, `${path}.child`, def.id);
  };
  config.resources.forEach((r, i) => add(r, `resources[${i}]`));
  return out;
}

function findCycle(edges: Map<string, string[]>): string[] | null {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 1);
    stack.push(n);
    for (const m of edges.get(n) ?? []) {
      const s = state.get(m);
      if (s === 1) return [...stack.slice(stack.indexOf(m)), m];
      if (s === undefined) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 2);
    return null;
  };
  for (const n of [...edges.keys()].sort()) {
    if (state.get(n) === undefined) {
      const c = visit(n);
      if (c) return c;
    }
  }
  return null;
}

/**
 * Checks a configuration before it is accepted. Throws ModelError naming the element and the
 * reason: duplicate ids, unknown references, ordering loops (on the same action graph the
 * scheduler builds: start/stop/promote/demote of each resource), colocation loops, and a
 * migratable resource ordered or colocated after a resource that cannot migrate.
 */
export function validateConfig(config: ClusterConfig): void {
  const rscs = indexResources(config);
  const nodeNames = new Set<string>();
  config.nodes.forEach((n, i) => {
    if (nodeNames.has(n.uname)) throw new ModelError(`nodes[${i}]`, `duplicate node name '${n.uname}'`);
    nodeNames.add(n.uname);
  });
  const constraintIds = new Set<string>();
  const orderEdges = new Map<string, string[]>();
  const colocEdges = new Map<string, string[]>();
  const addEdge = (m: Map<string, string[]>, a: string, b: string) => {
    const l = m.get(a);
    if (l) l.push(b);
    else m.set(a, [b]);
  };
  const kinds = new Map<string, ResourceDef["kind"]>([...rscs].map(([id, e]) => [id, e.def.kind]));
  // "first X start" on a group or clone means: once all of X has started ("X started").
  const done: Record<OrderAction, string> = { start: "started", stop: "stopped", promote: "promoted", demote: "demoted" };
  const firstNode = (id: string, a: OrderAction) => (kinds.get(id) === "primitive" ? `${id} ${a}` : `${id} ${done[a]}`);
  config.constraints.forEach((c, i) => {
    const path = `constraints[${i}] (${c.kind} '${c.id}')`;
    if (constraintIds.has(c.id)) throw new ModelError(path, `duplicate constraint id '${c.id}'`);
    constraintIds.add(c.id);
    const need = (id: string, what: string) => {
      if (!rscs.has(id)) throw new ModelError(path, `${what} '${id}' is not a configured resource`);
    };
    if (c.kind === "location") {
      need(c.rsc, "rsc");
      if (c.node !== undefined && !nodeNames.has(c.node)) throw new ModelError(path, `node '${c.node}' is not a configured node`);
      if (c.node === undefined && c.rules.length === 0) throw new ModelError(path, "needs a node and a score, or at least one rule");
    } else if (c.kind === "colocation") {
      need(c.rsc, "rsc");
      need(c.withRsc, "with-rsc");
      if (c.rsc === c.withRsc) throw new ModelError(path, `colocation loop: ${c.rsc} -> ${c.withRsc}`);
      if (c.score !== 0) addEdge(colocEdges, c.rsc, c.withRsc);
    } else {
      need(c.first, "first");
      need(c.then, "then");
      if (c.first === c.then && c.firstAction === c.thenAction) throw new ModelError(path, `ordering loop: ${c.first} ${c.firstAction} -> ${c.then} ${c.thenAction}`);
      const symmetrical = c.symmetrical ?? c.orderKind !== "Serialize";
      addEdge(orderEdges, firstNode(c.first, c.firstAction), `${c.then} ${c.thenAction}`);
      const inv: Record<OrderAction, OrderAction> = { start: "stop", stop: "start", promote: "demote", demote: "promote" };
      if (symmetrical) addEdge(orderEdges, firstNode(c.then, inv[c.thenAction]), `${c.first} ${inv[c.firstAction]}`);
    }
  });
  // Edges that always hold: group members in sequence, and a collective's pseudo actions around
  // its members ("start X" before each member's start, each member's start before "X started").
  // A resource's own stop->start (restart) edge is not one of them: it only matters when both
  // happen, so it cannot close a loop on its own.
  for (const [id, { def }] of rscs) {
    if (def.kind === "group" && !isFalse(def.meta["ordered"])) {
      for (let k = 1; k < def.children.length; k++) {
        const a = def.children[k - 1]!.id;
        const b = def.children[k]!.id;
        addEdge(orderEdges, `${a} start`, `${b} start`);
        addEdge(orderEdges, `${b} stop`, `${a} stop`);
      }
    }
    if (def.kind === "group" || def.kind === "clone") {
      const kids = def.kind === "group" ? def.children : [def.child];
      for (const k of kids) {
        for (const a of ["start", "stop", "promote", "demote"] as const) {
          addEdge(orderEdges, `${id} ${a}`, `${k.id} ${a}`);
          addEdge(orderEdges, firstNode(k.id, a), `${id} ${done[a]}`);
        }
      }
    }
  }
  const orderCycle = findCycle(orderEdges);
  if (orderCycle) {
    throw new ModelError("constraints", `ordering loop: ${orderCycle.join(" -> ")}`);
  }
  const colocCycle = findCycle(colocEdges);
  if (colocCycle) throw new ModelError("constraints", `colocation loop: ${colocCycle.join(" -> ")}`);

  // A migratable resource may depend only on migratable ones (otherwise the dependency's restart
  // would force a stop/start of the migratable resource and the live migration is lost).
  const migratable = (id: string): boolean => {
    const e = rscs.get(id);
    if (!e) return false;
    const meta = { ...config.rscDefaults, ...(e.parent ? (rscs.get(e.parent)?.def.meta ?? {}) : {}), ...e.def.meta };
    if (e.def.kind === "primitive") return isTrue(meta["allow-migrate"]);
    if (e.def.kind === "group") return e.def.children.every((c) => isTrue({ ...meta, ...c.meta }["allow-migrate"]));
    return false;
  };
  // A clone runs on every eligible node at once; depending on it never forces a migratable
  // resource to stop and start when it moves, so it counts as a compatible dependency.
  const compatible = (id: string): boolean => migratable(id) || rscs.get(id)?.def.kind === "clone";
  config.constraints.forEach((c, i) => {
    const path = `constraints[${i}] (${c.kind} '${c.id}')`;
    if (c.kind === "order" && c.orderKind === "Mandatory" && migratable(c.then) && !compatible(c.first)) {
      throw new ModelError(path, `migratable resource '${c.then}' may depend only on migratable resources, but '${c.first}' cannot migrate`);
    }
    if (c.kind === "colocation" && c.score >= INFINITY && migratable(c.rsc) && !compatible(c.withRsc)) {
      throw new ModelError(path, `migratable resource '${c.rsc}' may depend only on migratable resources, but '${c.withRsc}' cannot migrate`);
    }
  });
}

/** ISO 8601 durations as Pacemaker reads them: PnYnMnWnDTnHnMnS (M before T is months). */
export function isoDuration_ms(t: string): number | null {
  const m = /^P((?:\d+[YMWDHS])*)(?:T((?:\d+[HMS])*))?$/i.exec(t);
  if (!m || t.length < 3) return null;
  let s = 0;
  const dateUnits: Record<string, number> = { Y: 31_536_000, M: 2_592_000, W: 604_800, D: 86_400, H: 3600, S: 1 };
  const timeUnits: Record<string, number> = { H: 3600, M: 60, S: 1 };
  for (const [, n, u] of (m[1] ?? "").matchAll(/(\d+)([YMWDHS])/gi)) s += Number(n) * dateUnits[u!.toUpperCase()]!;
  for (const [, n, u] of (m[2] ?? "").matchAll(/(\d+)([HMS])/gi)) s += Number(n) * timeUnits[u!.toUpperCase()]!;
  return s * 1000;
}

/**
 * Is feature set `a` older than `b`? Dotted numeric comparison. Callers choose what a missing
 * version means (`whenMissing`): the digest treats it as new, status unpacking as old.
 */
export function featureSetLess(a: string | undefined, b: string, whenMissing: boolean): boolean {
  if (a === undefined) return whenMissing;
  const pa = a.split(".").map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(".").map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}
