#!/usr/bin/env bun
// The console as the end-to-end tests run it: the real terminal path, files, BMC client and
// status socket, with one thing fixed so that runs do not depend on the machine: the hardware
// snapshot (interfaces, disks, watchdogs). The serial device check is the real one.
//   bun test/console/fixture-main.ts --config FILE [--serial DEVICE] [--refresh-ms N]
import { runConsole } from "../../tui/console.ts";
import { realPorts } from "../../tui/ports.ts";
import type { SystemSnapshot } from "../../tui/setup/system-probe.ts";
import { checkSerialDevice } from "../../tui/setup/system-probe.ts";

export const FIXED_SYSTEM: SystemSnapshot = {
  hostname: "localhost",
  interfaces: [
    { name: "eno1", state: "up", mac: "52:54:00:00:00:01", virtual: false },
    { name: "eno2", state: "up", mac: "52:54:00:00:00:02", virtual: false },
    { name: "eno3", state: "up", mac: "52:54:00:00:00:03", virtual: false },
  ],
  disks: [
    { name: "sda", path: "/dev/sda", size_bytes: 480e9, model: "SSD 480", inUse: "mounted at /" },
    { name: "sdb", path: "/dev/sdb", size_bytes: 2e12, model: "DATA 2T", inUse: null },
  ],
  watchdogs: [
    { value: "softdog", label: "softdog (kernel software timer)" },
    { value: "ipmi", label: "BMC watchdog (IPMI)" },
  ],
  checkSerial: checkSerialDevice,
  serialDefault: "",
};

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
