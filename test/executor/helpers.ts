// Test fixtures for the executor: an OCF root that holds Debian's real agents (symlinked) next to
// this folder's fake ones, and small graph builders.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GraphAction, TransitionGraph } from "../../services/executor/core.ts";

export const REAL_OCF_ROOT = "/usr/lib/ocf";
export const FIXTURES = join(import.meta.dirname, "fixtures");

export interface Sandbox {
  dir: string;
  ocf_root: string;
  lsb_dir: string;
  cleanup(): void;
}

/** resource.d/heartbeat → Debian's agents, resource.d/hapd-test → fixtures/ocf, lsb dir with our script. */
export function sandbox(): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), "hapd-executor-"));
  const ocf_root = join(dir, "ocf");
  mkdirSync(join(ocf_root, "resource.d"), { recursive: true });
  symlinkSync(join(REAL_OCF_ROOT, "lib"), join(ocf_root, "lib"));
  symlinkSync(join(REAL_OCF_ROOT, "resource.d", "heartbeat"), join(ocf_root, "resource.d", "heartbeat"));
  symlinkSync(join(FIXTURES, "ocf"), join(ocf_root, "resource.d", "hapd-test"));
  // A checkout may lose the execute bits; the fixtures need them.
  for (const f of ["ocf/fake", "ocf/garbage", "lsb/hapd-test-lsb"]) chmodSync(join(FIXTURES, f), 0o755);
  const lsb_dir = join(dir, "init.d");
  mkdirSync(lsb_dir);
  // A copy, not a link: the script keeps its state file next to itself ($0.state).
  const script = readFileSync(join(FIXTURES, "lsb", "hapd-test-lsb"));
  writeFileSync(join(lsb_dir, "hapd-test-lsb"), script, { mode: 0o755 });
  return { dir, ocf_root, lsb_dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** True while the process exists and is not a zombie (a killed child may wait to be reaped). */
export function alive(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return false;
  try {
    const text = readFileSync(stat, "utf8");
    const state = text.slice(text.lastIndexOf(")") + 2, text.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** A graph action with the scheduler's shape; inputs by id. */
export function act(id: number, key: string, inputs: number[] = [], extra: Partial<GraphAction> = {}): GraphAction {
  const [resource, task] = key.split("_");
  return {
    id,
    key,
    task: task ?? "start",
    resource: resource ?? null,
    node: "host-a",
    pseudo: false,
    interval_ms: 0,
    timeout_ms: 20_000,
    meta: {},
    inputs,
    ...extra,
  };
}

export function graph(...actions: GraphAction[]): TransitionGraph {
  return { actions };
}
