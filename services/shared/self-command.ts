// How to run this same program again: the compiled binary, or bun with the entry script.
import { existsSync } from "node:fs";

export function selfCommand(): string[] {
  const script = process.argv[1];
  if (script && /\.(ts|js|mjs)$/.test(script) && existsSync(script)) return [process.execPath, script];
  return [process.execPath];
}
