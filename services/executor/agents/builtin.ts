// Built-in agents: the project's own resources as TypeScript classes with the OCF actions and
// exit codes, so the scheduler and the executor treat them like any OCF agent. The runner wraps
// an implementation with what the OCF runner gives a script: required-parameter checks,
// a timeout (the implementation gets an AbortSignal and should stop when it fires), and thrown
// errors turned into a generic failure naming the agent.
import { missingRequired } from "./metadata.ts";
import { type Agent, type AgentAction, type AgentMetadata, type MetadataResult, type OpRequest, type OpResult, OCF_RC, failedResult, resultFromRc } from "./types.ts";

export interface BuiltinContext {
  instance: string;
  params: Readonly<Record<string, string>>;
  meta: Readonly<Record<string, string>>;
  interval_ms: number;
  depth: number;
  /** Fires when the operation's timeout passed; the result is already "timed out" by then. */
  signal: AbortSignal;
}

/** An implementation: rc is an OCF code; reason is the operator's sentence when it is not 0. */
export interface BuiltinImpl {
  readonly type: string;
  readonly metadata: AgentMetadata;
  run(action: AgentAction, ctx: BuiltinContext): Promise<number | { rc: number; reason: string }>;
}

const CHECKED_ACTIONS = new Set<AgentAction>(["start", "promote", "migrate_from", "reload", "validate-all"]);

export class BuiltinAgent implements Agent {
  readonly spec: string;

  constructor(private readonly impl: BuiltinImpl) {
    this.spec = `hapd:${impl.type}`;
  }

  async metadata(): Promise<MetadataResult> {
    return { ok: true, metadata: this.impl.metadata };
  }

  async run(req: OpRequest): Promise<OpResult> {
    if (req.action === "meta-data") return { ...resultFromRc("meta-data", OCF_RC.SUCCESS, this.spec), stdout: JSON.stringify(this.impl.metadata) };
    if (!this.impl.metadata.actions.some((a) => a.name === req.action)) return resultFromRc(req.action, OCF_RC.ERR_UNIMPLEMENTED, this.spec);
    if (CHECKED_ACTIONS.has(req.action)) {
      const missing = missingRequired(this.impl.metadata, req.params);
      if (missing !== null) return failedResult(req.action, "error", `${this.spec} ${req.action}: required parameter "${missing}" is missing`, { rc: OCF_RC.ERR_CONFIGURED });
    }
    const controller = new AbortController();
    const ctx: BuiltinContext = { instance: req.instance, params: req.params, meta: req.meta ?? {}, interval_ms: req.interval_ms, depth: req.depth ?? 0, signal: controller.signal };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), req.timeout_ms);
    });
    try {
      const r = await Promise.race([this.impl.run(req.action, ctx), timeout]);
      if (r === "timeout") {
        controller.abort();
        return failedResult(req.action, "timed-out", `${this.spec} ${req.action} timed out after ${req.timeout_ms} ms`);
      }
      if (typeof r === "number") return resultFromRc(req.action, r, this.spec);
      const res = resultFromRc(req.action, r.rc, this.spec);
      return res.code === "success" ? res : { ...res, reason: `${this.spec} ${req.action}: ${r.reason}` };
    } catch (e) {
      return failedResult(req.action, "error", `${this.spec} ${req.action} failed: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}
