// Placement: node scores from location constraints, stickiness and failure thresholds; colocation
// propagation; utilization; then assigning every primitive, group and clone instance to a node.
//
// The order of operations and the arithmetic (saturating ±INFINITY sums, colocation factors in
// single precision, rollback when a colocation would leave no node) follow Pacemaker's scheduler,
// because the point of this module is to choose the same nodes crm_simulate chooses.
import { fenceOp } from "./actions.ts";
import { addPromotionScores, setInstanceRoles, updateDependentWithPromotable, updatePromotableDependentPriority } from "./promotable.ts";
import {
  type Colocation,
  type Location,
  type NodeScore,
  type WNode,
  type WRsc,
  type WorkingSet,
  A_OPTIONAL,
  A_RUNNABLE,
  INFINITY,
  R_ALLOCATING,
  R_BLOCK,
  R_FAILED,
  R_FAILURE_IGNORED,
  R_MANAGED,
  R_MERGING,
  R_ORPHAN,
  R_PROMOTABLE,
  R_PROVISIONAL,
  R_UNIQUE,
  Role,
  Variant,
  addScores,
  anyNodeAvailable,
  compareCapacities,
  copyScores,
  currentNode,
  findActiveOn,
  isClone,
  isSetRecursive,
  nodeAvailable,
  resourceLocation,
  rscLocation,
  rscState,
  compareNodes,
  glibIter,
  glibMergeSort,
  sortAllowed,
  sortNodes,
  strcmp,
  uberParent,
} from "./sched-core.ts";
import { getFailcount } from "./unpack.ts";

const INFINITY_HACK = INFINITY * -100;
const SELECT_THIS_WITH = 1;
const SELECT_NONNEGATIVE = 2;
const SELECT_ACTIVE = 4;

// --- location constraints ----------------------------------------------------------------------

function applyLocationBase(r: WRsc, loc: Location): void {
  if (loc.roleFilter > Role.Unknown && loc.roleFilter !== r.nextRole) return;
  if (loc.nodes.length === 0) return;
  for (const n of loc.nodes) {
    const w = r.allowed.get(n.node.id);
    if (!w) {
      r.allowed.set(n.node.id, { node: n.node, weight: n.weight, count: 0, discover: loc.discover });
    } else {
      w.weight = addScores(w.weight, n.weight);
      if (w.discover < loc.discover) {
        if (loc.discover === 2) r.exclusiveDiscover = true;
        w.discover = loc.discover;
      }
    }
  }
}

export function applyLocation(r: WRsc, loc: Location): void {
  if (r.variant === Variant.Primitive) {
    applyLocationBase(r, loc);
  } else if (r.variant === Variant.Group) {
    const orig = loc.nodes;
    const copy = orig.map((n) => ({ node: n.node, weight: 0 }));
    let reset = r.groupColocated;
    applyLocationBase(r, loc);
    for (const m of r.children) {
      applyLocation(m, loc);
      if (reset) {
        reset = false;
        loc.nodes = copy;
      }
    }
    loc.nodes = orig;
  } else {
    applyLocationBase(r, loc);
    for (const c of r.children) applyLocation(c, loc);
  }
}

export function applyLocations(ws: WorkingSet): void {
  for (let i = ws.locations.length - 1; i >= 0; i--) {
    const loc = ws.locations[i]!;
    applyLocation(loc.rsc, loc);
  }
}

export function applyStickiness(ws: WorkingSet, r: WRsc): void {
  if (r.children.length > 0) {
    for (const c of r.children) applyStickiness(ws, c);
    return;
  }
  if ((r.flags & R_MANAGED) === 0 || r.stickiness < 1 || r.runningOn.length !== 1) return;
  const node = r.runningOn[0]!;
  if (!ws.symmetric && !r.allowed.has(node.id)) return;
  resourceLocation(ws, r, node, r.stickiness, "stickiness");
}

export function checkFailureThreshold(ws: WorkingSet, r: WRsc, node: WNode): void {
  if (r.children.length > 0) {
    for (const c of r.children) checkFailureThreshold(ws, c, node);
    return;
  }
  // A fail count about to be cleared does not force the resource away.
  for (const a of r.actions) if (a.task === "clear_failcount" && a.node === node) return;
  if (r.migrationThreshold === 0) return;
  if ((r.flags & R_FAILURE_IGNORED) !== 0) return;
  const fc = getFailcount(ws, node, r, true, null, null).count;
  if (fc <= 0) return;
  const toBan = (r.flags & R_UNIQUE) === 0 ? uberParent(r) : r;
  if (r.migrationThreshold - fc <= 0) {
    ws.warnings.push(`${toBan.id} cannot run on ${node.uname} due to reaching migration threshold (clean up resource to allow again)`);
    resourceLocation(ws, toBan, node, -INFINITY, "__fail_limit__");
  }
}

export function applyExclusiveDiscovery(r: WRsc, node: WNode): void {
  if (r.exclusiveDiscover || uberParent(r).exclusiveDiscover) {
    for (const c of r.children) applyExclusiveDiscovery(c, node);
    const m = r.allowed.get(node.id);
    if (m && m.discover !== 2) m.weight = -INFINITY;
  }
}

// --- assignment of primitives ------------------------------------------------------------------

export function unassign(r: WRsc): void {
  const old = r.allocatedTo;
  if (!old) return;
  r.flags |= R_PROVISIONAL;
  r.allocatedTo = null;
  const i = old.node.allocated.indexOf(r);
  if (i >= 0) old.node.allocated.splice(i, 1);
  old.node.numResources--;
  releaseCapacity(old.node.utilization, r);
}

function asScore(n: NodeScore | WNode): NodeScore {
  return "node" in n ? n : { node: n, weight: n.weight, count: 0, discover: 0 };
}

/** pcmk__finalize_assignment(): records the chosen node (or none: the resource will stop). */
export function finalizeAssignment(ws: WorkingSet, r: WRsc, chosenIn: NodeScore | WNode | null, force: boolean): boolean {
  void ws;
  let chosen = chosenIn === null ? null : asScore(chosenIn);
  if (!force && chosen) {
    if (chosen.weight < 0 || !nodeAvailable(chosen, true)) {
      r.nextRole = Role.Stopped;
      chosen = null;
    }
  }
  unassign(r);
  r.flags &= ~R_PROVISIONAL;
  if (!chosen) {
    r.nextRole = Role.Stopped;
    for (const op of r.actions) {
      if (op.task === "stop") op.flags &= ~A_OPTIONAL;
      else if (op.task === "start") op.flags &= ~A_RUNNABLE;
      else {
        const iv = op.meta.get("interval");
        if (iv !== undefined && iv !== "0" && op.meta.get("op_target_rc") !== "7") op.flags &= ~A_RUNNABLE;
      }
    }
    return false;
  }
  r.allocatedTo = { node: chosen.node, weight: chosen.weight, count: chosen.count, discover: chosen.discover };
  chosen.node.allocated.unshift(r);
  chosen.node.numResources++;
  chosen.count++;
  consumeCapacity(chosen.node.utilization, r);
  return true;
}

export function assignResource(ws: WorkingSet, r: WRsc, node: NodeScore | WNode | null, force: boolean): boolean {
  let changed = false;
  if (r.children.length === 0) {
    if (r.allocatedTo) changed = true;
    finalizeAssignment(ws, r, node, force);
  } else {
    for (const c of r.children) changed = assignResource(ws, c, node, force) || changed;
  }
  return changed;
}

function sortedAllowed(ws: WorkingSet, r: WRsc): NodeScore[] {
  return sortAllowed(ws, r.allowed, currentNode(r));
}

function isUniqueClone(r: WRsc | null): boolean {
  return !!r && r.variant === Variant.Clone && (r.flags & R_UNIQUE) !== 0;
}

function assignBestNode(ws: WorkingSet, r: WRsc, preferIn: WNode | null): boolean {
  const mostFree = banInsufficientCapacity(ws, r);
  const prefer = preferIn ?? mostFree;
  if ((r.flags & R_PROVISIONAL) === 0) return r.allocatedTo !== null;
  const nodes = sortedAllowed(ws, r);
  const best = nodes[0] ?? null;
  let chosen: NodeScore | null = null;
  if (prefer && best) {
    chosen = r.allowed.get(prefer.id) ?? null;
    if (chosen && chosen.weight < best.weight) chosen = null;
    else if (chosen && !nodeAvailable(chosen, true)) chosen = null;
  }
  if (!chosen && best) {
    chosen = best;
    if (!isUniqueClone(r.parent) && chosen.weight > 0 && nodeAvailable(chosen.node, false)) {
      const running = currentNode(r);
      if (running && nodeAvailable({ node: running, weight: running.weight, count: 0, discover: 0 }, true)) {
        for (const allowed of nodes.slice(1)) {
          if (allowed.weight !== chosen.weight) break;
          if (allowed.node === running) chosen = allowed;
        }
      }
    }
  }
  return finalizeAssignment(ws, r, chosen, false);
}

function applyThisWith(ws: WorkingSet, c: Colocation, r: WRsc): void {
  const other = c.primary;
  let archive: Map<string, NodeScore> | null = null;
  if (c.dependentRole >= Role.Promoted || (c.score < 0 && c.score > -INFINITY)) archive = copyScores(r.allowed);
  assign(ws, other, null);
  applyColocScore(ws, r, other, c, true);
  if (archive && !anyNodeAvailable(r.allowed)) r.allowed = archive;
}

function applyWithThis(ws: WorkingSet, c: Colocation, r: WRsc): void {
  if (!hasInfluence(c, null)) return;
  const factor = Math.fround(Math.fround(c.score) / Math.fround(INFINITY));
  const ref = { v: r.allowed as Map<string, NodeScore> | null };
  addColocatedNodeScores(ws, c.dependent, r.id, ref, c.nodeAttribute, factor, SELECT_ACTIVE);
  r.allowed = ref.v!;
}

function primitiveAssign(ws: WorkingSet, r: WRsc, prefer: WNode | null): WNode | null {
  if (r.parent && (r.parent.flags & R_ALLOCATING) === 0) assign(ws, r.parent, prefer);
  if ((r.flags & R_PROVISIONAL) === 0) return r.allocatedTo?.node ?? null;
  if ((r.flags & R_ALLOCATING) !== 0) return null;
  r.flags |= R_ALLOCATING;
  for (let i = 0; i < r.rscCons.length; i++) applyThisWith(ws, r.rscCons[i]!, r);
  for (let i = 0; i < r.rscConsLhs.length; i++) applyWithThis(ws, r.rscConsLhs[i]!, r);
  if (r.nextRole === Role.Stopped) {
    resourceLocation(ws, r, null, -INFINITY, "target-role");
  } else if (r.nextRole > r.role && !ws.haveQuorum && ws.noQuorumPolicy === "freeze") {
    r.nextRole = r.role;
  }
  if (ws.stonithEnabled && !ws.haveStonithResource) r.flags &= ~R_MANAGED;
  if ((r.flags & R_MANAGED) === 0) {
    r.nextRole = r.role;
    finalizeAssignment(ws, r, currentNode(r), true);
  } else if (ws.stopEverything) {
    finalizeAssignment(ws, r, null, true);
  } else if ((r.flags & R_PROVISIONAL) !== 0 && assignBestNode(ws, r, prefer)) {
    /* assigned */
  }
  r.flags &= ~R_ALLOCATING;
  return r.allocatedTo?.node ?? null;
}

// --- groups ------------------------------------------------------------------------------------

function expandGroupColocations(r: WRsc): void {
  if (r.children.length === 0) return;
  let member = r.children[0]!;
  for (const c of r.rscCons) addThisWith(member, c);
  let anyUnmanaged = (member.flags & R_MANAGED) === 0;
  for (const m of r.children.slice(1)) {
    if (anyUnmanaged) {
      for (const c of r.rscCons) if (c.score === INFINITY) addThisWith(m, c);
    } else if ((m.flags & R_MANAGED) === 0) anyUnmanaged = true;
  }
  r.rscCons = [];
  member = r.children[r.children.length - 1]!;
  for (const c of r.rscConsLhs) addWithThis(member, c);
  r.rscConsLhs = [];
}

function groupAssign(ws: WorkingSet, r: WRsc, prefer: WNode | null): WNode | null {
  if ((r.flags & R_PROVISIONAL) === 0) return r.allocatedTo?.node ?? null;
  if ((r.flags & R_ALLOCATING) !== 0) return null;
  if (r.children.length === 0) {
    r.flags &= ~R_PROVISIONAL;
    return null;
  }
  r.flags |= R_ALLOCATING;
  const first = r.children[0]!;
  r.role = first.role;
  expandGroupColocations(r);
  let firstAssigned: WNode | null = null;
  for (const m of r.children) {
    const node = assign(ws, m, prefer);
    if (firstAssigned === null) firstAssigned = node;
  }
  r.nextRole = first.nextRole;
  r.flags &= ~(R_ALLOCATING | R_PROVISIONAL);
  return r.groupColocated ? firstAssigned : null;
}

// --- colocation --------------------------------------------------------------------------------

function cmpPriorityVariant(a: WRsc, b: WRsc): number {
  if (a.priority > b.priority) return -1;
  if (a.priority < b.priority) return 1;
  if (a.variant > b.variant) return -1;
  if (a.variant < b.variant) return 1;
  if (a.variant === Variant.Clone) {
    const pa = (a.flags & R_PROMOTABLE) !== 0;
    const pb = (b.flags & R_PROMOTABLE) !== 0;
    if (pa && !pb) return -1;
    if (!pa && pb) return 1;
  }
  return strcmp(a.id, b.id);
}

function insertSorted(list: Colocation[], c: Colocation, cmp: (x: Colocation, y: Colocation) => number): void {
  let i = 0;
  while (i < list.length && cmp(c, list[i]!) > 0) i++;
  list.splice(i, 0, c);
}

export function addThisWith(r: WRsc, c: Colocation): void {
  insertSorted(r.rscCons, c, (x, y) => cmpPriorityVariant(x.primary, y.primary));
}

export function addWithThis(r: WRsc, c: Colocation): void {
  insertSorted(r.rscConsLhs, c, (x, y) => cmpPriorityVariant(x.dependent, y.dependent));
}

export function hasInfluence(c: Colocation, rsc: WRsc | null): boolean {
  const r = rsc ?? c.primary;
  return c.influence || r.runningOn.length === 0;
}

export const enum Affects {
  Nothing,
  Location,
  Role,
}

export function colocationAffects(dependent: WRsc, primary: WRsc, c: Colocation, preview: boolean): Affects {
  if (!preview && (primary.flags & R_PROVISIONAL) !== 0) return Affects.Nothing;
  if (c.dependentRole >= Role.Unpromoted && dependent.parent && (dependent.parent.flags & R_PROMOTABLE) !== 0 && (dependent.flags & R_PROVISIONAL) === 0) {
    return Affects.Role;
  }
  if (!preview && (dependent.flags & R_PROVISIONAL) === 0) return Affects.Nothing;
  if (c.score > 0 && c.dependentRole !== Role.Unknown && c.dependentRole !== dependent.nextRole) return Affects.Nothing;
  if (c.score > 0 && c.primaryRole !== Role.Unknown && c.primaryRole !== primary.nextRole) return Affects.Nothing;
  if (c.score < 0 && c.dependentRole !== Role.Unknown && c.dependentRole === dependent.nextRole) return Affects.Nothing;
  if (c.score < 0 && c.primaryRole !== Role.Unknown && c.primaryRole === primary.nextRole) return Affects.Nothing;
  return Affects.Location;
}

function attrOf(n: WNode, attr: string): string | undefined {
  return n.attrs.get(attr);
}

function applyColocToWeights(dependent: WRsc, primary: WRsc, c: Colocation): void {
  const attribute = c.nodeAttribute ?? "#id";
  let value: string | undefined;
  if (primary.allocatedTo) value = attrOf(primary.allocatedTo.node, attribute);
  else if (c.score < 0) return;
  const work = copyScores(dependent.allowed);
  for (const n of work.values()) {
    if (!primary.allocatedTo) {
      n.weight = addScores(-c.score, n.weight);
    } else if (eqCase(attrOf(n.node, attribute), value)) {
      if (c.score < INFINITY) n.weight = addScores(c.score, n.weight);
    } else if (c.score >= INFINITY) {
      n.weight = addScores(-c.score, n.weight);
    }
  }
  if (c.score <= -INFINITY || c.score >= INFINITY || anyNodeAvailable(work)) dependent.allowed = work;
}

function eqCase(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.toLowerCase() === b.toLowerCase();
}

function applyColocToPriority(dependent: WRsc, primary: WRsc, c: Colocation): void {
  if (!primary.allocatedTo || !dependent.allocatedTo) return;
  const attribute = c.nodeAttribute ?? "#id";
  const dv = attrOf(dependent.allocatedTo.node, attribute);
  const pv = attrOf(primary.allocatedTo.node, attribute);
  if (!eqCase(dv, pv)) {
    if (c.score === INFINITY && c.dependentRole === Role.Promoted) dependent.priority = -INFINITY;
    return;
  }
  if (c.primaryRole !== Role.Unknown && c.primaryRole !== primary.nextRole) return;
  const mult = c.dependentRole === Role.Unpromoted ? -1 : 1;
  dependent.priority = addScores(mult * c.score, dependent.priority);
}

function primitiveApplyColocScore(dependent: WRsc, primary: WRsc, c: Colocation): void {
  switch (colocationAffects(dependent, primary, c, false)) {
    case Affects.Role:
      applyColocToPriority(dependent, primary, c);
      break;
    case Affects.Location:
      applyColocToWeights(dependent, primary, c);
      break;
    default:
      break;
  }
}

function lastMember(g: WRsc): WRsc | null {
  return g.children[g.children.length - 1] ?? null;
}

function colocateWithGroup(ws: WorkingSet, dependent: WRsc, primary: WRsc, c: Colocation): void {
  if ((primary.flags & R_PROVISIONAL) !== 0) return;
  if (primary.groupColocated) {
    const member = c.score >= INFINITY ? lastMember(primary) : (primary.children[0] ?? null);
    if (!member) return;
    applyColocScore(ws, dependent, member, c, false);
    return;
  }
  if (c.score >= INFINITY) {
    ws.warnings.push(`${dependent.id}: cannot perform mandatory colocation with non-colocated group ${primary.id}`);
    return;
  }
  for (const m of primary.children) applyColocScore(ws, dependent, m, c, false);
}

function colocateGroupWith(ws: WorkingSet, dependent: WRsc, primary: WRsc, c: Colocation): void {
  if (dependent.children.length === 0) return;
  if (dependent.groupColocated) {
    applyColocScore(ws, dependent.children[0]!, primary, c, true);
    return;
  }
  if (c.score >= INFINITY) {
    ws.warnings.push(`${dependent.id}: cannot perform mandatory colocation between non-colocated group and ${primary.id}`);
    return;
  }
  for (const m of dependent.children) applyColocScore(ws, m, primary, c, true);
}

/** rsc->cmds->apply_coloc_score(): dispatches on the dependent's or the primary's kind. */
export function applyColocScore(ws: WorkingSet, dependent: WRsc, primary: WRsc, c: Colocation, forDependent: boolean): void {
  if (forDependent) {
    if (dependent.variant === Variant.Group) {
      colocateGroupWith(ws, dependent, primary, c);
      return;
    }
    applyColocScore(ws, dependent, primary, c, false);
    return;
  }
  if (primary.variant === Variant.Primitive) primitiveApplyColocScore(dependent, primary, c);
  else if (primary.variant === Variant.Group) colocateWithGroup(ws, dependent, primary, c);
  else cloneApplyColocScore(ws, dependent, primary, c);
}

function bestNodeScoreMatchingAttr(r: WRsc, attr: string, value: string | undefined): number {
  let best = -INFINITY;
  for (const n of r.allowed.values()) {
    if (n.weight > best && nodeAvailable(n.node, false) && eqCase(value, attrOf(n.node, attr))) best = n.weight;
  }
  return best;
}

function addNodeScoresMatchingAttr(nodes: Map<string, NodeScore>, r: WRsc, attrIn: string | null, factor: number, onlyPositive: boolean): void {
  const attr = attrIn ?? "#uname";
  for (const n of nodes.values()) {
    const score = bestNodeScoreMatchingAttr(r, attr, attrOf(n.node, attr));
    if (factor < 0 && score < 0) continue;
    if (n.weight === INFINITY_HACK) continue;
    const wf = Math.fround(factor * Math.fround(score));
    let weight = Math.trunc(wf < 0 ? wf - 0.5 : wf + 0.5);
    if (weight === 0 && score !== 0) {
      if (factor > 0) weight = 1;
      else if (factor < 0) weight = -1;
    }
    const newScore = addScores(weight, n.weight);
    if (onlyPositive && newScore < 0 && n.weight > 0) {
      n.weight = INFINITY_HACK;
      continue;
    }
    if (onlyPositive && newScore < 0 && n.weight === 0) continue;
    n.weight = newScore;
  }
}

/** pcmk__add_colocated_node_scores(): folds colocated resources' preferences into a node table. */
export function addColocatedNodeScores(
  ws: WorkingSet,
  r: WRsc,
  logId: string,
  nodes: { v: Map<string, NodeScore> | null },
  attr: string | null,
  factorIn: number,
  flags: number,
): void {
  void logId;
  if ((r.flags & R_MERGING) !== 0) return;
  r.flags |= R_MERGING;
  let work: Map<string, NodeScore> | null;
  if (r.variant === Variant.Group) {
    if (r.children.length === 0) {
      r.flags &= ~R_MERGING;
      return;
    }
    const member = nodes.v === null ? lastMember(r)! : r.children[0]!;
    const ref = { v: nodes.v === null ? null : copyScores(nodes.v) };
    addColocatedNodeScores(ws, member, logId, ref, attr, factorIn, flags);
    work = ref.v;
  } else if (nodes.v === null) {
    work = copyScores(r.allowed);
  } else {
    work = copyScores(nodes.v);
    addNodeScoresMatchingAttr(work, r, attr, factorIn, (flags & SELECT_NONNEGATIVE) !== 0);
  }
  if (work === null) {
    r.flags &= ~R_MERGING;
    return;
  }
  let table: Map<string, NodeScore> = work;
  if (anyNodeAvailable(table)) {
    const multiplier = factorIn < 0 ? -1 : 1;
    let list: Colocation[];
    if ((flags & SELECT_THIS_WITH) !== 0) list = r.rscCons;
    else if (r.variant === Variant.Group) list = lastMember(r)?.rscConsLhs ?? [];
    else list = r.rscConsLhs;
    for (const c of [...list]) {
      let other: WRsc;
      if ((flags & SELECT_THIS_WITH) !== 0) other = c.primary;
      else if (!hasInfluence(c, null)) continue;
      else other = c.dependent;
      const factor = Math.fround(Math.fround(multiplier * c.score) / Math.fround(INFINITY));
      const ref: { v: Map<string, NodeScore> | null } = { v: table };
      addColocatedNodeScores(ws, other, logId, ref, c.nodeAttribute, factor, flags | SELECT_ACTIVE);
      table = ref.v!;
    }
  } else if ((flags & SELECT_ACTIVE) !== 0) {
    r.flags &= ~R_MERGING;
    return;
  }
  if ((flags & SELECT_NONNEGATIVE) !== 0) {
    for (const n of table.values()) if (n.weight === INFINITY_HACK) n.weight = 1;
  }
  nodes.v = table;
  r.flags &= ~R_MERGING;
}

// --- clones --------------------------------------------------------------------------------------

function topAllowedNode(r: WRsc, node: WNode | null): NodeScore | null {
  if (!node) return null;
  const table = r.parent === null ? r.allowed : r.parent.allowed;
  return table.get(node.id) ?? null;
}

function setScoreRecursive(r: WRsc, nodeId: string, score: number): void {
  const n = r.allowed.get(nodeId);
  if (n) n.weight = score;
  for (const c of r.children) setScoreRecursive(c, nodeId, score);
}

function canRunInstance(r: WRsc, node: WNode, limit: number): NodeScore | null {
  let bail = false;
  if (!nodeAvailable(node, false)) bail = true;
  else if ((r.flags & R_ORPHAN) !== 0) bail = true;
  if (!bail) {
    const local = topAllowedNode(r, node);
    if (local === null) bail = true;
    else if (local.weight < 0) {
      setScoreRecursive(r, node.id, local.weight);
      bail = true;
    } else if (local.count < limit) return local;
    else bail = true;
  }
  if (bail) setScoreRecursive(r, node.id, -INFINITY);
  return null;
}

function appendParentColocation(parent: WRsc, child: WRsc, all: boolean): void {
  for (const c of parent.rscCons) if (all || c.score < 0 || c.score === INFINITY) addThisWith(child, c);
  for (const c of parent.rscConsLhs) {
    if (!hasInfluence(c, child)) continue;
    if (all || c.score < 0) addWithThis(child, c);
  }
}

function allocateInstance(ws: WorkingSet, r: WRsc, prefer: WNode | null, allColoc: boolean, limit: number): WNode | null {
  if ((r.flags & R_PROVISIONAL) === 0) return rscLocation(r, null, 0);
  if ((r.flags & R_ALLOCATING) !== 0) return null;
  appendParentColocation(r.parent!, r, allColoc);
  if (prefer) {
    const lp = r.allowed.get(prefer.id);
    if (!lp || lp.weight < 0) return null;
  }
  for (const n of [...r.allowed.values()]) canRunInstance(r, n.node, limit);
  let backup: Map<string, NodeScore> | null = copyScores(r.allowed);
  let chosen = assign(ws, r, prefer);
  if (chosen && prefer && chosen !== prefer) {
    r.allowed = backup;
    unassignRecursive(r);
    chosen = null;
    backup = null;
  }
  if (chosen) {
    const local = topAllowedNode(r, chosen);
    if (local) local.count++;
  }
  return chosen;
}

function unassignRecursive(r: WRsc): void {
  // pcmk__unassign_resource() on the instance (a primitive, or each member of a cloned group).
  if (r.children.length === 0) unassign(r);
  else {
    for (const c of r.children) unassignRecursive(c);
    r.flags |= R_PROVISIONAL;
  }
}

function distributeChildren(ws: WorkingSet, clone: WRsc, children: WRsc[], nodes: NodeScore[], max: number, perHostMax: number): void {
  let allocated = 0;
  let available = 0;
  for (const n of nodes) {
    n.count = 0;
    if (nodeAvailable(n.node, false)) available++;
  }
  const allColoc = max < available;
  let loopMax = available > 0 ? Math.floor(max / available) : 0;
  if (loopMax < 1) loopMax = 1;
  for (const child of children) {
    if (allocated >= max) break;
    if (child.runningOn.length === 0 || (child.flags & R_PROVISIONAL) === 0 || (child.flags & R_FAILED) !== 0) continue;
    const childNode = currentNode(child);
    const local = topAllowedNode(child, childNode);
    if (!childNode || !nodeAvailable({ node: childNode, weight: childNode.weight, count: 0, discover: 0 }, true)) continue;
    if (local && local.count >= loopMax) continue;
    if (allocateInstance(ws, child, childNode, allColoc, perHostMax)) allocated++;
  }
  for (const child of children) {
    if ((child.flags & R_PROVISIONAL) === 0) continue;
    if (allocated >= max) {
      resourceLocation(ws, child, null, -INFINITY, "clone:limit_reached");
    } else if (allocateInstance(ws, child, null, allColoc, perHostMax)) {
      allocated++;
    }
  }
  void clone;
}

function nodeIsAllowed(r: WRsc, node: WNode | null): WNode | null | false {
  if (node === null) return null;
  const a = r.allowed.get(node.id);
  if (!a || a.weight < 0) return false;
  return node;
}

function didFail(r: WRsc): boolean {
  if ((r.flags & R_FAILED) !== 0) return true;
  return r.children.some(didFail);
}

function instanceNumber(r: WRsc): number {
  const i = r.id.lastIndexOf(":");
  return Number.parseInt(r.id.slice(i + 1), 10);
}

export function cmpInstanceNumber(a: WRsc, b: WRsc): number {
  return instanceNumber(a) - instanceNumber(b);
}

function cmpInstanceByColocation(ws: WorkingSet, a: WRsc, b: WRsc): number {
  const n1 = currentNode(a)!;
  const n2 = currentNode(b)!;
  const t1 = { v: new Map([[n1.id, { node: n1, weight: n1.weight, count: 0, discover: 0 }]]) as Map<string, NodeScore> | null };
  const t2 = { v: new Map([[n2.id, { node: n2, weight: n2.weight, count: 0, discover: 0 }]]) as Map<string, NodeScore> | null };
  applyParentColocations(ws, a, t1);
  applyParentColocations(ws, b, t2);
  const w1 = t1.v!.get(n1.id)!.weight;
  const w2 = t2.v!.get(n2.id)!.weight;
  if (w1 < w2) return 1;
  if (w1 > w2) return -1;
  return 0;
}

function applyParentColocations(ws: WorkingSet, r: WRsc, nodes: { v: Map<string, NodeScore> | null }): void {
  for (const c of r.parent!.rscCons) {
    addColocatedNodeScores(ws, c.primary, r.id, nodes, c.nodeAttribute, Math.fround(Math.fround(c.score) / Math.fround(INFINITY)), 0);
  }
  for (const c of r.parent!.rscConsLhs) {
    if (!hasInfluence(c, r)) continue;
    addColocatedNodeScores(ws, c.dependent, r.id, nodes, c.nodeAttribute, Math.fround(Math.fround(c.score) / Math.fround(INFINITY)), SELECT_NONNEGATIVE);
  }
}

export function cmpInstance(ws: WorkingSet, a: WRsc, b: WRsc): number {
  const fa = findActiveOn(a);
  const fb = findActiveOn(b);
  let node1: WNode | null = fa.node;
  let node2: WNode | null = fb.node;
  if (fa.all > 0 && fb.all > 0) {
    if (fa.all < fb.all) return -1;
    if (fa.all > fb.all) return 1;
  }
  const c1 = nodeIsAllowed(a, node1);
  const c2 = nodeIsAllowed(b, node2);
  const can1 = c1 !== false;
  const can2 = c2 !== false;
  if (c1 === false) node1 = null;
  if (c2 === false) node2 = null;
  if (can1 && !can2) return -1;
  if (!can1 && can2) return 1;
  if (a.priority > b.priority) return -1;
  if (a.priority < b.priority) return 1;
  if (node1 === null && node2 === null) return 0;
  if (node1 === null) return 1;
  if (node2 === null) return -1;
  const av1 = nodeAvailable(node1, false);
  const av2 = nodeAvailable(node2, false);
  if (av1 && !av2) return -1;
  if (!av1 && av2) return 1;
  const t1 = topAllowedNode(a, node1);
  const t2 = topAllowedNode(b, node2);
  if (t1 === null && t2 === null) return 0;
  if (t1 === null) return 1;
  if (t2 === null) return -1;
  if (t1.count < t2.count) return -1;
  if (t1.count > t2.count) return 1;
  const f1 = didFail(a);
  const f2 = didFail(b);
  if (!f1 && f2) return -1;
  if (f1 && !f2) return 1;
  const rc = cmpInstanceByColocation(ws, a, b);
  if (rc !== 0) return rc;
  return cmpInstanceNumber(a, b);
}

function cloneAssign(ws: WorkingSet, r: WRsc, prefer: WNode | null): WNode | null {
  if ((r.flags & R_PROVISIONAL) === 0) return null;
  if ((r.flags & R_ALLOCATING) !== 0) return null;
  if ((r.flags & R_PROMOTABLE) !== 0) addPromotionScores(ws, r);
  r.flags |= R_ALLOCATING;
  for (const c of r.rscCons) assign(ws, c.primary, prefer);
  for (const c of r.rscConsLhs) {
    if (hasInfluence(c, null)) {
      const ref = { v: r.allowed as Map<string, NodeScore> | null };
      addColocatedNodeScores(ws, c.dependent, r.id, ref, c.nodeAttribute, Math.fround(Math.fround(c.score) / Math.fround(INFINITY)), SELECT_ACTIVE | SELECT_NONNEGATIVE);
      r.allowed = ref.v!;
    }
  }
  const nodes = sortAllowed(ws, r.allowed, null);
  r.children = r.children.sort((a, b) => cmpInstance(ws, a, b));
  distributeChildren(ws, r, r.children, nodes, r.cloneMax, r.cloneNodeMax);
  if ((r.flags & R_PROMOTABLE) !== 0) setInstanceRoles(ws, r);
  r.flags &= ~(R_PROVISIONAL | R_ALLOCATING);
  return null;
}

export function isChildCompatible(child: WRsc, localNode: WNode, filter: Role, current: boolean): boolean {
  const nextRole = rscState(child, current);
  let node: WNode | null = null;
  if (!isSetRecursive(child, R_BLOCK, true)) node = rscLocation(child, null, current ? 1 : 0);
  if (filter !== Role.Unknown && nextRole !== filter) return false;
  return node !== null && node === localNode;
}

export function findCompatibleChildByNode(localNode: WNode | null, r: WRsc, filter: Role, current: boolean): WRsc | null {
  if (!localNode) return null;
  for (const c of r.children) if (isChildCompatible(c, localNode, filter, current)) return c;
  return null;
}

export function findCompatibleChild(ws: WorkingSet, localChild: WRsc, r: WRsc, filter: Role, current: boolean): WRsc | null {
  const localNode = rscLocation(localChild, null, current ? 1 : 0);
  if (localNode) return findCompatibleChildByNode(localNode, r, filter, current);
  const scratch = sortNodes(ws, [...localChild.allowed.values()], null);
  for (const n of scratch) {
    const pair = findCompatibleChildByNode(n.node, r, filter, current);
    if (pair) return pair;
  }
  return null;
}

function copiesPerNode(r: WRsc): number {
  return r.variant === Variant.Clone ? r.cloneNodeMax : 1;
}

function cloneApplyColocScore(ws: WorkingSet, dependent: WRsc, primary: WRsc, c: Colocation): void {
  if ((primary.flags & R_PROMOTABLE) !== 0) {
    if ((primary.flags & R_PROVISIONAL) !== 0) return;
    if (c.primaryRole === Role.Unknown) {
      /* handled normally below */
    } else if ((dependent.flags & R_PROVISIONAL) !== 0) {
      updateDependentWithPromotable(ws, primary, dependent, c);
      return;
    } else if (c.dependentRole === Role.Promoted) {
      updatePromotableDependentPriority(ws, primary, dependent, c);
      return;
    }
  }
  let interleave = false;
  if (crmTrue(c.dependent.meta.get("interleave")) && c.dependent.variant > Variant.Group) {
    if (copiesPerNode(c.dependent) !== copiesPerNode(c.primary)) {
      ws.warnings.push(`cannot interleave ${c.dependent.id} and ${c.primary.id} because they do not support the same number of instances per node`);
    } else interleave = true;
  }
  if ((primary.flags & R_PROVISIONAL) !== 0) return;
  if (interleave) {
    const pi = findCompatibleChild(ws, dependent, primary, Role.Unknown, false);
    if (pi) applyColocScore(ws, dependent, pi, c, true);
    else if (c.score >= INFINITY) assignResource(ws, dependent, null, true);
    return;
  }
  if (c.score >= INFINITY) {
    const affected: NodeScore[] = [];
    for (const ch of primary.children) {
      const chosen = rscLocation(ch, null, 0);
      if (chosen && !isSetRecursive(ch, R_BLOCK, true)) affected.unshift(allocatedScore(ch, chosen));
    }
    nodeListExclude(dependent.allowed, affected, false);
    return;
  }
  for (const ch of primary.children) applyColocScore(ws, dependent, ch, c, false);
}

/** The pe_node_t copy an instance was assigned to (its score at assignment time). */
export function allocatedScore(r: WRsc, node: WNode): NodeScore {
  if (r.allocatedTo && r.allocatedTo.node === node) return r.allocatedTo;
  for (const c of r.children) {
    if (c.allocatedTo && c.allocatedTo.node === node) return c.allocatedTo;
  }
  return { node, weight: node.weight, count: 0, discover: 0 };
}

export function nodeListExclude(table: Map<string, NodeScore>, list: NodeScore[], merge: boolean): void {
  for (const n of table.values()) {
    const other = list.find((o) => o.node.id === n.node.id);
    if (!other) n.weight = -INFINITY;
    else if (merge) n.weight = addScores(n.weight, other.weight);
  }
  for (const o of list) {
    if (!table.has(o.node.id)) table.set(o.node.id, { node: o.node, weight: -INFINITY, count: o.count, discover: o.discover });
  }
}

function crmTrue(v: string | undefined): boolean {
  return v !== undefined && /^(true|on|yes|y|1)$/i.test(v.trim());
}

/** rsc->cmds->assign(). */
export function assign(ws: WorkingSet, r: WRsc, prefer: WNode | null): WNode | null {
  if (r.variant === Variant.Primitive) return primitiveAssign(ws, r, prefer);
  if (r.variant === Variant.Group) return groupAssign(ws, r, prefer);
  return cloneAssign(ws, r, prefer);
}

// --- utilization -------------------------------------------------------------------------------

export function consumeCapacity(util: Map<string, number>, r: WRsc): void {
  for (const [k, v] of r.utilization) util.set(k, (util.get(k) ?? 0) - v);
}

export function releaseCapacity(util: Map<string, number>, r: WRsc): void {
  for (const [k, v] of r.utilization) util.set(k, (util.get(k) ?? 0) + v);
}

function haveEnoughCapacity(node: WNode, util: Map<string, number>): boolean {
  for (const [k, required] of util) {
    if (required > (node.utilization.get(k) ?? 0)) return false;
  }
  return true;
}

function colocatedResources(r: WRsc, origIn: WRsc | null, list: WRsc[]): WRsc[] {
  const orig = origIn ?? r;
  if (r.variant === Variant.Group) {
    if (r.groupColocated || isClone(r.parent)) for (const m of r.children) colocatedResources(m, orig, list);
    else if (r.children[0]) colocatedResources(r.children[0], orig, list);
    return colocatedBase(r, orig, list);
  }
  return colocatedBase(r, orig, list);
}

function colocatedBase(r: WRsc, orig: WRsc, list: WRsc[]): WRsc[] {
  if (list.includes(r)) return list;
  list.push(r);
  for (const c of r.rscCons) {
    if (c.primary === orig) continue;
    if (c.score === INFINITY && colocationAffects(r, c.primary, c, true) === Affects.Location) colocatedResources(c.primary, orig, list);
  }
  for (const c of r.rscConsLhs) {
    if (c.dependent === orig) continue;
    if (isClone(r) && !isClone(c.dependent)) continue;
    if (c.score === INFINITY && colocationAffects(c.dependent, r, c, true) === Affects.Location) colocatedResources(c.dependent, orig, list);
  }
  return list;
}

function addUtilization(r: WRsc, orig: WRsc, all: WRsc[], util: Map<string, number>): void {
  if ((r.flags & R_PROVISIONAL) === 0) return;
  if (r.variant === Variant.Primitive) {
    releaseCapacity(util, r);
  } else if (r.variant === Variant.Group) {
    if (r.groupColocated || isClone(r.parent)) {
      for (const m of r.children) if ((m.flags & R_PROVISIONAL) !== 0 && !all.includes(m)) addUtilization(m, orig, all, util);
    } else if (r.children[0] && (r.children[0].flags & R_PROVISIONAL) !== 0 && !all.includes(r.children[0])) {
      addUtilization(r.children[0], orig, all, util);
    }
  } else {
    let existing = false;
    let child: WRsc | null = null;
    for (const c of r.children) {
      child = c;
      if (all.includes(c)) existing = true;
      else {
        for (const m of c.children) {
          if (all.includes(m)) {
            addUtilization(c, orig, all, util);
            existing = true;
          }
        }
      }
    }
    if (!existing && child) addUtilization(child, orig, all, util);
  }
}

export function banInsufficientCapacity(ws: WorkingSet, r: WRsc): WNode | null {
  if (ws.placementStrategy === "default") return null;
  const coloc = colocatedResources(r, null, []);
  if (coloc.length === 0) return null;
  if (!coloc.includes(r)) coloc.push(r);
  const unallocated = new Map<string, number>();
  for (const c of coloc) addUtilization(c, r, coloc, unallocated);
  let anyCapable = false;
  let most: NodeScore | null = null;
  for (const n of glibIter(ws, r.allowed)) {
    if (!nodeAvailable(n, true)) continue;
    if (haveEnoughCapacity(n.node, unallocated)) anyCapable = true;
    if (most === null || compareCapacities(n.node, most.node) < 0) most = n;
  }
  if (anyCapable) {
    for (const n of [...r.allowed.values()]) {
      if (nodeAvailable(n, true) && !haveEnoughCapacity(n.node, unallocated)) resourceLocation(ws, r, n.node, -INFINITY, "__limit_utilization__");
    }
    most = null;
  } else {
    for (const n of [...r.allowed.values()]) {
      if (nodeAvailable(n, true) && !haveEnoughCapacity(n.node, r.utilization)) resourceLocation(ws, r, n.node, -INFINITY, "__limit_utilization__");
    }
  }
  return most?.node ?? null;
}

function getNodeWeight(node: WNode | null, nodes: Map<string, NodeScore> | null): number {
  if (!node || !nodes) return -INFINITY;
  return nodes.get(node.id)?.weight ?? -INFINITY;
}

/** pcmk__sort_resources(): the assignment order used by the utilization placement strategies. */
export function sortResources(ws: WorkingSet): void {
  const nodes = glibMergeSort(
    ws.nodes.map((n) => ({ node: n, weight: n.weight, count: 0, discover: 0 })),
    (a, b) => compareNodes(ws, a, b, null),
  );
  const scores = new Map<WRsc, Map<string, NodeScore> | null>();
  const scoresOf = (r: WRsc) => {
    if (!scores.has(r)) {
      const ref = { v: null as Map<string, NodeScore> | null };
      addColocatedNodeScores(ws, r, r.id, ref, null, 1, SELECT_THIS_WITH);
      scores.set(r, ref.v);
    }
    return scores.get(r)!;
  };
  ws.resources.sort((a, b) => {
    if (a.priority > b.priority) return -1;
    if (a.priority < b.priority) return 1;
    const s1 = scoresOf(a);
    const s2 = scoresOf(b);
    const w1 = getNodeWeight(a.runningOn.length > 0 ? currentNode(a) : null, s1);
    const w2 = getNodeWeight(b.runningOn.length > 0 ? currentNode(b) : null, s2);
    if (w1 > w2) return -1;
    if (w1 < w2) return 1;
    for (const n of nodes) {
      const x = getNodeWeight(n.node, s1);
      const y = getNodeWeight(n.node, s2);
      if (x > y) return -1;
      if (x < y) return 1;
    }
    return 0;
  });
}

export { fenceOp };
