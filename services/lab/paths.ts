// Where the lab lives. Kept free of heavy imports: the CLI reads it on every `hapd status`.
import { tmpdir } from "node:os";
import { join } from "node:path";

export function defaultLabDir(): string {
  if (process.env.HAPD_LAB_DIR) return process.env.HAPD_LAB_DIR;
  return process.getuid?.() === 0 ? "/run/hapd-lab" : join(tmpdir(), `hapd-lab-${process.getuid?.() ?? "user"}`);
}

export function labSocket(dir: string, name: string): string {
  return join(dir, name, "run", "hapd.sock");
}
