// Shared pieces of the integration tests: the compiled binary, the lab, and waiting for a state.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { labStatus, waitFor } from "../../services/lab/lab.ts";
import type { StatusReport } from "../../services/node/status.ts";

export const ROOT = resolve(import.meta.dirname, "../..");
export const HAPD = join(ROOT, "dist/hapd");

export function whyNotLab(): string | null {
  if (process.getuid?.() !== 0) return "needs root for network namespaces";
  if (spawnSync("ip", ["netns", "list"]).status !== 0) return "iproute2 (ip netns) is missing";
  if (spawnSync("socat", ["-V"]).status !== 0) return "socat is missing";
  if (!existsSync(HAPD)) return `${HAPD} is not built (make build)`;
  return null;
}

export function run(argv: string[], opts: { input?: string; env?: Record<string, string> } = {}): { code: number; stdout: string; stderr: string } {
  const [cmd, ...args] = argv;
  const r = spawnSync(cmd!, args, { encoding: "utf8", input: opts.input ?? "", env: { ...process.env, ...opts.env }, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

export function must(argv: string[]): string {
  const r = run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

export async function until(dir: string, node: string, what: string, ok: (s: StatusReport) => boolean, timeout_ms = 20_000): Promise<StatusReport> {
  return waitFor(`${node}: ${what}`, timeout_ms, async () => {
    const s = await labStatus(dir, node);
    return ok(s) ? s : null;
  });
}

export const members = (s: StatusReport) => [...s.view.members].sort().join(",");
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
