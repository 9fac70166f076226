// "Reset the configuration": the node configuration and appliance.yaml are renamed aside (kept
// for reference, never deleted), the node configuration first, so that at every moment the box
// is either configured or unconfigured. The cluster key and BMC password files stay; the next
// setup replaces them.
import { existsSync, renameSync } from "node:fs";
import { appliancePath } from "./setup-files.ts";

export function resetConfiguration(configPath: string, now: Date = new Date()): string[] {
  const stamp = now.toISOString().replace(/[:.]/g, "-");
  const moved: string[] = [];
  for (const path of [configPath, appliancePath(configPath)]) {
    if (!existsSync(path)) continue;
    const to = `${path}.reset-${stamp}`;
    try {
      renameSync(path, to);
    } catch (e) {
      throw new Error(`cannot move ${path} aside: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    moved.push(to);
  }
  return moved;
}
