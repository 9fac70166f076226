// The Linux watchdog driver against a fake kernel that implements watchdog_dev.c's uAPI: the
// exact bytes the driver passes, and what the timer does with them on a virtual clock.

import { describe, expect, it } from "vitest";
import { describeFailure } from "../../services/watchdog/describe-failure.ts";
import { WatchdogError } from "../../services/watchdog/driver.ts";
import { LinuxWatchdog } from "../../services/watchdog/linux-watchdog.ts";
import { E, FakeHost, FakeKernel, FakeWatchdog, WD, WDIOF, type FakeWatchdogSpec } from "./fake-kernel.ts";

const HW = WDIOF.SETTIMEOUT | WDIOF.MAGICCLOSE | WDIOF.KEEPALIVEPING;

function rig(spec: Partial<FakeWatchdogSpec> = {}, sysfs: { nowayoutAttribute?: boolean; stateAttribute?: boolean } = {}) {
  const kernel = new FakeKernel();
  const host = new FakeHost();
  const dev = new FakeWatchdog({ identity: "iTCO_wdt", options: HW, timeout_s: 30, ...spec });
  kernel.add("/dev/watchdog0", dev);
  host.addWatchdogClass("watchdog0", dev, sysfs);
  const driver = new LinuxWatchdog({ device: "/dev/watchdog0", kernel, host });
  return { kernel, host, dev, driver };
}

async function failure(promise: Promise<unknown>): Promise<WatchdogError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WatchdogError);
  return error as WatchdogError;
}

const int = (bytes: Uint8Array | number) => new DataView((bytes as Uint8Array).buffer).getInt32(0, true);

describe("open arms the device and sets the timeout", () => {
  it("opens write-only with O_CLOEXEC, reads watchdog_info, sends SETTIMEOUT as a 4-byte int and ENABLECARD", async () => {
    const { kernel, dev, driver } = rig();
    await driver.open(5);
    expect(kernel.calls[0]).toMatchObject({ op: "open", path: "/dev/watchdog0", flags: 0o2000001 });
    const [support] = kernel.ioctls(WD.GETSUPPORT);
    expect((support!.arg as Uint8Array).length).toBe(40);
    const [set] = kernel.ioctls(WD.SETTIMEOUT);
    expect([...(set!.arg as Uint8Array)]).toEqual([5, 0, 0, 0]);
    const [enable] = kernel.ioctls(WD.SETOPTIONS);
    expect([...(enable!.arg as Uint8Array)]).toEqual([2, 0, 0, 0]); // WDIOS_ENABLECARD
    expect(dev.active).toBe(true);
    expect(dev.timeout_s).toBe(5);
    expect(await driver.info()).toEqual({
      identity: "iTCO_wdt",
      options: ["SETTIMEOUT", "MAGICCLOSE", "KEEPALIVEPING"],
      timeout_s: 5,
      nowayout: false,
      survivesKernelHang: true,
      warnings: [],
    });
    await driver.close({ disarm: true });
  });

  it("keeps the timeout the kernel wrote back when the hardware rounds it down, with a warning", async () => {
    const { driver } = rig({ set_timeout: (t) => t - (t % 2) });
    await driver.open(5);
    const info = await driver.info();
    expect(info.timeout_s).toBe(4);
    expect(info.warnings).toContain("/dev/watchdog0 runs a 4 s timeout, shorter than the 5 s asked (hardware granularity)");
    await driver.close({ disarm: true });
  });

  it("refuses a timeout the hardware rounds up (peers would recover too early), and disarms again", async () => {
    const { kernel, dev, driver } = rig({ set_timeout: (t) => t + 1 });
    const error = await failure(driver.open(5));
    expect(error.reason).toBe("timeout_refused");
    expect(error.message).toContain("/dev/watchdog0: runs a 6 s timeout when timeout_s=5 was asked");
    expect(dev.active).toBe(false);
    expect(kernel.openFds()).toEqual([]);
  });

  it("EINVAL from SETTIMEOUT names the device and the setting, and the device is disarmed again", async () => {
    const { kernel, host, dev, driver } = rig({ max_timeout_s: 3 });
    host.files.set("/sys/class/watchdog/watchdog0/min_timeout", () => "1");
    host.files.set("/sys/class/watchdog/watchdog0/max_timeout", () => "3");
    const error = await failure(driver.open(5));
    expect(error).toMatchObject({ reason: "timeout_refused", errno: E.EINVAL, setting: "timeout_s=5", op: "WDIOC_SETTIMEOUT" });
    expect(error.message).toBe("/dev/watchdog0: timeout_s=5 is outside the range this hardware supports (1..3 s) (WDIOC_SETTIMEOUT: EINVAL)");
    expect(describeFailure(error)).toBe(
      "the watchdog /dev/watchdog0 refuses the timeout (timeout_s=5): timeout_s=5 is outside the range this hardware supports (1..3 s) (WDIOC_SETTIMEOUT: EINVAL). Configure a timeout this hardware supports (watchdog.timeout_s).",
    );
    expect(dev.active).toBe(false);
    expect(kernel.openFds()).toEqual([]);
  });

  it("a refused timeout under nowayout says the device stays armed", async () => {
    const { dev, driver } = rig({ max_timeout_s: 3, nowayout: true });
    const error = await failure(driver.open(5));
    expect(error.message).toMatch(/is still active after the magic close \(nowayout forbids stopping it \(WDIOS_DISABLECARD: EBUSY\)\): this host resets when its timeout runs out/);
    expect(dev.active).toBe(true);
  });

  it("a device without WDIOF_SETTIMEOUT is accepted only when its fixed timeout is not longer than asked", async () => {
    const fixed = rig({ options: WDIOF.MAGICCLOSE | WDIOF.KEEPALIVEPING, timeout_s: 30 });
    await fixed.driver.open(60);
    expect(fixed.kernel.ioctls(WD.SETTIMEOUT)).toEqual([]);
    expect((await fixed.driver.info()).timeout_s).toBe(30);
    await fixed.driver.close({ disarm: true });
    const tooLong = rig({ options: WDIOF.MAGICCLOSE | WDIOF.KEEPALIVEPING, timeout_s: 30 });
    expect((await failure(tooLong.driver.open(10))).reason).toBe("timeout_refused");
  });

  it("rejects a timeout that is not a whole number of seconds before touching the device", async () => {
    const { kernel, driver } = rig();
    expect((await failure(driver.open(2.5))).reason).toBe("timeout_refused");
    expect((await failure(driver.open(0))).reason).toBe("timeout_refused");
    expect(kernel.calls).toEqual([]);
  });
});

describe("bad devices", () => {
  it("a second opener gets EBUSY: another process holds it", async () => {
    const { kernel, host, driver } = rig();
    await driver.open(5);
    const other = new LinuxWatchdog({ device: "/dev/watchdog0", kernel, host });
    const error = await failure(other.open(5));
    expect(error).toMatchObject({ reason: "errno", errno: E.EBUSY, op: "open" });
    expect(describeFailure(error)).toBe(
      "watchdog device /dev/watchdog0 is busy: another process holds it open (open, open: EBUSY), and a watchdog admits one opener. Find it with fuser -v /dev/watchdog0 (often systemd's RuntimeWatchdogSec= or a watchdog daemon) and stop it.",
    );
    await driver.close({ disarm: true });
  });

  it("a missing device is ENOENT", async () => {
    const { kernel, host } = rig();
    const error = await failure(new LinuxWatchdog({ device: "/dev/watchdog3", kernel, host }).open(5));
    expect(error.errno).toBe(E.ENOENT);
    expect(describeFailure(error)).toBe("watchdog device /dev/watchdog3 does not exist (open, open: ENOENT): its driver is not loaded or watchdog.device is wrong (list them with ls /dev/watchdog*).");
  });

  it("no permission is EACCES", async () => {
    const { kernel, driver } = rig();
    kernel.denied.add("/dev/watchdog0");
    const error = await failure(driver.open(5));
    expect(describeFailure(error)).toBe("permission denied on /dev/watchdog0 (open, open: EACCES): hapd's supervisor must run as root or be given write access to the device.");
  });

  it("a device that does not answer WDIOC_GETSUPPORT is not a watchdog", async () => {
    const kernel = new FakeKernel();
    kernel.add("/dev/ttyS0", { open: () => ({ ioctl: () => -E.ENOTTY, write: (b) => b.length, read: () => 0, release: () => {} }) });
    const error = await failure(new LinuxWatchdog({ device: "/dev/ttyS0", kernel, host: new FakeHost() }).open(5));
    expect(error.reason).toBe("not_a_watchdog");
    expect(describeFailure(error)).toBe("/dev/ttyS0 is not a watchdog device: it does not answer WDIOC_GETSUPPORT (ENOTTY). Check watchdog.device.");
    // Nothing but GETSUPPORT reached it: no magic 'V' written to a device that is not a watchdog.
    expect(kernel.calls.map((c) => c.op)).toEqual(["open", "ioctl", "close"]);
    expect(kernel.openFds()).toEqual([]);
  });

  it("keepalive, timeLeft and info before open are errors, not silent no-ops", async () => {
    const { driver } = rig();
    expect((await failure(driver.keepalive())).reason).toBe("state");
    expect((await failure(driver.timeLeft())).reason).toBe("state");
    expect((await failure(driver.info())).reason).toBe("state");
  });
});

describe("keepalive and time left", () => {
  it("WDIOC_KEEPALIVE restarts the countdown; without it the countdown runs out and the machine resets", async () => {
    const { kernel, dev, driver } = rig();
    await driver.open(5);
    for (let i = 0; i < 10; i++) {
      kernel.advance(4000);
      await driver.keepalive();
    }
    expect(dev.resets).toBe(0);
    expect(kernel.ioctls(WD.KEEPALIVE)).toHaveLength(10);
    kernel.advance(4999);
    expect(dev.resets).toBe(0);
    kernel.advance(1);
    expect(dev.resets).toBe(1);
  });

  it("without WDIOF_KEEPALIVEPING it pets by writing one byte that is not the magic 'V'", async () => {
    const { kernel, dev, driver } = rig({ options: WDIOF.SETTIMEOUT | WDIOF.MAGICCLOSE });
    await driver.open(5);
    kernel.advance(4000);
    await driver.keepalive();
    expect(kernel.ioctls(WD.KEEPALIVE)).toEqual([]);
    expect([...kernel.writes()[0]!.bytes]).toEqual([0]);
    expect(dev.allow_release).toBe(false);
    kernel.advance(4000);
    expect(dev.resets).toBe(0);
    await driver.close({ disarm: true });
  });

  it("GETTIMELEFT reports the seconds left; a driver without get_timeleft gives null", async () => {
    const { kernel, driver } = rig();
    await driver.open(5);
    kernel.advance(2000);
    expect(await driver.timeLeft()).toBe(3);
    await driver.keepalive();
    expect(await driver.timeLeft()).toBe(5);
    await driver.close({ disarm: true });
    const blind = rig({ timeleft: false });
    await blind.driver.open(5);
    expect(await blind.driver.timeLeft()).toBeNull();
    await blind.driver.close({ disarm: true });
  });
});

describe("close", () => {
  it("a clean stop sends DISABLECARD, writes the magic 'V', closes, and the timer is stopped", async () => {
    const { kernel, dev, driver } = rig();
    await driver.open(5);
    const before = kernel.calls.length;
    expect(await driver.close({ disarm: true })).toEqual({ disarmed: true, warning: null });
    const tail = kernel.calls.slice(before);
    expect(tail.map((c) => c.op)).toEqual(["ioctl", "write", "close"]);
    expect(tail[0]).toMatchObject({ request: WD.SETOPTIONS });
    expect(int((tail[0] as { arg: Uint8Array }).arg)).toBe(1); // WDIOS_DISABLECARD
    expect([...(tail[1] as { bytes: Uint8Array }).bytes]).toEqual([0x56]);
    kernel.advance(60_000);
    expect(dev.resets).toBe(0);
    expect(dev.dev_open).toBe(false);
  });

  it("the magic close alone disarms a driver without SETOPTIONS", async () => {
    const kernel = new FakeKernel();
    const host = new FakeHost();
    const dev = new FakeWatchdog({ identity: "legacy", options: HW, timeout_s: 30 });
    // A driver whose SETOPTIONS is not implemented answers ENOTTY; everything else as watchdog_dev.c.
    kernel.add("/dev/watchdog0", {
      open: (flags, k) => {
        const file = dev.open(flags, k);
        if (typeof file === "number") return file;
        return { ...file, ioctl: (request, arg) => (request === WD.SETOPTIONS ? -E.ENOTTY : file.ioctl(request, arg)) };
      },
      tick: (now) => dev.tick(now),
    });
    host.addWatchdogClass("watchdog0", dev);
    const driver = new LinuxWatchdog({ device: "/dev/watchdog0", kernel, host });
    await driver.open(5);
    expect(await driver.close({ disarm: true })).toEqual({ disarmed: true, warning: null });
    kernel.advance(60_000);
    expect(dev.resets).toBe(0);
  });

  it("close without disarm leaves it armed, and the machine resets after the timeout", async () => {
    const { kernel, dev, driver } = rig();
    await driver.open(5);
    const outcome = await driver.close({ disarm: false });
    expect(outcome).toEqual({ disarmed: false, warning: "/dev/watchdog0 was left armed: this host resets in about 5 s unless something feeds it" });
    expect(kernel.writes()).toEqual([]); // no magic character
    kernel.advance(5000);
    expect(dev.resets).toBe(1);
  });

  it("a crash (the kernel closes the fd for a dead process) leaves it armed", async () => {
    const { kernel, dev, driver } = rig();
    await driver.open(5);
    for (const fd of kernel.openFds()) kernel.close(fd);
    kernel.advance(5000);
    expect(dev.resets).toBe(1);
  });

  it("nowayout: info says so, and a clean stop reports it could not disarm", async () => {
    const { kernel, dev, driver } = rig({ nowayout: true });
    await driver.open(5);
    const info = await driver.info();
    expect(info.nowayout).toBe(true);
    expect(info.warnings).toContain("/dev/watchdog0 has nowayout set (/sys/class/watchdog/watchdog0/nowayout): a clean stop cannot disarm it");
    const outcome = await driver.close({ disarm: true });
    expect(outcome.disarmed).toBe(false);
    expect(outcome.warning).toBe(
      "/dev/watchdog0 is still active after the magic close (nowayout forbids stopping it (WDIOS_DISABLECARD: EBUSY)): this host resets in about 5 s unless something feeds it",
    );
    kernel.advance(5000);
    expect(dev.resets).toBe(1);
  });

  it("nowayout from the driver's module parameter when sysfs has no attribute", async () => {
    const { host, driver } = rig({}, { nowayoutAttribute: false });
    host.links.set("/sys/class/watchdog/watchdog0/device/driver/module", "../../../../module/iTCO_wdt");
    host.files.set("/sys/module/iTCO_wdt/parameters/nowayout", () => "N");
    await driver.open(5);
    expect((await driver.info()).nowayout).toBe(false);
    expect((await driver.info()).warnings).toEqual([]);
    await driver.close({ disarm: true });
  });

  it("unknown nowayout counts as set; the sysfs state after close decides what is reported", async () => {
    const { dev, driver } = rig({}, { nowayoutAttribute: false });
    await driver.open(5);
    const info = await driver.info();
    expect(info.nowayout).toBe(true);
    expect(info.warnings[0]).toMatch(/^cannot tell whether \/dev\/watchdog0 has nowayout/);
    expect(await driver.close({ disarm: true })).toEqual({ disarmed: true, warning: null });
    expect(dev.active).toBe(false);
  });

  it("without sysfs at all, a DISABLECARD the kernel accepted counts as disarmed", async () => {
    const kernel = new FakeKernel();
    const dev = new FakeWatchdog({ identity: "iTCO_wdt", options: HW, timeout_s: 30 });
    kernel.add("/dev/watchdog", dev);
    const driver = new LinuxWatchdog({ device: "/dev/watchdog", kernel, host: new FakeHost() });
    await driver.open(5);
    expect(await driver.close({ disarm: true })).toEqual({ disarmed: true, warning: null });
  });

  it("a device without magic close support is flagged: any close stops it, a crash included", async () => {
    const { driver } = rig({ options: WDIOF.SETTIMEOUT | WDIOF.KEEPALIVEPING });
    await driver.open(5);
    expect((await driver.info()).warnings).toContain("/dev/watchdog0 has no magic close: it stops whenever its file is closed, a crash of the supervisor included");
    await driver.close({ disarm: true });
  });

  it("softdog found behind a 'linux' device is reported as not surviving a kernel hang", async () => {
    const { driver } = rig({ identity: "Software Watchdog" });
    await driver.open(5);
    const info = await driver.info();
    expect(info.survivesKernelHang).toBe(false);
    expect(info.warnings).toContain("softdog does not survive a kernel hang");
    await driver.close({ disarm: true });
  });

  it("close twice is harmless", async () => {
    const { driver } = rig();
    await driver.open(5);
    await driver.close({ disarm: true });
    expect(await driver.close({ disarm: true })).toEqual({ disarmed: true, warning: null });
  });
});
