// The async driver: runs an ExecutorCore with real agents (or any dispatch function). This is the
// edge; the decisions stay in core.ts. The node runtime uses it as is, or copies its ten-line loop
// into its own event loop.
import type { PrimitiveDef } from "../crm/model.ts";
import { type Dispatch, dispatchFor, judge } from "./adapter.ts";
import { type AgentOptions, resolveAgent } from "./agents/index.ts";
import type { Agent, OpResult } from "./agents/types.ts";
import { type ActionOutcome, type ExecutorEffect, type ExecutorOptions, type GraphAction, type TransitionGraph, type TransitionReport, ExecutorCore } from "./core.ts";

export interface RunningTransition {
  /** Resolves when every launched action has reported; never rejects. */
  done: Promise<TransitionReport>;
  /** The world changed: launch nothing more (see ExecutorCore.abort). */
  abort(reason: string): void;
  readonly core: ExecutorCore;
}

export function runTransition(graph: TransitionGraph, opts: ExecutorOptions & { dispatch: (a: GraphAction) => Promise<ActionOutcome> }): RunningTransition {
  const core = new ExecutorCore(graph, opts);
  let resolveDone!: (r: TransitionReport) => void;
  const done = new Promise<TransitionReport>((r) => {
    resolveDone = r;
  });
  const handle = (effects: ExecutorEffect[]): void => {
    for (const e of effects) {
      if (e.kind === "finished") {
        resolveDone(e.report);
        continue;
      }
      const a = e.action;
      opts
        .dispatch(a)
        .catch((err: unknown): ActionOutcome => ({ ok: false, reason: `#${a.id} ${a.key}: ${(err as Error).message}` }))
        .then((outcome) => handle(core.complete(a.id, outcome)));
    }
  };
  handle(core.start());
  return { done, abort: (reason) => handle(core.abort(reason)), core };
}

export interface AgentDispatchOptions {
  lookup: (id: string) => PrimitiveDef | undefined;
  agents?: AgentOptions;
  /** Every agent result, for the caller to record (the CIB's operation history). */
  onResult?: (a: GraphAction, r: OpResult) => void;
  /** Fencing, shutdown and cancel belong to other services; unhandled ones fail by name. */
  other?: (a: GraphAction, d: Exclude<Dispatch, { kind: "agent" | "invalid" }>) => Promise<ActionOutcome>;
}

/** A dispatch function that runs resource actions through their agents on this node. */
export function agentDispatch(o: AgentDispatchOptions): (a: GraphAction) => Promise<ActionOutcome> {
  // One Agent object per spec, so meta-data is read once per agent, not once per operation.
  const agents = new Map<string, Agent | string>();
  return async (a) => {
    const d = dispatchFor(a, o.lookup);
    if (d.kind === "invalid") return { ok: false, reason: d.reason };
    if (d.kind !== "agent") return o.other ? o.other(a, d) : { ok: false, reason: `#${a.id} ${a.key}: no handler for ${d.kind} on this executor` };
    const key = `${d.spec.class}:${d.spec.provider ?? ""}:${d.spec.type}`;
    let agent = agents.get(key);
    if (agent === undefined) {
      const r = resolveAgent(d.spec, o.agents);
      agent = r.ok ? r.agent : r.reason;
      agents.set(key, agent);
    }
    if (typeof agent === "string") return { ok: false, reason: agent };
    const result = await agent.run(d.request);
    o.onResult?.(a, result);
    return judge(a, result);
  };
}
