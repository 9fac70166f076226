#!/usr/bin/env bun
// A standalone entry for the console (tests, and trying it before the CLI wires `hapd console`):
//   bun tui/console-main.ts [--config FILE] [--serial DEVICE]
import { DEFAULT_CONFIG } from "../services/shared/config.ts";
import { runConsole } from "./console.ts";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const serial = arg("--serial");
const refresh = arg("--refresh-ms");
const code = await runConsole({ config: arg("--config") ?? DEFAULT_CONFIG, ...(serial ? { serial } : {}), ...(refresh ? { refresh_ms: Number(refresh) } : {}) });
process.exit(code);
