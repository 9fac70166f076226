// Small shared pieces of the benchmarks: order statistics and the closing JSON line.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..");
export const HAPD = join(ROOT, "dist/hapd");
export const SHARED = resolve(ROOT, "../shared");

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export const median = (xs: readonly number[]) => quantile(xs, 0.5);
export const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

export function requireBinary(): void {
  if (!existsSync(HAPD)) throw new Error(`${HAPD} missing: run make build`);
}

/** The last line of every benchmark: one JSON object with our figures, the reference's and the ratio. */
export function finish(result: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

export function sh(cmd: string[], opts: { env?: Record<string, string>; input?: string } = {}): { code: number; out: string } {
  const [c, ...a] = cmd;
  const r = spawnSync(c!, a, { encoding: "utf8", env: { ...process.env, ...opts.env }, input: opts.input ?? "", maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

export function readJsonl<T>(file: string): T[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}
