#!/usr/bin/env bun
// The console as the end-to-end tests run it: the real terminal path, files, BMC client and
// status socket, with one thing fixed so that runs do not depend on the machine: the hardware
// snapshot (interfaces, disks, watchdogs). The serial device check is the real one.
//   bun test/console/fixture-main.ts --config FILE [--serial DEVICE] [--refresh-ms N]
import { runConsole } from "../../tui/console.ts";
import { realPorts } from "../../tui/ports.ts";
import { FIXED_SYSTEM } from "../../tui/testing/fixed-system.ts";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.main) {
  const serial = arg("--serial");
  const code = await runConsole({
    config: arg("--config") ?? "/nonexistent/hapd.yaml",
    ...(serial ? { serial } : {}),
    refresh_ms: Number(arg("--refresh-ms") ?? "1000"),
    ports: { ...realPorts, probeSystem: () => FIXED_SYSTEM },
  });
  process.exit(code);
}
