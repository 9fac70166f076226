// `hapd resource move|clear|cleanup|restart` on the node's socket. Each is a change to the
// replicated CIB; the DC notices it and re-plans. Moves and restarts do not rewrite the operator's
// YAML: they live beside it in the configuration document (services/crm/cib-input.ts ConfigDoc).
import type { Command } from "../cib/cib.ts";
import type { ConfigDoc } from "../crm/cib-input.ts";
import { indexResources } from "../crm/model.ts";
import type { CibClient } from "./cib-client.ts";
import type { CrmController } from "./crm-controller.ts";

export interface ResourceCommandDeps {
  crm: CrmController;
  cib: CibClient;
  hosts: readonly string[];
}

type Reply = { ok: boolean; error?: string; invalid?: boolean; [k: string]: unknown };

/** How long `restart` waits for the resource to stop everywhere before starting it again. */
const RESTART_STOP_WAIT_MS = 120_000;

export async function handleResourceCommand(req: Record<string, unknown>, deps: ResourceCommandDeps): Promise<Reply> {
  const action = req.action;
  const id = typeof req.resource === "string" ? req.resource : "";
  const { config } = deps.crm.current();
  const doc = deps.crm.configDoc();
  if (!config || !doc) return { ok: false, invalid: true, error: "no resource configuration in the CIB yet (hapd crm configure FILE)" };
  const index = indexResources(config);
  const entry = index.get(id);
  if (!entry) return { ok: false, invalid: true, error: `no resource named "${id}" (configured: ${[...index.keys()].sort().join(", ") || "none"})` };
  // A group member or a clone's child moves with its group or clone.
  const top = entry.parent !== undefined ? topOf(index, id) : id;

  switch (action) {
    case "move": {
      const node = typeof req.node === "string" ? req.node : "";
      if (!deps.hosts.includes(node)) return { ok: false, invalid: true, error: `"${node}" is not a host (hosts: ${deps.hosts.join(", ")}); the arbitrator runs no resources` };
      if (index.get(top)?.def.kind === "clone") return { ok: false, invalid: true, error: `${top} is a clone: it runs on every host; move a resource that runs in one place` };
      const r = await writeDoc(deps, { ...doc, moves: { ...(doc.moves ?? {}), [top]: node } });
      return r.ok ? { ok: true, resource: top, node, note: top !== id ? `${id} belongs to ${top}: moved ${top}` : "" } : r;
    }
    case "clear": {
      const moves = { ...(doc.moves ?? {}) };
      if (!(top in moves)) return { ok: true, resource: top, note: `${top} had no move to clear` };
      delete moves[top];
      return writeDoc(deps, { ...doc, moves });
    }
    case "cleanup": {
      const node = typeof req.node === "string" ? req.node : undefined;
      if (node !== undefined && !deps.hosts.includes(node)) return { ok: false, invalid: true, error: `"${node}" is not a host` };
      const st = deps.cib.state();
      // Every primitive under the named resource, every clone instance of each.
      const prims = [...index].filter(([pid]) => pid === id || isUnder(index, pid, id)).map(([pid]) => pid);
      const keys = Object.keys(st?.resources ?? {}).filter((k) => prims.some((p) => k === p || k.startsWith(`${p}:`)));
      for (const k of keys) {
        const cmd: Command = node === undefined ? { kind: "cleanup", resource: k } : { kind: "cleanup", resource: k, node };
        const r = await deps.cib.propose(cmd);
        if (!r.ok) return { ok: false, error: r.reason };
      }
      return { ok: true, cleaned: keys };
    }
    case "restart": {
      const roles = { ...(doc.target_roles ?? {}) };
      if (roles[top] !== undefined) return { ok: false, error: `${top} is already being restarted or held at ${roles[top]}` };
      const stop = await writeDoc(deps, { ...doc, target_roles: { ...roles, [top]: "Stopped" } });
      if (!stop.ok) return stop;
      const deadline = performance.now() + RESTART_STOP_WAIT_MS;
      const prims = [...index].filter(([pid, e]) => e.def.kind === "primitive" && (pid === top || isUnder(index, pid, top))).map(([pid]) => pid);
      let stopped = false;
      while (performance.now() < deadline) {
        if (deps.crm.resources().every((v) => !prims.includes(v.id) || v.active.length === 0)) {
          stopped = true;
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const after = deps.crm.configDoc() ?? doc;
      const rest = { ...(after.target_roles ?? {}) };
      delete rest[top];
      const start = await writeDoc(deps, { ...after, target_roles: rest });
      if (!start.ok) return start;
      return stopped ? { ok: true } : { ok: false, error: `${top} did not stop within ${RESTART_STOP_WAIT_MS / 1000} s; it is allowed to run again` };
    }
    default:
      return { ok: false, invalid: true, error: `unknown resource action "${String(action)}": move, clear, cleanup or restart` };
  }
}

function topOf(index: ReturnType<typeof indexResources>, id: string): string {
  let cur = id;
  for (let e = index.get(cur); e?.parent !== undefined; e = index.get(cur)) cur = e.parent;
  return cur;
}

function isUnder(index: ReturnType<typeof indexResources>, id: string, ancestor: string): boolean {
  for (let e = index.get(id); e?.parent !== undefined; e = index.get(e.parent)) if (e.parent === ancestor) return true;
  return false;
}

async function writeDoc(deps: ResourceCommandDeps, doc: ConfigDoc): Promise<Reply> {
  const version = (deps.cib.state()?.config.version ?? 0) + 1;
  const r = await deps.cib.propose({ kind: "config", version, doc });
  return r.ok ? { ok: true, version } : { ok: false, error: r.reason };
}
