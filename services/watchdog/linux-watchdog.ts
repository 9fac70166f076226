// A Linux watchdog device (/dev/watchdogN) through the WDIOC_* ioctls, on the KernelPort.
//
// The kernel starts the timer when the device is opened (watchdog_open), so open() arms at once
// and then sets the timeout. A clean stop stops it (WDIOS_DISABLECARD, then the magic 'V' and
// close); nowayout forbids that, and the outcome says so instead of pretending. Any other close —
// a crash included, since the kernel closes the fd for us — leaves it running: that is the point.

import { checkTimeout, notOpen, WatchdogError, type CloseOutcome, type WatchdogDriver, type WatchdogErrorReason, type WatchdogInfo } from "./driver.ts";
import { Errno, errnoText } from "./errno.ts";
import { realHost, type HostPort } from "./host-port.ts";
import { O_CLOEXEC, O_WRONLY, type KernelPort } from "./kernel-port.ts";
import {
  decodeWatchdogInfo,
  intArg,
  MAGIC_CLOSE,
  optionNames,
  readInt,
  SOFTDOG_IDENTITY,
  SOFTDOG_WARNING,
  WATCHDOG_INFO_SIZE,
  WDIOC_GETSUPPORT,
  WDIOC_GETTIMELEFT,
  WDIOC_GETTIMEOUT,
  WDIOC_KEEPALIVE,
  WDIOC_SETOPTIONS,
  WDIOC_SETTIMEOUT,
  WDIOF,
  WDIOS_DISABLECARD,
  WDIOS_ENABLECARD,
  type WatchdogSupport,
} from "./linux-uapi.ts";
import { readNowayout, readState, sysfsName, type Nowayout } from "./sysfs.ts";

export type LinuxWatchdogOptions = {
  device: string;
  /** "softdog" marks the timer as one that dies with the kernel. */
  kind?: "linux" | "softdog";
  kernel: KernelPort;
  host?: HostPort;
  /** Module whose nowayout parameter to read when sysfs lacks the attribute ("softdog"). */
  module?: string | null;
};

/** A keepalive by write(2) for drivers without WDIOF_KEEPALIVEPING: any byte but 'V' (busybox writes a NUL too). */
const PING_BYTE = new Uint8Array([0]);

export class LinuxWatchdog implements WatchdogDriver {
  readonly kind: "linux" | "softdog";
  readonly device: string;
  private readonly kernel: KernelPort;
  private readonly host: HostPort;
  private readonly module: string | null;
  private fd = -1;
  private support: WatchdogSupport | null = null;
  private timeout_s = 0;
  private nowayout: Nowayout = { nowayout: null, source: "not read yet" };
  private sysName: string | null = null;
  private warnings: string[] = [];
  /** Reused by keepalive and timeLeft so the supervisor's loop allocates nothing here. */
  private readonly scratch = new Uint8Array(4);

  constructor(options: LinuxWatchdogOptions) {
    this.device = options.device;
    this.kind = options.kind ?? "linux";
    this.kernel = options.kernel;
    this.host = options.host ?? realHost;
    this.module = options.module ?? (this.kind === "softdog" ? "softdog" : null);
  }

  async open(timeout_s: number): Promise<void> {
    checkTimeout(this.kind, this.device, timeout_s);
    if (this.fd >= 0) throw this.error("state", "open", "open", "already open");
    // Read nowayout before arming: afterwards it is too late to decide not to.
    this.sysName = sysfsName(this.device, this.host);
    this.nowayout = readNowayout(this.sysName, this.host, this.module);
    const fd = this.kernel.open(this.device, O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw this.errnoError("open", "open", -fd, "cannot open it for writing");
    this.fd = fd;
    try {
      this.support = this.getSupport();
    } catch (error) {
      // Not a watchdog: nothing is armed, and writing the magic 'V' to some other device (a
      // disk named by mistake) could do harm. Just close it.
      this.kernel.close(fd);
      this.fd = -1;
      throw error;
    }
    try {
      this.timeout_s = this.applyTimeout(timeout_s);
      this.enable();
      this.warnings = this.collectWarnings(timeout_s);
    } catch (error) {
      // Half-configured: stop it again if we may, and say if we may not.
      const outcome = this.release(this.fd, true);
      this.fd = -1;
      if (error instanceof WatchdogError && !outcome.disarmed && outcome.warning) {
        throw new WatchdogError({ ...fieldsOf(error), message: `${error.message}; ${outcome.warning}` });
      }
      throw error;
    }
  }

  async keepalive(): Promise<void> {
    if (this.fd < 0 || !this.support) throw notOpen(this.kind, this.device, "keepalive");
    if (this.support.options & WDIOF.KEEPALIVEPING) {
      const r = this.kernel.ioctl(this.fd, WDIOC_KEEPALIVE, this.scratch);
      if (r < 0) throw this.errnoError("WDIOC_KEEPALIVE", "keepalive", -r, "keepalive failed");
    } else {
      const r = this.kernel.write(this.fd, PING_BYTE);
      if (r < 0) throw this.errnoError("write", "keepalive", -r, "keepalive write failed");
    }
  }

  async timeLeft(): Promise<number | null> {
    if (this.fd < 0) throw notOpen(this.kind, this.device, "timeLeft");
    const r = this.kernel.ioctl(this.fd, WDIOC_GETTIMELEFT, this.scratch);
    if (r === -Errno.EOPNOTSUPP || r === -Errno.ENOTTY || r === -Errno.EINVAL) return null; // the driver has no get_timeleft
    if (r < 0) throw this.errnoError("WDIOC_GETTIMELEFT", "time left", -r, "cannot read the time left");
    return readInt(this.scratch);
  }

  async info(): Promise<WatchdogInfo> {
    if (this.fd < 0 || !this.support) throw notOpen(this.kind, this.device, "info");
    return {
      identity: this.support.identity,
      options: optionNames(this.support.options),
      timeout_s: this.timeout_s,
      // Unknown counts as set: a caller must never believe it can stop a timer it cannot.
      nowayout: this.nowayout.nowayout !== false,
      survivesKernelHang: !this.isSoftdog(),
      warnings: [...this.warnings],
    };
  }

  async close(opts: { disarm: boolean }): Promise<CloseOutcome> {
    if (this.fd < 0) return { disarmed: true, warning: null };
    const fd = this.fd;
    this.fd = -1;
    return this.release(fd, opts.disarm);
  }

  private isSoftdog(): boolean {
    return this.kind === "softdog" || this.support?.identity === SOFTDOG_IDENTITY;
  }

  private getSupport(): WatchdogSupport {
    const bytes = new Uint8Array(WATCHDOG_INFO_SIZE);
    const r = this.kernel.ioctl(this.fd, WDIOC_GETSUPPORT, bytes);
    if (r === -Errno.ENOTTY || r === -Errno.EINVAL) {
      throw this.error("not_a_watchdog", "WDIOC_GETSUPPORT", "open", `not a watchdog device: it does not answer WDIOC_GETSUPPORT (${errnoText(-r)})`, -r);
    }
    if (r < 0) throw this.errnoError("WDIOC_GETSUPPORT", "open", -r, "cannot read its identity and options");
    return decodeWatchdogInfo(bytes);
  }

  /** Sets the timeout and returns the one the hardware really runs, which must not be longer. */
  private applyTimeout(requested_s: number): number {
    const setting = `timeout_s=${requested_s}`;
    const arg = intArg(requested_s);
    let actual_s: number;
    if (this.support!.options & WDIOF.SETTIMEOUT) {
      // watchdog_dev.c: SETTIMEOUT validates (EINVAL outside min..max), lets the driver round,
      // pings, then falls through to GETTIMEOUT and writes back the timeout it really set.
      const r = this.kernel.ioctl(this.fd, WDIOC_SETTIMEOUT, arg);
      if (r === -Errno.EINVAL) throw this.error("timeout_refused", "WDIOC_SETTIMEOUT", setting, `${setting} is outside the range this hardware supports${this.rangeText()} (WDIOC_SETTIMEOUT: EINVAL)`, Errno.EINVAL);
      if (r < 0) throw this.errnoError("WDIOC_SETTIMEOUT", setting, -r, `cannot set ${setting}`);
      actual_s = readInt(arg);
    } else {
      const r = this.kernel.ioctl(this.fd, WDIOC_GETTIMEOUT, arg);
      if (r < 0) throw this.error("timeout_refused", "WDIOC_GETTIMEOUT", setting, `cannot set a timeout (no WDIOF_SETTIMEOUT) and does not report its fixed one (${errnoText(-r)})`, -r);
      actual_s = readInt(arg);
    }
    if (actual_s > requested_s) {
      // Peers wait for our configured timeout before they take over our resources (the SBD
      // rule): a longer real timeout would let them start while this host may still run them.
      throw this.error("timeout_refused", "WDIOC_SETTIMEOUT", setting, `runs a ${actual_s} s timeout when ${setting} was asked; a longer timeout than configured would let peers recover before this host has reset`);
    }
    if (actual_s < 1) throw this.error("timeout_refused", "WDIOC_GETTIMEOUT", setting, `reports a timeout of ${actual_s} s after ${setting}`);
    return actual_s;
  }

  /** " (1..3 s)" from the sysfs min_timeout/max_timeout attributes where the kernel has them. */
  private rangeText(): string {
    if (!this.sysName) return "";
    const min = this.host.readText(`/sys/class/watchdog/${this.sysName}/min_timeout`);
    const max = this.host.readText(`/sys/class/watchdog/${this.sysName}/max_timeout`);
    return min !== null && max !== null ? ` (${min}..${max} s)` : "";
  }

  private enable(): void {
    // watchdog_open() has started the timer already; ENABLECARD states it for legacy drivers
    // outside the watchdog core that wait for it. Drivers without SETOPTIONS answer ENOTTY or
    // EOPNOTSUPP: then open was all it takes.
    const r = this.kernel.ioctl(this.fd, WDIOC_SETOPTIONS, intArg(WDIOS_ENABLECARD));
    if (r < 0 && r !== -Errno.ENOTTY && r !== -Errno.EOPNOTSUPP) throw this.errnoError("WDIOC_SETOPTIONS", "WDIOS_ENABLECARD", -r, "cannot enable it");
  }

  private collectWarnings(requested_s: number): string[] {
    const warnings: string[] = [];
    if (this.isSoftdog()) warnings.push(SOFTDOG_WARNING);
    if (this.support!.options & WDIOF.ALARMONLY) warnings.push(`${this.device} raises an alarm instead of resetting the machine (WDIOF_ALARMONLY)`);
    if (this.timeout_s < requested_s) warnings.push(`${this.device} runs a ${this.timeout_s} s timeout, shorter than the ${requested_s} s asked (hardware granularity)`);
    if (this.nowayout.nowayout === null) warnings.push(`cannot tell whether ${this.device} has nowayout (${this.nowayout.source}); assuming a clean stop cannot disarm it`);
    if (this.nowayout.nowayout === true) warnings.push(`${this.device} has nowayout set (${this.nowayout.source}): a clean stop cannot disarm it`);
    if (!(this.support!.options & WDIOF.MAGICCLOSE)) warnings.push(`${this.device} has no magic close: it stops whenever its file is closed, a crash of the supervisor included`);
    return warnings;
  }

  /** Stop if asked (and allowed), close, and report what the kernel says it is now. */
  private release(fd: number, disarm: boolean): CloseOutcome {
    let disabled = false;
    let refused: string | null = null;
    if (disarm) {
      const r = this.kernel.ioctl(fd, WDIOC_SETOPTIONS, intArg(WDIOS_DISABLECARD));
      disabled = r >= 0;
      // watchdog_stop() answers EBUSY when nowayout is set; other errors just mean the driver
      // has no SETOPTIONS, and the magic close below is the standard way anyway.
      if (r === -Errno.EBUSY) refused = "nowayout forbids stopping it (WDIOS_DISABLECARD: EBUSY)";
      const w = this.kernel.write(fd, MAGIC_CLOSE);
      if (w < 0) refused ??= `the magic close write failed (${errnoText(-w)})`;
    }
    this.kernel.close(fd);
    const state = readState(this.sysName, this.host);
    const when = this.timeout_s > 0 ? `in about ${this.timeout_s} s` : "when its timeout runs out";
    const armedWarning = (why: string) => `${this.device} ${why}: this host resets ${when} unless something feeds it`;
    if (!disarm) return state === "inactive" ? { disarmed: true, warning: null } : { disarmed: false, warning: armedWarning("was left armed") };
    if (state === "inactive") return { disarmed: true, warning: null };
    if (state === "active") return { disarmed: false, warning: armedWarning(`is still active after the magic close${refused ? ` (${refused})` : ""}`) };
    // No state attribute: trust what the kernel answered.
    if (refused) return { disarmed: false, warning: armedWarning(`could not be stopped: ${refused}`) };
    if (disabled || this.nowayout.nowayout === false) return { disarmed: true, warning: null };
    return { disarmed: false, warning: armedWarning("may still be armed (nowayout unknown and no sysfs state to confirm)") };
  }

  private error(reason: WatchdogErrorReason, op: string, setting: string, what: string, errno: number | null = null): WatchdogError {
    return new WatchdogError({ kind: this.kind, device: this.device, setting, reason, op, errno, message: `${this.device}: ${what}` });
  }

  private errnoError(op: string, setting: string, errno: number, what: string): WatchdogError {
    return this.error("errno", op, setting, `${what} (${op}: ${errnoText(errno)})`, errno);
  }
}

function fieldsOf(error: WatchdogError) {
  return { kind: error.kind, device: error.device, setting: error.setting, reason: error.reason, op: error.op, errno: error.errno, cause: error.cause };
}
