// Actions per resource once placement is known: stop/start/promote/demote/migrate/recurring
// monitors for primitives, pseudo actions for groups and clones, the implicit orderings between
// them (a group's members in sequence, a clone's instances inside the clone's start/stop), probes
// for resources of unknown state, and restarts forced by a changed resource definition.
import { customAction, demoteAction, pseudoAction, promoteAction, startAction, stopAction } from "./actions.ts";
import { cmpInstanceNumber } from "./assign.ts";
import { digestParams, opDigest, restartDigest, secureDigest } from "./digest.ts";
import type { ClusterInput, OpRecord } from "./model.ts";
import { newOrdering, orderResourceActions, orderStarts, orderStops, updateActionForOrderings } from "./ordering.ts";
import { resetInstancePriorities } from "./promotable.ts";
import { newColocation } from "./constraints.ts";
import {
  type Action,
  type WNode,
  type WRsc,
  type WorkingSet,
  A_DANGLE,
  A_MIGRATE_RUNNABLE,
  A_OPTIONAL,
  A_PSEUDO,
  A_RUNNABLE,
  INFINITY,
  O_IMPLIES_FIRST,
  O_IMPLIES_FIRST_MIGRATABLE,
  O_IMPLIES_FIRST_PRINTED,
  O_IMPLIES_THEN,
  O_IMPLIES_THEN_PRINTED,
  O_NONE,
  O_OPTIONAL,
  O_PROMOTED_IMPLIES_FIRST,
  O_PSEUDO_LEFT,
  O_RESTART,
  O_RUNNABLE_LEFT,
  O_SAME_NODE,
  O_THEN_CANCELS_FIRST,
  R_ALLOW_MIGRATE,
  R_BLOCK,
  R_CRITICAL,
  R_FAILED,
  R_MAINTENANCE,
  R_MANAGED,
  R_NEEDS_FENCING,
  R_ORPHAN,
  R_PROMOTABLE,
  R_RELOAD,
  R_RESTARTING,
  R_START_PENDING,
  R_STOP,
  R_STOP_UNEXPECTED,
  R_UNIQUE,
  Recovery,
  Role,
  Variant,
  findActionsExact,
  findActiveOn,
  findFirstAction,
  opKey,
  orderActions,
  resourceActions,
  rscLocation,
  setReason,
  uberParent,
} from "./sched-core.ts";
import { type StatusIndex, calculateActiveOps, getFailcount, sortOps, clearFailcount, keyOf } from "./unpack.ts";

const A_RESCHEDULE = 0x2000;

type Transition = ((ws: WorkingSet, r: WRsc, node: WNode | null, optional: boolean) => void) | null | "error";

const NEXT_ROLE: Role[][] = [
  /* Unknown */ [Role.Unknown, Role.Stopped, Role.Stopped, Role.Stopped, Role.Stopped],
  /* Stopped */ [Role.Stopped, Role.Stopped, Role.Started, Role.Unpromoted, Role.Unpromoted],
  /* Started */ [Role.Stopped, Role.Stopped, Role.Started, Role.Unpromoted, Role.Promoted],
  /* Unpromoted */ [Role.Stopped, Role.Stopped, Role.Stopped, Role.Unpromoted, Role.Promoted],
  /* Promoted */ [Role.Stopped, Role.Unpromoted, Role.Unpromoted, Role.Unpromoted, Role.Promoted],
];

function transitionFn(from: Role, to: Role): Transition {
  const M: Transition[][] = [
    ["error", stopResource, "error", "error", "error"],
    ["error", null, startResource, startResource, "error"],
    ["error", stopResource, null, null, promoteResource],
    ["error", stopResource, stopResource, null, promoteResource],
    ["error", demoteResource, demoteResource, demoteResource, null],
  ];
  return M[from]![to]!;
}

function callTransition(fn: Transition, ws: WorkingSet, r: WRsc, node: WNode | null, optional: boolean, from: Role, to: Role): boolean {
  if (fn === null) return false;
  if (fn === "error") throw new Error(`scheduler bug: no transition for ${r.id} from role ${from} to ${to}`);
  fn(ws, r, node, optional);
  return true;
}

function isExpectedNode(r: WRsc, node: WNode | null): boolean {
  return (r.flags & (R_STOP_UNEXPECTED | R_RESTARTING)) === (R_STOP_UNEXPECTED | R_RESTARTING) && r.nextRole > Role.Stopped && r.allocatedTo !== null && r.allocatedTo.node === node;
}

function stopResource(ws: WorkingSet, r: WRsc, _node: WNode | null, optionalIn: boolean): void {
  for (const current of [...r.runningOn]) {
    let optional = optionalIn;
    if (isExpectedNode(r, current)) continue;
    if (r.partialMigrationTarget) {
      if (current === r.partialMigrationTarget && r.allocatedTo?.node === current) continue;
      optional = false;
    }
    const stop = stopAction(ws, r, current, optional);
    if (r.allocatedTo === null) setReason(stop, "node availability", true);
    else if ((r.flags & (R_RESTARTING | R_STOP_UNEXPECTED)) === (R_RESTARTING | R_STOP_UNEXPECTED)) setReason(stop, "being multiply active", true);
    if ((r.flags & R_MANAGED) === 0) stop.flags &= ~A_RUNNABLE;
  }
}

function startResource(ws: WorkingSet, r: WRsc, node: WNode | null, optional: boolean): void {
  if (!node) throw new Error(`scheduler bug: start of ${r.id} without a node`);
  const start = startAction(ws, r, node, true);
  if ((start.flags & A_RUNNABLE) !== 0 && !optional) start.flags &= ~A_OPTIONAL;
  if (isExpectedNode(r, node)) start.flags |= A_PSEUDO;
}

function promoteResource(ws: WorkingSet, r: WRsc, node: WNode | null, optional: boolean): void {
  if (!node) throw new Error(`scheduler bug: promote of ${r.id} without a node`);
  let runnable = true;
  for (const s of resourceActions(r, node, "start", true)) if ((s.flags & A_RUNNABLE) === 0) runnable = false;
  if (runnable) {
    const p = promoteAction(ws, r, node, optional);
    if (isExpectedNode(r, node)) p.flags |= A_PSEUDO;
  } else {
    for (const p of resourceActions(r, node, "promote", true)) p.flags &= ~A_RUNNABLE;
  }
}

function demoteResource(ws: WorkingSet, r: WRsc, _node: WNode | null, optional: boolean): void {
  for (const current of [...r.runningOn]) {
    if (isExpectedNode(r, current)) continue;
    demoteAction(ws, r, current, optional);
  }
}

function scheduleRestartActions(ws: WorkingSet, r: WRsc, current: WNode | null, needStop: boolean, needPromote: boolean): void {
  let role = r.role;
  r.flags |= R_RESTARTING;
  while (role !== Role.Stopped) {
    const next = NEXT_ROLE[role]![Role.Stopped]!;
    if (!callTransition(transitionFn(role, next), ws, r, current, !needStop, role, next)) break;
    role = next;
  }
  while (r.role <= r.nextRole && role !== r.role && (r.flags & R_BLOCK) === 0) {
    let required = needStop;
    const next = NEXT_ROLE[role]![r.role]!;
    if (next === Role.Promoted && needPromote) required = true;
    if (!callTransition(transitionFn(role, next), ws, r, r.allocatedTo?.node ?? null, !required, role, next)) break;
    role = next;
  }
  r.flags &= ~R_RESTARTING;
}

function scheduleRoleTransitions(ws: WorkingSet, r: WRsc): void {
  let role = r.role;
  while (role !== r.nextRole) {
    const next = NEXT_ROLE[role]![r.nextRole]!;
    if (!callTransition(transitionFn(role, next), ws, r, r.allocatedTo?.node ?? null, false, role, next)) break;
    role = next;
  }
}

export function rscCanMigrate(r: WRsc, current: WNode | null): boolean {
  if ((r.flags & R_ALLOW_MIGRATE) === 0) return false;
  if ((r.flags & R_MANAGED) === 0) return false;
  if ((r.flags & R_FAILED) !== 0) return false;
  if ((r.flags & R_START_PENDING) !== 0) return false;
  if (current === null || current.unclean) return false;
  if (r.allocatedTo === null || r.allocatedTo.node.unclean) return false;
  return true;
}

function createMigrationActions(ws: WorkingSet, r: WRsc, current: WNode): void {
  const target = r.allocatedTo!.node;
  const start = startAction(ws, r, target, true);
  const stop = stopAction(ws, r, current, true);
  let migrateTo: Action | null = null;
  if (r.partialMigrationTarget === null) migrateTo = customAction(ws, r, opKey(r.id, "migrate_to", 0), "migrate_to", current, true, true);
  const migrateFrom = customAction(ws, r, opKey(r.id, "migrate_from", 0), "migrate_from", target, true, true);
  start.flags |= A_MIGRATE_RUNNABLE;
  stop.flags |= A_MIGRATE_RUNNABLE;
  start.flags |= A_PSEUDO;
  if (r.partialMigrationTarget === null) {
    migrateFrom.flags |= A_MIGRATE_RUNNABLE;
    if (migrateTo) {
      migrateTo.flags |= A_MIGRATE_RUNNABLE;
      migrateTo.needs = start.needs;
    }
    newOrdering(ws, r, opKey(r.id, "monitor", 0), null, r, opKey(r.id, "migrate_to", 0), null, O_OPTIONAL);
    newOrdering(ws, r, opKey(r.id, "migrate_to", 0), null, r, opKey(r.id, "migrate_from", 0), null, O_OPTIONAL | O_IMPLIES_FIRST_MIGRATABLE);
  } else {
    migrateFrom.flags |= A_MIGRATE_RUNNABLE;
    migrateFrom.needs = start.needs;
    newOrdering(ws, r, opKey(r.id, "monitor", 0), null, r, opKey(r.id, "migrate_from", 0), null, O_OPTIONAL);
  }
  newOrdering(ws, r, opKey(r.id, "migrate_from", 0), null, r, opKey(r.id, "stop", 0), null, O_OPTIONAL | O_IMPLIES_FIRST_MIGRATABLE);
  newOrdering(ws, r, opKey(r.id, "migrate_from", 0), null, r, opKey(r.id, "start", 0), null, O_OPTIONAL | O_IMPLIES_FIRST_MIGRATABLE | O_PSEUDO_LEFT);
  if (migrateTo) {
    migrateTo.meta.set("migrate_source", current.uname);
    migrateTo.meta.set("migrate_target", target.uname);
    migrateTo.meta.set("record-pending", "true");
  }
  migrateFrom.meta.set("migrate_source", current.uname);
  migrateFrom.meta.set("migrate_target", target.uname);
}

// --- recurring monitors ----------------------------------------------------------------------

function recurringForActive(ws: WorkingSet, r: WRsc, start: Action, node: WNode | null, op: { name: string; interval_ms: number; role: Role; key: string }): void {
  if (op.role === Role.Stopped) return;
  let optional = true;
  if (node === null) optional = false;
  else {
    const sf = start.flags; // primitive action flags
    if ((sf & A_OPTIONAL) === 0) optional = false;
    else {
      const matches = findActionsExact(r.actions, op.key, node);
      if (matches.length === 0 || matches.some((m) => (m.flags & A_RESCHEDULE) !== 0)) optional = false;
    }
  }
  if ((op.role !== Role.Unknown && r.nextRole !== op.role) || (op.role === Role.Unknown && r.nextRole === Role.Promoted)) {
    if (optional && node) {
      const cancel = customAction(ws, r, op.key, "cancel", node, false, true);
      cancel.meta.set("task", op.name);
      cancel.meta.set("interval", String(op.interval_ms));
      let after: string | null = null;
      if (r.role === Role.Unpromoted || r.role === Role.Started) {
        if (r.nextRole === Role.Promoted) after = opKey(r.id, "promote", 0);
        else if (r.nextRole === Role.Stopped) after = opKey(r.id, "stop", 0);
      } else if (r.role === Role.Promoted) after = opKey(r.id, "demote", 0);
      if (after) newOrdering(ws, r, null, cancel, r, after, null, O_RUNNABLE_LEFT);
    }
    return;
  }
  const mon = customAction(ws, r, op.key, op.name, node, optional, true);
  if ((start.flags & A_RUNNABLE) === 0) mon.flags &= ~A_RUNNABLE;
  else if (node === null || !node.online || node.unclean) mon.flags &= ~A_RUNNABLE;
  if (r.nextRole === Role.Promoted) mon.meta.set("op_target_rc", "8");
  if (node === null || (r.flags & R_MANAGED) !== 0) {
    newOrdering(ws, r, opKey(r.id, "start", 0), null, null, mon.uuid, mon, O_IMPLIES_THEN | O_RUNNABLE_LEFT);
    newOrdering(ws, r, opKey(r.id, "reload-agent", 0), null, null, mon.uuid, mon, O_IMPLIES_THEN | O_RUNNABLE_LEFT);
    if (r.nextRole === Role.Promoted) newOrdering(ws, r, opKey(r.id, "promote", 0), null, r, null, mon, O_OPTIONAL | O_RUNNABLE_LEFT);
    else if (r.role === Role.Promoted) newOrdering(ws, r, opKey(r.id, "demote", 0), null, r, null, mon, O_OPTIONAL | O_RUNNABLE_LEFT);
  }
}

function createRecurringActions(ws: WorkingSet, r: WRsc): void {
  if ((r.flags & R_BLOCK) !== 0 || (r.flags & R_MAINTENANCE) !== 0) return;
  let start: Action | null = null;
  const target = r.allocatedTo?.node ?? null;
  if (target === null) {
    /* none */
  } else if (target.maintenance) {
    /* none */
  } else if (r.nextRole !== Role.Stopped || (r.flags & R_MANAGED) === 0) {
    start = startAction(ws, r, target, true);
  }
  const seen = new Map<string, number>();
  for (const op of r.ops) {
    const k = `${op.name}/${op.interval_ms}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  for (const op of r.ops) {
    if (op.interval_ms === 0) continue;
    if (["stop", "start", "demote", "promote", "reload-agent", "migrate_to", "migrate_from"].includes(op.name)) continue;
    if ((seen.get(`${op.name}/${op.interval_ms}`) ?? 0) > 1) continue;
    if (op.enabled === false) continue;
    const role = op.role === undefined ? Role.Unknown : roleOf(op.role);
    const key = opKey(r.id, op.name, op.interval_ms);
    const h = { name: op.name, interval_ms: op.interval_ms, role, key };
    if (start) recurringForActive(ws, r, start, target, h);
    // Monitors for the Stopped role are not supported by this scheduler (documented).
  }
}

function roleOf(name: string): Role {
  switch (name) {
    case "Stopped":
      return Role.Stopped;
    case "Started":
      return Role.Started;
    case "Unpromoted":
      return Role.Unpromoted;
    case "Promoted":
      return Role.Promoted;
    default:
      return Role.Unknown;
  }
}

// --- primitives --------------------------------------------------------------------------------

function primitiveCreateActions(ws: WorkingSet, r: WRsc): void {
  let needStop = false;
  let needPromote = false;
  let isMoving = false;
  let allowMigrate = false;
  let multiplyActive = false;
  if (r.nextRole === Role.Unknown) r.nextRole = r.allocatedTo === null ? Role.Stopped : Role.Started;
  const fa = findActiveOn(r);
  const current = fa.node;
  for (const dangling of [...r.danglingMigrations]) {
    const stop = stopAction(ws, r, dangling, false);
    stop.flags |= A_DANGLE;
  }
  if (current && r.allocatedTo && current !== r.allocatedTo.node && r.nextRole >= Role.Started) {
    isMoving = true;
    allowMigrate = rscCanMigrate(r, current);
    needStop = true;
  }
  if (r.partialMigrationSource && r.partialMigrationTarget && allowMigrate && fa.all === 2 && current === r.partialMigrationSource && r.allocatedTo?.node === r.partialMigrationTarget) {
    /* partial migration continues */
  } else if (r.partialMigrationSource || r.partialMigrationTarget) {
    needStop = true;
    r.partialMigrationSource = null;
    r.partialMigrationTarget = null;
    allowMigrate = false;
  } else if ((r.flags & R_NEEDS_FENCING) !== 0) {
    multiplyActive = fa.all > 1;
  } else {
    multiplyActive = fa.clean > 1;
  }
  if (multiplyActive) {
    ws.warnings.push(`${r.className || "Untyped"} resource ${r.id} might be active on ${fa.all} nodes`);
    if (r.recovery === Recovery.StopStart) needStop = true;
    else if (r.recovery === Recovery.StopUnexpected) {
      needStop = true;
      r.flags |= R_STOP_UNEXPECTED;
    }
  } else {
    r.flags &= ~R_STOP_UNEXPECTED;
  }
  if ((r.flags & R_START_PENDING) !== 0 && r.allocatedTo) {
    startAction(ws, r, r.allocatedTo.node, true);
  }
  if (isMoving) {
    /* nothing more */
  } else if ((r.flags & R_FAILED) !== 0) {
    if ((r.flags & R_STOP) !== 0) needStop = true;
    else if (r.nextRole === Role.Promoted) needPromote = true;
  } else if ((r.flags & R_BLOCK) !== 0) {
    needStop = true;
  } else if (r.role > Role.Started && current && r.allocatedTo) {
    const start = startAction(ws, r, r.allocatedTo.node, true);
    if ((start.flags & A_OPTIONAL) === 0) needStop = true;
  }
  scheduleRestartActions(ws, r, current, needStop, needPromote);
  scheduleRoleTransitions(ws, r);
  createRecurringActions(ws, r);
  if (allowMigrate && current) createMigrationActions(ws, r, current);
}

function primitiveInternalConstraints(ws: WorkingSet, r: WRsc): void {
  if ((r.flags & R_MANAGED) === 0) return;
  const top = uberParent(r);
  orderResourceActions(ws, r, "stop", r, "start", O_OPTIONAL | O_IMPLIES_THEN | O_RESTART);
  if ((top.flags & R_PROMOTABLE) !== 0 || r.role > Role.Unpromoted) {
    orderResourceActions(ws, r, "demote", r, "stop", O_PROMOTED_IMPLIES_FIRST);
    orderResourceActions(ws, r, "start", r, "promote", O_RUNNABLE_LEFT);
  }
  orderResourceActions(ws, r, "delete", r, "monitor", O_SAME_NODE | O_THEN_CANCELS_FIRST);
  if (r.utilization.size > 0 && ws.placementStrategy !== "default") createUtilizationConstraints(ws, r);
}

function createUtilizationConstraints(ws: WorkingSet, r: WRsc): void {
  const loadStopped = (node: WNode): Action => {
    const name = `load_stopped_${node.uname}`;
    let a = ws.singletons.get(name);
    if (!a) {
      a = customAction(ws, null, name, name, null, true, true);
      a.flags |= A_PSEUDO | A_RUNNABLE;
    }
    if (a.node === null) {
      a.node = node;
      a.flags &= ~A_OPTIONAL;
    }
    return a;
  };
  for (const node of r.runningOn) newOrdering(ws, r, opKey(r.id, "stop", 0), null, null, null, loadStopped(node), 0x200000);
  const allowed = [...r.allowed.values()].sort((a, b) => (a.node.uname < b.node.uname ? -1 : a.node.uname > b.node.uname ? 1 : 0));
  for (const n of allowed) {
    const ls = loadStopped(n.node);
    newOrdering(ws, null, null, ls, r, opKey(r.id, "start", 0), null, 0x200000);
    newOrdering(ws, null, null, ls, r, opKey(r.id, "migrate_to", 0), null, 0x200000);
  }
}

// --- groups --------------------------------------------------------------------------------------

function groupCreateActions(ws: WorkingSet, r: WRsc): void {
  for (const m of r.children) createActions(ws, m);
  pseudoAction(ws, r, "start", true, true);
  pseudoAction(ws, r, "running", true, true);
  pseudoAction(ws, r, "stop", true, true);
  pseudoAction(ws, r, "stopped", true, true);
  if (/^(true|on|yes|y|1)$/i.test(r.meta.get("promotable") ?? "")) {
    pseudoAction(ws, r, "demote", true, true);
    pseudoAction(ws, r, "demoted", true, true);
    pseudoAction(ws, r, "promote", true, true);
    pseudoAction(ws, r, "promoted", true, true);
  }
}

function groupInternalConstraints(ws: WorkingSet, r: WRsc): void {
  orderResourceActions(ws, r, "stop", r, "stopped", O_RUNNABLE_LEFT);
  orderResourceActions(ws, r, "stopped", r, "start", O_OPTIONAL);
  orderResourceActions(ws, r, "start", r, "running", O_RUNNABLE_LEFT);
  const ordered = r.groupOrdered;
  const colocated = r.groupColocated;
  const promotable = (uberParent(r).flags & R_PROMOTABLE) !== 0;
  let lastActive: WRsc | null = null;
  let previous: WRsc | null = null;
  for (const m of r.children) {
    let downFlags = O_IMPLIES_FIRST_PRINTED;
    let postDownFlags = O_IMPLIES_THEN_PRINTED;
    internalConstraints(ws, m);
    if (previous === null) {
      if (ordered) {
        downFlags |= O_OPTIONAL;
        postDownFlags = O_IMPLIES_THEN;
      }
    } else if (colocated) {
      newColocation(ws, "group:internal_colocation", null, INFINITY, m, previous, null, null, (m.flags & R_CRITICAL) !== 0);
    }
    if (promotable) {
      orderResourceActions(ws, r, "demote", m, "demote", downFlags);
      orderResourceActions(ws, m, "demote", r, "demoted", postDownFlags);
      orderResourceActions(ws, m, "promote", r, "promoted", O_RUNNABLE_LEFT | O_IMPLIES_THEN | O_IMPLIES_THEN_PRINTED);
      orderResourceActions(ws, r, "promote", m, "promote", O_IMPLIES_FIRST_PRINTED);
    }
    orderStops(ws, r, m, downFlags);
    orderResourceActions(ws, m, "stop", r, "stopped", postDownFlags);
    orderStarts(ws, r, m, O_IMPLIES_FIRST_PRINTED);
    orderResourceActions(ws, m, "start", r, "running", O_RUNNABLE_LEFT | O_IMPLIES_THEN | O_IMPLIES_THEN_PRINTED);
    if (!ordered) {
      orderStarts(ws, r, m, O_IMPLIES_THEN | O_RUNNABLE_LEFT | O_IMPLIES_FIRST_PRINTED);
      if (promotable) orderResourceActions(ws, r, "promote", m, "promote", O_IMPLIES_THEN | O_RUNNABLE_LEFT | O_IMPLIES_FIRST_PRINTED);
    } else if (previous === null) {
      orderStarts(ws, r, m, O_NONE);
      if (promotable) orderResourceActions(ws, r, "promote", m, "promote", O_NONE);
    } else {
      orderStarts(ws, previous, m, O_IMPLIES_THEN | O_RUNNABLE_LEFT);
      orderStops(ws, m, previous, O_OPTIONAL | O_RESTART);
      if (promotable) {
        orderResourceActions(ws, previous, "promote", m, "promote", O_IMPLIES_THEN | O_RUNNABLE_LEFT);
        orderResourceActions(ws, m, "demote", previous, "demote", O_OPTIONAL);
      }
    }
    if (m.runningOn.length > 0) {
      if (ordered && previous && previous.runningOn.length === 0 && lastActive && lastActive.runningOn.length > 0) {
        orderStops(ws, m, lastActive, O_OPTIONAL);
      }
      lastActive = m;
    }
    previous = m;
  }
}


// --- clones --------------------------------------------------------------------------------------

function cloneUpdatePseudoStatus(r: WRsc, st: { stopping: boolean; starting: boolean; active: boolean }): void {
  if (r.children.length > 0) {
    for (const c of r.children) cloneUpdatePseudoStatus(c, st);
    return;
  }
  if (r.runningOn.length > 0) st.active = true;
  for (const a of r.actions) {
    if (st.starting && st.stopping) return;
    if ((a.flags & A_OPTIONAL) !== 0) continue;
    if ((a.flags & (A_PSEUDO | A_RUNNABLE)) === 0) continue;
    if (a.task === "stop") st.stopping = true;
    else if (a.task === "start") {
      if ((a.flags & A_RUNNABLE) !== 0) st.starting = true;
    }
  }
}

function findRscActionRequired(r: WRsc, task: string): Action | null {
  let match: Action | null = null;
  for (const a of resourceActions(r, null, task, false)) {
    if ((a.flags & A_OPTIONAL) === 0) {
      if (match) return null;
      match = a;
    }
  }
  return match;
}

function checkForRoleChange(r: WRsc, st: { demoting: boolean; promoting: boolean }): void {
  if (r.children.length > 0) {
    for (const c of r.children) checkForRoleChange(c, st);
    return;
  }
  for (const a of r.actions) {
    if (st.promoting && st.demoting) return;
    if ((a.flags & A_OPTIONAL) !== 0) continue;
    if (a.task === "demote") st.demoting = true;
    else if (a.task === "promote") st.promoting = true;
  }
}

function cloneCreateActions(ws: WorkingSet, r: WRsc): void {
  const st = { stopping: false, starting: false, active: false };
  const roles = { demoting: false, promoting: false };
  let allowDependentMigrations = true;
  for (const child of r.children) {
    const cs = { stopping: false, starting: false, active: st.active };
    createActions(ws, child);
    cloneUpdatePseudoStatus(child, cs);
    st.active = cs.active;
    if (cs.stopping && cs.starting) allowDependentMigrations = false;
    st.stopping ||= cs.stopping;
    st.starting ||= cs.starting;
    if ((r.flags & R_PROMOTABLE) !== 0) checkForRoleChange(child, roles);
  }
  pseudoAction(ws, r, "start", !st.starting, true);
  const started = pseudoAction(ws, r, "running", !st.starting, false);
  started.priority = INFINITY;
  if (st.active || st.starting) started.flags |= A_RUNNABLE;
  const stop = pseudoAction(ws, r, "stop", !st.stopping, true);
  const stopped = pseudoAction(ws, r, "stopped", !st.stopping, true);
  stopped.priority = INFINITY;
  if (allowDependentMigrations) stop.flags |= A_MIGRATE_RUNNABLE;
  if (r.cloneOrdered) {
    r.children.sort(cmpInstanceNumber);
    let lastStop: Action | null = null;
    let lastStart: Action | null = null;
    for (const child of r.children) {
      const s = findRscActionRequired(child, "stop");
      if (s) {
        if (lastStop) orderActions(s, lastStop, O_OPTIONAL);
        lastStop = s;
      }
      const b = findRscActionRequired(child, "start");
      if (b) {
        if (lastStart) orderActions(lastStart, b, O_OPTIONAL);
        lastStart = b;
      }
    }
  }
  if ((r.flags & R_PROMOTABLE) !== 0) {
    pseudoAction(ws, r, "promote", !roles.promoting, true);
    const promoted = pseudoAction(ws, r, "promoted", !roles.promoting, true);
    promoted.priority = INFINITY;
    pseudoAction(ws, r, "demote", !roles.demoting, true);
    const demoted = pseudoAction(ws, r, "demoted", !roles.demoting, true);
    demoted.priority = INFINITY;
    resetInstancePriorities(r);
  }
}


function cloneInternalConstraints(ws: WorkingSet, r: WRsc): void {
  orderResourceActions(ws, r, "stopped", r, "start", O_OPTIONAL);
  orderResourceActions(ws, r, "start", r, "running", O_RUNNABLE_LEFT);
  orderResourceActions(ws, r, "stop", r, "stopped", O_RUNNABLE_LEFT);
  const promotable = (r.flags & R_PROMOTABLE) !== 0;
  if (promotable) {
    orderResourceActions(ws, r, "demoted", r, "stop", O_OPTIONAL);
    orderResourceActions(ws, r, "running", r, "promote", O_RUNNABLE_LEFT);
  }
  if (r.cloneOrdered) r.children.sort(cmpInstanceNumber);
  let last: WRsc | null = null;
  for (const child of r.children) {
    internalConstraints(ws, child);
    orderStarts(ws, r, child, O_RUNNABLE_LEFT | O_IMPLIES_FIRST_PRINTED);
    orderResourceActions(ws, child, "start", r, "running", O_IMPLIES_THEN_PRINTED);
    if (r.cloneOrdered && last) orderStarts(ws, last, child, O_OPTIONAL);
    orderStops(ws, r, child, O_IMPLIES_FIRST_PRINTED);
    orderResourceActions(ws, child, "stop", r, "stopped", O_IMPLIES_THEN_PRINTED);
    if (r.cloneOrdered && last) orderStops(ws, child, last, O_OPTIONAL);
    last = child;
  }
  if (promotable) {
    orderResourceActions(ws, r, "stopped", r, "start", O_OPTIONAL);
    orderResourceActions(ws, r, "stopped", r, "promote", O_OPTIONAL);
    orderResourceActions(ws, r, "demoted", r, "stop", O_OPTIONAL);
    orderResourceActions(ws, r, "demoted", r, "start", O_OPTIONAL);
    orderResourceActions(ws, r, "demoted", r, "promote", O_OPTIONAL);
    orderResourceActions(ws, r, "running", r, "promote", O_OPTIONAL);
    orderResourceActions(ws, r, "demote", r, "demoted", O_OPTIONAL);
    let previous: WRsc | null = null;
    for (const inst of r.children) {
      orderResourceActions(ws, inst, "demote", inst, "promote", O_OPTIONAL);
      orderResourceActions(ws, r, "promote", inst, "promote", O_OPTIONAL);
      orderResourceActions(ws, inst, "promote", r, "promoted", O_OPTIONAL);
      if (previous && r.cloneOrdered) orderResourceActions(ws, previous, "promote", inst, "promote", O_OPTIONAL);
      orderResourceActions(ws, r, "demote", inst, "demote", O_IMPLIES_FIRST_PRINTED);
      orderResourceActions(ws, inst, "demote", r, "demoted", O_IMPLIES_THEN_PRINTED);
      if (previous && r.cloneOrdered) orderResourceActions(ws, inst, "demote", previous, "demote", O_OPTIONAL);
      previous = inst;
    }
  }
}

// --- dispatch --------------------------------------------------------------------------------

export function createActions(ws: WorkingSet, r: WRsc): void {
  if (r.variant === Variant.Primitive) primitiveCreateActions(ws, r);
  else if (r.variant === Variant.Group) groupCreateActions(ws, r);
  else cloneCreateActions(ws, r);
}

export function internalConstraints(ws: WorkingSet, r: WRsc): void {
  if (r.variant === Variant.Primitive) primitiveInternalConstraints(ws, r);
  else if (r.variant === Variant.Group) groupInternalConstraints(ws, r);
  else cloneInternalConstraints(ws, r);
}

// --- mandatory colocation with something that cannot start ---------------------------------------

function markActionBlocked(ws: WorkingSet, r: WRsc, task: string, reason: WRsc): void {
  const text = `colocation with ${reason.id}`;
  for (const a of r.actions) {
    if ((a.flags & A_RUNNABLE) !== 0 && a.task === task) {
      a.flags &= ~A_RUNNABLE;
      setReason(a, text, false);
      blockColocationDependents(ws, a);
      updateActionForOrderings(ws, a);
    }
  }
  for (const c of r.children) markActionBlocked(ws, c, task, reason);
}

/** pcmk__block_colocation_dependents(). */
export function blockColocationDependents(ws: WorkingSet, a: Action): void {
  if ((a.flags & A_RUNNABLE) !== 0) return;
  const isStart = a.task === "start";
  if (!isStart && a.task !== "promote") return;
  if (!a.rsc) return;
  const r = uberParent(a.rsc);
  if (r.rscConsLhs.length === 0) return;
  for (const child of r.children) {
    const ca = findFirstAction(child.actions, null, a.task, null);
    if (!ca || (ca.flags & A_RUNNABLE) !== 0) return;
  }
  for (const c of [...r.rscConsLhs]) {
    if (c.score < INFINITY) continue;
    if (!isStart && c.primaryRole !== Role.Promoted) continue;
    if (c.dependentRole === Role.Promoted) markActionBlocked(ws, c.dependent, "promote", a.rsc);
    else markActionBlocked(ws, c.dependent, "start", a.rsc);
  }
}

// --- probes ------------------------------------------------------------------------------------

function probeRscOnNode(ws: WorkingSet, r: WRsc, node: WNode): boolean {
  if (r.children.length > 0) {
    if (r.variant === Variant.Clone) return cloneCreateProbe(ws, r, node);
    return probeList(ws, r.children, node);
  }
  if ((r.flags & R_ORPHAN) !== 0) return false;
  if (r.knownOn.has(node.id)) return false;
  const top = uberParent(r);
  const allowed = r.allowed.get(node.id) ?? null;
  if (r.exclusiveDiscover || top.exclusiveDiscover) {
    if (allowed === null || allowed.discover !== 2) return false;
  }
  if (allowed && allowed.discover === 1) return false;
  const probe = customAction(ws, r, opKey(r.id, "monitor", 0), "monitor", node, false, true);
  probe.flags &= ~A_OPTIONAL;
  probe.meta.set("op_target_rc", "7");
  const orderTop = top.variant === Variant.Clone ? top : r;
  let flags = O_OPTIONAL;
  if ((probe.flags & A_RUNNABLE) === 0 && r.runningOn.length === 0) flags |= O_RUNNABLE_LEFT;
  newOrdering(ws, r, null, probe, orderTop, opKey(orderTop.id, "start", 0), null, flags);
  newOrdering(ws, r, null, probe, orderTop, opKey(orderTop.id, "reload-agent", 0), null, O_OPTIONAL);
  return true;
}

function probeList(ws: WorkingSet, list: WRsc[], node: WNode): boolean {
  let any = false;
  for (const r of list) if (probeRscOnNode(ws, r, node)) any = true;
  return any;
}

function knownOnRecursive(r: WRsc, node: WNode): boolean {
  if (r.children.length > 0) return r.children.some((c) => knownOnRecursive(c, node));
  return r.knownOn.has(node.id);
}

function cloneCreateProbe(ws: WorkingSet, r: WRsc, node: WNode): boolean {
  r.children.sort(cmpInstanceNumber);
  if (r.children.length === 0) return false;
  if (r.exclusiveDiscover) {
    const allowed = r.allowed.get(node.id);
    if (allowed && allowed.discover !== 2) {
      r.allowed.delete(node.id);
      return false;
    }
  }
  if ((r.flags & R_UNIQUE) !== 0) return probeList(ws, r.children, node);
  let child = r.children.find((c) => knownOnRecursive(c, node)) ?? null;
  if (!child) child = r.children.find((c) => rscLocation(c, null, 0) === node) ?? null;
  if (!child) child = r.children[0]!;
  return probeRscOnNode(ws, child, node);
}

export function scheduleProbes(ws: WorkingSet): void {
  for (const node of ws.nodes) {
    if (!node.online || node.unclean) continue;
    const probed = node.attrs.get("probe_complete");
    if (probed !== undefined && !/^(true|on|yes|y|1)$/i.test(probed)) continue;
    probeList(ws, ws.resources, node);
  }
}

// --- configuration changes -----------------------------------------------------------------------

/** Primitives a history entry may belong to: by id, by the name it had in history, or by base id (clone instances). */
function instanceIndex(ws: WorkingSet): Map<string, WRsc[]> {
  const idx = new Map<string, WRsc[]>();
  const add = (k: string, r: WRsc) => {
    const l = idx.get(k);
    if (!l) idx.set(k, [r]);
    else if (!l.includes(r)) l.push(r);
  };
  for (const r of ws.byId.values()) {
    if (r.variant !== Variant.Primitive) continue;
    add(r.id, r);
    if (r.cloneName !== null) add(r.cloneName, r);
    add(r.baseId, r);
  }
  return idx;
}

function forceRestart(ws: WorkingSet, r: WRsc, task: string, interval_ms: number): void {
  const a = customAction(ws, r, opKey(r.id, task, interval_ms), task, null, false, true);
  setReason(a, "resource definition change", true);
}

function checkActionConfig(ws: WorkingSet, r: WRsc, node: WNode, op: OpRecord): boolean {
  if (op.interval_ms > 0) {
    const configured = r.ops.some((o) => o.name === op.operation && o.interval_ms === op.interval_ms && o.enabled !== false);
    if (!configured) {
      if (ws.stopOrphanActions) {
        const cancel = customAction(ws, r, opKey(r.id, op.operation, op.interval_ms), "cancel", node, false, true);
        cancel.meta.set("task", op.operation);
        cancel.meta.set("interval", String(op.interval_ms));
        newOrdering(ws, r, opKey(r.id, "stop", 0), null, r, null, cancel, O_OPTIONAL);
      }
      return true;
    }
  }
  let task = op.operation;
  if (op.interval_ms === 0 && (task === "monitor" || task === "migrate_from" || task === "promote")) task = "start";
  const opDef = r.ops.find((o) => o.name === task && o.interval_ms === op.interval_ms) ?? null;
  const timeout = op.interval_ms > 0 ? Number(customActionMeta(ws, r, task, op.interval_ms).get("timeout") ?? "20000") : 0;
  const attrs = digestParams(r.params, opDef?.params ?? {}, op.interval_ms, timeout);
  const all = opDigest(attrs);
  let rc: "match" | "restart" | "all" | "unknown";
  if (ws.expiredRecurring.has(op)) rc = "restart";
  else if (op.restartDigest !== undefined && restartDigest(attrs, op.opForceRestart) !== op.restartDigest) rc = "restart";
  else if (op.opDigest === undefined) rc = "unknown";
  else if (op.opDigest !== all) rc = op.interval_ms === 0 && opDef && Object.keys(opDef.params).length > 0 ? "restart" : "all";
  else rc = "match";
  // crm_simulate treats a CIB as sanitized: when only private parameters differ, nothing changed.
  if (rc !== "match" && op.secureDigest !== undefined) {
    const fs = op.crmFeatureSet ?? ws.crmFeatureSet;
    if (secureDigest(r.params, attrs, op.secureParams, fs, r.className === "stonith") === op.secureDigest) return false;
  }
  if (rc === "restart") {
    forceRestart(ws, r, task, op.interval_ms);
    return true;
  }
  if (rc === "all" || rc === "unknown") {
    if (op.interval_ms > 0) {
      customAction(ws, r, opKey(r.id, task, op.interval_ms), task, node, true, true).flags |= A_RESCHEDULE;
    } else if (op.restartDigest !== undefined) {
      scheduleReload(ws, r, node);
    } else {
      forceRestart(ws, r, task, op.interval_ms);
    }
    return true;
  }
  return false;
}

function scheduleReload(ws: WorkingSet, r: WRsc, node: WNode): void {
  if ((r.flags & R_MANAGED) === 0 || (r.flags & R_FAILED) !== 0) return;
  if ((r.flags & R_START_PENDING) !== 0) {
    customAction(ws, r, opKey(r.id, "stop", 0), "stop", node, false, true);
    return;
  }
  r.flags |= R_RELOAD;
  const reload = customAction(ws, r, opKey(r.id, "reload-agent", 0), "reload-agent", node, false, true);
  setReason(reload, "resource definition change", false);
  newOrdering(ws, null, null, reload, r, opKey(r.id, "stop", 0), null, O_OPTIONAL | O_THEN_CANCELS_FIRST);
  newOrdering(ws, null, null, reload, r, opKey(r.id, "demote", 0), null, O_OPTIONAL | O_THEN_CANCELS_FIRST);
}

function customActionMeta(ws: WorkingSet, r: WRsc, task: string, interval_ms: number): Map<string, string> {
  return customAction(ws, r, opKey(r.id, task, interval_ms), task, null, true, false).meta;
}

/** pcmk__handle_rsc_config_changes(): restarts for changed definitions (digest mismatches). */
export function handleRscConfigChanges(ws: WorkingSet, input: ClusterInput, idx: StatusIndex): void {
  void idx;
  const instances = instanceIndex(ws);
  const statusByName = new Map(input.status.nodes.map((s) => [s.uname, s] as const));
  for (const node of ws.nodes) {
    if (!(node.maintenance || (node.online && !node.shutdown && !node.unclean && !node.standby))) continue;
    const ns = statusByName.get(node.uname);
    if (!ns || ns.history === null) continue;
    for (const h of ns.history) {
      if (h.ops.length === 0) continue;
      for (const r of instances.get(h.id) ?? []) {
        if ((r.flags & R_ORPHAN) !== 0) continue;
        if (!r.runningOn.includes(node)) continue;
        const sorted = sortOps(h.ops);
        const { start, stop } = calculateActiveOps(sorted);
        if (start < stop) continue;
        sorted.forEach((op, offset) => {
          if (offset < start) return;
          if (op.interval_ms > 0 && ((r.flags & R_MAINTENANCE) !== 0 || node.maintenance)) {
            const cancel = customAction(ws, r, opKey(r.id, op.operation, op.interval_ms), "cancel", node, false, true);
            cancel.meta.set("task", op.operation);
            newOrdering(ws, r, opKey(r.id, "stop", 0), null, r, null, cancel, O_OPTIONAL);
          } else if (op.interval_ms > 0 || ["monitor", "start", "promote", "migrate_from"].includes(op.operation)) {
            if (checkActionConfig(ws, r, node, op) && getFailcount(ws, node, r, true, null, null).count !== 0) {
              clearFailcount(ws, r, node);
            }
          }
        });
      }
    }
  }
}

export { keyOf, O_IMPLIES_FIRST };
