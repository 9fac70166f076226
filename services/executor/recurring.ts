// Recurring monitors on one node, as a core without I/O. The transition graph starts a recurring
// monitor once (the action completes with its first result); from then on the node repeats it
// every interval until a cancel action (or a stop of the resource) removes it.
//
// As in Pacemaker's executor, the next run is due one interval after the previous one *ended*
// (a slow agent is never run twice at once), and a result is reported upward only when its rc
// differs from the previous one, so a healthy resource costs the CIB nothing.
import type { OpRequest } from "./agents/types.ts";

export interface RecurringOp {
  /** The operation key the graph used: rsc_monitor_<interval>. */
  key: string;
  resource: string;
  request: OpRequest;
}

export type RecurringEffect = { kind: "run"; op: RecurringOp } | { kind: "report"; key: string; rc: number; previous_rc: number | null };

interface Entry {
  op: RecurringOp;
  due_ms: number;
  running: boolean;
  last_rc: number | null;
}

/** Bound on distinct recurring operations per node; a config beyond it is refused, not queued. */
export const RECURRING_OPS_MAX = 10_000;

export class RecurringMonitors {
  private readonly ops = new Map<string, Entry>();

  /**
   * Registers a monitor whose first run the transition already did (rc first_rc at now_ms).
   * Re-adding a key replaces its request (a changed definition) and keeps its last rc.
   */
  add(op: RecurringOp, first_rc: number, now_ms: number): void {
    if (!(op.request.interval_ms > 0)) throw new Error(`recurring op ${op.key}: interval_ms must be positive`);
    const existing = this.ops.get(op.key);
    if (!existing && this.ops.size >= RECURRING_OPS_MAX) throw new Error(`recurring op ${op.key}: more than ${RECURRING_OPS_MAX} recurring operations`);
    this.ops.set(op.key, { op, due_ms: now_ms + op.request.interval_ms, running: existing?.running ?? false, last_rc: first_rc });
  }

  /** Cancel one operation; a run in flight finishes but its result is dropped. */
  cancel(key: string): boolean {
    return this.ops.delete(key);
  }

  /** Cancel every recurring operation of a resource (before its stop, migrate_to or demote). */
  cancelResource(resource: string): string[] {
    const keys = [...this.ops.values()].filter((e) => e.op.resource === resource).map((e) => e.op.key);
    for (const k of keys) this.ops.delete(k);
    return keys;
  }

  /** Monitors that are due and not already running, in key order (deterministic). */
  tick(now_ms: number): RecurringEffect[] {
    const due = [...this.ops.values()].filter((e) => !e.running && e.due_ms <= now_ms).sort((a, b) => (a.op.key < b.op.key ? -1 : 1));
    for (const e of due) e.running = true;
    return due.map((e) => ({ kind: "run", op: e.op }));
  }

  /** A run ended with rc; reschedules it and reports the rc when it changed. */
  completed(key: string, rc: number, now_ms: number): RecurringEffect[] {
    const e = this.ops.get(key);
    if (!e || !e.running) return []; // cancelled meanwhile: the result belongs to no one
    e.running = false;
    e.due_ms = now_ms + e.op.request.interval_ms;
    if (e.last_rc === rc) return [];
    const previous_rc = e.last_rc;
    e.last_rc = rc;
    return [{ kind: "report", key, rc, previous_rc }];
  }

  /** The earliest time a tick could launch something, for the caller's timer; null when idle. */
  nextDue_ms(): number | null {
    let next: number | null = null;
    for (const e of this.ops.values()) if (!e.running && (next === null || e.due_ms < next)) next = e.due_ms;
    return next;
  }

  get size(): number {
    return this.ops.size;
  }
}
