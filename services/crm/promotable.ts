// Promotable clones: promotion scores (the master-<rsc> / promotion node attributes), choosing
// which instances are promoted (promoted-max, promoted-node-max, location constraints for the
// Promoted role, colocations with a promoted role), and the orderings between instances.
import { addColocatedNodeScores, applyColocScore, cmpInstance, findCompatibleChild, hasInfluence, nodeListExclude } from "./assign.ts";
import {
  type Colocation,
  type NodeScore,
  type WNode,
  type WRsc,
  type WorkingSet,
  INFINITY,
  R_MANAGED,
  R_MERGING,
  R_UNIQUE,
  Role,
  addScores,
  nodeAvailable,
  rscLocation,
  rscState,
  scoreOf,
  uberParent,
} from "./sched-core.ts";

const SELECT_NONNEGATIVE = 2;
const SELECT_ACTIVE = 4;

/** Sort index per instance, kept outside the resource (Pacemaker's rsc->sort_index). */
const sortIndex = new WeakMap<WRsc, number>();
const promotionAdded = new WeakSet<WRsc>();
const promotionConstrained = new WeakSet<WRsc>();

function cloneStrip(id: string): string {
  const m = /^(.*):\d+$/.exec(id);
  return m ? m[1]! : id;
}

function findInInstance(instance: WRsc, baseId: string): WRsc | null {
  if (instance.children.length === 0) return instance.baseId === baseId ? instance : null;
  for (const c of instance.children) {
    const m = findInInstance(c, baseId);
    if (m) return m;
  }
  return null;
}

function findActiveAnonInstance(clone: WRsc, id: string, node: WNode): WRsc | null {
  for (const child of clone.children) {
    const m = findInInstance(child, id);
    if (m && m.runningOn.includes(node)) return m;
  }
  return null;
}

function anonymousKnownOn(clone: WRsc, id: string, node: WNode): boolean {
  for (const child of clone.children) {
    const m = findInInstance(child, id);
    if (m && m.knownOn.has(node.id)) return true;
  }
  return false;
}

function isAllowed(r: WRsc, node: WNode): boolean {
  const a = r.allowed.get(node.id);
  return !!a && a.weight >= 0;
}

function promotionScoreApplies(r: WRsc, node: WNode): boolean {
  const id = cloneStrip(r.id);
  const parent = uberParent(r);
  if ((r.flags & R_UNIQUE) === 0) {
    const active = findActiveAnonInstance(parent, id, node);
    if (active === r) return isAllowed(r, node);
    if (active === null && anonymousKnownOn(parent, id, node)) return isAllowed(r, node);
  }
  if (r.runningOn.length === 0 && r.knownOn.size === 0) return isAllowed(r, node);
  if (r.knownOn.has(node.id) || r.runningOn.includes(node)) return isAllowed(r, node);
  return false;
}

function promotionAttr(node: WNode, name: string): string | undefined {
  return node.attrs.get(`master-${name}`);
}

function promotionScore(r: WRsc, node: WNode): { score: number; isDefault: boolean } {
  if (r.children.length > 0) {
    let score = 0;
    let isDefault = true;
    for (const c of r.children) {
      const s = promotionScore(c, node);
      if (!s.isDefault) isDefault = false;
      score += s.score;
    }
    return { score, isDefault };
  }
  if (!promotionScoreApplies(r, node)) return { score: 0, isDefault: true };
  const name = r.cloneName ?? r.id;
  let value = promotionAttr(node, name);
  if (value === undefined && (r.flags & R_UNIQUE) === 0) {
    const base = cloneStrip(r.id);
    if (base !== r.id) value = promotionAttr(node, base);
  }
  if (value === undefined) return { score: 0, isDefault: true };
  return { score: scoreOf(value), isDefault: false };
}

/** pcmk__add_promotion_scores(): promotion scores raise instances' node scores and priorities. */
export function addPromotionScores(ws: WorkingSet, clone: WRsc): void {
  void ws;
  if (promotionAdded.has(clone)) return;
  promotionAdded.add(clone);
  for (const child of clone.children) {
    for (const n of child.allowed.values()) {
      if (!nodeAvailable(n.node, false)) continue;
      const { score } = promotionScore(child, n.node);
      if (score > 0) {
        const ns = addScores(n.weight, score);
        if (ns !== n.weight) n.weight = ns;
      }
      if (score > child.priority) child.priority = score;
    }
  }
}

function nodeToBePromotedOn(r: WRsc): NodeScore | null {
  const parent = uberParent(r);
  for (const c of r.children) if (nodeToBePromotedOn(c) === null) return null;
  const node = rscLocation(r, null, 0);
  if (node === null) return null;
  if ((r.flags & R_MANAGED) === 0) {
    if (rscState(r, true) !== Role.Promoted) return null;
  } else if (r.priority < 0) {
    return null;
  } else if (!nodeAvailable(node, false)) {
    return null;
  }
  const local = parent.allowed.get(node.id) ?? null;
  if (local === null) return null;
  if (local.count >= parent.promotedNodeMax && (r.flags & R_MANAGED) !== 0) return null;
  return local;
}

function setCurrentRoleUnpromoted(r: WRsc): void {
  if (r.role === Role.Started) r.role = Role.Unpromoted;
  for (const c of r.children) setCurrentRoleUnpromoted(c);
}

function setNextRoleUnpromoted(r: WRsc): void {
  const assigned: WNode[] = [];
  rscLocation(r, assigned, 0);
  r.nextRole = assigned.length === 0 ? Role.Stopped : Role.Unpromoted;
  for (const c of r.children) setNextRoleUnpromoted(c);
}

function setNextRolePromoted(r: WRsc): void {
  if (r.nextRole === Role.Unknown) r.nextRole = Role.Promoted;
  for (const c of r.children) setNextRolePromoted(c);
}

function applyPromotedLocations(ws: WorkingSet, child: WRsc, of: WRsc, chosen: WNode): void {
  // Location constraints are kept newest first per resource, as Pacemaker's rsc->rsc_location.
  const locs = ws.locations.filter((l) => l.rsc === of).reverse();
  for (const loc of locs) {
    if (loc.roleFilter !== Role.Promoted) continue;
    const w = loc.nodes.find((n) => n.node === chosen);
    if (w) child.priority = addScores(child.priority, w.weight);
  }
}

function setInstancePriority(ws: WorkingSet, instance: WRsc, clone: WRsc): void {
  if (rscState(instance, true) === Role.Started) setCurrentRoleUnpromoted(instance);
  const list: WNode[] = [];
  const chosen = rscLocation(instance, list, 0);
  if (list.length > 1) ws.warnings.push(`cannot promote non-colocated child ${instance.id}`);
  if (chosen === null) return;
  const nextRole = rscState(instance, false);
  switch (nextRole) {
    case Role.Started:
    case Role.Unknown: {
      const s = promotionScore(instance, chosen);
      instance.priority = s.isDefault ? -1 : s.score;
      break;
    }
    case Role.Unpromoted:
    case Role.Stopped:
      instance.priority = -INFINITY;
      break;
    default:
      break;
  }
  applyPromotedLocations(ws, instance, instance, chosen);
  applyPromotedLocations(ws, instance, clone, chosen);
  for (const c of [...instance.rscCons]) applyColocScore(ws, instance, c.primary, c, true);
  sortIndex.set(instance, nextRole === Role.Promoted ? INFINITY : instance.priority);
}

function applyColocToDependent(ws: WorkingSet, c: Colocation, clone: WRsc): void {
  if (c.dependentRole !== Role.Promoted) return;
  const flags = c.score < INFINITY ? SELECT_ACTIVE : 0;
  const ref = { v: clone.allowed as Map<string, NodeScore> | null };
  addColocatedNodeScores(ws, c.primary, clone.id, ref, c.nodeAttribute, Math.fround(Math.fround(c.score) / Math.fround(INFINITY)), flags);
  clone.allowed = ref.v!;
}

function applyColocToPrimary(ws: WorkingSet, c: Colocation, clone: WRsc): void {
  if (c.primaryRole !== Role.Promoted || !hasInfluence(c, null)) return;
  const ref = { v: clone.allowed as Map<string, NodeScore> | null };
  addColocatedNodeScores(ws, c.dependent, clone.id, ref, c.nodeAttribute, Math.fround(Math.fround(c.score) / Math.fround(INFINITY)), SELECT_ACTIVE | SELECT_NONNEGATIVE);
  clone.allowed = ref.v!;
}

function cmpPromotableInstance(ws: WorkingSet, a: WRsc, b: WRsc): number {
  const sa = sortIndex.get(a) ?? 0;
  const sb = sortIndex.get(b) ?? 0;
  if (sa > sb) return -1;
  if (sa < sb) return 1;
  const ra = rscState(a, true);
  const rb = rscState(b, true);
  if (ra > rb) return -1;
  if (ra < rb) return 1;
  return cmpInstance(ws, a, b);
}

function sortPromotableInstances(ws: WorkingSet, clone: WRsc): void {
  if (promotionConstrained.has(clone)) return;
  promotionConstrained.add(clone);
  clone.flags |= R_MERGING;
  for (const child of clone.children) {
    const si = sortIndex.get(child) ?? 0;
    if (si < 0) continue;
    const chosen = rscLocation(child, null, 0);
    if (!chosen) continue;
    const n = clone.allowed.get(chosen.id);
    if (n) n.weight = addScores(si, n.weight);
  }
  for (const c of [...clone.rscCons]) applyColocToDependent(ws, c, clone);
  for (const c of [...clone.rscConsLhs]) applyColocToPrimary(ws, c, clone);
  for (const child of clone.children) {
    const chosen = rscLocation(child, null, 0);
    const si = sortIndex.get(child) ?? 0;
    if ((child.flags & R_MANAGED) === 0 && child.nextRole === Role.Promoted) sortIndex.set(child, INFINITY);
    else if (chosen === null || si < 0) {
      /* keep */
    } else {
      const n = clone.allowed.get(chosen.id);
      if (n) sortIndex.set(child, n.weight);
    }
  }
  clone.children = clone.children.sort((a, b) => cmpPromotableInstance(ws, a, b));
  clone.flags &= ~R_MERGING;
}

function setInstanceRole(ws: WorkingSet, instance: WRsc, count: { n: number }): void {
  const clone = uberParent(instance);
  let chosen: NodeScore | null = null;
  const si = sortIndex.get(instance) ?? 0;
  if (si < 0) {
    /* not eligible */
  } else if (count.n < clone.promotedMax || (clone.flags & R_MANAGED) === 0) {
    chosen = nodeToBePromotedOn(instance);
  }
  if (chosen === null) {
    setNextRoleUnpromoted(instance);
    return;
  }
  if (instance.role < Role.Promoted && !ws.haveQuorum && ws.noQuorumPolicy === "freeze") {
    setNextRoleUnpromoted(instance);
    return;
  }
  chosen.count++;
  setNextRolePromoted(instance);
  count.n++;
}

/** pcmk__set_instance_roles(): picks the promoted instances. */
export function setInstanceRoles(ws: WorkingSet, clone: WRsc): void {
  for (const n of clone.allowed.values()) n.count = 0;
  for (const c of clone.children) setInstancePriority(ws, c, clone);
  sortPromotableInstances(ws, clone);
  const count = { n: 0 };
  for (const c of [...clone.children]) setInstanceRole(ws, c, count);
}

function updateDependentAllowedNodes(dependent: WRsc, primaryNode: WNode, c: Colocation): void {
  if (c.score >= INFINITY) return;
  const attr = c.nodeAttribute ?? "#uname";
  const pv = primaryNode.attrs.get(attr);
  for (const n of dependent.allowed.values()) {
    const dv = n.node.attrs.get(attr);
    if (pv !== undefined && dv !== undefined && pv.toLowerCase() === dv.toLowerCase()) n.weight = addScores(n.weight, c.score);
  }
}

export function updateDependentWithPromotable(ws: WorkingSet, primary: WRsc, dependent: WRsc, c: Colocation): void {
  void ws;
  const affected: NodeScore[] = [];
  for (const inst of primary.children) {
    const node = rscLocation(inst, null, 0);
    if (node === null) continue;
    if (rscState(inst, false) === c.primaryRole) {
      updateDependentAllowedNodes(dependent, node, c);
      const copy = inst.allocatedTo && inst.allocatedTo.node === node ? inst.allocatedTo : firstAllocated(inst, node);
      affected.unshift(copy);
    }
  }
  if (c.score >= INFINITY && (c.dependentRole !== Role.Promoted || c.primaryRole !== Role.Promoted)) {
    nodeListExclude(dependent.allowed, affected, true);
  }
}

function firstAllocated(inst: WRsc, node: WNode): NodeScore {
  for (const c of inst.children) if (c.allocatedTo && c.allocatedTo.node === node) return c.allocatedTo;
  return { node, weight: node.weight, count: 0, discover: 0 };
}

export function updatePromotableDependentPriority(ws: WorkingSet, primary: WRsc, dependent: WRsc, c: Colocation): void {
  const pi = findCompatibleChild(ws, dependent, primary, c.primaryRole, false);
  if (pi) dependent.priority = addScores(dependent.priority, c.score);
  else if (c.score >= INFINITY) dependent.priority = -INFINITY;
}

export function resetInstancePriorities(clone: WRsc): void {
  for (const c of clone.children) c.priority = clone.priority;
}
