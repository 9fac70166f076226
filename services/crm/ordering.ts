// Ordering: the edges between actions (from order constraints and from each resource's internal
// rules), and the propagation of "required" and "runnable" along them until nothing changes.
// The propagation is where a stop becomes required because its dependent restarts ("due to
// required X start") or a start becomes impossible ("due to unrunnable X start"); it is what the
// Transition Summary's reasons come from.
import { blockColocationDependents } from "./plan.ts";
import { customAction } from "./actions.ts";
import { findCompatibleChild, assignResource } from "./assign.ts";
import {
  type Action,
  type Ordering,
  type WNode,
  type WRsc,
  type WorkingSet,
  A_MIGRATE_RUNNABLE,
  A_OPTIONAL,
  A_PRINT_ALWAYS,
  A_PSEUDO,
  A_REQUIRES_ANY,
  A_RUNNABLE,
  O_APPLY_FIRST_NON_MIGRATABLE,
  O_ASYMMETRICAL,
  O_IMPLIES_FIRST,
  O_IMPLIES_FIRST_MIGRATABLE,
  O_IMPLIES_FIRST_PRINTED,
  O_IMPLIES_THEN,
  O_IMPLIES_THEN_ON_NODE,
  O_IMPLIES_THEN_PRINTED,
  O_NONE,
  O_ONE_OR_MORE,
  O_OPTIONAL,
  O_PROBE,
  O_PROMOTED_IMPLIES_FIRST,
  O_PSEUDO_LEFT,
  O_RESTART,
  O_RUNNABLE_LEFT,
  O_SAME_NODE,
  O_THEN_CANCELS_FIRST,
  R_ALLOW_MIGRATE,
  R_BLOCK,
  R_MANAGED,
  R_NOTIFY,
  R_RELOAD,
  Role,
  Variant,
  clearFlagBecause,
  findActions,
  findFirstAction,
  isParent,
  opKey,
  orderActions,
  parseOpKey,
  rscLocation,
  rscState,
} from "./sched-core.ts";

// --- creating orderings ------------------------------------------------------------------------

function taskOf(action: Action | null, key: string | null): string | null {
  if (action) return action.task;
  if (key) return parseOpKey(key)?.task ?? null;
  return null;
}

/** pcmk__order_migration_equivalents(): migrations need the same ordering as the starts/stops. */
function orderMigrationEquivalents(ws: WorkingSet, o: Ordering): void {
  const a = o.firstRsc;
  const b = o.thenRsc;
  if (!a || !b || a === b || isParent(a, b) || isParent(b, a)) return;
  const firstMig = (a.flags & R_ALLOW_MIGRATE) !== 0;
  const thenMig = (b.flags & R_ALLOW_MIGRATE) !== 0;
  if (!firstMig && !thenMig) return;
  const ft = taskOf(o.firstAction, o.firstTask);
  const tt = taskOf(o.thenAction, o.thenTask);
  if (ft === "start" && tt === "start") {
    let flags = O_OPTIONAL;
    if (firstMig && thenMig) newOrdering(ws, a, opKey(a.id, "migrate_from", 0), null, b, opKey(b.id, "migrate_to", 0), null, flags);
    if (thenMig) {
      if (firstMig) flags |= O_APPLY_FIRST_NON_MIGRATABLE;
      newOrdering(ws, a, opKey(a.id, "start", 0), null, b, opKey(b.id, "migrate_to", 0), null, flags);
    }
  } else if (thenMig && ft === "stop" && tt === "stop") {
    let flags = O_OPTIONAL;
    if (firstMig) flags |= O_APPLY_FIRST_NON_MIGRATABLE;
    newOrdering(ws, a, opKey(a.id, "stop", 0), null, b, opKey(b.id, "migrate_to", 0), null, flags);
    if (b.partialMigrationTarget) newOrdering(ws, a, opKey(a.id, "stop", 0), null, b, opKey(b.id, "migrate_from", 0), null, flags);
  } else if (ft === "promote" && tt === "start") {
    if (thenMig) newOrdering(ws, a, opKey(a.id, "promote", 0), null, b, opKey(b.id, "migrate_to", 0), null, O_OPTIONAL);
  } else if (ft === "demote" && tt === "stop") {
    if (thenMig) {
      newOrdering(ws, a, opKey(a.id, "demote", 0), null, b, opKey(b.id, "migrate_to", 0), null, O_OPTIONAL);
      if (b.partialMigrationTarget) newOrdering(ws, a, opKey(a.id, "demote", 0), null, b, opKey(b.id, "migrate_from", 0), null, O_OPTIONAL);
    }
  }
}

/** pcmk__new_ordering(). */
export function newOrdering(
  ws: WorkingSet,
  firstRsc: WRsc | null,
  firstTask: string | null,
  firstAction: Action | null,
  thenRsc: WRsc | null,
  thenTask: string | null,
  thenAction: Action | null,
  flags: number,
): void {
  const o: Ordering = {
    id: ws.nextOrderId++,
    flags,
    firstRsc: firstRsc ?? firstAction?.rsc ?? null,
    thenRsc: thenRsc ?? thenAction?.rsc ?? null,
    firstAction,
    thenAction,
    firstTask: firstTask ?? firstAction?.uuid ?? null,
    thenTask: thenTask ?? thenAction?.uuid ?? null,
  };
  ws.orderings.push(o);
  orderMigrationEquivalents(ws, o);
}

export function orderResourceActions(ws: WorkingSet, first: WRsc, firstTask: string, then: WRsc, thenTask: string, flags: number): void {
  newOrdering(ws, first, opKey(first.id, firstTask, 0), null, then, opKey(then.id, thenTask, 0), null, flags);
}

export function orderStarts(ws: WorkingSet, first: WRsc, then: WRsc, flags: number): void {
  orderResourceActions(ws, first, "start", then, "start", flags);
}

export function orderStops(ws: WorkingSet, first: WRsc, then: WRsc, flags: number): void {
  orderResourceActions(ws, first, "stop", then, "stop", flags);
}

// --- applying orderings to actions -------------------------------------------------------------

function findActionsByTask(r: WRsc, key: string): Action[] {
  let list = findActions(r.actions, key, null);
  if (list.length === 0) {
    const p = parseOpKey(key);
    if (p) list = findActions(r.actions, opKey(r.id, p.task, p.interval_ms), null);
  }
  return list;
}

function orderResourceActionsAfter(ws: WorkingSet, first: Action | null, r: WRsc, o: Ordering): void {
  let flags = o.flags;
  const thenActions = o.thenAction ? [o.thenAction] : findActionsByTask(r, o.thenTask!);
  if (thenActions.length === 0) return;
  if (first && first.rsc === r && (first.flags & 0x800) !== 0) flags &= ~O_IMPLIES_THEN;
  if (!first && (flags & O_IMPLIES_THEN) === 0) return;
  for (const t of thenActions) {
    if (first) orderActions(first, t, flags);
    else {
      t.flags &= ~A_RUNNABLE;
      ws.warnings.push(`${t.task} of ${r.id} is unrunnable because there is no ${o.firstTask} to order it after`);
    }
  }
}

function rscOrderFirst(ws: WorkingSet, firstRsc: WRsc, o: Ordering): void {
  let firstActions: Action[] = o.firstAction ? [o.firstAction] : findActionsByTask(firstRsc, o.firstTask!);
  let thenRsc = o.thenRsc;
  if (firstActions.length === 0 && firstRsc === thenRsc) {
    /* ignore */
  } else if (firstActions.length === 0) {
    const p = parseOpKey(o.firstTask!)!;
    const key = opKey(firstRsc.id, p.task, p.interval_ms);
    if (rscState(firstRsc, true) === Role.Stopped && p.task === "stop") {
      /* nothing to order after */
    } else if (rscState(firstRsc, true) === Role.Unpromoted && p.task === "demote") {
      /* nothing */
    } else {
      firstActions = [customAction(ws, firstRsc, key, p.task, null, true, true)];
    }
  }
  if (thenRsc === null) {
    if (o.thenAction === null) return;
    thenRsc = o.thenAction.rsc;
  }
  for (const f of firstActions) {
    if (thenRsc === null) orderActions(f, o.thenAction, o.flags);
    else orderResourceActionsAfter(ws, f, thenRsc, o);
  }
}

export function applyOrderings(ws: WorkingSet): void {
  for (const o of ws.orderings) {
    if (o.firstRsc) {
      rscOrderFirst(ws, o.firstRsc, o);
      continue;
    }
    if (o.thenRsc) orderResourceActionsAfter(ws, o.firstAction, o.thenRsc, o);
    else orderActions(o.firstAction, o.thenAction, o.flags);
  }
  for (let i = ws.actions.length - 1; i >= 0; i--) blockColocationDependents(ws, ws.actions[i]!);
}

// --- action flags per resource kind -------------------------------------------------------------

/** get_complex_task(): a collective's "stopped"/"running"/... is its primitive members' stop/start/... */
function complexTask(r: WRsc, task: string): string {
  if (r.variant !== Variant.Primitive) return task;
  switch (task) {
    case "stopped":
      return "stop";
    case "running":
      return "start";
    case "demoted":
      return "demote";
    case "promoted":
      return "promote";
    default:
      return task;
  }
}

function groupActionFlags(ws: WorkingSet, a: Action, node: WNode | null): number {
  let flags = A_OPTIONAL | A_RUNNABLE | A_PSEUDO;
  for (const m of a.rsc!.children) {
    const task = complexTask(m, a.task);
    const ma = findFirstAction(m.actions, null, task, node);
    if (ma) {
      const mf = actionFlags(ws, ma, node);
      if ((flags & A_OPTIONAL) !== 0 && (mf & A_OPTIONAL) === 0) {
        flags &= ~A_OPTIONAL;
        a.flags &= ~A_OPTIONAL;
      }
      if (task !== a.task && (flags & A_RUNNABLE) !== 0 && (mf & A_RUNNABLE) === 0) {
        flags &= ~A_RUNNABLE;
        a.flags &= ~A_RUNNABLE;
      }
    } else if (task !== "stop" && task !== "demote") {
      flags &= ~A_RUNNABLE;
    }
  }
  return flags;
}

function cloneChildTask(a: Action): string {
  const child = a.rsc!.children[0];
  return child ? complexTask(child, a.task) : a.task;
}

function summaryActionFlags(ws: WorkingSet, a: Action, children: WRsc[], node: WNode | null): number {
  let anyRunnable = false;
  const task = cloneChildTask(a);
  let flags = A_OPTIONAL | A_RUNNABLE | A_PSEUDO;
  for (const child of children) {
    const ca = findFirstAction(child.actions, null, task, child.children.length > 0 ? null : node);
    if (ca) {
      const cf = actionFlags(ws, ca, node);
      if ((flags & A_OPTIONAL) !== 0 && (cf & A_OPTIONAL) === 0) {
        flags &= ~A_OPTIONAL;
        a.flags &= ~A_OPTIONAL;
      }
      if ((cf & A_RUNNABLE) !== 0) anyRunnable = true;
    }
  }
  if (!anyRunnable) {
    flags &= ~A_RUNNABLE;
    if (node === null) a.flags &= ~A_RUNNABLE;
  }
  return flags;
}

/** rsc->cmds->action_flags(). */
export function actionFlags(ws: WorkingSet, a: Action, node: WNode | null): number {
  const r = a.rsc;
  if (!r || r.variant === Variant.Primitive) return a.flags;
  if (r.variant === Variant.Group) return groupActionFlags(ws, a, node);
  return summaryActionFlags(ws, a, r.children, node);
}

function actionFlagsForOrdering(ws: WorkingSet, a: Action, node: WNode | null): number {
  if (!a.rsc) return a.flags;
  let flags = actionFlags(ws, a, null);
  if (node === null || a.rsc.variant !== Variant.Clone) return flags;
  const runnable = (flags & A_RUNNABLE) !== 0;
  flags = actionFlags(ws, a, node);
  if (runnable && (flags & A_RUNNABLE) === 0) flags |= A_RUNNABLE;
  return flags;
}

function uuidForOrdering(firstUuid: string, firstRsc: WRsc): string {
  if (firstUuid.includes("notify") || firstRsc.variant < Variant.Group) return firstUuid;
  const p = parseOpKey(firstUuid);
  if (!p || p.interval_ms > 0) return firstUuid;
  let remapped: string | null = null;
  switch (p.task) {
    case "stop":
      remapped = "stopped";
      break;
    case "start":
      remapped = "running";
      break;
    case "promote":
      remapped = "promoted";
      break;
    case "demote":
      remapped = "demoted";
      break;
    case "stopped":
    case "running":
    case "promoted":
    case "demoted":
      remapped = p.task;
      break;
    default:
      break;
  }
  if (remapped === null) return firstUuid;
  if ((firstRsc.flags & R_NOTIFY) !== 0 && firstRsc.parent === null) {
    // Notifications are not generated by this scheduler; order on the plain pseudo action.
  }
  return opKey(p.rsc, remapped, 0);
}

function actionForOrdering(a: Action): Action {
  const r = a.rsc;
  if (r && r.variant >= Variant.Group) {
    const uuid = uuidForOrdering(a.uuid, r);
    const found = findFirstAction(r.actions, uuid, null, null);
    if (found) return found;
  }
  return a;
}

const UPDATED_FIRST = 1;
const UPDATED_THEN = 2;

function handleAsymmetricOrdering(first: Action, then: Action): void {
  if (!then.rsc) return;
  const role = rscState(then.rsc, true);
  const on = then.rsc.runningOn;
  if (role === Role.Stopped && then.task === "stop") return;
  if (role >= Role.Started && (then.flags & A_OPTIONAL) !== 0 && then.node && on.length === 1 && then.node === on[0] && then.task === "start") return;
  if ((first.flags & A_RUNNABLE) === 0) {
    clearFlagBecause(then, A_OPTIONAL, first);
    clearFlagBecause(then, A_RUNNABLE, first);
  }
}

function handleRestartOrdering(first: Action, then: Action, filter: number): void {
  let reason: string | null = null;
  if ((filter & A_OPTIONAL) !== 0 && (then.flags & A_OPTIONAL) === 0) reason = "restart";
  if ((filter & A_RUNNABLE) !== 0 && (then.flags & A_RUNNABLE) === 0 && then.rsc && (then.rsc.flags & R_MANAGED) !== 0 && first.rsc === then.rsc) reason = "stop";
  if (reason === null) return;
  if ((first.flags & A_RUNNABLE) !== 0) clearFlagBecause(first, A_OPTIONAL, then);
  if ((then.flags & A_OPTIONAL) === 0) clearFlagBecause(first, A_OPTIONAL, then);
  if ((then.flags & A_MIGRATE_RUNNABLE) === 0) clearFlagBecause(first, A_MIGRATE_RUNNABLE, then);
  if ((first.flags & A_OPTIONAL) === 0 && (first.flags & A_RUNNABLE) === 0) clearFlagBecause(then, A_RUNNABLE, first);
}

/** pcmk__update_ordered_actions(): the primitive case. */
function updateOrderedActionsBase(ws: WorkingSet, first: Action, then: Action, node: WNode | null, flags: number, filter: number, type: number): number {
  let changed = 0;
  const thenFlags = then.flags;
  const firstFlags = first.flags;
  if ((type & O_ASYMMETRICAL) !== 0) handleAsymmetricOrdering(first, then);
  if ((type & O_IMPLIES_FIRST) !== 0 && (thenFlags & A_OPTIONAL) === 0) {
    if ((filter & A_OPTIONAL) !== 0 && (flags & A_OPTIONAL) === 0 && (firstFlags & A_OPTIONAL) !== 0) clearFlagBecause(first, A_OPTIONAL, then);
    if ((flags & A_MIGRATE_RUNNABLE) !== 0 && (then.flags & A_MIGRATE_RUNNABLE) === 0) clearFlagBecause(first, A_MIGRATE_RUNNABLE, then);
  }
  if ((type & O_PROMOTED_IMPLIES_FIRST) !== 0 && then.rsc && then.rsc.role === Role.Promoted && (filter & A_OPTIONAL) !== 0 && (then.flags & A_OPTIONAL) === 0) {
    clearFlagBecause(first, A_OPTIONAL, then);
    if ((first.flags & A_MIGRATE_RUNNABLE) !== 0 && (then.flags & A_MIGRATE_RUNNABLE) === 0) clearFlagBecause(first, A_MIGRATE_RUNNABLE, then);
  }
  if ((type & O_IMPLIES_FIRST_MIGRATABLE) !== 0 && (filter & A_OPTIONAL) !== 0) {
    if ((then.flags & (A_MIGRATE_RUNNABLE | A_RUNNABLE)) !== (A_MIGRATE_RUNNABLE | A_RUNNABLE)) clearFlagBecause(first, A_RUNNABLE, then);
    if ((then.flags & A_OPTIONAL) === 0) clearFlagBecause(first, A_OPTIONAL, then);
  }
  if ((type & O_PSEUDO_LEFT) !== 0 && (filter & A_OPTIONAL) !== 0 && (first.flags & A_RUNNABLE) === 0) {
    clearFlagBecause(then, A_MIGRATE_RUNNABLE, first);
    then.flags &= ~A_PSEUDO;
  }
  if ((type & O_RUNNABLE_LEFT) !== 0 && (filter & A_RUNNABLE) !== 0 && (then.flags & A_RUNNABLE) !== 0 && (flags & A_RUNNABLE) === 0) {
    clearFlagBecause(then, A_RUNNABLE, first);
    clearFlagBecause(then, A_MIGRATE_RUNNABLE, first);
  }
  if ((type & O_IMPLIES_THEN) !== 0 && (filter & A_OPTIONAL) !== 0 && (then.flags & A_OPTIONAL) !== 0 && (flags & A_OPTIONAL) === 0 && (first.flags & A_MIGRATE_RUNNABLE) === 0) {
    clearFlagBecause(then, A_OPTIONAL, first);
  }
  if ((type & O_RESTART) !== 0) handleRestartOrdering(first, then, filter);
  if (thenFlags !== then.flags) {
    changed |= UPDATED_THEN;
    if (then.rsc && then.rsc.parent) updateActionForOrderings(ws, then);
  }
  if (firstFlags !== first.flags) changed |= UPDATED_FIRST;
  return changed;
}

function groupUpdateOrderedActions(ws: WorkingSet, first: Action, then: Action, node: WNode | null, flags: number, filter: number, type: number): number {
  let changed = updateOrderedActionsBase(ws, first, then, node, flags, filter, type);
  for (const m of then.rsc!.children) {
    const ma = findFirstAction(m.actions, null, then.task, node);
    if (ma) changed |= updateOrderedActions(ws, first, ma, node, flags, filter, type);
  }
  return changed;
}

function canInterleaveActions(first: Action, then: Action): boolean {
  if (!first.rsc || !then.rsc) return false;
  if (first.rsc === then.rsc) return false;
  if (first.rsc.variant < Variant.Clone || then.rsc.variant < Variant.Clone) return false;
  const r = then.uuid.endsWith("_stop_0") || then.uuid.endsWith("_demote_0") ? first.rsc : then.rsc;
  const v = r.meta.get("interleave");
  return v !== undefined && /^(true|on|yes|y|1)$/i.test(v.trim());
}

function multiUpdateInterleaveActions(ws: WorkingSet, first: Action, then: Action, node: WNode | null, filter: number, type: number): number {
  let changed = 0;
  const current = first.uuid.endsWith("_stopped_0") || first.uuid.endsWith("_demoted_0");
  for (const thenChild of then.rsc!.children) {
    const firstChild = findCompatibleChild(ws, thenChild, first.rsc!, Role.Unknown, current);
    if (!firstChild && current) continue;
    if (!firstChild) {
      if ((type & (O_RUNNABLE_LEFT | O_IMPLIES_THEN)) !== 0) {
        if (assignResource(ws, thenChild, null, true)) changed |= UPDATED_THEN;
      }
      continue;
    }
    const task = cloneChildTask(first);
    const fa = findFirstAction(firstChild.actions, null, task, node);
    const ta = findFirstAction(thenChild.actions, null, then.task, node);
    if (!fa || !ta) continue;
    if (orderActions(fa, ta, type)) changed |= UPDATED_FIRST | UPDATED_THEN;
    changed |= updateOrderedActions(ws, fa, ta, node, actionFlags(ws, fa, node), filter, type);
  }
  return changed;
}

function multiUpdateActions(ws: WorkingSet, first: Action, then: Action, node: WNode | null, flags: number, filter: number, type: number): number {
  let changed = 0;
  if (canInterleaveActions(first, then)) return multiUpdateInterleaveActions(ws, first, then, node, filter, type);
  changed |= updateOrderedActionsBase(ws, first, then, node, flags, filter, type);
  for (const thenChild of then.rsc!.children) {
    const tca = findFirstAction(thenChild.actions, null, then.task, node);
    if (!tca) continue;
    const tcf = actionFlags(ws, tca, node);
    let childChanged = 0;
    if ((tcf & A_RUNNABLE) !== 0) childChanged |= updateOrderedActions(ws, first, tca, node, flags, filter, type);
    changed |= childChanged;
    if ((childChanged & UPDATED_THEN) !== 0) {
      for (let i = tca.after.length - 1; i >= 0; i--) updateActionForOrderings(ws, tca.after[i]!.action);
    }
  }
  return changed;
}

/** rsc->cmds->update_ordered_actions() of `via` (then's resource, except for implies-first). */
function updateOrderedActions(ws: WorkingSet, first: Action, then: Action, node: WNode | null, flags: number, filter: number, type: number, via: WRsc = then.rsc!): number {
  const r = via;
  if (r.variant === Variant.Primitive) return updateOrderedActionsBase(ws, first, then, node, flags, filter, type);
  if (r.variant === Variant.Group) return groupUpdateOrderedActions(ws, first, then, node, flags, filter, type);
  return multiUpdateActions(ws, first, then, node, flags, filter, type);
}

function updateForOrderingFlags(ws: WorkingSet, first: Action, then: Action, firstFlags: number, thenFlags: number, w: { type: number }): number {
  let changed = 0;
  let node = then.node;
  if ((w.type & O_IMPLIES_THEN_ON_NODE) !== 0) {
    w.type &= ~O_IMPLIES_THEN_ON_NODE;
    w.type |= O_IMPLIES_THEN;
    node = first.node;
  }
  const type = w.type;
  if ((type & O_IMPLIES_THEN) !== 0) {
    if (then.rsc) changed |= updateOrderedActions(ws, first, then, node, firstFlags & A_OPTIONAL, A_OPTIONAL, O_IMPLIES_THEN);
    else if ((firstFlags & A_OPTIONAL) === 0 && (then.flags & A_OPTIONAL) !== 0) {
      then.flags &= ~A_OPTIONAL;
      changed |= UPDATED_THEN;
    }
  }
  if ((type & O_RESTART) !== 0 && then.rsc) {
    changed |= updateOrderedActions(ws, first, then, node, firstFlags, A_OPTIONAL | A_RUNNABLE, O_RESTART);
  }
  if ((type & O_IMPLIES_FIRST) !== 0) {
    // Pacemaker calls the *first* resource's method here.
    if (first.rsc) changed |= then.rsc || first.rsc.variant === Variant.Primitive ? updateOrderedActions(ws, first, then, node, firstFlags, A_OPTIONAL, O_IMPLIES_FIRST, first.rsc) : 0;
    else if ((firstFlags & A_OPTIONAL) === 0 && (first.flags & A_RUNNABLE) !== 0) {
      first.flags &= ~A_RUNNABLE;
      changed |= UPDATED_FIRST;
    }
  }
  if ((type & O_PROMOTED_IMPLIES_FIRST) !== 0 && then.rsc) {
    changed |= updateOrderedActions(ws, first, then, node, firstFlags & A_OPTIONAL, A_OPTIONAL, O_PROMOTED_IMPLIES_FIRST);
  }
  if ((type & O_ONE_OR_MORE) !== 0) {
    if (then.rsc) changed |= updateOrderedActions(ws, first, then, node, firstFlags, A_RUNNABLE, O_ONE_OR_MORE);
    else if ((firstFlags & A_RUNNABLE) !== 0) {
      then.runnableBefore++;
      if (then.runnableBefore >= then.requiredRunnableBefore && (then.flags & A_RUNNABLE) === 0) {
        then.flags |= A_RUNNABLE;
        changed |= UPDATED_THEN;
      }
    }
  }
  if ((type & O_PROBE) !== 0 && then.rsc) {
    if ((firstFlags & A_RUNNABLE) === 0 && first.rsc && first.rsc.runningOn.length > 0) {
      w.type = O_NONE;
    } else {
      changed |= updateOrderedActions(ws, first, then, node, firstFlags, A_RUNNABLE, O_RUNNABLE_LEFT);
    }
  }
  if ((type & O_RUNNABLE_LEFT) !== 0) {
    if (then.rsc) changed |= updateOrderedActions(ws, first, then, node, firstFlags, A_RUNNABLE, O_RUNNABLE_LEFT);
    else if ((firstFlags & A_RUNNABLE) === 0 && (then.flags & A_RUNNABLE) !== 0) {
      then.flags &= ~A_RUNNABLE;
      changed |= UPDATED_THEN;
    }
  }
  if ((type & O_IMPLIES_FIRST_MIGRATABLE) !== 0 && then.rsc) {
    changed |= updateOrderedActions(ws, first, then, node, firstFlags, A_OPTIONAL, O_IMPLIES_FIRST_MIGRATABLE);
  }
  if ((type & O_PSEUDO_LEFT) !== 0 && then.rsc) {
    changed |= updateOrderedActions(ws, first, then, node, firstFlags, A_OPTIONAL, O_PSEUDO_LEFT);
  }
  if ((type & O_OPTIONAL) !== 0 && then.rsc) {
    changed |= updateOrderedActions(ws, first, then, node, firstFlags, A_RUNNABLE, O_OPTIONAL);
  }
  if ((type & O_ASYMMETRICAL) !== 0 && then.rsc) {
    changed |= updateOrderedActions(ws, first, then, node, firstFlags, A_RUNNABLE, O_ASYMMETRICAL);
  }
  if ((first.flags & A_RUNNABLE) !== 0 && (type & O_IMPLIES_THEN_PRINTED) !== 0 && (firstFlags & A_OPTIONAL) === 0) {
    then.flags |= A_PRINT_ALWAYS;
  }
  if ((type & O_IMPLIES_FIRST_PRINTED) !== 0 && (thenFlags & A_OPTIONAL) === 0) {
    first.flags |= A_PRINT_ALWAYS;
  }
  if ((type & (O_IMPLIES_THEN | O_IMPLIES_FIRST | O_RESTART)) !== 0 && first.rsc && (first.rsc.flags & R_MANAGED) === 0 && (first.rsc.flags & R_BLOCK) !== 0 && (first.flags & A_RUNNABLE) === 0 && first.task === "stop") {
    if ((then.flags & A_RUNNABLE) !== 0) {
      then.flags &= ~A_RUNNABLE;
      changed |= UPDATED_THEN;
    }
  }
  return changed;
}

function rscLocationForGroupStart(a: Action): WNode | null {
  if (a.rsc && a.rsc.variant === Variant.Group && a.task === "start") return rscLocation(a.rsc, null, 0);
  return a.node;
}

/** pcmk__update_action_for_orderings(): re-evaluates an action against everything before it. */
export function updateActionForOrderings(ws: WorkingSet, then: Action): void {
  let changed = 0;
  const lastFlags = then.flags;
  if ((then.flags & A_REQUIRES_ANY) !== 0) {
    then.runnableBefore = 0;
    if (then.requiredRunnableBefore === 0) then.requiredRunnableBefore = 1;
    then.flags &= ~A_RUNNABLE;
  }
  const n0 = then.before.length;
  for (let i = n0 - 1; i >= 0; i--) {
    const other = then.before[i];
    if (!other) continue;
    let first = other.action;
    const thenNode = rscLocationForGroupStart(then) ?? (then.rsc && then.rsc.variant === Variant.Group && then.task === "start" ? null : then.node);
    const firstNode = rscLocationForGroupStart(first) ?? (first.rsc && first.rsc.variant === Variant.Group && first.task === "start" ? null : first.node);
    if ((other.type & O_SAME_NODE) !== 0 && firstNode && thenNode && firstNode !== thenNode) {
      other.type = O_NONE;
      continue;
    }
    changed &= ~UPDATED_FIRST;
    if (first.rsc && (other.type & O_THEN_CANCELS_FIRST) !== 0 && (then.flags & A_OPTIONAL) === 0) {
      other.action.flags |= A_OPTIONAL;
      if (first.task === "reload-agent") first.rsc.flags &= ~R_RELOAD;
    }
    if (first.rsc && then.rsc && first.rsc !== then.rsc && !isParent(then.rsc, first.rsc)) first = actionForOrdering(first);
    if (first === other.action) {
      const ff = actionFlagsForOrdering(ws, first, thenNode);
      const tf = actionFlagsForOrdering(ws, then, firstNode);
      changed |= updateForOrderingFlags(ws, first, then, ff, tf, other);
    } else if (orderActions(first, then, other.type)) {
      changed |= UPDATED_THEN;
      other.type = O_NONE;
    }
    if ((changed & UPDATED_FIRST) !== 0) {
      for (let j = first.after.length - 1; j >= 0; j--) updateActionForOrderings(ws, first.after[j]!.action);
      updateActionForOrderings(ws, first);
    }
  }
  if ((then.flags & A_REQUIRES_ANY) !== 0) {
    if (lastFlags === then.flags) changed &= ~UPDATED_THEN;
    else changed |= UPDATED_THEN;
  }
  if ((changed & UPDATED_THEN) !== 0) {
    if ((lastFlags & A_RUNNABLE) !== 0 && (then.flags & A_RUNNABLE) === 0) blockColocationDependents(ws, then);
    updateActionForOrderings(ws, then);
    for (let j = then.after.length - 1; j >= 0; j--) updateActionForOrderings(ws, then.after[j]!.action);
  }
}

export function updateAllActions(ws: WorkingSet): void {
  for (let i = ws.actions.length - 1; i >= 0; i--) updateActionForOrderings(ws, ws.actions[i]!);
}

export { O_IMPLIES_FIRST_PRINTED, O_IMPLIES_THEN_PRINTED, O_SAME_NODE, O_THEN_CANCELS_FIRST, O_RESTART, O_RUNNABLE_LEFT, O_IMPLIES_THEN, O_IMPLIES_FIRST, O_OPTIONAL, O_PROMOTED_IMPLIES_FIRST, O_IMPLIES_FIRST_MIGRATABLE, O_PSEUDO_LEFT, O_ONE_OR_MORE, O_ASYMMETRICAL, O_PROBE, O_IMPLIES_THEN_ON_NODE };
