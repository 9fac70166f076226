// The agent interface shared by every resource class (OCF, LSB, built-in): one request type, one
// result type. The result separates *how the execution went* (it ran, timed out, was never
// installed, could not be run) from *what the agent said* (the OCF exit code), because on-fail
// and fail counts treat a timeout differently from an agent that answered "generic error".

/** The OCF exit codes (OCF resource agent API 1.1, section "Return codes"). */
export const OCF_RC = {
  SUCCESS: 0,
  ERR_GENERIC: 1,
  ERR_ARGS: 2,
  ERR_UNIMPLEMENTED: 3,
  ERR_PERM: 4,
  ERR_INSTALLED: 5,
  ERR_CONFIGURED: 6,
  NOT_RUNNING: 7,
  RUNNING_PROMOTED: 8,
  FAILED_PROMOTED: 9,
} as const;

export type OcfCode =
  | "success"
  | "generic"
  | "args"
  | "unimplemented"
  | "perm"
  | "not-installed"
  | "not-configured"
  | "not-running"
  | "running-promoted"
  | "failed-promoted";

const CODE_BY_RC: readonly OcfCode[] = [
  "success",
  "generic",
  "args",
  "unimplemented",
  "perm",
  "not-installed",
  "not-configured",
  "not-running",
  "running-promoted",
  "failed-promoted",
];

/** The typed name of an OCF rc; null for a number outside the API (the caller treats it as generic). */
export function ocfCode(rc: number): OcfCode | null {
  return Number.isInteger(rc) && rc >= 0 && rc < CODE_BY_RC.length ? CODE_BY_RC[rc]! : null;
}

export const AGENT_ACTIONS = [
  "start",
  "stop",
  "monitor",
  "promote",
  "demote",
  "migrate_to",
  "migrate_from",
  "notify",
  "reload",
  "meta-data",
  "validate-all",
] as const;
export type AgentAction = (typeof AGENT_ACTIONS)[number];

export function isAgentAction(s: string): s is AgentAction {
  return (AGENT_ACTIONS as readonly string[]).includes(s);
}

export interface OpRequest {
  action: AgentAction;
  /** OCF_RESOURCE_INSTANCE: the resource id, with ":N" for a clone instance. */
  instance: string;
  /** Instance parameters, passed as OCF_RESKEY_<name>. */
  params: Readonly<Record<string, string>>;
  /** Operation meta-attributes, passed as OCF_RESKEY_CRM_meta_<name> (notify_*, on_node, ...). */
  meta?: Readonly<Record<string, string>>;
  timeout_ms: number;
  /** 0 for a one-shot operation (and a probe); the recurring monitor's period otherwise. */
  interval_ms: number;
  /** Monitor depth (OCF_CHECK_LEVEL): 0, 10, 20, 30. */
  depth?: number;
}

/**
 * done: the agent ran to its end and `rc` is what it said.
 * timed-out: killed after timeout_ms (its whole process group); rc is ERR_GENERIC.
 * not-installed: the agent does not exist or is not executable; rc is ERR_INSTALLED.
 * error: it could not be run or died by a signal, or the request was refused; see reason.
 */
export type ExecStatus = "done" | "timed-out" | "not-installed" | "error";

export interface OpResult {
  action: AgentAction;
  exec: ExecStatus;
  rc: number;
  code: OcfCode;
  /** Empty on success; otherwise a sentence naming the agent and the cause. */
  reason: string;
  stdout: string;
  stderr: string;
  /** True when stdout or stderr went over the capture bound and was cut. */
  output_truncated: boolean;
}

export interface ParameterSpec {
  name: string;
  required: boolean;
  unique: boolean;
  type: string;
  default?: string;
  shortdesc: string;
}

export interface ActionSpec {
  name: string;
  timeout_ms?: number;
  interval_ms?: number;
  depth?: number;
  role?: string;
}

export interface AgentMetadata {
  name: string;
  version: string;
  shortdesc: string;
  parameters: ParameterSpec[];
  actions: ActionSpec[];
}

export type MetadataResult = { ok: true; metadata: AgentMetadata } | { ok: false; reason: string; result?: OpResult };

/** Any agent, whatever its class. */
export interface Agent {
  /** "ocf:heartbeat:Dummy", "lsb:ssh", "hapd:marker": for reasons and logs. */
  readonly spec: string;
  run(req: OpRequest): Promise<OpResult>;
  /** The agent's meta-data, parsed; garbage is reported with the reason, never thrown. */
  metadata(timeout_ms?: number): Promise<MetadataResult>;
}

/** Builds a result from an rc, with the reason an operator reads when it is not success. */
export function resultFromRc(action: AgentAction, rc: number, spec: string, out?: { stdout: string; stderr: string; output_truncated: boolean }): OpResult {
  const code = ocfCode(rc);
  const base = { action, stdout: out?.stdout ?? "", stderr: out?.stderr ?? "", output_truncated: out?.output_truncated ?? false };
  if (code === null) {
    return { ...base, exec: "done", rc: OCF_RC.ERR_GENERIC, code: "generic", reason: `${spec} ${action} exited ${rc}, which is not an OCF exit code${lastLine(out?.stderr)}` };
  }
  const reason = code === "success" ? "" : `${spec} ${action}: ${code} (rc ${rc})${lastLine(out?.stderr)}`;
  return { ...base, exec: "done", rc, code, reason };
}

/**
 * A result for an operation that did not end with an agent's answer: a timeout, a missing agent,
 * a refused request. rc defaults to what Pacemaker records for the same case.
 */
export function failedResult(
  action: AgentAction,
  exec: Exclude<ExecStatus, "done">,
  reason: string,
  opts: { rc?: number; out?: { stdout: string; stderr: string; output_truncated: boolean } } = {},
): OpResult {
  const rc = opts.rc ?? (exec === "not-installed" ? OCF_RC.ERR_INSTALLED : OCF_RC.ERR_GENERIC);
  const out = opts.out;
  return { action, exec, rc, code: ocfCode(rc) ?? "generic", reason, stdout: out?.stdout ?? "", stderr: out?.stderr ?? "", output_truncated: out?.output_truncated ?? false };
}

// The agent's last stderr line usually says why (ocf_exit_reason writes there); keep it bounded.
function lastLine(stderr: string | undefined): string {
  if (!stderr) return "";
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  const last = lines[lines.length - 1];
  return last === undefined ? "" : `: ${last.slice(0, 200)}`;
}
