// Fencing and shutdowns: every unclean node is fenced (when fencing is enabled, a device exists
// and the partition may fence), and the resources it ran are recovered only after the fencing:
// their stops there become pseudo actions implied by the fencing, and starts that require fencing
// are ordered after it. A node asked to shut down gets a shutdown action after its stops.
import { canFence, customAction, fenceOp } from "./actions.ts";
import { newOrdering } from "./ordering.ts";
import {
  type Action,
  type WNode,
  type WRsc,
  type WorkingSet,
  A_IMPLIED_BY_STONITH,
  A_OPTIONAL,
  A_PSEUDO,
  A_RUNNABLE,
  O_OPTIONAL,
  O_PRESERVE,
  O_RUNNABLE_LEFT,
  R_BLOCK,
  R_MAINTENANCE,
  R_MANAGED,
  R_NEEDS_FENCING,
  Variant,
  findFirstAction,
  isAnonClone,
  orderActions,
  resourceActions,
  uberParent,
} from "./sched-core.ts";

function rscKnownOn(r: WRsc, node: WNode): boolean {
  if (r.knownOn.has(node.id)) return true;
  return r.variant === Variant.Primitive && isAnonClone(r.parent) && r.parent!.knownOn.has(node.id);
}

function orderStartVsFencing(r: WRsc, stonith: Action): void {
  const target = stonith.node!;
  for (const a of r.actions) {
    if (a.needs === "fencing") orderActions(stonith, a, O_OPTIONAL);
    else if (a.needs === "quorum") {
      if (a.task === "start" && r.allowed.has(target.id) && !rscKnownOn(r, target)) orderActions(stonith, a, O_OPTIONAL | O_RUNNABLE_LEFT);
    }
  }
}

function orderStopVsFencing(r: WRsc, stonith: Action): void {
  const target = stonith.node!;
  const top = uberParent(r);
  const stops = resourceActions(r, target, "stop", false);
  const implicit = (r.flags & R_NEEDS_FENCING) !== 0;
  let parentStop: Action | null = null;
  if (stops.length > 0 && implicit) parentStop = findFirstAction(top.actions, null, "stop", null);
  for (const a of stops) {
    a.flags |= A_PSEUDO | A_RUNNABLE;
    if (implicit) {
      a.flags |= A_IMPLIED_BY_STONITH;
      orderActions(stonith, a, O_PRESERVE);
      orderActions(stonith, parentStop, O_PRESERVE);
    }
  }
  for (const a of resourceActions(r, target, "demote", false)) {
    if (!a.node!.online || a.node!.unclean || (r.flags & 0x10000) !== 0) {
      a.flags |= A_PSEUDO | A_RUNNABLE;
      if (implicit) orderActions(stonith, a, O_PRESERVE | O_OPTIONAL);
    }
  }
}

function rscStonithOrdering(r: WRsc, stonith: Action): void {
  if (r.children.length > 0) {
    for (const c of r.children) rscStonithOrdering(c, stonith);
  } else if ((r.flags & R_MANAGED) !== 0) {
    orderStartVsFencing(r, stonith);
    orderStopVsFencing(r, stonith);
  }
}

export function orderVsFence(ws: WorkingSet, stonith: Action): void {
  for (const r of ws.resources) rscStonithOrdering(r, stonith);
}

function isManaged(r: WRsc): boolean {
  if ((r.flags & R_MANAGED) !== 0) return true;
  return r.children.some(isManaged);
}

function orderStopsBeforeShutdown(ws: WorkingSet, node: WNode, shutdown: Action): void {
  for (const a of ws.actions) {
    if (!a.rsc || a.node !== node || a.task !== "stop") continue;
    if ((a.rsc.flags & R_MAINTENANCE) !== 0 || node.maintenance) continue;
    if ((a.rsc.flags & (R_MANAGED | R_BLOCK)) === 0) continue;
    a.flags &= ~A_OPTIONAL;
    newOrdering(ws, a.rsc, null, a, null, "do_shutdown", shutdown, O_OPTIONAL | O_RUNNABLE_LEFT);
  }
}

function newShutdownAction(ws: WorkingSet, node: WNode): Action {
  const a = customAction(ws, null, `do_shutdown-${node.uname}`, "do_shutdown", node, false, true);
  orderStopsBeforeShutdown(ws, node, a);
  a.meta.set("op_no_wait", "true");
  return a;
}

/** schedule_fencing_and_shutdowns(). */
export function scheduleFencingAndShutdowns(ws: WorkingSet): void {
  let dcDown: Action | null = null;
  const haveManaged = ws.resources.some(isManaged);
  const fencingOps: Action[] = [];
  const shutdownOps: Action[] = [];
  let integrityLost = false;
  for (const node of ws.nodes) {
    let fencing: Action | null = null;
    if (haveManaged && node.unclean && canFence(ws, node)) {
      fencing = fenceOp(ws, node, null, false, "node is unclean");
      orderVsFence(ws, fencing);
      if (node.isDc) dcDown = fencing;
      else {
        if (!ws.concurrentFencing && fencingOps.length > 0) orderActions(fencingOps[0]!, fencing, O_OPTIONAL);
        fencingOps.unshift(fencing);
      }
    } else if (node.online && node.shutdown) {
      const down = newShutdownAction(ws, node);
      if (node.isDc) dcDown = down;
      else shutdownOps.unshift(down);
    }
    if (fencing === null && node.unclean) integrityLost = true;
  }
  if (integrityLost) {
    if (!ws.stonithEnabled) ws.warnings.push("resource functionality and data integrity cannot be guaranteed (configure, enable, and test fencing to correct this)");
    else if (!ws.haveQuorum) ws.warnings.push("unclean nodes will not be fenced until quorum is attained or no-quorum-policy is set to ignore");
  }
  if (dcDown) {
    if (dcDown.task === "do_shutdown") for (const s of shutdownOps) orderActions(s, dcDown, O_OPTIONAL);
    if (ws.concurrentFencing) for (const f of fencingOps) orderActions(f, dcDown, O_OPTIONAL);
    else if (fencingOps.length > 0) orderActions(fencingOps[0]!, dcDown, O_OPTIONAL);
  }
}
