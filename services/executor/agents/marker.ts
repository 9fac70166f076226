// hapd:marker — the trivial built-in: "running" means its state file exists. It exists to test
// the built-in path end to end and as the template for real built-ins (guests, volumes).
// Depth 10 also checks the file names this instance, catching two resources sharing one path.
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { BuiltinContext, BuiltinImpl } from "./builtin.ts";
import { type AgentAction, type AgentMetadata, OCF_RC } from "./types.ts";

const METADATA: AgentMetadata = {
  name: "marker",
  version: "1.0",
  shortdesc: "A state file that exists while the resource runs",
  parameters: [{ name: "path", required: true, unique: true, type: "string", shortdesc: "The state file" }],
  actions: [
    { name: "start", timeout_ms: 5_000 },
    { name: "stop", timeout_ms: 5_000 },
    { name: "monitor", timeout_ms: 5_000, interval_ms: 10_000, depth: 0 },
    { name: "validate-all", timeout_ms: 5_000 },
  ],
};

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export class MarkerAgent implements BuiltinImpl {
  readonly type = "marker";
  readonly metadata = METADATA;

  async run(action: AgentAction, ctx: BuiltinContext): Promise<number | { rc: number; reason: string }> {
    const path = ctx.params["path"] ?? "";
    switch (action) {
      case "validate-all":
        return (await exists(dirname(path))) ? OCF_RC.SUCCESS : { rc: OCF_RC.ERR_CONFIGURED, reason: `directory ${dirname(path)} does not exist` };
      case "start":
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, `${ctx.instance}\n`);
        return OCF_RC.SUCCESS;
      case "stop":
        // Stopping what is already stopped is success (OCF API: stop must be idempotent).
        await rm(path, { force: true });
        return OCF_RC.SUCCESS;
      case "monitor": {
        if (!(await exists(path))) return OCF_RC.NOT_RUNNING;
        if (ctx.depth < 10) return OCF_RC.SUCCESS;
        const owner = (await readFile(path, "utf8")).trim();
        return owner === ctx.instance ? OCF_RC.SUCCESS : { rc: OCF_RC.ERR_GENERIC, reason: `${path} belongs to ${owner}` };
      }
      default:
        return OCF_RC.ERR_UNIMPLEMENTED;
    }
  }
}
