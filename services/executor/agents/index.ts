// One entry point: an agent spec ("ocf:heartbeat:Dummy", "lsb:ssh", "hapd:marker") → an Agent.
// Unsupported classes are refused by name rather than guessed at.
import { BuiltinAgent, type BuiltinImpl } from "./builtin.ts";
import { LsbAgent, type LsbOptions } from "./lsb.ts";
import { MarkerAgent } from "./marker.ts";
import { OcfAgent, type OcfOptions } from "./ocf.ts";
import type { Agent } from "./types.ts";
import { VolumeAgent } from "./volume.ts";

export interface AgentSpec {
  class: string;
  provider?: string;
  type: string;
}

export interface AgentOptions extends OcfOptions, LsbOptions {
  /** Built-in implementations by type; the default holds hapd:marker. */
  builtins?: ReadonlyMap<string, () => BuiltinImpl>;
}

/**
 * hapd:volume finds the volume service from its `run_dir` parameter, else HAPD_RUN_DIR, else
 * /run/hapd; a node should register `new VolumeAgent({ runDir: cfg.run_dir })` in its own map.
 */
export const DEFAULT_BUILTINS: ReadonlyMap<string, () => BuiltinImpl> = new Map<string, () => BuiltinImpl>([
  ["marker", () => new MarkerAgent()],
  ["volume", () => new VolumeAgent()],
]);

export type ResolveResult = { ok: true; agent: Agent } | { ok: false; reason: string };

export function parseAgentSpec(text: string): AgentSpec | null {
  const parts = text.split(":");
  if (parts.length === 3 && parts.every((p) => p !== "")) return { class: parts[0]!, provider: parts[1]!, type: parts[2]! };
  if (parts.length === 2 && parts.every((p) => p !== "")) return { class: parts[0]!, type: parts[1]! };
  return null;
}

export function resolveAgent(spec: AgentSpec, opts: AgentOptions = {}): ResolveResult {
  switch (spec.class) {
    case "ocf":
      if (spec.provider === undefined) return { ok: false, reason: `ocf:${spec.type}: an OCF agent needs a provider (ocf:<provider>:<type>)` };
      return { ok: true, agent: new OcfAgent(spec.provider, spec.type, opts) };
    case "lsb":
      return { ok: true, agent: new LsbAgent(spec.type, opts) };
    case "hapd": {
      const make = (opts.builtins ?? DEFAULT_BUILTINS).get(spec.type);
      if (!make) return { ok: false, reason: `hapd:${spec.type} is not installed: no built-in agent of that name` };
      return { ok: true, agent: new BuiltinAgent(make()) };
    }
    default:
      return { ok: false, reason: `resource class "${spec.class}" is not supported by the executor (ocf, lsb and hapd are)` };
  }
}

export { BuiltinAgent, LsbAgent, MarkerAgent, OcfAgent, VolumeAgent };
export type { BuiltinImpl };
export * from "./types.ts";
