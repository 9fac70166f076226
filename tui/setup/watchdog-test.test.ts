import { describe, expect, it } from "vitest";
import type { HostPort } from "../../services/watchdog/host-port.ts";
import { whyNotArm } from "./watchdog-test.ts";

function host(files: Record<string, string>, modprobeOk = false): HostPort {
  return {
    readText: (p) => files[p] ?? null,
    listDir: (p) => [...new Set(Object.keys(files).filter((f) => f.startsWith(`${p}/`)).map((f) => f.slice(p.length + 1).split("/")[0]!))],
    readLink: () => null,
    modprobe: () => ({ ok: modprobeOk, message: modprobeOk ? "" : "FATAL: Module softdog not found" }),
  };
}

describe("the watchdog Test arms only what it can disarm", () => {
  it("arms a device whose nowayout is off", () => {
    expect(whyNotArm({ kind: "linux", device: "/dev/watchdog0", timeout_s: 10 }, host({ "/sys/class/watchdog/watchdog0/nowayout": "0" }))).toBeNull();
  });

  it("refuses when nowayout is set or cannot be read", () => {
    expect(whyNotArm({ kind: "linux", device: "/dev/watchdog0", timeout_s: 10 }, host({ "/sys/class/watchdog/watchdog0/nowayout": "1" }))).toMatch(/nowayout is set .* would reset in 10 s/);
    expect(whyNotArm({ kind: "linux", device: "/dev/watchdog1", timeout_s: 7 }, host({}))).toMatch(/cannot be read .* would reset in 7 s/);
  });

  it("finds softdog by its identity and checks it the same way", () => {
    const h = host({ "/sys/class/watchdog/watchdog3/identity": "Software Watchdog", "/sys/class/watchdog/watchdog3/nowayout": "0" });
    expect(whyNotArm({ kind: "softdog", load_module: true, timeout_s: 10 }, h)).toBeNull();
  });

  it("says why softdog is not there", () => {
    expect(() => whyNotArm({ kind: "softdog", load_module: true, timeout_s: 10 }, host({}))).toThrow(/modprobe softdog failed: FATAL: Module softdog not found/);
  });

  it("never needs to ask for a BMC watchdog", () => {
    expect(whyNotArm({ kind: "ipmi", address: "10.0.0.1", port: 623, username: "a", password_file: "/x", cipher: 17, privilege: "administrator", action: "hard_reset", pretimeout: { interrupt: "messaging", interval_s: 1 }, min_pet_interval_ms: 1000, request_timeout_ms: 500, max_attempts: 3, timeout_s: 10 })).toBeNull();
  });
});
