// The other, slower port of the Linux drivers: reading sysfs and loading a module. It is used
// only at open and close (never in keepalive), so plain synchronous node:fs is fine.

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface HostPort {
  /** A sysfs attribute's text without the trailing newline, or null when it is missing or unreadable. */
  readText(path: string): string | null;
  /** Entries of a directory, or [] when it is missing. */
  listDir(path: string): string[];
  /** The target of a symbolic link, or null. */
  readLink(path: string): string | null;
  /** `modprobe NAME`: ok, or the reason it failed (its stderr). */
  modprobe(module: string): { ok: boolean; message: string };
}

export const realHost: HostPort = {
  readText(path) {
    try {
      return readFileSync(path, "utf8").replace(/\n$/, "");
    } catch {
      return null;
    }
  },
  listDir(path) {
    try {
      return readdirSync(path);
    } catch {
      return [];
    }
  },
  readLink(path) {
    try {
      return readlinkSync(path);
    } catch {
      return null;
    }
  },
  modprobe(module) {
    const run = spawnSync("modprobe", [module], { encoding: "utf8", timeout: 10_000 });
    if (run.error) return { ok: false, message: `cannot run modprobe: ${run.error.message}` };
    if (run.status !== 0) return { ok: false, message: (run.stderr || run.stdout || `exit status ${run.status}`).trim() };
    return { ok: true, message: "" };
  },
};
