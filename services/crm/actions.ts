// Action objects: creating or finding an action (start, stop, monitor, fence, ...), reading its
// operation configuration (timeout, on-fail, what it requires), and whether it is runnable given
// node state and quorum. Fencing actions and the "node must be fenced" decision live here too,
// because status unpacking needs them before any placement happens.
import type { OpDef } from "./model.ts";
import {
  type Action,
  type Needs,
  type NoQuorumPolicy,
  type WNode,
  type WRsc,
  type WorkingSet,
  A_DC,
  A_OPTIONAL,
  A_PSEUDO,
  A_RUNNABLE,
  OnFail,
  R_FENCE_DEVICE,
  R_MANAGED,
  R_NEEDS_FENCING,
  R_NEEDS_QUORUM,
  Role,
  Variant,
  durationMs,
  findActions,
  opKey,
  roleFromName,
  setReason,
} from "./sched-core.ts";

export const DEFAULT_TIMEOUT_MS = 20_000;

export interface OpConfig {
  op: OpDef | null;
  meta: Map<string, string>;
  needs: Needs;
  onFail: OnFail;
  failRole: Role;
  interval_ms: number;
}

/** The configured <op> matching an action key (rsc_task_interval), disabled ones included. */
export function findOpEntry(r: WRsc, key: string): OpDef | null {
  const tryKey = (k: string): OpDef | null => {
    for (const op of r.ops) {
      if (opKey(r.id, op.name, op.interval_ms) === k) return op;
      if (r.cloneName !== null && opKey(r.cloneName, op.name, op.interval_ms) === k) return op;
    }
    return null;
  };
  const found = tryKey(key);
  if (found) return found;
  if (key.includes("migrate_to") || key.includes("migrate_from")) {
    const k = opKey(r.id, "migrate", 0);
    for (const op of r.ops) if (opKey(r.id, op.name, op.interval_ms) === k) return op;
  }
  return null;
}

function intervalFromKey(key: string): number {
  const m = /_(\d+)$/.exec(key);
  return m ? Number(m[1]) : 0;
}

function minIntervalMonitor(r: WRsc): OpDef | null {
  let best: OpDef | null = null;
  for (const op of r.ops) {
    if (op.enabled === false) continue;
    if (op.name !== "monitor") continue;
    if (op.interval_ms > 0 && (best === null || op.interval_ms < best.interval_ms)) best = op;
  }
  return best;
}

function onFailValue(r: WRsc, task: string, meta: Map<string, string>, op: OpDef | null): string | null {
  let value = meta.get("on-fail") ?? null;
  if (task === "stop" && value !== null && /^(standby|demote|stop)$/i.test(value)) return null;
  if (task === "stop" && value === null) return null;
  if (task === "demote" && value === null) {
    for (const o of r.ops) {
      if (o.onFail === undefined) continue;
      if (o.enabled === false) continue;
      if (o.name !== "monitor" || o.role !== "Promoted") continue;
      if (o.interval_ms === 0) continue;
      if (/^demote$/i.test(o.onFail)) continue;
      value = o.onFail;
      break;
    }
    return value;
  }
  if (task === "delete") return "ignore";
  if (value !== null && /^demote$/i.test(value)) {
    const name = op?.name;
    const ok = name === "promote" || (name === "monitor" && op?.role === "Promoted" && (op?.interval_ms ?? 0) > 0);
    if (!ok) return null;
  }
  return value;
}

/** unpack_operation(): the action's meta-attributes, requirement, failure handling. */
export function unpackOpConfig(ws: WorkingSet, r: WRsc, key: string, task: string, op0: OpDef | null | undefined): OpConfig {
  const op = op0 === undefined || op0 === null ? findOpEntry(r, key) : op0;
  const interval_ms = intervalFromKey(key);
  const meta = new Map<string, string>();
  for (const [k, v] of ws.opDefaults) meta.set(k, v);
  const probe = task === "monitor" && interval_ms === 0;
  if (probe) {
    const mon = minIntervalMonitor(r);
    if (mon?.timeout !== undefined) meta.set("timeout", mon.timeout);
  }
  if (op) {
    for (const [k, v] of Object.entries(op.meta)) meta.set(k, v);
    meta.set("name", op.name);
    meta.set("interval", op.intervalText);
    if (op.timeout !== undefined) meta.set("timeout", op.timeout);
    if (op.role !== undefined) meta.set("role", op.role);
    if (op.onFail !== undefined) meta.set("on-fail", op.onFail);
    if (op.enabled !== undefined) meta.set("enabled", op.enabled ? "true" : "false");
    for (const [k, v] of Object.entries(op.attrs)) meta.set(k, v);
  }
  meta.delete("id");
  if (interval_ms > 0) meta.set("interval", String(interval_ms));
  else meta.delete("interval");
  if (r.className === "stonith" && (task === "start" || probe)) {
    const pmt = r.params.get("pcmk_monitor_timeout");
    if (pmt !== undefined) meta.set("timeout", pmt);
  }
  const t = durationMs(meta.get("timeout"));
  meta.set("timeout", String(t === null || t < 0 ? DEFAULT_TIMEOUT_MS : t));

  let needs: Needs;
  if (task !== "start" && task !== "promote") needs = "nothing";
  else if ((r.flags & R_NEEDS_FENCING) !== 0) needs = "fencing";
  else if ((r.flags & R_NEEDS_QUORUM) !== 0) needs = "quorum";
  else needs = "nothing";

  let onFail: OnFail | null = null;
  let failRole = Role.Unknown;
  const value = onFailValue(r, task, meta, op);
  if (value !== null) {
    const v = value.toLowerCase();
    if (v === "block") onFail = OnFail.Block;
    else if (v === "fence") {
      onFail = OnFail.Fence;
      if (!ws.stonithEnabled) {
        onFail = OnFail.Stop;
        failRole = Role.Stopped;
      }
    } else if (v === "standby") onFail = OnFail.Standby;
    else if (v === "ignore" || v === "nothing") onFail = OnFail.Ignore;
    else if (v === "migrate") onFail = OnFail.Migrate;
    else if (v === "stop") {
      onFail = OnFail.Stop;
      failRole = Role.Stopped;
    } else if (v === "restart") onFail = OnFail.Recover;
    else if (v === "demote") onFail = OnFail.Demote;
  }
  if (onFail === null) {
    if (task === "stop") onFail = ws.stonithEnabled ? OnFail.Fence : OnFail.Block;
    else onFail = OnFail.Recover;
  }
  if (op) {
    const raf = meta.get("role_after_failure");
    if (raf !== undefined && failRole === Role.Unknown) failRole = roleFromName(raf);
  }
  if (failRole === Role.Unknown) failRole = task === "promote" ? Role.Unpromoted : Role.Started;
  return { op, meta, needs, onFail, failRole, interval_ms };
}

export function canFence(ws: WorkingSet, node: WNode | null): boolean {
  if (!ws.stonithEnabled) return false;
  if (!ws.haveStonithResource) return false;
  if (ws.haveQuorum) return true;
  if (ws.noQuorumPolicy === "ignore") return true;
  // A node still in our membership can be fenced without quorum.
  return node !== null && node.online;
}

function newAction(ws: WorkingSet, key: string, task: string, rsc: WRsc | null, node: WNode | null, optional: boolean, save: boolean): Action {
  const a: Action = {
    id: save ? ws.nextActionId++ : -1,
    uuid: key,
    task,
    rsc,
    node,
    flags: A_RUNNABLE | (optional ? A_OPTIONAL : 0),
    reason: null,
    needs: "nothing",
    onFail: OnFail.Recover,
    failRole: Role.Started,
    interval_ms: 0,
    meta: new Map(),
    op: null,
    before: [],
    after: [],
    runnableBefore: 0,
    requiredRunnableBefore: 0,
    priority: 0,
  };
  if (task === "delete") a.flags |= A_DC;
  if (rsc) {
    const cfg = unpackOpConfig(ws, rsc, key, task, null);
    a.op = cfg.op;
    a.meta = cfg.meta;
    a.needs = cfg.needs;
    a.onFail = cfg.onFail;
    a.failRole = cfg.failRole;
    a.interval_ms = cfg.interval_ms;
  }
  if (save) {
    ws.actions.push(a);
    if (rsc === null) ws.singletons.set(key, a);
    else rsc.actions.unshift(a);
  }
  return a;
}

function rscActiveAll(r: WRsc, all: boolean): boolean {
  if (r.variant === Variant.Primitive) {
    for (const n of r.runningOn) {
      if (n.unclean) return true;
      if (!n.online && (r.flags & R_MANAGED) !== 0) continue;
      return true;
    }
    return false;
  }
  let cAll = true;
  let cAny = false;
  for (const c of r.children) {
    if (rscActiveAll(c, all)) cAny = true;
    else cAll = false;
  }
  if (!cAny) return false;
  if (all && !cAll) return false;
  return true;
}

function effectiveQuorumPolicy(ws: WorkingSet, r: WRsc): NoQuorumPolicy {
  if (ws.haveQuorum) return "ignore";
  if (ws.noQuorumPolicy === "demote") {
    if (r.role === Role.Promoted || r.role === Role.Unpromoted) {
      if (r.nextRole > Role.Unpromoted) r.nextRole = Role.Unpromoted;
      return "ignore";
    }
    return "stop";
  }
  return ws.noQuorumPolicy;
}

function updateRunnable(ws: WorkingSet, a: Action, forGraph: boolean): void {
  if ((a.flags & A_PSEUDO) !== 0) return;
  const r = a.rsc!;
  if (a.node === null) {
    a.flags &= ~A_RUNNABLE;
  } else if ((a.flags & A_DC) === 0 && !a.node.online) {
    a.flags &= ~A_RUNNABLE;
    if ((r.flags & R_MANAGED) !== 0 && forGraph && a.task === "stop" && !a.node.unclean) {
      fenceNode(ws, a.node, "stop is unrunnable", false);
    }
  } else if ((a.flags & A_DC) === 0 && a.node.pending) {
    a.flags &= ~A_RUNNABLE;
  } else if (a.needs === "nothing") {
    setReason(a, null, true);
    a.flags |= A_RUNNABLE;
  } else {
    switch (effectiveQuorumPolicy(ws, r)) {
      case "stop":
        a.flags &= ~A_RUNNABLE;
        setReason(a, "no quorum", true);
        break;
      case "freeze":
        if (!rscActiveAll(r, true) || r.nextRole > r.role) {
          a.flags &= ~A_RUNNABLE;
          setReason(a, "quorum freeze", true);
        }
        break;
      default:
        a.flags |= A_RUNNABLE;
    }
  }
}

/** custom_action(): finds the action with this key (and node) or creates it, then updates its flags. */
export function customAction(ws: WorkingSet, rsc: WRsc | null, key: string, task: string, node: WNode | null, optional: boolean, save: boolean): Action {
  let a: Action | null = null;
  if (save) {
    if (rsc) {
      const found = findActions(rsc.actions, key, node);
      a = found[0] ?? null;
    } else {
      const s = ws.singletons.get(key);
      if (s && (node === null || s.node === null || s.node === node)) {
        if (s.node === null && node !== null) s.node = node;
        a = s;
      }
    }
  }
  if (!a) a = newAction(ws, key, task, rsc, node, optional, save);
  // Unmanaged resources' non-recurring actions are always optional.
  if (rsc && a.node && (a.flags & A_PSEUDO) === 0 && (rsc.flags & R_MANAGED) === 0 && !a.meta.has("interval")) {
    a.flags |= A_OPTIONAL;
  } else if (!optional) {
    a.flags &= ~A_OPTIONAL;
  }
  if (rsc) updateRunnable(ws, a, save);
  return a;
}

export function startAction(ws: WorkingSet, r: WRsc, node: WNode | null, optional: boolean): Action {
  return customAction(ws, r, opKey(r.id, "start", 0), "start", node, optional, true);
}

export function stopAction(ws: WorkingSet, r: WRsc, node: WNode | null, optional: boolean): Action {
  return customAction(ws, r, opKey(r.id, "stop", 0), "stop", node, optional, true);
}

export function promoteAction(ws: WorkingSet, r: WRsc, node: WNode | null, optional: boolean): Action {
  return customAction(ws, r, opKey(r.id, "promote", 0), "promote", node, optional, true);
}

export function demoteAction(ws: WorkingSet, r: WRsc, node: WNode | null, optional: boolean): Action {
  return customAction(ws, r, opKey(r.id, "demote", 0), "demote", node, optional, true);
}

export function pseudoAction(ws: WorkingSet, r: WRsc, task: string, optional: boolean, runnable: boolean): Action {
  const a = customAction(ws, r, opKey(r.id, task, 0), task, null, optional, true);
  a.flags |= A_PSEUDO;
  if (runnable) a.flags |= A_RUNNABLE;
  return a;
}

/** get_pseudo_op(): a singleton pseudo action without resource. */
export function getPseudoOp(ws: WorkingSet, name: string): Action {
  let a = ws.singletons.get(name);
  if (!a) {
    a = customAction(ws, null, name, name, null, true, true);
    a.flags |= A_PSEUDO | A_RUNNABLE;
  }
  return a;
}

/** pe_fence_op(): the fencing action for a node; required when fencing is possible and asked for. */
export function fenceOp(ws: WorkingSet, node: WNode, op: string | null, optional: boolean, reason: string | null): Action {
  const action = op ?? ws.stonithAction;
  const key = `stonith-${node.uname}-${action}`;
  let f = ws.singletons.get(key);
  if (!f) {
    f = customAction(ws, null, key, "stonith", node, true, true);
    f.meta.set("on_node", node.uname);
    f.meta.set("on_node_uuid", node.id);
    f.meta.set("stonith_action", action);
  }
  if (!optional && canFence(ws, node)) {
    f.flags &= ~A_OPTIONAL;
    setReason(f, reason, false);
  } else if (reason !== null && f.reason === null) {
    f.reason = reason;
  }
  return f;
}

/** pe_fence_node(): marks a cluster node unclean and records why it should be fenced. */
export function fenceNode(ws: WorkingSet, node: WNode, reason: string, priorityDelay: boolean): void {
  void priorityDelay;
  if (node.unclean) return;
  node.unclean = true;
  fenceOp(ws, node, null, true, reason);
  ws.warnings.push(`node ${node.uname} ${canFence(ws, node) ? "will be fenced" : "is unclean"}: ${reason}`);
}

export { R_FENCE_DEVICE };
