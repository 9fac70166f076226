// hapd's IPMI client against a real BMC: OpenIPMI's ipmi_sim through ../shared/peers/ipmi/bmc-sim
// (cipher suite 3, it has no SHA-256), cross-checked with `ipmitool -I lanplus -C 3` on the same
// simulator: both must give the same answers. Skipped, with the reason, without ipmi_sim/ipmitool.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IpmiClient } from "../../ipmi/client.ts";
import { IpmiError } from "../../ipmi/errors.ts";
import { eventually, fields, freePort, ipmiSimMissing, ipmitool, startBmcSim, type SimBmc } from "./helpers.ts";

const missing = ipmiSimMissing();

describe.skipIf(missing !== null)(`IpmiClient against ipmi_sim (suite 3)${missing ? ` — ${missing}` : ""}`, () => {
  let bmc: SimBmc;
  let client: IpmiClient;

  const open = (overrides: Partial<Parameters<typeof IpmiClient.open>[0]> = {}) =>
    IpmiClient.open({ host: "127.0.0.1", port: bmc.port, username: bmc.user, password: bmc.password, cipher: 3, request_timeout_ms: 500, max_attempts: 4, ...overrides });
  const tool = (command: string[]) => ipmitool(bmc.port, 3, bmc.user, bmc.password, command);

  beforeAll(async () => {
    bmc = await startBmcSim({ power: "on" });
    client = await open();
  });

  afterAll(async () => {
    await client?.close();
    await bmc?.stop();
  });

  it("opens a session with suite 3 and administrator privilege", () => {
    expect(client.cipherSuite).toBe(3);
  });

  it("power status is on, as ipmitool says", async () => {
    expect(await client.powerStatus()).toBe("on");
    expect((await tool(["chassis", "power", "status"])).stdout.trim()).toBe("Chassis Power is on");
  });

  it("Get Device ID gives what ipmitool mc info shows", async () => {
    const ours = await client.deviceId();
    const theirs = fields((await tool(["mc", "info"])).stdout);
    expect(String(ours.device_id)).toBe(theirs["Device ID"]);
    expect(String(ours.device_revision)).toBe(theirs["Device Revision"]);
    expect(`${ours.firmware_major}.${ours.firmware_minor_bcd.toString(16).padStart(2, "0")}`).toBe(theirs["Firmware Revision"]);
    expect(String(ours.manufacturer_id)).toBe(theirs["Manufacturer ID"]);
    expect(theirs["Product ID"]).toContain(String(ours.product_id));
    expect(`${ours.ipmi_version_major}.${ours.ipmi_version_minor}`).toBe(theirs["IPMI Version"]);
  });

  it("Reset Watchdog Timer before any Set reports 0x80 (watchdog not initialized)", async () => {
    const error = await client.watchdogReset().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpmiError);
    expect((error as IpmiError).code).toBe("completion_code");
    expect((error as IpmiError).completion_code).toBe(0x80);
    expect((error as IpmiError).message).toContain(`127.0.0.1:${bmc.port}`);
  });

  it("watchdog Set (reply with trailing garbage), Get (6-byte reply) and Reset agree with ipmitool", async () => {
    await client.watchdogSet({ timer_use: 4, dont_stop: false, dont_log: false, timeout_action: "none", pretimeout_interrupt: "none", pretimeout_interval_s: 0, expiration_flags_clear: 0x3e, initial_countdown_ms: 100_000 });
    const ours = await client.watchdogGet();
    expect(ours).toMatchObject({ timer_use: 4, timeout_action: "none", pretimeout_interrupt: "none", initial_countdown_ms: 100_000, present_countdown_ms: null });
    const theirs = fields((await tool(["mc", "watchdog", "get"])).stdout);
    expect(theirs["Watchdog Timer Use"]).toContain("SMS/OS");
    expect(theirs["Watchdog Timer Action"]).toBe("No action (0x00)");
    expect(theirs["Initial Countdown"]).toBe("100.0 sec");
    await client.watchdogReset();
    const reset = await tool(["mc", "watchdog", "reset"]);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain("countdown restarted");
  });

  it("power off is confirmed by Get Chassis Status, by ipmitool and by the simulated host", async () => {
    await client.powerOff();
    expect(await eventually(async () => (await client.powerStatus()) === "off")).toBe(true);
    expect((await tool(["chassis", "power", "status"])).stdout.trim()).toBe("Chassis Power is off");
    expect(await eventually(async () => (await bmc.powerState()) === "off")).toBe(true);
  });

  it("power on comes back on, as ipmitool and the simulated host say", async () => {
    const bootsBefore = bmc.boots();
    await client.powerOn();
    expect(await eventually(async () => (await client.powerStatus()) === "on")).toBe(true);
    expect((await tool(["chassis", "power", "status"])).stdout.trim()).toBe("Chassis Power is on");
    expect(await eventually(async () => (await bmc.powerState()) === "on")).toBe(true);
    expect(await eventually(async () => bmc.boots() > bootsBefore)).toBe(true);
  });

  it("a watchdog countdown really powers the host down on expiry", async () => {
    // ipmi_sim 2.0.33 does not re-arm a running countdown, so: set, start once, do not pet.
    const expiring = await open();
    try {
      await expiring.watchdogSet({ timer_use: 4, dont_stop: false, dont_log: false, timeout_action: "power_down", pretimeout_interrupt: "none", pretimeout_interval_s: 0, expiration_flags_clear: 0x3e, initial_countdown_ms: 1000 });
      await expiring.watchdogReset();
      expect(await eventually(async () => (await expiring.powerStatus()) === "off", 100, 100)).toBe(true);
      const state = await expiring.watchdogGet();
      expect(state.expiration_flags & 0x10).toBe(0x10); // SMS/OS expired
      await expiring.watchdogSet({ timer_use: 4, dont_stop: false, dont_log: false, timeout_action: "none", pretimeout_interrupt: "none", pretimeout_interval_s: 0, expiration_flags_clear: 0x3e, initial_countdown_ms: 100_000 });
      await expiring.powerOn();
      expect(await eventually(async () => (await expiring.powerStatus()) === "on")).toBe(true);
    } finally {
      await expiring.close();
    }
  });

  it("cipher auto falls back from 17 to 3 (ipmi_sim has no SHA-256)", async () => {
    const auto = await open({ cipher: "auto" });
    expect(auto.cipherSuite).toBe(3);
    expect(await auto.powerStatus()).toBe("on");
    await auto.close();
  });

  it("an explicit cipher 17 fails, naming the BMC and the suites it offers", async () => {
    const error = (await open({ cipher: 17 }).catch((e: unknown) => e)) as IpmiError;
    expect(error.code).toBe("cipher");
    expect(error.message).toContain(`127.0.0.1:${bmc.port}`);
    expect(error.message).toMatch(/offers cipher suites 0, 1, 2, 3/);
  });

  it("a wrong password fails with 'authentication failed' naming the BMC; ipmitool fails too", async () => {
    const error = (await open({ password: "Not-The-Pa55" }).catch((e: unknown) => e)) as IpmiError;
    expect(error).toBeInstanceOf(IpmiError);
    expect(error.code).toBe("auth_failed");
    expect(error.message).toContain(`authentication failed at BMC 127.0.0.1:${bmc.port}`);
    expect(error.message).not.toContain("Not-The-Pa55");
    expect((await ipmitool(bmc.port, 3, bmc.user, "Not-The-Pa55", ["chassis", "power", "status"])).code).not.toBe(0);
    // The refused attempt left no broken state behind: a good login still works.
    const again = await open();
    expect(await again.powerStatus()).toBe("on");
    await again.close();
  });

  it("operator privilege can read and control the chassis", async () => {
    const operator = await open({ privilege: "operator" });
    expect(await operator.powerStatus()).toBe("on");
    await operator.hardReset();
    await operator.close();
  });

  it("an unreachable BMC fails with a timeout after the configured attempts", async () => {
    const port = await freePort();
    const error = (await IpmiClient.open({ host: "127.0.0.1", port, username: "admin", password: "x", cipher: 3, request_timeout_ms: 100, max_attempts: 2 }).catch((e: unknown) => e)) as IpmiError;
    expect(error.code).toBe("timeout");
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain("2 attempt(s)");
  });
});
