// hapd:volume — a replicated volume as a promotable clone (DRBD's ocf:linbit:drbd, in spirit).
// Every action is a request to the node's volume service (run_dir/volume.sock):
//   start = up (attach as Secondary, connect), stop = down (demoting first if needed),
//   promote = primary (refused with rc 1 and the reason when the disk is not UpToDate),
//   demote = secondary, monitor = 0 Secondary, 8 Primary, 7 down (or no volume service).
// The service, not this agent, holds the state: the agent is a thin, stateless client, so an
// executor restart loses nothing.
//
// Promotion score: the scheduler promotes an instance only where its promotion score (node
// attribute `master-<primitive id>`) is positive, as in Pacemaker. DRBD's agent sets it with
// crm_master from its monitor; here the agent names the attribute at start and the volume service
// keeps it in line with the disk from then on (UpToDate → 10000; Outdated, Inconsistent, down,
// unknown → removed), at once when the disk state changes rather than at the next monitor.
import type { BuiltinContext, BuiltinImpl } from "./builtin.ts";
import { type AgentAction, type AgentMetadata, OCF_RC } from "./types.ts";
import { VolumeServiceDown, type VolumeCommand, type VolumeDetail, type VolumeReply, requestVolume } from "../../replication/status-client.ts";

const METADATA: AgentMetadata = {
  name: "volume",
  version: "1.0",
  shortdesc: "A replicated volume (Primary = promoted, Secondary = unpromoted), run by the volume service",
  parameters: [
    { name: "volume", required: true, unique: true, type: "string", shortdesc: "The volume's name (volumes: in the node configuration)" },
    { name: "run_dir", required: false, unique: false, type: "string", shortdesc: "The node's run directory (default: the one the agent was built with)" },
  ],
  actions: [
    { name: "start", timeout_ms: 60_000 },
    { name: "stop", timeout_ms: 60_000 },
    { name: "promote", timeout_ms: 30_000 },
    { name: "demote", timeout_ms: 30_000 },
    { name: "monitor", timeout_ms: 10_000, interval_ms: 10_000, role: "Unpromoted" },
    { name: "monitor", timeout_ms: 10_000, interval_ms: 9_000, role: "Promoted" },
    { name: "validate-all", timeout_ms: 5_000 },
  ],
};

type Result = number | { rc: number; reason: string };

/** `master-<primitive>`: the clone instance's id without its `:N` suffix (crm_master's name). */
export function promotionAttr(instance: string): string {
  return `master-${instance.replace(/:\d+$/, "")}`;
}

export class VolumeAgent implements BuiltinImpl {
  readonly type = "volume";
  readonly metadata = METADATA;

  /** runDir: the node's run_dir (the node registers the agent with its configuration's). */
  constructor(private readonly opts: { runDir?: string } = {}) {}

  run(action: AgentAction, ctx: BuiltinContext): Promise<Result> {
    return this.act(action, ctx);
  }

  private async act(action: AgentAction, ctx: BuiltinContext): Promise<Result> {
    const volume = ctx.params["volume"] ?? "";
    const runDir = ctx.params["run_dir"] ?? this.opts.runDir ?? process.env["HAPD_RUN_DIR"] ?? "/run/hapd";
    const ask = async (req: VolumeCommand): Promise<VolumeReply | "down"> => {
      try {
        return await requestVolume(runDir, req);
      } catch (e) {
        if (e instanceof VolumeServiceDown) return "down";
        throw e;
      }
    };
    const state = async (): Promise<VolumeDetail | "down" | "unknown"> => {
      const r = await ask({ cmd: "status" });
      if (r === "down") return "down";
      if (!r.ok) throw new Error(r.error);
      return r.volumes?.find((v) => v.name === volume) ?? "unknown";
    };
    const act = async (req: VolumeCommand): Promise<Result> => {
      const r = await ask(req);
      if (r === "down") return { rc: OCF_RC.ERR_GENERIC, reason: `no volume service runs on this node (${runDir}/volume.sock)` };
      if (!r.ok) return { rc: OCF_RC.ERR_GENERIC, reason: r.error };
      return OCF_RC.SUCCESS;
    };
    switch (action) {
      case "validate-all": {
        const s = await state();
        if (s === "down") return { rc: OCF_RC.ERR_INSTALLED, reason: `no volume service runs on this node (${runDir}/volume.sock)` };
        return s === "unknown" ? { rc: OCF_RC.ERR_CONFIGURED, reason: `volume ${volume} is not configured on this node` } : OCF_RC.SUCCESS;
      }
      case "monitor": {
        const s = await state();
        if (s === "down") return OCF_RC.NOT_RUNNING;
        if (s === "unknown") return { rc: OCF_RC.ERR_CONFIGURED, reason: `volume ${volume} is not configured on this node` };
        if (!s.up) return OCF_RC.NOT_RUNNING;
        return s.role === "Primary" ? OCF_RC.RUNNING_PROMOTED : OCF_RC.SUCCESS;
      }
      case "start": {
        const r = await act({ cmd: "up", volume, promotion_attr: promotionAttr(ctx.instance) });
        if (r !== OCF_RC.SUCCESS) return r;
        // Started means Secondary: a volume left Primary by an earlier life is demoted.
        const s = await state();
        return typeof s === "object" && s.role === "Primary" ? act({ cmd: "secondary", volume }) : OCF_RC.SUCCESS;
      }
      case "stop": {
        const s = await state();
        // Stopping what is not running is success (OCF: stop is idempotent).
        if (s === "down" || s === "unknown" || !s.up) return OCF_RC.SUCCESS;
        if (s.role === "Primary") {
          const d = await act({ cmd: "secondary", volume });
          if (d !== OCF_RC.SUCCESS) return d;
        }
        return act({ cmd: "down", volume });
      }
      case "promote":
        return act({ cmd: "primary", volume });
      case "demote":
        return act({ cmd: "secondary", volume });
      default:
        return OCF_RC.ERR_UNIMPLEMENTED;
    }
  }
}
