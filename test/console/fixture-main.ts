#!/usr/bin/env bun
// The console as the end-to-end tests run it: the real terminal path, files, BMC client and
// status socket, with two things replaced: the hardware snapshot (interfaces, disks, watchdogs),
// so that runs do not depend on the machine, and the watchdog Test, which must never arm the
// test machine's watchdog. The serial device check is the real one.
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
    // Never arm this machine's watchdog from a test: a crash between arm and disarm resets it.
    ports: { ...realPorts, probeSystem: () => FIXED_SYSTEM, testWatchdog: async (cfg) => `test double: would arm ${cfg.kind} with ${cfg.timeout_s} s` },
  });
  process.exit(code);
}
