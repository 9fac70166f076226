// The "Transition Summary:" lines, in the form crm_simulate prints them:
//
//   * Fence (reboot) host-a 'peer is no longer part of the cluster'
//   * Start      vm1     ( host-b )
//   * Move       svc     ( host-a -> host-b )
//   * Recover    db      ( host-a )  due to required net start
//
// Column rules (taken from crm_simulate's output): the change word is padded to 8, then three
// spaces; the resource id is padded to a width that starts at 5 and becomes (longest id + 2)
// whenever an id is longer than the current width; then three spaces and "( details )" with the
// details right-aligned to the longest details seen (at least 5). The widths are those reached
// after all lines, because crm_simulate formats every line once for its log before printing.
import {
  type Action,
  type WNode,
  type WRsc,
  type WorkingSet,
  A_OPTIONAL,
  A_RUNNABLE,
  R_FAILED,
  R_MANAGED,
  R_ORPHAN,
  R_RELOAD,
  R_STOP,
  R_STOP_UNEXPECTED,
  ROLE_TEXT,
  Role,
  currentNode,
  findActions,
  opKey,
  resourceActions,
} from "./sched-core.ts";

export interface SummaryItem {
  change: string;
  rsc: string;
  details: string;
  reason: string | null;
}

export interface NodeActionItem {
  task: string;
  node: string;
  reason: string;
}

export type SummaryLine = { kind: "node"; item: NodeActionItem } | { kind: "rsc"; item: SummaryItem };

function runnable(a: Action | null): boolean {
  return a === null || (a.flags & A_RUNNABLE) !== 0;
}

function optional(a: Action): boolean {
  return (a.flags & A_OPTIONAL) !== 0;
}

function item(change: string, r: WRsc, origin: WNode | null, destination: WNode | null, action: Action | null, sourceIn: Action | null): SummaryItem {
  const source = sourceIn ?? action;
  const needRole = r.role > Role.Started || r.nextRole > Role.Unpromoted;
  const sameHost = origin !== null && destination !== null && origin === destination;
  const sameRole = r.role === r.nextRole;
  const role = ROLE_TEXT[r.role];
  const next = ROLE_TEXT[r.nextRole];
  let details: string;
  if (needRole && origin === null) details = `${role} -> ${next} ${destination!.uname}`;
  else if (origin === null) details = destination!.uname;
  else if (needRole && destination === null) details = `${role} ${origin.uname}`;
  else if (destination === null) details = origin.uname;
  else if (needRole && sameRole && sameHost) details = `${role} ${origin.uname}`;
  else if (sameRole && sameHost) details = origin.uname;
  else if (needRole && sameRole) details = `${origin.uname} -> ${destination.uname} ${role}`;
  else if (sameRole) details = `${origin.uname} -> ${destination.uname}`;
  else if (sameHost) details = `${role} -> ${next} ${origin.uname}`;
  else details = `${role} ${origin.uname} -> ${next} ${destination.uname}`;
  let reason: string | null = null;
  const why = source?.reason ?? null;
  if (why !== null && !runnable(action)) reason = `due to ${why} (blocked)`;
  else if (why !== null) reason = `due to ${why}`;
  else if (!runnable(action)) reason = "blocked";
  return { change, rsc: r.id, details, reason };
}

function first<T>(l: T[]): T | null {
  return l[0] ?? null;
}

function rscActionDefault(r: WRsc, current: WNode | null, next: WNode | null, out: SummaryItem[]): void {
  if ((r.flags & R_MANAGED) === 0 || (current === null && next === null)) return;
  const moving = current !== null && next !== null && current !== next;
  const start = first(resourceActions(r, next, "start", false));
  const startNode = start === null || (start.flags & A_RUNNABLE) === 0 ? null : current;
  let stop = first(resourceActions(r, startNode, "stop", false));
  if (stop === null && (r.flags & R_STOP_UNEXPECTED) !== 0) stop = first(resourceActions(r, null, "stop", false));
  const promote = first(resourceActions(r, next, "promote", false));
  const demote = first(resourceActions(r, next, "demote", false));
  const failed = (r.flags & R_FAILED) !== 0;
  if (r.role === r.nextRole) {
    if (next === null) return;
    const migrate = first(resourceActions(r, next, "migrate_from", false));
    if (migrate && current && (migrate.flags & A_RUNNABLE) !== 0) {
      out.push(item("Migrate", r, current, next, start, null));
    } else if ((r.flags & R_RELOAD) !== 0) {
      out.push(item("Reload", r, current, next, start, null));
    } else if (start === null || optional(start)) {
      if (demote && promote && !optional(demote) && !optional(promote)) out.push(item("Re-promote", r, current, next, promote, demote));
    } else if ((start.flags & A_RUNNABLE) === 0) {
      out.push(item("Stop", r, current, null, stop, stop && stop.reason !== null ? stop : start));
    } else if (moving && current) {
      out.push(item(failed ? "Recover" : "Move", r, current, next, stop, null));
    } else if (failed) {
      out.push(item("Recover", r, current, null, stop, null));
    } else {
      out.push(item("Restart", r, current, next, start, null));
    }
    return;
  }
  if (stop && (r.nextRole === Role.Stopped || (start && (start.flags & A_RUNNABLE) === 0))) {
    const key = opKey(r.id, "stop", 0);
    for (const node of r.runningOn) {
      const stopOp = first(findActions(r.actions, key, node));
      out.push(item("Stop", r, node, null, stopOp, stopOp && stopOp.reason !== null ? stopOp : start));
    }
  } else if (stop && (r.flags & (R_FAILED | R_STOP)) === (R_FAILED | R_STOP)) {
    out.push(item("Recover", r, current, next, stop, start));
  } else if (moving) {
    out.push(item("Move", r, current, next, stop, null));
  } else if ((r.flags & R_RELOAD) !== 0) {
    out.push(item("Reload", r, current, next, start, null));
  } else if (stop && !optional(stop)) {
    out.push(item("Restart", r, current, next, start, null));
  } else if (r.role === Role.Promoted) {
    out.push(item("Demote", r, current, next, demote, null));
  } else if (r.nextRole === Role.Promoted) {
    out.push(item("Promote", r, current, next, promote, null));
  } else if (r.role === Role.Stopped && r.nextRole > Role.Stopped) {
    out.push(item("Start", r, current, next, start, null));
  }
}

function outputResource(r: WRsc, out: SummaryItem[]): void {
  if (r.children.length > 0) {
    for (const c of r.children) outputResource(c, out);
    return;
  }
  const next = r.allocatedTo?.node ?? null;
  let current: WNode | null = null;
  if (r.runningOn.length > 0) {
    current = currentNode(r);
    if (r.role === Role.Stopped) r.role = Role.Started;
  }
  if (current === null && (r.flags & R_ORPHAN) !== 0) return;
  rscActionDefault(r, current, next, out);
}

/** pcmk__output_actions(): node actions (fencing, shutdown) first, then each resource's change. */
export function summaryLines(ws: WorkingSet): SummaryLine[] {
  const lines: SummaryLine[] = [];
  for (let i = ws.actions.length - 1; i >= 0; i--) {
    const a = ws.actions[i]!;
    if (a.rsc !== null || (a.flags & A_OPTIONAL) !== 0) continue;
    let task: string;
    if (a.task === "do_shutdown") task = "Shutdown";
    else if (a.task === "stonith") task = `Fence (${a.meta.get("stonith_action") ?? ws.stonithAction})`;
    else continue;
    if (a.reason === null) continue;
    lines.push({ kind: "node", item: { task, node: a.node?.uname ?? "", reason: a.reason } });
  }
  const items: SummaryItem[] = [];
  for (const r of ws.resources) outputResource(r, items);
  for (const it of items) lines.push({ kind: "rsc", item: it });
  return lines;
}

/** Formats the lines exactly as crm_simulate's text output ("  * " list items). */
export function formatSummary(lines: SummaryLine[]): string[] {
  let rscWidth = 5;
  let detailWidth = 5;
  for (const l of lines) {
    if (l.kind !== "rsc") continue;
    if (l.item.rsc.length > rscWidth) rscWidth = l.item.rsc.length + 2;
    if (l.item.details.length > detailWidth) detailWidth = l.item.details.length;
  }
  return lines.map((l) => {
    if (l.kind === "node") return `  * ${l.item.task} ${l.item.node} '${l.item.reason}'`;
    const it = l.item;
    return `  * ${it.change.padEnd(8)}   ${it.rsc.padEnd(rscWidth)}   ( ${it.details.padStart(detailWidth)} )${it.reason !== null ? `  ${it.reason}` : ""}`;
  });
}

export { findActions };
