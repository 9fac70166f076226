// The I2C register watchdog against a fake i2c-dev: I2C_SLAVE with the address as the argument,
// the exact register writes, the read-back, and a chip that resets when it is not kicked.

import { describe, expect, it } from "vitest";
import { describeFailure } from "../../services/watchdog/describe-failure.ts";
import { WatchdogError } from "../../services/watchdog/driver.ts";
import { I2cWatchdog, type I2cWatchdogOptions } from "../../services/watchdog/i2c-watchdog.ts";
import { E, FakeI2cBus, FakeKernel, FakeRegisterWatchdog, I2C, type RegisterChipSpec } from "./fake-kernel.ts";

const CHIP: RegisterChipSpec = {
  timeout: { register: 0x01, width_bytes: 1, byte_order: "big", unit_ms: 1000, max_value: 255 },
  kick: { register: 0x02, value: 0x5a },
  enable: { register: 0x03, value: 0x01 },
  disable: { register: 0x03, value: 0x00 },
};

function rig(overrides: Partial<I2cWatchdogOptions> = {}, chipSpec: RegisterChipSpec = CHIP) {
  const kernel = new FakeKernel();
  const bus = new FakeI2cBus();
  const chip = new FakeRegisterWatchdog(chipSpec);
  bus.chips.set(0x4b, chip);
  kernel.add("/dev/i2c-1", bus);
  const driver = new I2cWatchdog({
    bus: "/dev/i2c-1",
    address: 0x4b,
    timeout: { register: chipSpec.timeout.register, width_bytes: chipSpec.timeout.width_bytes, byte_order: chipSpec.timeout.byte_order, unit_ms: chipSpec.timeout.unit_ms },
    kick: chipSpec.kick,
    enable: chipSpec.enable ?? null,
    disable: chipSpec.disable ?? null,
    verify_timeout: true,
    kernel,
    ...overrides,
  });
  return { kernel, bus, chip, driver };
}

const bytesOf = (kernel: FakeKernel) => kernel.writes().map((w) => [...w.bytes]);

describe("I2C watchdog", () => {
  it("selects the chip with I2C_SLAVE (address as the argument) and writes timeout, read-back, enable, kick", async () => {
    const { kernel, chip, driver } = rig();
    await driver.open(5);
    expect(kernel.calls[0]).toMatchObject({ op: "open", path: "/dev/i2c-1", flags: 0o2000002 });
    expect(kernel.calls[1]).toMatchObject({ op: "ioctl", request: I2C.SLAVE, arg: 0x4b, result: 0 });
    expect(bytesOf(kernel)).toEqual([
      [0x01, 5], // timeout register = 5 s
      [0x01], // register pointer for the read-back
      [0x03, 0x01], // enable
      [0x02, 0x5a], // kick
    ]);
    expect(kernel.calls.filter((c) => c.op === "read")).toMatchObject([{ length: 1, result: 1 }]);
    expect(chip.enabled).toBe(true);
    expect(await driver.info()).toMatchObject({ identity: "I2C watchdog at 0x4b on /dev/i2c-1", timeout_s: 5, nowayout: false, survivesKernelHang: true });
    expect(driver.device).toBe("/dev/i2c-1@0x4b");
    await driver.close({ disarm: true });
  });

  it("kicks restart the chip's countdown; without them it resets the machine", async () => {
    const { kernel, chip, driver } = rig();
    await driver.open(5);
    for (let i = 0; i < 10; i++) {
      kernel.advance(4000);
      await driver.keepalive();
    }
    expect(chip.resets).toBe(0);
    expect(chip.kicks).toBe(11);
    kernel.advance(5000);
    expect(chip.resets).toBe(1);
  });

  it("a 16-bit timeout register in either byte order, in the chip's units", async () => {
    const big = rig({}, { ...CHIP, timeout: { register: 0x10, width_bytes: 2, byte_order: "big", unit_ms: 100, max_value: 0xffff } });
    await big.driver.open(30);
    expect(bytesOf(big.kernel)[0]).toEqual([0x10, 0x01, 0x2c]); // 300 × 100 ms
    expect(big.chip.timeoutCount()).toBe(300);
    const little = rig({}, { ...CHIP, timeout: { register: 0x10, width_bytes: 2, byte_order: "little", unit_ms: 100, max_value: 0xffff } });
    await little.driver.open(30);
    expect(bytesOf(little.kernel)[0]).toEqual([0x10, 0x2c, 0x01]);
    expect(little.chip.timeoutCount()).toBe(300);
    await big.driver.close({ disarm: true });
    await little.driver.close({ disarm: true });
  });

  it("rounds the register value down, so the chip never waits longer than asked", async () => {
    const { driver } = rig({}, { ...CHIP, timeout: { ...CHIP.timeout, unit_ms: 4000 } });
    await driver.open(10);
    expect((await driver.info()).timeout_s).toBe(8);
    await driver.close({ disarm: true });
  });

  it("a timeout beyond the register's range is refused before any I/O", async () => {
    const { kernel, driver } = rig();
    const error = (await driver.open(300).catch((e: unknown) => e)) as WatchdogError;
    expect(error.reason).toBe("timeout_refused");
    expect(error.message).toBe("/dev/i2c-1@0x4b: timeout_s=300 is 300 units of 1000 ms, outside the 8-bit timeout register's 1..255");
    expect(kernel.calls).toEqual([]);
  });

  it("a chip that clamps the timeout fails the read-back, and is disarmed again", async () => {
    const { chip, kernel, driver } = rig({}, { ...CHIP, timeout: { ...CHIP.timeout, max_value: 120 } });
    const error = (await driver.open(200).catch((e: unknown) => e)) as WatchdogError;
    expect(error.reason).toBe("verify_failed");
    expect(error.message).toBe("/dev/i2c-1@0x4b: register 0x01 reads back 0x78 after writing 0xc8: the chip did not take timeout_s=200");
    expect(describeFailure(error)).toContain("did not keep timeout_s=200");
    expect(chip.enabled).toBe(false);
    expect(bytesOf(kernel).at(-1)).toEqual([0x03, 0x00]);
    expect(kernel.openFds()).toEqual([]);
  });

  it("a clean stop writes the disable register; without one the chip cannot be disarmed", async () => {
    const { kernel, chip, driver } = rig();
    await driver.open(5);
    expect(await driver.close({ disarm: true })).toEqual({ disarmed: true, warning: null });
    expect(bytesOf(kernel).at(-1)).toEqual([0x03, 0x00]);
    kernel.advance(60_000);
    expect(chip.resets).toBe(0);

    const { disable: _, ...noDisable } = CHIP;
    const stuck = rig({ disable: null }, noDisable);
    await stuck.driver.open(5);
    expect((await stuck.driver.info()).nowayout).toBe(true);
    expect(await stuck.driver.close({ disarm: true })).toEqual({ disarmed: false, warning: "/dev/i2c-1@0x4b has no disable register, so it cannot be disarmed: the chip resets this host in about 5 s" });
    stuck.kernel.advance(5000);
    expect(stuck.chip.resets).toBe(1);
  });

  it("an address a kernel driver claimed is EBUSY", async () => {
    const { bus, kernel, driver } = rig();
    bus.claimed.add(0x4b);
    const error = (await driver.open(5).catch((e: unknown) => e)) as WatchdogError;
    expect(error).toMatchObject({ errno: E.EBUSY, op: "I2C_SLAVE", setting: "address 0x4b" });
    expect(describeFailure(error)).toBe("address 0x4b on /dev/i2c-1 is claimed by a kernel driver (I2C_SLAVE, address 0x4b: EBUSY): unbind that driver from the chip, or fix watchdog.address.");
    expect(kernel.openFds()).toEqual([]);
  });

  it("no chip at the address: the write is not acknowledged (ENXIO)", async () => {
    const { driver } = rig({ address: 0x4c });
    const error = (await driver.open(5).catch((e: unknown) => e)) as WatchdogError;
    expect(error.errno).toBe(E.ENXIO);
    expect(describeFailure(error)).toBe("no chip answers at /dev/i2c-1@0x4c (write, timeout_s=5: ENXIO): check watchdog.address, the wiring and that the chip is powered.");
  });

  it("a missing bus is ENOENT", async () => {
    const { driver } = rig({ bus: "/dev/i2c-7" });
    expect(describeFailure(await driver.open(5).catch((e: unknown) => e))).toBe(
      "I2C bus /dev/i2c-7 does not exist (open, bus: ENOENT): load i2c-dev and the bus driver, or fix watchdog.bus (list them with ls /dev/i2c-*).",
    );
  });

  it("timeLeft is null for a generic register chip", async () => {
    const { driver } = rig();
    await driver.open(5);
    expect(await driver.timeLeft()).toBeNull();
    await driver.close({ disarm: true });
  });
});
