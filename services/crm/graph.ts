// The transition graph: the actions to execute (required and runnable) with the orderings between
// them, numbered, plus a printer. This is what the executor consumes; fencing comes first, and a
// recovered resource's start always depends (directly or through pseudo actions) on the fencing.
import {
  type Action,
  type WorkingSet,
  A_MIGRATE_RUNNABLE,
  A_OPTIONAL,
  A_PRINT_ALWAYS,
  A_PSEUDO,
  A_RUNNABLE,
  O_APPLY_FIRST_NON_MIGRATABLE,
  O_IMPLIES_FIRST_MIGRATABLE,
  O_LOAD,
  O_NONE,
  O_ONE_OR_MORE,
  O_OPTIONAL,
  R_MANAGED,
} from "./sched-core.ts";

export interface GraphAction {
  /** Position in the graph (0-based, stable for a given input). */
  id: number;
  /** Operation key: rsc_task_interval, or stonith-NODE-ACTION, do_shutdown-NODE, pseudo keys. */
  key: string;
  task: string;
  resource: string | null;
  node: string | null;
  pseudo: boolean;
  interval_ms: number;
  timeout_ms: number;
  /** For fencing: reboot or off. */
  fenceAction?: string;
  reason?: string;
  meta: Record<string, string>;
  /** Ids of the actions that must complete first. */
  inputs: number[];
}

export interface TransitionGraph {
  actions: GraphAction[];
}

function inGraph(a: Action): boolean {
  if ((a.flags & A_RUNNABLE) === 0) return false;
  if ((a.flags & A_OPTIONAL) !== 0 && (a.flags & A_PRINT_ALWAYS) === 0) return false;
  if (a.rsc && (a.rsc.flags & R_MANAGED) === 0 && a.task !== "monitor") {
    const iv = a.meta.get("interval");
    if (iv === undefined || iv === "0") return false;
  }
  if ((a.flags & A_PSEUDO) !== 0 || a.task === "stonith" || a.task === "do_shutdown") return true;
  if (a.node === null) return false;
  if ((a.flags & 0x10000) !== 0) return true;
  if (!a.node.online || a.node.unclean) return false;
  return true;
}

function inputApplies(a: Action, w: { action: Action; type: number }): boolean {
  if (w.type === O_NONE) return false;
  const input = w.action;
  if ((input.flags & A_RUNNABLE) === 0) {
    // Only orderings that could change actions keep an unrunnable input; they are dropped here.
    return false;
  }
  if ((w.type & O_ONE_OR_MORE) !== 0 && (input.flags & A_RUNNABLE) === 0) return false;
  if ((w.type & O_IMPLIES_FIRST_MIGRATABLE) !== 0 && (input.flags & A_RUNNABLE) === 0) return false;
  if ((w.type & O_APPLY_FIRST_NON_MIGRATABLE) !== 0 && (input.flags & A_MIGRATE_RUNNABLE) !== 0) return false;
  if (w.type === O_OPTIONAL && (input.flags & A_MIGRATE_RUNNABLE) !== 0 && input.uuid.endsWith("_stop_0")) return false;
  if (w.type === O_LOAD) {
    if (a.rsc && a.task === "migrate_to") {
      if (!input.node || !a.rsc.allocatedTo || input.node !== a.rsc.allocatedTo.node) return false;
    } else if (!input.node || !a.node || input.node !== a.node) return false;
  }
  return true;
}

/** Builds the graph from a scheduled working set (actions in creation order). */
export function buildGraph(ws: WorkingSet): TransitionGraph {
  const included = ws.actions.filter(inGraph);
  const index = new Map<Action, number>();
  included.forEach((a, i) => index.set(a, i));
  const actions: GraphAction[] = included.map((a, i) => {
    const inputs = new Set<number>();
    for (const w of a.before) {
      if (!inputApplies(a, w)) continue;
      const j = index.get(w.action);
      if (j !== undefined && j !== i) inputs.add(j);
    }
    const meta: Record<string, string> = {};
    for (const [k, v] of a.meta) meta[k] = v;
    const g: GraphAction = {
      id: i,
      key: a.uuid,
      task: a.task,
      resource: a.rsc?.id ?? null,
      node: a.node?.uname ?? null,
      pseudo: (a.flags & A_PSEUDO) !== 0,
      interval_ms: a.interval_ms,
      timeout_ms: Number(a.meta.get("timeout") ?? "0"),
      meta,
      inputs: [...inputs].sort((x, y) => x - y),
    };
    if (a.task === "stonith") g.fenceAction = a.meta.get("stonith_action") ?? ws.stonithAction;
    if (a.reason !== null) g.reason = a.reason;
    return g;
  });
  return { actions };
}

/** A readable rendering: one action per line with the actions it waits for. */
export function formatGraph(g: TransitionGraph): string[] {
  const edges = g.actions.reduce((n, a) => n + a.inputs.length, 0);
  const out = [`Transition Graph: ${g.actions.length} actions, ${edges} orderings`];
  for (const a of g.actions) {
    const what = a.task === "stonith" ? `fence (${a.fenceAction}) ${a.node}` : a.pseudo ? `pseudo ${a.key}` : `${a.key}${a.node ? ` on ${a.node}` : ""}`;
    const after = a.inputs.length > 0 ? `  after ${a.inputs.map((i) => `#${i}`).join(" ")}` : "";
    out.push(`  #${a.id} ${what}${after}`);
  }
  return out;
}
