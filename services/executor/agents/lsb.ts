// LSB init scripts (/etc/init.d/<name> start|stop|status) behind the agent interface. They take
// no parameters. Exit codes of start and stop are the LSB ones, which coincide with OCF 0–7;
// status differs: 0 running, 1 dead with a pid file, 2 dead with a lock file, 3 not running,
// 4 unknown — 1, 2 and 3 all mean "not running" (as Pacemaker maps them).
import { readFile } from "node:fs/promises";
import { AGENT_PATH_ENV, type ScriptLimits, notRunnable, plainName, runScript } from "./script.ts";
import { type Agent, type AgentAction, type MetadataResult, type OpRequest, type OpResult, OCF_RC, failedResult, resultFromRc } from "./types.ts";

export const LSB_DIR_DEFAULT = "/etc/init.d";

export interface LsbOptions extends ScriptLimits {
  lsb_dir?: string;
}

const ARGUMENT: Partial<Record<AgentAction, string>> = { start: "start", stop: "stop", monitor: "status" };

export function lsbStatusToOcf(code: number): number {
  if (code === 0) return OCF_RC.SUCCESS;
  if (code === 1 || code === 2 || code === 3) return OCF_RC.NOT_RUNNING;
  return OCF_RC.ERR_GENERIC;
}

export function lsbToOcf(code: number): number {
  return code >= 0 && code <= 7 ? code : OCF_RC.ERR_GENERIC;
}

export class LsbAgent implements Agent {
  readonly spec: string;
  readonly path: string;

  constructor(
    readonly name: string,
    private readonly opts: LsbOptions = {},
  ) {
    this.spec = `lsb:${name}`;
    this.path = `${opts.lsb_dir ?? LSB_DIR_DEFAULT}/${name}`;
  }

  async run(req: OpRequest): Promise<OpResult> {
    if (!plainName(this.name)) return failedResult(req.action, "not-installed", `${this.spec}: the script name must be a plain file name`);
    const why = await notRunnable(this.path);
    if (why !== null) return failedResult(req.action, "not-installed", `${this.spec} is not installed: ${why}`);
    if (req.action === "meta-data") {
      const md = await this.metadata();
      return md.ok ? { ...resultFromRc("meta-data", OCF_RC.SUCCESS, this.spec), stdout: JSON.stringify(md.metadata) } : failedResult("meta-data", "error", md.reason);
    }
    // validate-all: a script with no parameters has nothing to validate beyond being installed.
    if (req.action === "validate-all") return resultFromRc("validate-all", OCF_RC.SUCCESS, this.spec);
    const argument = ARGUMENT[req.action];
    if (argument === undefined) return resultFromRc(req.action, OCF_RC.ERR_UNIMPLEMENTED, this.spec);
    return runScript({
      spec: this.spec,
      path: this.path,
      action: req.action,
      argument,
      env: { PATH: AGENT_PATH_ENV, LC_ALL: "C" },
      timeout_ms: req.timeout_ms,
      limits: this.opts,
      mapRc: req.action === "monitor" ? lsbStatusToOcf : lsbToOcf,
    });
  }

  /** Meta-data from the script's "### BEGIN INIT INFO" block (its Short-Description). */
  async metadata(): Promise<MetadataResult> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      return { ok: false, reason: `${this.spec}: cannot read ${this.path}: ${(e as Error).message}` };
    }
    const block = /### BEGIN INIT INFO([\s\S]*?)### END INIT INFO/.exec(text.slice(0, 64 * 1024))?.[1] ?? "";
    const shortdesc = /^#\s*Short-Description:\s*(.*)$/m.exec(block)?.[1]?.trim() ?? "";
    return {
      ok: true,
      metadata: { name: this.name, version: "1.0", shortdesc, parameters: [], actions: [{ name: "start" }, { name: "stop" }, { name: "status" }, { name: "meta-data" }] },
    };
  }
}
