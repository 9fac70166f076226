// The executor core: one transition graph, run as a state machine without I/O.
//
// The caller's loop (the node runtime, or a test) is:
//   const core = new ExecutorCore(graph, { concurrency_max: 4 });
//   handle(core.start());                       // effects: run these actions
//   ... an action finishes → handle(core.complete(id, { ok, reason }))
//   ... the world changed → handle(core.abort("node host-b left"))
// until an effect of kind "finished" arrives, with the report the scheduler needs to replan.
//
// Rules, in the order they are applied:
// - An action is ready when every input completed successfully. Pseudo actions (the scheduler's
//   "running"/"stopped" markers and the like) complete as soon as they are ready, inside the core,
//   without an effect and without a concurrency slot.
// - Ready actions are launched in id order (the scheduler's order, deterministic) while fewer than
//   concurrency_max (and, per node, node_concurrency_max) are running.
// - A failure marks every action that (transitively) depends on it as skipped: it can never run.
//   By default a failure also aborts the transition, as Pacemaker does: an unexpected result means
//   the graph was computed from a world that no longer exists.
// - Aborting stops all launches; actions already running are awaited (an agent cannot be
//   un-run, and its result must be recorded before the next plan), then "finished" is emitted.
// Assertions guard the contract: completing an action that is not running is a caller bug.
import type { GraphAction, TransitionGraph } from "../crm/graph.ts";

export type { GraphAction, TransitionGraph };

export interface ExecutorOptions {
  /** Actions running at once, cluster-wide (Pacemaker's batch-limit). */
  concurrency_max: number;
  /** Actions running at once on one node (Pacemaker's node-action-limit); unbounded when absent. */
  node_concurrency_max?: number;
  /** Abort the whole transition on the first failure (default true, Pacemaker's behaviour). */
  abort_on_failure?: boolean;
}

export type ActionState = "pending" | "running" | "done" | "failed" | "skipped";

export interface ActionOutcome {
  ok: boolean;
  /** Why it failed (the agent's reason); empty on success. */
  reason: string;
}

export interface TransitionReport {
  /** complete: every action done. failed: a failure stopped it. aborted: abort() was called. */
  outcome: "complete" | "failed" | "aborted";
  reason: string;
  completed: number[];
  failed: { id: number; reason: string }[];
  /** Never runnable: a (transitive) input failed. */
  skipped: number[];
  /** Not launched because the transition stopped; may be planned again. */
  not_run: number[];
}

export type ExecutorEffect = { kind: "run"; action: GraphAction } | { kind: "finished"; report: TransitionReport };

export class GraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GraphError";
  }
}

/** Checks ids, references and acyclicity; the error names the offending action. */
export function validateGraph(graph: TransitionGraph): void {
  const n = graph.actions.length;
  graph.actions.forEach((a, i) => {
    if (a.id !== i) throw new GraphError(`action ${a.key} has id ${a.id} at position ${i}; ids must be the positions 0..${n - 1}`);
    for (const j of a.inputs) {
      if (!Number.isInteger(j) || j < 0 || j >= n) throw new GraphError(`action #${i} ${a.key} waits for #${j}, which is not in the graph`);
      if (j === i) throw new GraphError(`action #${i} ${a.key} waits for itself`);
    }
  });
  // Kahn's algorithm: whatever cannot be ordered lies on (or behind) a cycle.
  const remaining = graph.actions.map((a) => a.inputs.length);
  const dependents = dependentsOf(graph);
  const queue = graph.actions.filter((a) => a.inputs.length === 0).map((a) => a.id);
  let ordered = 0;
  while (queue.length > 0) {
    const i = queue.pop()!;
    ordered += 1;
    for (const d of dependents[i]!) {
      remaining[d]! -= 1;
      if (remaining[d] === 0) queue.push(d);
    }
  }
  if (ordered < n) {
    const stuck = graph.actions.filter((a) => remaining[a.id]! > 0).map((a) => `#${a.id} ${a.key}`);
    throw new GraphError(`the graph has an ordering loop through ${stuck.slice(0, 5).join(", ")}${stuck.length > 5 ? ", ..." : ""}`);
  }
}

function dependentsOf(graph: TransitionGraph): number[][] {
  const out: number[][] = graph.actions.map(() => []);
  for (const a of graph.actions) for (const j of a.inputs) out[j]!.push(a.id);
  return out;
}

export class ExecutorCore {
  private readonly states: ActionState[];
  private readonly reasons = new Map<number, string>();
  private readonly dependents: number[][];
  private readonly abortOnFailure: boolean;
  private running = 0;
  private readonly runningPerNode = new Map<string, number>();
  private stopping: { outcome: "failed" | "aborted"; reason: string } | null = null;
  private started = false;
  private finished: TransitionReport | null = null;

  constructor(
    readonly graph: TransitionGraph,
    private readonly opts: ExecutorOptions,
  ) {
    if (!Number.isInteger(opts.concurrency_max) || opts.concurrency_max < 1) throw new GraphError(`concurrency_max must be a positive integer, got ${opts.concurrency_max}`);
    validateGraph(graph);
    this.states = graph.actions.map(() => "pending");
    this.dependents = dependentsOf(graph);
    this.abortOnFailure = opts.abort_on_failure ?? true;
  }

  state(id: number): ActionState {
    const s = this.states[id];
    if (s === undefined) throw new GraphError(`no action #${id}`);
    return s;
  }

  get report(): TransitionReport | null {
    return this.finished;
  }

  start(): ExecutorEffect[] {
    if (this.started) throw new Error("ExecutorCore.start called twice");
    this.started = true;
    return this.advance();
  }

  /** The result of a running action. */
  complete(id: number, outcome: ActionOutcome): ExecutorEffect[] {
    if (this.states[id] !== "running") throw new Error(`ExecutorCore.complete(#${id}): the action is ${this.states[id] ?? "not in the graph"}, not running`);
    const a = this.graph.actions[id]!;
    this.running -= 1;
    if (a.node !== null) this.runningPerNode.set(a.node, (this.runningPerNode.get(a.node) ?? 1) - 1);
    if (outcome.ok) {
      this.states[id] = "done";
    } else {
      this.states[id] = "failed";
      this.reasons.set(id, outcome.reason);
      this.skipDependents(id);
      if (this.abortOnFailure && this.stopping === null) this.stopping = { outcome: "failed", reason: `#${id} ${a.key} failed: ${outcome.reason}` };
    }
    return this.advance();
  }

  /** The world changed: launch nothing more, finish when the running actions have reported. */
  abort(reason: string): ExecutorEffect[] {
    if (this.finished) return [];
    if (this.stopping === null) this.stopping = { outcome: "aborted", reason };
    return this.started ? this.advance() : [];
  }

  private skipDependents(id: number): void {
    const stack = [...this.dependents[id]!];
    while (stack.length > 0) {
      const d = stack.pop()!;
      if (this.states[d] !== "pending") continue;
      this.states[d] = "skipped";
      stack.push(...this.dependents[d]!);
    }
  }

  private ready(a: GraphAction): boolean {
    return this.states[a.id] === "pending" && a.inputs.every((j) => this.states[j] === "done");
  }

  private hasSlot(a: GraphAction): boolean {
    if (this.running >= this.opts.concurrency_max) return false;
    const limit = this.opts.node_concurrency_max;
    return limit === undefined || a.node === null || (this.runningPerNode.get(a.node) ?? 0) < limit;
  }

  private advance(): ExecutorEffect[] {
    if (this.finished) return [];
    const effects: ExecutorEffect[] = [];
    if (this.stopping === null) {
      // Completing a pseudo action can make earlier ids ready, so sweep until nothing changes;
      // each sweep completes or launches at least one action, so this ends within n sweeps.
      for (let changed = true; changed; ) {
        changed = false;
        for (const a of this.graph.actions) {
          if (!this.ready(a)) continue;
          if (a.pseudo) {
            this.states[a.id] = "done";
            changed = true;
          } else if (this.hasSlot(a)) {
            this.states[a.id] = "running";
            this.running += 1;
            if (a.node !== null) this.runningPerNode.set(a.node, (this.runningPerNode.get(a.node) ?? 0) + 1);
            effects.push({ kind: "run", action: a });
            changed = true;
          }
        }
      }
    }
    if (this.running === 0) {
      const report = this.buildReport();
      this.finished = report;
      effects.push({ kind: "finished", report });
    }
    return effects;
  }

  private buildReport(): TransitionReport {
    const ids = (s: ActionState): number[] => this.states.flatMap((st, i) => (st === s ? [i] : []));
    const pending = ids("pending");
    const failed = ids("failed").map((id) => ({ id, reason: this.reasons.get(id) ?? "" }));
    // With nothing running and no stop requested, advance() launched everything ready and
    // skipDependents removed what hangs on a failure: a pending action left is a core bug.
    if (this.stopping === null && pending.length > 0) throw new Error(`ExecutorCore: actions ${pending.map((i) => `#${i}`).join(" ")} are pending with nothing running`);
    const outcome = this.stopping?.outcome ?? (failed.length > 0 ? "failed" : "complete");
    const reason = this.stopping?.reason ?? (failed.length > 0 ? failed.map((f) => `#${f.id} ${this.graph.actions[f.id]!.key} failed: ${f.reason}`).join("; ") : "");
    return { outcome, reason, completed: ids("done"), failed, skipped: ids("skipped"), not_run: pending };
  }
}
