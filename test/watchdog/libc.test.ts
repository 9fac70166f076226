// The real KernelPort (bun:ffi → libc) on harmless files only: errno comes back negated, a
// pointer and an integer argument both reach ioctl, and the Linux driver refuses a device that
// is not a watchdog. No test here opens anything that could arm a watchdog on this machine:
// the device paths are /dev/null and a path inside a fresh temporary directory.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeFailure } from "../../services/watchdog/describe-failure.ts";
import { WatchdogError } from "../../services/watchdog/driver.ts";
import { createWatchdog } from "../../services/watchdog/factory.ts";
import { O_CLOEXEC, O_WRONLY } from "../../services/watchdog/kernel-port.ts";
import { libcKernel } from "../../services/watchdog/libc.ts";
import { E, I2C, WD } from "./fake-kernel.ts";

const scratch = mkdtempSync(join(tmpdir(), "hapd-wd-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("libc through bun:ffi", () => {
  it("open of a missing path is -ENOENT", () => {
    expect(libcKernel.open(join(scratch, "missing"), O_WRONLY | O_CLOEXEC)).toBe(-E.ENOENT);
  });

  it("ioctl with a struct pointer and with an integer argument; write; close; EBADF after close", () => {
    const fd = libcKernel.open("/dev/null", O_WRONLY | O_CLOEXEC);
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(libcKernel.ioctl(fd, WD.GETSUPPORT, new Uint8Array(40))).toBe(-E.ENOTTY);
    expect(libcKernel.ioctl(fd, I2C.SLAVE, 0x4b)).toBe(-E.ENOTTY);
    expect(libcKernel.write(fd, Uint8Array.of(0x56))).toBe(1);
    expect(libcKernel.close(fd)).toBe(0);
    expect(libcKernel.close(fd)).toBe(-E.EBADF);
  });

  it("the Linux driver on /dev/null: not a watchdog, and nothing left open", async () => {
    const driver = createWatchdog({ kind: "linux", device: "/dev/null", timeout_s: 5 });
    const error = (await driver.open(5).catch((e: unknown) => e)) as WatchdogError;
    expect(error).toBeInstanceOf(WatchdogError);
    expect(error.reason).toBe("not_a_watchdog");
    expect(describeFailure(error)).toBe("/dev/null is not a watchdog device: it does not answer WDIOC_GETSUPPORT (ENOTTY). Check watchdog.device.");
  });

  it("the real ENOENT path, on a device name that cannot exist", async () => {
    const device = join(scratch, "watchdog0");
    const error = (await createWatchdog({ kind: "linux", device, timeout_s: 5 }).open(5).catch((e: unknown) => e)) as WatchdogError;
    expect(error.errno).toBe(E.ENOENT);
    expect(describeFailure(error)).toContain(`watchdog device ${device} does not exist`);
  });
});
