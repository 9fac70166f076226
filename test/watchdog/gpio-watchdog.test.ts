// The GPIO-kicked watchdog against a fake gpiolib-cdev: the v2 line request bytes, SET_VALUES
// mask/bits, the pulses the line really makes on a virtual clock, and the enable line.

import { describe, expect, it } from "vitest";
import { describeFailure } from "../../services/watchdog/describe-failure.ts";
import { WatchdogError } from "../../services/watchdog/driver.ts";
import { GpioWatchdog, type GpioWatchdogOptions } from "../../services/watchdog/gpio-watchdog.ts";
import { E, FakeGpioChip, FakeKernel, GPIO } from "./fake-kernel.ts";

function rig(overrides: Partial<GpioWatchdogOptions> = {}) {
  const kernel = new FakeKernel();
  const chip = new FakeGpioChip("gpiochip0", "pinctrl-bcm2711", 32);
  kernel.add("/dev/gpiochip0", chip);
  const driver = new GpioWatchdog({
    chip: "/dev/gpiochip0",
    line: 17,
    active_low: false,
    pulse_high_ms: 2,
    pulse_low_ms: 3,
    hardware_timeout_s: 1.6,
    enable: null,
    drive: "push-pull",
    kernel,
    sleep_ms: async (ms) => kernel.advance(ms),
    ...overrides,
  });
  return { kernel, chip, driver };
}

/** A TPS3823-like chip on the line: it resets when no rising edge came for timeout_ms. */
function chipWouldReset(chip: FakeGpioChip, offset: number, timeout_ms: number, from_ms: number, until_ms: number): boolean {
  const edges = [from_ms, ...chip.risingEdges(offset).filter((t) => t >= from_ms), until_ms];
  return edges.some((t, i) => i > 0 && t - edges[i - 1]! >= timeout_ms);
}

const u64 = (bytes: Uint8Array, at: number) => new DataView(bytes.buffer).getBigUint64(at, true);
const u32 = (bytes: Uint8Array, at: number) => new DataView(bytes.buffer).getUint32(at, true);

describe("GPIO watchdog", () => {
  it("requests one output line with the exact gpio_v2_line_request bytes, then keeps only the line fd", async () => {
    const { kernel, chip, driver } = rig();
    await driver.open(2);
    expect(kernel.calls[0]).toMatchObject({ op: "open", path: "/dev/gpiochip0", flags: 0o2000002 }); // O_RDWR | O_CLOEXEC
    expect(kernel.ioctls(GPIO.GET_CHIPINFO)).toHaveLength(1);
    const [request] = kernel.ioctls(GPIO.V2_GET_LINE);
    const bytes = request!.arg as Uint8Array;
    expect(bytes.length).toBe(592);
    expect(u32(bytes, 0)).toBe(17); // offsets[0]
    expect(new TextDecoder().decode(bytes.subarray(256, 256 + 13))).toBe("hapd-watchdog"); // consumer
    expect(u64(bytes, 288)).toBe(8n); // config.flags = GPIO_V2_LINE_FLAG_OUTPUT
    expect(u32(bytes, 296)).toBe(1); // config.num_attrs
    expect(u32(bytes, 320)).toBe(2); // attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES
    expect(u64(bytes, 328)).toBe(0n); // attrs[0].attr.values: inactive
    expect(u64(bytes, 336)).toBe(1n); // attrs[0].mask
    expect(u32(bytes, 560)).toBe(1); // num_lines
    expect(chip.lines[17]).toMatchObject({ used: true, consumer: "hapd-watchdog", output: true });
    // The chip fd was closed after the request; only the line request's fd stays open.
    const lineFd = kernel.openFds();
    expect(lineFd).toHaveLength(1);
    expect(kernel.ioctls(GPIO.V2_LINE_SET_VALUES).every((c) => c.fd === lineFd[0])).toBe(true);
    await driver.close({ disarm: false });
    expect(chip.lines[17]!.used).toBe(false);
  });

  it("a keepalive is one pulse: SET_VALUES bits=1 mask=1, pulse_high_ms, bits=0 mask=1, pulse_low_ms", async () => {
    const { kernel, chip, driver } = rig();
    await driver.open(2);
    const before = kernel.ioctls(GPIO.V2_LINE_SET_VALUES).length;
    const start_ms = kernel.now_ms;
    await driver.keepalive();
    const sets = kernel.ioctls(GPIO.V2_LINE_SET_VALUES).slice(before);
    expect(sets.map((c) => [...(c.arg as Uint8Array)])).toEqual([
      [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
    ]);
    expect(chip.lines[17]!.history.slice(-2)).toEqual([
      { at_ms: start_ms, physical: 1 },
      { at_ms: start_ms + 2, physical: 0 },
    ]);
    expect(kernel.now_ms).toBe(start_ms + 5);
    await driver.close({ disarm: false });
  });

  it("open gives the chip a first pulse; regular keepalives hold it off, silence lets it reset", async () => {
    const { kernel, chip, driver } = rig();
    const opened_ms = kernel.now_ms;
    await driver.open(2);
    expect(chip.risingEdges(17)).toEqual([opened_ms]);
    for (let i = 0; i < 20; i++) {
      kernel.advance(500);
      await driver.keepalive();
    }
    expect(chipWouldReset(chip, 17, 1600, opened_ms, kernel.now_ms)).toBe(false);
    kernel.advance(1600);
    expect(chipWouldReset(chip, 17, 1600, opened_ms, kernel.now_ms)).toBe(true);
    await driver.close({ disarm: false });
  });

  it("an active-low line idles high and pulses low; keepalives asked during a pulse share it", async () => {
    const { kernel, chip, driver } = rig({ active_low: true });
    await driver.open(2);
    const [request] = kernel.ioctls(GPIO.V2_GET_LINE);
    const bytes = request!.arg as Uint8Array;
    expect(u32(bytes, 296)).toBe(2);
    expect(u32(bytes, 320)).toBe(1); // attrs[0]: FLAGS
    expect(u64(bytes, 328)).toBe(8n | 2n); // OUTPUT | ACTIVE_LOW
    expect(u64(bytes, 336)).toBe(1n);
    expect(chip.lines[17]!.history[0]).toEqual({ at_ms: 0, physical: 1 });
    const before = kernel.ioctls(GPIO.V2_LINE_SET_VALUES).length;
    await Promise.all([driver.keepalive(), driver.keepalive(), driver.keepalive()]);
    expect(kernel.ioctls(GPIO.V2_LINE_SET_VALUES).length - before).toBe(2);
    expect(chip.lines[17]!.history.slice(-2).map((h) => h.physical)).toEqual([0, 1]);
    await driver.close({ disarm: false });
  });

  it("with an enable line: both lines in one request, enable active at once, a clean stop drives it inactive", async () => {
    const { kernel, chip, driver } = rig({ enable: { line: 18, active_low: false } });
    await driver.open(2);
    const bytes = kernel.ioctls(GPIO.V2_GET_LINE)[0]!.arg as Uint8Array;
    expect([u32(bytes, 0), u32(bytes, 4), u32(bytes, 560)]).toEqual([17, 18, 2]);
    expect(u64(bytes, 328)).toBe(0b10n); // OUTPUT_VALUES: enable (index 1) active
    expect(u64(bytes, 336)).toBe(0b11n);
    expect(chip.lines[18]!.physical).toBe(1);
    const info = await driver.info();
    expect(info).toMatchObject({ identity: "gpiochip0 [pinctrl-bcm2711] line 17", timeout_s: 1.6, nowayout: false, survivesKernelHang: true, warnings: [] });
    const before = kernel.ioctls(GPIO.V2_LINE_SET_VALUES).length;
    expect(await driver.close({ disarm: true })).toEqual({ disarmed: true, warning: null });
    const [disable] = kernel.ioctls(GPIO.V2_LINE_SET_VALUES).slice(before);
    expect([...(disable!.arg as Uint8Array)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]); // bits 0, mask = enable
    expect(chip.lines[18]).toMatchObject({ physical: 0, used: false });
  });

  it("without an enable line the chip cannot be disarmed, and says so", async () => {
    const { driver } = rig();
    await driver.open(2);
    const info = await driver.info();
    expect(info.nowayout).toBe(true);
    expect(info.warnings).toEqual(["/dev/gpiochip0:17 has no enable line: a clean stop cannot disarm the chip"]);
    expect(await driver.close({ disarm: true })).toEqual({ disarmed: false, warning: "/dev/gpiochip0:17 has no enable line, so it cannot be disarmed: the chip resets this host in about 1.6 s" });
  });

  it("a line in use by another consumer is EBUSY", async () => {
    const { kernel, driver } = rig();
    // A second driver on the same kernel and chip.
    const second = new GpioWatchdog({ chip: "/dev/gpiochip0", line: 17, active_low: false, pulse_high_ms: 1, pulse_low_ms: 1, hardware_timeout_s: 1, enable: null, drive: "push-pull", kernel, sleep_ms: async () => {} });
    await driver.open(2);
    const error = (await second.open(2).catch((e: unknown) => e)) as WatchdogError;
    expect(error).toMatchObject({ reason: "errno", errno: E.EBUSY, setting: "line 17" });
    expect(describeFailure(error)).toBe("line 17 of /dev/gpiochip0 is in use by another consumer (GPIO_V2_GET_LINE_IOCTL, line 17: EBUSY): find it with gpioinfo and release it, or choose another line.");
    expect(kernel.openFds()).toHaveLength(1); // only the first driver's line fd
    await driver.close({ disarm: false });
  });

  it("a line beyond the chip is named, before any line is requested", async () => {
    const { kernel, driver } = rig({ line: 40 });
    const error = (await driver.open(2).catch((e: unknown) => e)) as WatchdogError;
    expect(error.reason).toBe("setting_refused");
    expect(error.message).toBe("/dev/gpiochip0:40: line 40 is beyond gpiochip0's 32 lines (0..31)");
    expect(kernel.ioctls(GPIO.V2_GET_LINE)).toEqual([]);
    expect(kernel.openFds()).toEqual([]);
  });

  it("a missing chip is ENOENT; a device that is no GPIO chip is named", async () => {
    const missing = rig({ chip: "/dev/gpiochip9" });
    expect(describeFailure(await missing.driver.open(2).catch((e: unknown) => e))).toBe(
      "GPIO chip /dev/gpiochip9 does not exist (open, chip: ENOENT): the GPIO driver is not loaded or watchdog.chip is wrong (list them with ls /dev/gpiochip*).",
    );
    const kernel = new FakeKernel();
    kernel.add("/dev/gpiochip0", { open: () => ({ ioctl: () => -E.ENOTTY, write: () => 0, read: () => 0, release: () => {} }) });
    const notChip = rig({ kernel });
    expect(describeFailure(await notChip.driver.open(2).catch((e: unknown) => e))).toBe("/dev/gpiochip0 is not a GPIO chip: it does not answer GPIO_GET_CHIPINFO_IOCTL (ENOTTY). Check watchdog.chip.");
  });

  it("a chip whose fixed timeout is longer than asked is refused", async () => {
    const { kernel, driver } = rig({ hardware_timeout_s: 3 });
    const error = (await driver.open(2).catch((e: unknown) => e)) as WatchdogError;
    expect(error.reason).toBe("timeout_refused");
    expect(error.message).toContain("the chip's fixed timeout is 3 s (hardware_timeout_s), longer than timeout_s=2");
    expect(kernel.calls).toEqual([]);
  });

  it("timeLeft is null: a kicked chip cannot tell", async () => {
    const { driver } = rig();
    await driver.open(2);
    expect(await driver.timeLeft()).toBeNull();
    await driver.close({ disarm: false });
  });
});
