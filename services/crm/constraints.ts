// User constraints into the working set: location constraints (a node and a score, or rules over
// node attributes), colocations (with roles, node-attribute, influence) and orderings (kind,
// symmetrical). Also the colocation factory the group members' implicit colocations use.
import { addThisWith, addWithThis } from "./assign.ts";
import type { ClusterInput, ColocationConstraint, LocationConstraint, LocationRule, OrderAction, OrderConstraint, RuleExpression } from "./model.ts";
import { orderResourceActions } from "./ordering.ts";
import {
  type Colocation,
  type Location,
  type WNode,
  type WRsc,
  type WorkingSet,
  INFINITY,
  O_ANTI_COLOCATION,
  O_ASYMMETRICAL,
  O_IMPLIES_FIRST,
  O_IMPLIES_THEN,
  O_OPTIONAL,
  O_RUNNABLE_LEFT,
  O_SERIALIZE_ONLY,
  R_CRITICAL,
  Role,
  addScores,
  roleFromName,
  scoreOf,
} from "./sched-core.ts";

export function newColocation(
  ws: WorkingSet,
  id: string,
  nodeAttr: string | null,
  score: number,
  dependent: WRsc | null,
  primary: WRsc | null,
  dependentRoleIn: string | null,
  primaryRoleIn: string | null,
  influence: boolean,
): void {
  if (score === 0) return;
  if (!dependent || !primary) {
    ws.warnings.push(`ignoring colocation '${id}' because resource does not exist`);
    return;
  }
  const dRole = dependentRoleIn === null || /^started$/i.test(dependentRoleIn) ? Role.Unknown : roleFromName(dependentRoleIn);
  const pRole = primaryRoleIn === null || /^started$/i.test(primaryRoleIn) ? Role.Unknown : roleFromName(primaryRoleIn);
  const c: Colocation = { id, dependent, primary, score, dependentRole: dRole, primaryRole: pRole, nodeAttribute: nodeAttr, influence };
  addThisWith(dependent, c);
  addWithThis(primary, c);
  ws.colocations.push(c);
  if (score <= -INFINITY) {
    antiColocationOrder(ws, dependent, dRole, primary, pRole);
    antiColocationOrder(ws, primary, pRole, dependent, dRole);
  }
}

function antiColocationOrder(ws: WorkingSet, first: WRsc, firstRole: Role, then: WRsc, thenRole: Role): void {
  const firstTasks: string[] = firstRole === Role.Promoted ? ["demote"] : firstRole === Role.Unpromoted ? ["stop", "promote"] : ["stop"];
  const thenTasks: string[] = thenRole === Role.Promoted ? ["promote"] : thenRole === Role.Unpromoted ? ["start", "demote"] : ["start"];
  for (const ft of firstTasks) for (const tt of thenTasks) orderResourceActions(ws, first, ft, then, tt, O_ANTI_COLOCATION);
}

function rsc(ws: WorkingSet, id: string): WRsc | null {
  return ws.byId.get(id) ?? null;
}

function roleText(r: string | undefined): string | null {
  return r === undefined ? null : r;
}

function unpackColocation(ws: WorkingSet, c: ColocationConstraint): void {
  const dependent = rsc(ws, c.rsc);
  const primary = rsc(ws, c.withRsc);
  if (!dependent || !primary) {
    ws.warnings.push(`ignoring constraint '${c.id}' because a resource does not exist`);
    return;
  }
  const influence = c.influence ?? (dependent.flags & R_CRITICAL) !== 0;
  newColocation(ws, c.id, c.nodeAttribute ?? null, c.score, dependent, primary, roleText(c.rscRole), roleText(c.withRscRole), influence);
}

// --- orderings -------------------------------------------------------------------------------

const INVERT: Record<OrderAction, OrderAction> = { start: "stop", stop: "start", promote: "demote", demote: "promote" };

function orderingFlags(kind: "optional" | "mandatory" | "serialize", first: string, symmetry: "asym" | "sym" | "inverse"): number {
  let flags = O_OPTIONAL;
  if (kind === "serialize") flags |= O_SERIALIZE_ONLY;
  else if (kind === "mandatory") {
    if (symmetry === "asym") flags |= O_ASYMMETRICAL;
    else if (symmetry === "sym") {
      flags |= O_IMPLIES_THEN;
      if (first === "start" || first === "promote") flags |= O_RUNNABLE_LEFT;
    } else flags |= O_IMPLIES_FIRST;
  }
  return flags;
}

function unpackOrdering(ws: WorkingSet, o: OrderConstraint): void {
  const first = rsc(ws, o.first);
  const then = rsc(ws, o.then);
  if (!first || !then) {
    ws.warnings.push(`ignoring constraint '${o.id}' because a resource does not exist`);
    return;
  }
  const kind = o.orderKind === "Optional" ? "optional" : o.orderKind === "Serialize" ? "serialize" : "mandatory";
  let symmetry: "asym" | "sym";
  if (o.symmetrical !== undefined) symmetry = o.symmetrical && kind !== "serialize" ? "sym" : "asym";
  else symmetry = kind === "serialize" ? "asym" : "sym";
  let flags = orderingFlags(kind, o.firstAction, symmetry);
  const restartType = (r: WRsc) => (r.meta.get("restart-type") ?? "").toLowerCase() === "restart";
  if (kind === "optional" && restartType(then)) flags |= O_IMPLIES_THEN;
  // clone-min on the first clone makes "then" depend on enough instances: not supported (documented).
  orderResourceActions(ws, first, o.firstAction, then, o.thenAction, flags);
  if (symmetry === "sym") {
    const ta = INVERT[o.thenAction];
    const fa = INVERT[o.firstAction];
    let inv = orderingFlags(kind, fa, "inverse");
    if (kind === "optional" && restartType(then)) inv |= O_IMPLIES_FIRST;
    orderResourceActions(ws, then, ta, first, fa, inv);
  }
}

// --- locations ---------------------------------------------------------------------------------

function compareValues(l: string | undefined, r: string | undefined, typeIn: string | undefined, op: string): number {
  if (l !== undefined && r !== undefined) {
    let type = typeIn;
    if (type === undefined) type = ["lt", "lte", "gt", "gte"].includes(op) ? (l.includes(".") || r.includes(".") ? "number" : "integer") : "string";
    if (type === "integer") {
      const a = Number.parseInt(l, 10);
      const b = Number.parseInt(r, 10);
      if (Number.isFinite(a) && Number.isFinite(b)) return a < b ? -1 : a > b ? 1 : 0;
      type = "string";
    }
    if (type === "number") {
      const a = Number.parseFloat(l);
      const b = Number.parseFloat(r);
      if (Number.isFinite(a) && Number.isFinite(b)) return a < b ? -1 : a > b ? 1 : 0;
      type = "string";
    }
    if (type === "version") {
      const pa = l.split(".").map((x) => Number.parseInt(x, 10) || 0);
      const pb = r.split(".").map((x) => Number.parseInt(x, 10) || 0);
      for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
        const d = (pa[i] ?? 0) - (pb[i] ?? 0);
        if (d !== 0) return d < 0 ? -1 : 1;
      }
      return 0;
    }
    const a = l.toLowerCase();
    const b = r.toLowerCase();
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (l === undefined && r === undefined) return 0;
  if (r === undefined) return 1;
  return -1;
}

function evalExpression(e: RuleExpression, node: WNode): boolean {
  const h = node.attrs.get(e.attribute);
  if (e.operation === "defined") return h !== undefined;
  if (e.operation === "not_defined") return h === undefined;
  const cmp = compareValues(h, e.value, e.type, e.operation);
  switch (e.operation) {
    case "eq":
      return cmp === 0;
    case "ne":
      return cmp !== 0;
    default:
      if (h === undefined || e.value === undefined) return false;
      if (e.operation === "lt") return cmp < 0;
      if (e.operation === "lte") return cmp <= 0;
      if (e.operation === "gt") return cmp > 0;
      return cmp >= 0;
  }
}

function testRule(rule: LocationRule, node: WNode): boolean {
  if (rule.expressions.length === 0) return true;
  if (rule.booleanOp === "or") return rule.expressions.some((e) => evalExpression(e, node));
  return rule.expressions.every((e) => evalExpression(e, node));
}

function ruleNodeScore(rule: LocationRule, node: WNode): number {
  if (rule.score !== undefined) return rule.score;
  const v = node.attrs.get(rule.scoreAttribute ?? "");
  return v === undefined ? -INFINITY : scoreOf(v);
}

function discoverMode(d: string | undefined): number {
  return d === "never" ? 1 : d === "exclusive" ? 2 : 0;
}

function newLocation(ws: WorkingSet, id: string, r: WRsc, discovery: string | undefined, nodes: { node: WNode; weight: number }[], roleFilter: Role): Location {
  const loc: Location = { id, rsc: r, roleFilter, discover: discoverMode(discovery), nodes };
  if (loc.discover === 2) r.exclusiveDiscover = true;
  ws.locations.push(loc);
  return loc;
}

function locationRole(role: string | undefined): Role {
  const r = roleFromName(role);
  return r === Role.Started || r === Role.Unpromoted ? Role.Unknown : r;
}

function unpackLocation(ws: WorkingSet, l: LocationConstraint): void {
  const r = rsc(ws, l.rsc);
  if (!r) {
    ws.warnings.push(`ignoring constraint '${l.id}' because resource '${l.rsc}' does not exist`);
    return;
  }
  if (l.node !== undefined) {
    const node = ws.nodes.find((n) => n.uname === l.node);
    if (!node) return;
    newLocation(ws, l.id, r, l.discovery, [{ node, weight: l.score ?? 0 }], locationRole(l.role));
    return;
  }
  for (const rule of l.rules) {
    let roleFilter = roleFromName(rule.role);
    if (roleFilter === Role.Unpromoted) roleFilter = Role.Unknown;
    let match: { node: WNode; weight: number }[];
    if (rule.booleanOp === "and") {
      match = ws.nodes.map((n) => ({ node: n, weight: ruleNodeScore(rule, n) }));
      match = match.filter((m) => testRule(rule, m.node));
    } else {
      match = [];
      for (const n of ws.nodes) {
        if (!testRule(rule, n)) continue;
        match.push({ node: n, weight: addScores(n.weight, ruleNodeScore(rule, n)) });
      }
    }
    if (match.length === 0) continue;
    newLocation(ws, rule.id, r, l.discovery, match, roleFilter);
  }
}

/** pcmk__unpack_constraints(): in document order. */
export function unpackConstraints(ws: WorkingSet, input: ClusterInput): void {
  for (const c of input.config.constraints) {
    if (c.kind === "order") unpackOrdering(ws, c);
    else if (c.kind === "colocation") unpackColocation(ws, c);
    else unpackLocation(ws, c);
  }
}
