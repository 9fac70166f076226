// The watchdog configuration (errors name the field), the factory, and describeFailure's
// sentences for the failures an operator meets: missing, busy, refused timeout, permission, BMC.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IpmiError } from "../../ipmi/errors.ts";
import { ConfigError } from "../../services/shared/config.ts";
import { parseWatchdogConfig, type DriverConfig } from "../../services/watchdog/config.ts";
import { describeFailure } from "../../services/watchdog/describe-failure.ts";
import { WatchdogError } from "../../services/watchdog/driver.ts";
import { createWatchdog } from "../../services/watchdog/factory.ts";
import { FakeHost, FakeKernel } from "./fake-kernel.ts";

const scratch = mkdtempSync(join(tmpdir(), "hapd-wdcfg-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function configError(input: unknown): ConfigError {
  try {
    parseWatchdogConfig(input, "/etc/hapd/node.yaml");
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("parseWatchdogConfig", () => {
  it("fills documented defaults", () => {
    expect(parseWatchdogConfig({ kind: "softdog", timeout_s: 10 })).toEqual({ kind: "softdog", load_module: true, timeout_s: 10 });
    expect(parseWatchdogConfig({ kind: "gpio", chip: "/dev/gpiochip0", line: 17, hardware_timeout_s: 1.6, timeout_s: 2 })).toEqual({
      kind: "gpio",
      chip: "/dev/gpiochip0",
      line: 17,
      active_low: false,
      pulse_high_ms: 1,
      pulse_low_ms: 1,
      hardware_timeout_s: 1.6,
      drive: "push-pull",
      timeout_s: 2,
    });
    expect(parseWatchdogConfig({ kind: "ipmi", address: "10.70.0.101", username: "admin", password_file: "/etc/hapd/bmc.pw", timeout_s: 10 })).toEqual({
      kind: "ipmi",
      address: "10.70.0.101",
      port: 623,
      username: "admin",
      password_file: "/etc/hapd/bmc.pw",
      cipher: 17,
      privilege: "administrator",
      action: "hard_reset",
      pretimeout: { interrupt: "messaging", interval_s: 1 },
      min_pet_interval_ms: 1000,
      request_timeout_ms: 500,
      max_attempts: 3,
      timeout_s: 10,
    });
    expect(parseWatchdogConfig({ kind: "none" })).toEqual({ kind: "none" });
  });

  it("errors name the field", () => {
    expect(configError({ kind: "watchdog0" }).message).toBe('/etc/hapd/node.yaml: watchdog.kind: must be one of linux, softdog, gpio, i2c, ipmi, none, not "watchdog0"');
    expect(configError({ timeout_s: 5 }).field).toBe("watchdog.kind");
    expect(configError({ kind: "linux", device: "watchdog0", timeout_s: 5 }).message).toBe("/etc/hapd/node.yaml: watchdog.device: must be a device path like /dev/watchdog0");
    expect(configError({ kind: "linux", device: "/dev/watchdog0", timeout_s: 0 }).field).toBe("watchdog.timeout_s");
    expect(configError({ kind: "gpio", chip: "/dev/gpiochip0", line: -1, hardware_timeout_s: 1, timeout_s: 2 }).field).toBe("watchdog.line");
    expect(configError({ kind: "i2c", bus: "/dev/i2c-1", address: 0x4b, timeout: { register: 1 }, kick: { register: 300, value: 1 }, timeout_s: 5 }).field).toBe("watchdog.kick.register");
    expect(configError({ kind: "i2c", bus: "/dev/i2c-1", address: 0x03, timeout: { register: 1 }, kick: { register: 2, value: 1 }, timeout_s: 5 }).message).toBe("/etc/hapd/node.yaml: watchdog.address: must be a 7-bit address from 0x08");
    expect(configError({ kind: "ipmi", address: "10.70.0.101", username: "admin", password_file: "/p", action: "reboot", timeout_s: 5 }).field).toBe("watchdog.action");
    expect(configError({ kind: "linux", device: "/dev/watchdog0", timeout_s: 5, devcie: "x" }).message).toContain("devcie");
  });
});

describe("createWatchdog", () => {
  const ports = { kernel: new FakeKernel(), host: new FakeHost() };
  const cases: [DriverConfig, string, string][] = [
    [{ kind: "linux", device: "/dev/watchdog0", timeout_s: 5 }, "linux", "/dev/watchdog0"],
    [{ kind: "softdog", load_module: true, timeout_s: 5 }, "softdog", "softdog"],
    [{ kind: "gpio", chip: "/dev/gpiochip0", line: 17, active_low: false, pulse_high_ms: 1, pulse_low_ms: 1, hardware_timeout_s: 1.6, drive: "push-pull", timeout_s: 2 }, "gpio", "/dev/gpiochip0:17"],
    [
      { kind: "i2c", bus: "/dev/i2c-1", address: 0x4b, timeout: { register: 1, width_bytes: 1, byte_order: "big", unit_ms: 1000 }, kick: { register: 2, value: 0x5a }, verify_timeout: true, timeout_s: 5 },
      "i2c",
      "/dev/i2c-1@0x4b",
    ],
  ];
  it.each(cases)("%o → %s driver on %s", (config, kind, device) => {
    const driver = createWatchdog(config, ports);
    expect(driver.kind).toBe(kind);
    expect(driver.device).toBe(device);
  });

  it("ipmi reads the password file (first line) and names the BMC", () => {
    const file = join(scratch, "bmc.pw");
    writeFileSync(file, "s3cret\n", { mode: 0o600 });
    const config = parseWatchdogConfig({ kind: "ipmi", address: "10.70.0.101", username: "admin", password_file: file, timeout_s: 10 }) as DriverConfig;
    const driver = createWatchdog(config);
    expect([driver.kind, driver.device]).toEqual(["ipmi", "10.70.0.101:623"]);
  });

  it("a missing password file is named", () => {
    const config = parseWatchdogConfig({ kind: "ipmi", address: "10.70.0.101", username: "admin", password_file: join(scratch, "nope"), timeout_s: 10 }) as DriverConfig;
    expect(() => createWatchdog(config)).toThrow(`BMC watchdog 10.70.0.101:623: cannot read password_file ${join(scratch, "nope")}: ENOENT (no such file or directory)`);
  });
});

describe("describeFailure", () => {
  const linux = (errno: number, op: string, setting: string) => new WatchdogError({ kind: "linux", device: "/dev/watchdog0", setting, reason: "errno", op, errno, message: "x" });

  it("missing, busy, permission, refused timeout: one sentence each, naming the device and the setting", () => {
    expect(describeFailure(linux(2, "open", "open"))).toMatch(/^watchdog device \/dev\/watchdog0 does not exist \(open, open: ENOENT\)/);
    expect(describeFailure(linux(16, "open", "open"))).toMatch(/^watchdog device \/dev\/watchdog0 is busy: another process holds it open/);
    expect(describeFailure(linux(16, "WDIOC_SETOPTIONS", "WDIOS_DISABLECARD"))).toMatch(/nowayout forbids stopping it/);
    expect(describeFailure(linux(13, "open", "open"))).toMatch(/^permission denied on \/dev\/watchdog0/);
    expect(describeFailure(linux(1, "open", "open"))).toMatch(/^permission denied on \/dev\/watchdog0/);
    expect(describeFailure(linux(22, "WDIOC_SETTIMEOUT", "timeout_s=5"))).toBe(
      "the watchdog /dev/watchdog0 refuses timeout_s=5 (WDIOC_SETTIMEOUT, timeout_s=5: EINVAL): the value is outside what the hardware accepts. Fix the watchdog configuration.",
    );
  });

  it("BMC failures: unreachable, login, privilege, refused settings, lost settings", () => {
    const ipmi = (error: IpmiError, op = "Set Watchdog Timer", setting = "timeout_s=5") =>
      describeFailure(new WatchdogError({ kind: "ipmi", device: "10.70.0.101:623", setting, reason: "ipmi", op, cause: error, message: error.message }));
    expect(ipmi(new IpmiError("timeout", "10.70.0.101:623", "no answer"), "open", "connect")).toBe(
      "the BMC watchdog at 10.70.0.101:623 does not answer at open (connect): no answer. Check watchdog.address and port and the management network; an unreachable BMC watchdog is a driver failure, not a quiet no-op.",
    );
    expect(ipmi(new IpmiError("auth_failed", "10.70.0.101:623", "x"))).toMatch(/refused the login .*watchdog.password_file/);
    expect(ipmi(new IpmiError("completion_code", "10.70.0.101:623", "x", 0xd4))).toMatch(/needs operator privilege/);
    expect(ipmi(new IpmiError("completion_code", "10.70.0.101:623", "x", 0xcc))).toMatch(/refuses the watchdog settings at Set Watchdog Timer \(timeout_s=5\): 0xcc/);
    expect(ipmi(new IpmiError("completion_code", "10.70.0.101:623", "x", 0x80))).toMatch(/lost its settings/);
    expect(describeFailure(new IpmiError("timeout", "10.70.0.101:623", "no answer"))).toMatch(/^the BMC watchdog at 10.70.0.101:623 does not answer: no answer/);
  });

  it("anything else falls back to its message", () => {
    expect(describeFailure(new Error("boom"))).toBe("boom");
    expect(describeFailure("plain")).toBe("plain");
  });
});
