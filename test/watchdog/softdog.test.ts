// softdog as the fallback: found by its identity, loaded with modprobe when allowed, reported as
// not surviving a kernel hang. The fake host plays sysfs and modprobe.

import { describe, expect, it } from "vitest";
import { describeFailure } from "../../services/watchdog/describe-failure.ts";
import { WatchdogError } from "../../services/watchdog/driver.ts";
import { SoftdogWatchdog } from "../../services/watchdog/softdog.ts";
import { FakeHost, FakeKernel, FakeWatchdog, WDIOF } from "./fake-kernel.ts";

const SOFTDOG = { identity: "Software Watchdog", options: WDIOF.SETTIMEOUT | WDIOF.MAGICCLOSE | WDIOF.KEEPALIVEPING, timeout_s: 60 };

function withSoftdogAt(kernel: FakeKernel, host: FakeHost, name: string): FakeWatchdog {
  const dev = new FakeWatchdog(SOFTDOG);
  kernel.add(`/dev/${name}`, dev);
  host.addWatchdogClass(name, dev);
  return dev;
}

describe("softdog", () => {
  it("finds the watchdog whose identity is softdog's, next to a hardware one, and warns in status", async () => {
    const kernel = new FakeKernel();
    const host = new FakeHost();
    const hardware = new FakeWatchdog({ identity: "iTCO_wdt", options: SOFTDOG.options, timeout_s: 30 });
    kernel.add("/dev/watchdog0", hardware);
    host.addWatchdogClass("watchdog0", hardware);
    const dev = withSoftdogAt(kernel, host, "watchdog1");
    const driver = new SoftdogWatchdog({ device: null, load_module: true, kernel, host });
    await driver.open(10);
    expect(driver.device).toBe("/dev/watchdog1");
    expect(driver.kind).toBe("softdog");
    expect(dev.active).toBe(true);
    expect(hardware.active).toBe(false);
    const info = await driver.info();
    expect(info.survivesKernelHang).toBe(false);
    expect(info.warnings).toEqual(["softdog does not survive a kernel hang"]);
    expect(host.modprobeCalls).toEqual([]);
    kernel.advance(9000);
    await driver.keepalive();
    kernel.advance(9000);
    expect(dev.resets).toBe(0);
    expect(await driver.close({ disarm: true })).toEqual({ disarmed: true, warning: null });
  });

  it("loads the module when no softdog is registered yet", async () => {
    const kernel = new FakeKernel();
    const host = new FakeHost();
    host.onModprobe = () => {
      withSoftdogAt(kernel, host, "watchdog0");
      return { ok: true, message: "" };
    };
    const driver = new SoftdogWatchdog({ device: null, load_module: true, kernel, host });
    await driver.open(10);
    expect(host.modprobeCalls).toEqual(["softdog"]);
    expect(driver.device).toBe("/dev/watchdog0");
    await driver.close({ disarm: true });
  });

  it("a kernel without softdog (as on this machine) is a clear error, with modprobe's reason", async () => {
    const driver = new SoftdogWatchdog({ device: null, load_module: true, kernel: new FakeKernel(), host: new FakeHost() });
    const error = (await driver.open(10).catch((e: unknown) => e)) as WatchdogError;
    expect(error).toBeInstanceOf(WatchdogError);
    expect(error.reason).toBe("unavailable");
    expect(describeFailure(error)).toBe(
      "softdog is not available on this kernel: modprobe softdog failed: modprobe: FATAL: Module softdog not found in directory /lib/modules/6.18.44. This kernel needs CONFIG_SOFT_WATCHDOG (or the softdog module), or configure a hardware watchdog.",
    );
  });

  it("does not run modprobe when load_module is off", async () => {
    const host = new FakeHost();
    const driver = new SoftdogWatchdog({ device: null, load_module: false, kernel: new FakeKernel(), host });
    await expect(driver.open(10)).rejects.toThrow(/load_module is off/);
    expect(host.modprobeCalls).toEqual([]);
  });

  it("an explicit device is used as given, still marked as softdog", async () => {
    const kernel = new FakeKernel();
    const host = new FakeHost();
    withSoftdogAt(kernel, host, "watchdog2");
    const driver = new SoftdogWatchdog({ device: "/dev/watchdog2", load_module: false, kernel, host });
    await driver.open(10);
    expect((await driver.info()).survivesKernelHang).toBe(false);
    await driver.close({ disarm: true });
  });
});
