// hapd's own BMC responder (ipmi/responder-main.ts), validated with an independent client,
// `ipmitool -I lanplus -C 17` and `-C 3`; then hapd's client against it. This is how suite 17
// (HMAC-SHA256) is proven: no simulator here speaks SHA-256.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IpmiClient } from "../../ipmi/client.ts";
import type { IpmiError } from "../../ipmi/errors.ts";
import { eventually, fields, ipmitool, ipmitoolMissing, startResponder, type Responder } from "./helpers.ts";

const PASSWORD = "resp-s3cret";
const missing = ipmitoolMissing();

describe.skipIf(missing !== null)(`the responder, checked by ipmitool${missing ? ` — ${missing}` : ""}`, () => {
  let responder: Responder;
  beforeAll(async () => {
    responder = await startResponder({ password: PASSWORD });
  });
  afterAll(async () => {
    await responder?.stop();
  });

  describe.each([17, 3])("ipmitool -I lanplus -C %i", (cipher) => {
    const tool = (command: string[], password = PASSWORD) => ipmitool(responder.port, cipher, "admin", password, command);

    it("chassis power status / off / on", async () => {
      expect((await tool(["chassis", "power", "status"])).stdout.trim()).toBe("Chassis Power is on");
      const off = await tool(["chassis", "power", "off"]);
      expect(off.stdout.trim()).toBe("Chassis Power Control: Down/Off");
      expect((await tool(["chassis", "power", "status"])).stdout.trim()).toBe("Chassis Power is off");
      expect((await tool(["chassis", "power", "on"])).stdout.trim()).toBe("Chassis Power Control: Up/On");
      expect((await tool(["chassis", "power", "status"])).stdout.trim()).toBe("Chassis Power is on");
    });

    it("mc info", async () => {
      const info = await tool(["mc", "info"]);
      expect(info.code).toBe(0);
      expect(fields(info.stdout)).toMatchObject({ "Device ID": "32", "IPMI Version": "2.0", "Firmware Revision": "1.00", "Device Available": "yes" });
    });

    it("mc watchdog get / reset, after a raw Set Watchdog Timer", async () => {
      // Set: SMS/OS, no action, 100.0 s (0x03e8 in 100 ms units).
      expect((await tool(["raw", "0x06", "0x24", "0x04", "0x00", "0x00", "0x10", "0xe8", "0x03"])).code).toBe(0);
      const reset = await tool(["mc", "watchdog", "reset"]);
      expect(reset.stdout).toContain("countdown restarted");
      const get = fields((await tool(["mc", "watchdog", "get"])).stdout);
      expect(get["Watchdog Timer Use"]).toContain("SMS/OS");
      expect(get["Watchdog Timer Is"]).toBe("Started/Running");
      expect(get["Initial Countdown"]).toBe("100.0 sec");
    });

    it("a wrong password is refused", async () => {
      const r = await tool(["chassis", "power", "status"], "Not-The-Pa55");
      expect(r.code).not.toBe(0);
    });
  });

  it("ipmitool -C 0 (no authentication) is refused", async () => {
    const r = await ipmitool(responder.port, 0, "admin", PASSWORD, ["chassis", "power", "status"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("invalid authentication algorithm");
  });
});

describe("hapd's client against the responder", () => {
  let responder: Responder;
  beforeAll(async () => {
    responder = await startResponder({ password: PASSWORD });
  });
  afterAll(async () => {
    await responder?.stop();
  });

  const open = (overrides: Partial<Parameters<typeof IpmiClient.open>[0]> = {}) =>
    IpmiClient.open({ host: "127.0.0.1", port: responder.port, username: "admin", password: PASSWORD, request_timeout_ms: 500, ...overrides });

  it("cipher auto picks 17 when the BMC offers it", async () => {
    const client = await open();
    expect(client.cipherSuite).toBe(17);
    await client.close();
  });

  it.each([17, 3] as const)("suite %i: status, off confirmed, on, device ID, watchdog", async (cipher) => {
    const client = await open({ cipher });
    expect(client.cipherSuite).toBe(cipher);
    expect(await client.powerStatus()).toBe("on");
    await client.powerOff();
    expect(await client.powerStatus()).toBe("off");
    await client.powerOn();
    expect(await client.powerStatus()).toBe("on");
    expect((await client.deviceId()).device_id).toBe(32);
    await client.watchdogSet({ timer_use: 4, dont_stop: false, dont_log: false, timeout_action: "none", pretimeout_interrupt: "none", pretimeout_interval_s: 0, expiration_flags_clear: 0x3e, initial_countdown_ms: 50_000 });
    await client.watchdogReset();
    const state = await client.watchdogGet();
    expect(state).toMatchObject({ timer_use: 4, running: true, initial_countdown_ms: 50_000 });
    expect(state.present_countdown_ms).not.toBeNull();
    await client.close();
  });

  it("a power cycle turns the chassis off, then on again", async () => {
    const client = await open();
    await client.powerCycle();
    // The responder reports each power change on stdout; no timing assumption needed.
    const changed = (cause: string, on: boolean) => responder.events().some((e) => (e as { cause?: string; power_on?: boolean }).cause === cause && (e as { power_on?: boolean }).power_on === on);
    expect(await eventually(async () => changed("chassis power-cycle", false))).toBe(true);
    expect(await eventually(async () => changed("power-cycle on", true))).toBe(true);
    expect(await client.powerStatus()).toBe("on");
    await client.close();
  });

  it("a wrong password gives 'authentication failed' naming the BMC", async () => {
    const error = (await open({ password: "Not-The-Pa55" }).catch((e: unknown) => e)) as IpmiError;
    expect(error.code).toBe("auth_failed");
    expect(error.message).toContain(`127.0.0.1:${responder.port}`);
  });
});

describe("privilege limits of the responder", () => {
  let responder: Responder;
  beforeAll(async () => {
    responder = await startResponder({ password: PASSWORD, user: "op", privilege: "operator", suites: "17" });
  });
  afterAll(async () => {
    await responder?.stop();
  });

  it("administrator is refused for an operator-only user, with a hint; operator works", async () => {
    const error = (await IpmiClient.open({ host: "127.0.0.1", port: responder.port, username: "op", password: PASSWORD, request_timeout_ms: 500 }).catch((e: unknown) => e)) as IpmiError;
    expect(error.code).toBe("privilege");
    expect(error.message).toContain("administrator");
    expect(error.message).toContain("operator");
    const client = await IpmiClient.open({ host: "127.0.0.1", port: responder.port, username: "op", password: PASSWORD, privilege: "operator" });
    await client.powerOff();
    expect(await client.powerStatus()).toBe("off");
    await client.close();
  });

  it("a BMC without suite 3 refuses an explicit 3, listing what it offers", async () => {
    const error = (await IpmiClient.open({ host: "127.0.0.1", port: responder.port, username: "op", password: PASSWORD, privilege: "operator", cipher: 3 }).catch((e: unknown) => e)) as IpmiError;
    expect(error.code).toBe("cipher");
    expect(error.message).toContain("offers cipher suites 17");
  });
});
