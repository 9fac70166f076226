// The IPMI watchdog driver against a real BMC: OpenIPMI's ipmi_sim through
// ../shared/peers/ipmi/bmc-sim. Pet it and the simulated host keeps running; stop petting and the
// BMC really resets it (`boots` goes up) or powers it off; a clean stop disarms it.
//
// Timing: the test waits for events (bounded, so a broken BMC fails instead of hanging), but it
// asserts no durations. Pets are 1.2 s apart (ipmi_sim 2.0.33 needs ≥ 1 s, see the README).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseWatchdogConfig, type DriverConfig } from "../../services/watchdog/config.ts";
import { describeFailure } from "../../services/watchdog/describe-failure.ts";
import { WatchdogError, type WatchdogDriver } from "../../services/watchdog/driver.ts";
import { createWatchdog } from "../../services/watchdog/factory.ts";
import { eventually, freePort, ipmiSimMissing, startBmcSim, type SimBmc } from "../ipmi/helpers.ts";

const missing = ipmiSimMissing();
const TIMEOUT_S = 4;
const PET_MS = 1200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(missing !== null)(`IPMI watchdog against ipmi_sim${missing ? ` — ${missing}` : ""}`, () => {
  let bmc: SimBmc;
  let scratch: string;
  const drivers: WatchdogDriver[] = [];

  const watchdog = (extra: Record<string, unknown> = {}, port = bmc.port): WatchdogDriver => {
    const passwordFile = join(scratch, "bmc.pw");
    writeFileSync(passwordFile, `${bmc.password}\n`, { mode: 0o600 });
    const config = parseWatchdogConfig({ kind: "ipmi", address: "127.0.0.1", port, username: bmc.user, password_file: passwordFile, cipher: 3, timeout_s: TIMEOUT_S, ...extra }) as DriverConfig;
    const driver = createWatchdog(config);
    drivers.push(driver);
    return driver;
  };

  /** Pet for a while (about three timeouts); the host must not reset meanwhile. */
  const petThrough = async (driver: WatchdogDriver, pets: number) => {
    for (let i = 0; i < pets; i++) {
      await sleep(PET_MS);
      await driver.keepalive();
    }
  };

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "hapd-wd-ipmi-"));
    bmc = await startBmcSim({ power: "on" });
  });

  afterAll(async () => {
    for (const driver of drivers) await driver.close({ disarm: true }).catch(() => {});
    await bmc?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("petting keeps the host up; when the pets stop, the BMC hard-resets it", async () => {
    const driver = watchdog({ action: "hard_reset" });
    const bootsBefore = bmc.boots();
    await driver.open(TIMEOUT_S);
    const info = await driver.info();
    expect(info).toMatchObject({ timeout_s: TIMEOUT_S, nowayout: false, survivesKernelHang: true, options: ["timer use SMS/OS", "action hard reset", "pre-timeout messaging 1 s"] });
    expect(info.identity).toMatch(new RegExp(`^IPMI BMC 127\\.0\\.0\\.1:${bmc.port} \\(`));
    expect(await driver.timeLeft()).toBeNull(); // ipmi_sim's Get reply has no present countdown

    await petThrough(driver, 10); // 12 s: three timeouts
    expect(bmc.boots()).toBe(bootsBefore);
    expect(await bmc.powerState()).toBe("on");

    // The supervisor hangs: no more pets.
    expect(await eventually(async () => bmc.boots() > bootsBefore, 100, 200)).toBe(true);
    expect(await bmc.powerState()).toBe("on");
    await driver.close({ disarm: true });
  });

  it("with action power_off, silence powers the chassis off", async () => {
    const driver = watchdog({ action: "power_off" });
    await driver.open(TIMEOUT_S);
    await petThrough(driver, 5);
    expect(await bmc.powerState()).toBe("on");
    expect(await eventually(async () => (await bmc.powerState()) === "off", 100, 200)).toBe(true);
    await driver.close({ disarm: true });
    // Power the simulated host on again for the next test.
    const { IpmiClient } = await import("../../ipmi/client.ts");
    const client = await IpmiClient.open({ host: "127.0.0.1", port: bmc.port, username: bmc.user, password: bmc.password, cipher: 3 });
    await client.powerOn();
    await client.close();
    expect(await eventually(async () => (await bmc.powerState()) === "on")).toBe(true);
  });

  it("a clean stop disarms: no reset after the timeout has long passed", async () => {
    const driver = watchdog({ action: "hard_reset" });
    await driver.open(TIMEOUT_S);
    await petThrough(driver, 2);
    const bootsBefore = bmc.boots();
    expect(await driver.close({ disarm: true })).toEqual({ disarmed: true, warning: null });
    await sleep(2 * TIMEOUT_S * 1000);
    expect(bmc.boots()).toBe(bootsBefore);
    expect(await bmc.powerState()).toBe("on");
  });

  it("a wrong password is a driver failure naming the BMC", async () => {
    const passwordFile = join(scratch, "wrong.pw");
    writeFileSync(passwordFile, "Not-The-Pa55\n", { mode: 0o600 });
    const driver = createWatchdog(parseWatchdogConfig({ kind: "ipmi", address: "127.0.0.1", port: bmc.port, username: bmc.user, password_file: passwordFile, cipher: 3, timeout_s: TIMEOUT_S }) as DriverConfig);
    const error = (await driver.open(TIMEOUT_S).catch((e: unknown) => e)) as WatchdogError;
    expect(error).toBeInstanceOf(WatchdogError);
    expect(describeFailure(error)).toBe(`the BMC at 127.0.0.1:${bmc.port} refused the login at open (connect): check watchdog.username and watchdog.password_file.`);
  });

  it("an unreachable BMC is a driver failure, never a silent no-op", async () => {
    const port = await freePort();
    const driver = watchdog({ request_timeout_ms: 100, max_attempts: 2 }, port);
    const error = (await driver.open(TIMEOUT_S).catch((e: unknown) => e)) as WatchdogError;
    expect(error).toBeInstanceOf(WatchdogError);
    expect(describeFailure(error)).toMatch(new RegExp(`^the BMC watchdog at 127\\.0\\.0\\.1:${port} does not answer at open \\(connect\\): `));
  });
});
