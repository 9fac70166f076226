// crm_simulate as an oracle: runs `crm_simulate -S -x FILE` and extracts the Transition Summary.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const CRM_SIMULATE = ["/usr/sbin/crm_simulate", "/usr/bin/crm_simulate"].find((p) => existsSync(p)) ?? null;

/** The "  * ..." lines of crm_simulate's Transition Summary for a CIB file. */
export function oracleSummary(file: string): string[] {
  if (!CRM_SIMULATE) throw new Error("crm_simulate is not installed (apt-get install pacemaker-cli-utils)");
  const r = spawnSync(CRM_SIMULATE, ["-S", "-x", file], { encoding: "utf8", maxBuffer: 64 << 20 });
  const out = r.stdout ?? "";
  const start = out.indexOf("Transition Summary:");
  if (start < 0) throw new Error(`crm_simulate printed no Transition Summary for ${file}: ${(r.stderr ?? "").slice(0, 400)}`);
  const lines: string[] = [];
  for (const l of out.slice(start).split("\n").slice(1)) {
    if (!l.startsWith("  * ")) break;
    lines.push(l);
  }
  return lines;
}
