// The part OCF and LSB agents share: run an executable with one action argument and turn the
// process outcome into an OpResult. The class-specific part is only the rc mapping.
import { type ProcessRequest, runProcess } from "./process.ts";
import { type AgentAction, type OpResult, OCF_RC, failedResult, resultFromRc } from "./types.ts";

export interface ScriptLimits {
  /**
   * Run the agent inside this network namespace (`ip netns exec NAME`), as the lab's hosts are
   * namespaces of one machine. The namespace's processes share the agent's process group, so a
   * timeout still kills everything.
   */
  netns?: string;
  kill_grace_ms?: number;
  output_max_bytes?: number;
  drain_ms?: number;
}

export interface ScriptRun {
  spec: string;
  path: string;
  action: AgentAction;
  /** The word passed to the script (LSB "status" for a monitor). */
  argument: string;
  env: Record<string, string>;
  timeout_ms: number;
  limits: ScriptLimits;
  /** Exit status → OCF rc (the identity for OCF; LSB status codes differ). */
  mapRc: (exit_code: number) => number;
}

export async function runScript(r: ScriptRun): Promise<OpResult> {
  const netns = r.limits.netns;
  if (netns !== undefined && !plainName(netns)) return failedResult(r.action, "error", `${r.spec}: network namespace "${netns}" is not a plain name`, { rc: OCF_RC.ERR_CONFIGURED });
  const argv = netns === undefined ? [r.path, r.argument] : ["ip", "netns", "exec", netns, r.path, r.argument];
  const { kill_grace_ms, output_max_bytes, drain_ms } = r.limits;
  const req: ProcessRequest = { argv, env: r.env, cwd: "/", timeout_ms: r.timeout_ms, kill_grace_ms, output_max_bytes, drain_ms };
  const o = await runProcess(req);
  const out = { stdout: o.stdout, stderr: o.stderr, output_truncated: o.output_truncated };
  switch (o.end.kind) {
    case "exited":
      return resultFromRc(r.action, r.mapRc(o.end.code), r.spec, out);
    case "timed-out":
      return failedResult(r.action, "timed-out", `${r.spec} ${r.action} timed out after ${r.timeout_ms} ms; its process group was killed`, { out });
    case "signaled":
      return failedResult(r.action, "error", `${r.spec} ${r.action} was killed by ${o.end.signal}`, { out });
    case "spawn-failed": {
      // The file vanished or lost its execute bit between our check and the exec.
      const missing = /ENOENT|EACCES|not found|permission/i.test(o.end.error);
      return failedResult(r.action, missing ? "not-installed" : "error", `${r.spec} could not be run (${r.path}): ${o.end.error}`, { out, rc: missing ? OCF_RC.ERR_INSTALLED : OCF_RC.ERR_GENERIC });
    }
  }
}

/** Why an agent file cannot be run, or null when it can. */
export async function notRunnable(path: string): Promise<string | null> {
  const { access, stat } = await import("node:fs/promises");
  const { constants } = await import("node:fs");
  try {
    const s = await stat(path);
    if (!s.isFile()) return `${path} is not a regular file`;
    await access(path, constants.X_OK);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return `${path} does not exist`;
    if (code === "EACCES") return `${path} is not executable`;
    return `${path}: ${(e as Error).message}`;
  }
}

/** A provider or type must be one path component: no "/", no "..", nothing hidden. */
export function plainName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/.test(name) && name !== "." && name !== "..";
}

export const AGENT_PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
