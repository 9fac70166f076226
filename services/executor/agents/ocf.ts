// OCF resource agents (the OCF resource agent API 1.1), run unmodified: the agent is
// OCF_ROOT/resource.d/<provider>/<type>, the action is its one argument, and everything else is
// the environment: OCF_ROOT, OCF_RA_VERSION_*, OCF_RESOURCE_INSTANCE/TYPE/PROVIDER, a
// OCF_RESKEY_<name> per parameter, OCF_RESKEY_CRM_meta_<name> per operation meta-attribute
// (timeout and interval in milliseconds, as Pacemaker passes them), OCF_CHECK_LEVEL for depth.
import { missingRequired, parseMetadata } from "./metadata.ts";
import { AGENT_PATH_ENV, type ScriptLimits, notRunnable, plainName, runScript } from "./script.ts";
import { type Agent, type MetadataResult, type OpRequest, type OpResult, OCF_RC, failedResult } from "./types.ts";

export const OCF_ROOT_DEFAULT = "/usr/lib/ocf";
export const METADATA_TIMEOUT_MS_DEFAULT = 5_000;

export interface OcfOptions extends ScriptLimits {
  ocf_root?: string;
  /** Added to every agent's environment (HA_RSCTMP for tests, HA_LOGFACILITY, ...). */
  env_extra?: Record<string, string>;
}

// Actions that bring a resource up are refused when a required parameter is missing; stop and
// monitor never are, so a misconfigured resource can still be stopped and probed.
const CHECKED_ACTIONS = new Set(["start", "promote", "migrate_from", "reload", "validate-all"]);

// Environment names must not smuggle "=" or NUL; the OCF API expects shell-safe names.
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class OcfAgent implements Agent {
  readonly spec: string;
  readonly path: string;
  private cachedMetadata: MetadataResult | null = null;

  constructor(
    readonly provider: string,
    readonly type: string,
    private readonly opts: OcfOptions = {},
  ) {
    this.spec = `ocf:${provider}:${type}`;
    this.path = `${opts.ocf_root ?? OCF_ROOT_DEFAULT}/resource.d/${provider}/${type}`;
  }

  async run(req: OpRequest): Promise<OpResult> {
    const refused = await this.refusal(req);
    if (refused) return refused;
    return runScript({
      spec: this.spec,
      path: this.path,
      action: req.action,
      argument: req.action,
      env: this.env(req),
      timeout_ms: req.timeout_ms,
      limits: this.opts,
      mapRc: (code) => code,
    });
  }

  async metadata(timeout_ms = METADATA_TIMEOUT_MS_DEFAULT): Promise<MetadataResult> {
    if (this.cachedMetadata?.ok) return this.cachedMetadata;
    const r = await this.run({ action: "meta-data", instance: this.type, params: {}, timeout_ms, interval_ms: 0 });
    let result: MetadataResult;
    if (r.code !== "success") result = { ok: false, reason: r.reason, result: r };
    else if (r.output_truncated) result = { ok: false, reason: `${this.spec} meta-data is larger than the output bound`, result: r };
    else {
      const parsed = parseMetadata(r.stdout);
      result = parsed.ok ? parsed : { ok: false, reason: `${this.spec}: ${parsed.reason}`, result: r };
    }
    this.cachedMetadata = result;
    return result;
  }

  /** Why this request must not reach the agent, as a result; null when it may run. */
  private async refusal(req: OpRequest): Promise<OpResult | null> {
    if (!plainName(this.provider) || !plainName(this.type)) {
      return failedResult(req.action, "not-installed", `${this.spec}: provider and type must be plain file names`);
    }
    const why = await notRunnable(this.path);
    if (why !== null) return failedResult(req.action, "not-installed", `${this.spec} is not installed: ${why}`);
    for (const [name, value] of Object.entries({ ...req.params, ...req.meta })) {
      if (!PARAM_NAME.test(name.replace(/-/g, "_"))) return failedResult(req.action, "error", `${this.spec}: parameter name "${name}" is not a valid OCF name`, { rc: OCF_RC.ERR_CONFIGURED });
      if (value.includes("\0")) return failedResult(req.action, "error", `${this.spec}: parameter "${name}" contains a NUL byte`, { rc: OCF_RC.ERR_CONFIGURED });
    }
    if (!CHECKED_ACTIONS.has(req.action)) return null;
    const md = await this.metadata();
    if (!md.ok) return failedResult(req.action, "error", md.reason, { rc: OCF_RC.ERR_GENERIC });
    const missing = missingRequired(md.metadata, req.params);
    if (missing !== null) return failedResult(req.action, "error", `${this.spec} ${req.action}: required parameter "${missing}" is missing`, { rc: OCF_RC.ERR_CONFIGURED });
    return null;
  }

  private env(req: OpRequest): Record<string, string> {
    const env: Record<string, string> = {
      PATH: AGENT_PATH_ENV,
      LC_ALL: "C",
      ...this.opts.env_extra,
      OCF_ROOT: this.opts.ocf_root ?? OCF_ROOT_DEFAULT,
      OCF_RA_VERSION_MAJOR: "1",
      OCF_RA_VERSION_MINOR: "1",
      OCF_RESOURCE_INSTANCE: req.instance,
      OCF_RESOURCE_TYPE: this.type,
      OCF_RESOURCE_PROVIDER: this.provider,
    };
    for (const [name, value] of Object.entries(req.params)) env[`OCF_RESKEY_${name}`] = value;
    for (const [name, value] of Object.entries(req.meta ?? {})) env[`OCF_RESKEY_CRM_meta_${name.replace(/-/g, "_")}`] = value;
    env["OCF_RESKEY_CRM_meta_timeout"] = String(req.timeout_ms);
    env["OCF_RESKEY_CRM_meta_interval"] = String(req.interval_ms);
    if (req.depth !== undefined) env["OCF_CHECK_LEVEL"] = String(req.depth);
    return env;
  }
}
