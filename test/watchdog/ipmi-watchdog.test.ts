// The IPMI watchdog driver's own logic against a fake session (the port IpmiClient implements):
// the Set it sends, pets folded to ≥ min_pet_interval_ms apart, re-arming after a BMC lost its
// settings, a new session after the old one died, and stopping a half-armed timer. The real
// BMC test is ipmi-bmc-sim.test.ts.

import { describe, expect, it } from "vitest";
import type { DeviceId, WatchdogSettings, WatchdogState } from "../../ipmi/commands.ts";
import { IpmiError } from "../../ipmi/errors.ts";
import { describeFailure } from "../../services/watchdog/describe-failure.ts";
import { WatchdogError } from "../../services/watchdog/driver.ts";
import { IpmiWatchdog, type IpmiWatchdogOptions, type IpmiWatchdogPort } from "../../services/watchdog/ipmi-watchdog.ts";

const BMC = "10.70.0.101:623";

/** A BMC watchdog as IPMI §27 describes it, with ipmi_sim's 6-byte Get reply. */
class FakeBmc {
  settings: WatchdogSettings | null = null;
  running = false;
  calls: string[] = [];
  sessions = 0;
  /** Next failures, by command name. */
  fail: Partial<Record<"set" | "get" | "reset", IpmiError>> = {};
  /** What Get reports instead of the truth (a BMC that ignores a setting). */
  lie: Partial<WatchdogState> = {};

  connect = async (): Promise<IpmiWatchdogPort> => {
    this.sessions += 1;
    let open = true;
    const guard = () => {
      if (!open) throw new IpmiError("closed", BMC, `session with BMC ${BMC} is closed`);
    };
    const take = (op: "set" | "get" | "reset") => {
      const error = this.fail[op];
      if (error) {
        delete this.fail[op];
        throw error;
      }
    };
    return {
      watchdogSet: async (s) => {
        guard();
        this.calls.push(`set ${s.timeout_action} ${s.pretimeout_interrupt}/${s.pretimeout_interval_s} ${s.initial_countdown_ms}ms use=${s.timer_use} dont_stop=${s.dont_stop} clear=${s.expiration_flags_clear}`);
        take("set");
        this.settings = s;
        if (!s.dont_stop) this.running = false;
      },
      watchdogGet: async () => {
        guard();
        this.calls.push("get");
        take("get");
        const s = this.settings!;
        return { timer_use: s.timer_use, running: s.dont_stop, dont_log: s.dont_log, timeout_action: s.timeout_action, pretimeout_interrupt: s.pretimeout_interrupt, pretimeout_interval_s: s.pretimeout_interval_s, expiration_flags: 0, initial_countdown_ms: s.initial_countdown_ms, present_countdown_ms: null, ...this.lie };
      },
      watchdogReset: async () => {
        guard();
        this.calls.push("reset");
        take("reset");
        if (!this.settings) throw new IpmiError("completion_code", BMC, "0x80", 0x80);
        this.running = true;
      },
      deviceId: async (): Promise<DeviceId> => ({ device_id: 32, device_revision: 0, provides_sdrs: false, firmware_major: 1, firmware_minor_bcd: 0, device_available: true, ipmi_version_major: 2, ipmi_version_minor: 0, additional_support: 0, manufacturer_id: 4753, product_id: 3842, aux_firmware: null }),
      close: async () => {
        open = false;
      },
    };
  };
}

function rig(overrides: Partial<IpmiWatchdogOptions> = {}) {
  const bmc = new FakeBmc();
  const clock = { now_ms: 0 };
  const driver = new IpmiWatchdog({
    host: "10.70.0.101",
    port: 623,
    username: "admin",
    password: "x",
    cipher: 17,
    privilege: "administrator",
    action: "hard_reset",
    pretimeout: { interrupt: "messaging", interval_s: 1 },
    min_pet_interval_ms: 1000,
    request_timeout_ms: 500,
    max_attempts: 3,
    connect: bmc.connect,
    now_ms: () => clock.now_ms,
    ...overrides,
  });
  return { bmc, clock, driver };
}

describe("IPMI watchdog (fake session)", () => {
  it("arms with Set (SMS/OS, action, messaging pre-timeout, clear SMS/OS flag, countdown) then Reset, then checks with Get", async () => {
    const { bmc, driver } = rig();
    await driver.open(5);
    expect(bmc.calls).toEqual(["set hard_reset messaging/1 5000ms use=4 dont_stop=false clear=16", "reset", "get"]);
    expect(bmc.running).toBe(true);
    expect(await driver.info()).toEqual({
      identity: "IPMI BMC 10.70.0.101:623 (manufacturer 4753, product 3842, firmware 1.00, IPMI 2.0)",
      options: ["timer use SMS/OS", "action hard reset", "pre-timeout messaging 1 s"],
      timeout_s: 5,
      nowayout: false,
      survivesKernelHang: true,
      warnings: [],
    });
    expect(await driver.timeLeft()).toBeNull(); // 6-byte Get reply: no present countdown
  });

  it("power_off maps to the IPMI action 'power down'", async () => {
    const { bmc, driver } = rig({ action: "power_off", pretimeout: { interrupt: "none", interval_s: 0 } });
    await driver.open(5);
    expect(bmc.calls[0]).toBe("set power_down none/0 5000ms use=4 dont_stop=false clear=16");
  });

  it("pets closer than min_pet_interval_ms to the last one are folded into it", async () => {
    const { bmc, clock, driver } = rig();
    await driver.open(5);
    bmc.calls = [];
    clock.now_ms = 400;
    await driver.keepalive();
    clock.now_ms = 999;
    await driver.keepalive();
    expect(bmc.calls).toEqual([]);
    clock.now_ms = 1000;
    await driver.keepalive();
    clock.now_ms = 1500;
    await driver.keepalive();
    clock.now_ms = 2100;
    await Promise.all([driver.keepalive(), driver.keepalive()]);
    expect(bmc.calls).toEqual(["reset", "reset"]);
  });

  it("a BMC that lost its settings (0x80) is armed again on the next pet", async () => {
    const { bmc, clock, driver } = rig();
    await driver.open(5);
    bmc.settings = null; // the BMC rebooted
    bmc.calls = [];
    clock.now_ms = 2000;
    await driver.keepalive();
    expect(bmc.calls).toEqual(["reset", "set hard_reset messaging/1 5000ms use=4 dont_stop=false clear=16", "reset"]);
    expect(bmc.running).toBe(true);
  });

  it("a dead session is replaced and the pet retried once; a second failure reaches the caller", async () => {
    const { bmc, clock, driver } = rig();
    await driver.open(5);
    bmc.fail.reset = new IpmiError("timeout", BMC, "no answer from BMC");
    clock.now_ms = 2000;
    await driver.keepalive();
    expect(bmc.sessions).toBe(2);
    expect(bmc.calls.slice(-2)).toEqual(["reset", "reset"]);

    bmc.fail.reset = new IpmiError("completion_code", BMC, "0xc0 (node busy)", 0xc0);
    clock.now_ms = 4000;
    const error = (await driver.keepalive().catch((e: unknown) => e)) as WatchdogError;
    expect(error).toBeInstanceOf(WatchdogError);
    expect(error).toMatchObject({ reason: "ipmi", op: "Reset Watchdog Timer", setting: "keepalive" });
    expect(describeFailure(error)).toBe("the BMC at 10.70.0.101:623 answered 0xc0 (node busy) at Reset Watchdog Timer (keepalive).");
  });

  it("a BMC that does not keep the settings fails open, and the half-armed timer is stopped", async () => {
    const { bmc, driver } = rig();
    bmc.lie = { timeout_action: "none" };
    const error = (await driver.open(5).catch((e: unknown) => e)) as WatchdogError;
    expect(error.reason).toBe("verify_failed");
    expect(error.message).toBe("BMC watchdog 10.70.0.101:623: the BMC did not keep the watchdog settings: action none instead of hard_reset");
    expect(bmc.calls.at(-1)).toBe("set none none/0 5000ms use=4 dont_stop=false clear=16");
    expect(bmc.running).toBe(false);
  });

  it("refuses a pre-timeout that is not shorter than the timeout, and a countdown IPMI cannot hold", async () => {
    const short = rig({ pretimeout: { interrupt: "messaging", interval_s: 5 } });
    expect(((await short.driver.open(5).catch((e: unknown) => e)) as WatchdogError).message).toBe("BMC watchdog 10.70.0.101:623: pretimeout.interval_s=5 must be shorter than timeout_s=5");
    expect(short.bmc.sessions).toBe(0);
    const long = rig();
    expect(((await long.driver.open(7000).catch((e: unknown) => e)) as WatchdogError).reason).toBe("timeout_refused");
  });

  it("a clean stop sets action none with 'don't stop' clear; without disarm it stays armed", async () => {
    const { bmc, driver } = rig();
    await driver.open(5);
    expect(await driver.close({ disarm: true })).toEqual({ disarmed: true, warning: null });
    expect(bmc.calls.at(-1)).toBe("set none none/0 5000ms use=4 dont_stop=false clear=16");
    expect(bmc.running).toBe(false);

    const kept = rig();
    await kept.driver.open(5);
    expect(await kept.driver.close({ disarm: false })).toEqual({ disarmed: false, warning: "the BMC watchdog of 10.70.0.101:623 was left armed: it will hard reset this host in about 5 s" });
    expect(kept.bmc.running).toBe(true);
  });

  it("keepalive before open is an error", async () => {
    const { driver } = rig();
    expect(((await driver.keepalive().catch((e: unknown) => e)) as WatchdogError).reason).toBe("state");
  });
});
