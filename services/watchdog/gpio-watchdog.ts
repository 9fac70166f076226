// A watchdog chip kicked through a GPIO line (TPS3823, MAX6369, STWD100 and the like), driven
// through the GPIO character device v2 uAPI. The chip's timeout is fixed by its hardware (a pin
// or a resistor), so the operator states it and open() only checks it against the one asked for.
// A keepalive is one pulse: active for pulse_high_ms, inactive for pulse_low_ms.
//
// An optional enable line lets a clean stop disarm the chip. Without one the chip cannot be
// stopped (nowayout). Hardware note: when hapd's process dies the kernel releases the lines; the
// board's pull resistor must then hold the enable pin *enabled*, or a crash would disarm it.

import { checkTimeout, notOpen, WatchdogError, type CloseOutcome, type WatchdogDriver, type WatchdogErrorReason, type WatchdogInfo } from "./driver.ts";
import { Errno, errnoText } from "./errno.ts";
import {
  decodeChipInfo,
  encodeLineValues,
  encodeOutputRequest,
  GPIO_GET_CHIPINFO_IOCTL,
  GPIO_V2_GET_LINE_IOCTL,
  GPIO_V2_LINE_SET_VALUES_IOCTL,
  GPIOCHIP_INFO_SIZE,
  requestFd,
  type ChipInfo,
  type Drive,
} from "./gpio-uapi.ts";
import { O_CLOEXEC, O_RDWR, type KernelPort } from "./kernel-port.ts";

export type GpioWatchdogOptions = {
  chip: string;
  line: number;
  active_low: boolean;
  pulse_high_ms: number;
  pulse_low_ms: number;
  /** The chip's own timeout, fixed in hardware. */
  hardware_timeout_s: number;
  enable: { line: number; active_low: boolean } | null;
  drive: Drive;
  consumer?: string;
  kernel: KernelPort;
  sleep_ms?: (ms: number) => Promise<void>;
};

// Bit i of a values mask is lines[i] of the request: the kick line first, then the enable line.
const KICK = 1n;
const ENABLE = 2n;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class GpioWatchdog implements WatchdogDriver {
  readonly kind = "gpio" as const;
  readonly device: string;
  private readonly o: GpioWatchdogOptions;
  private readonly sleep: (ms: number) => Promise<void>;
  private lineFd = -1;
  private chipInfo: ChipInfo | null = null;
  private pulse: Promise<void> | null = null;
  // Preallocated: the kernel only reads these (linereq_set_values copies from user).
  private readonly kickActive = encodeLineValues(KICK, KICK);
  private readonly kickInactive = encodeLineValues(0n, KICK);

  constructor(options: GpioWatchdogOptions) {
    this.o = options;
    this.device = `${options.chip}:${options.line}`;
    this.sleep = options.sleep_ms ?? realSleep;
  }

  async open(timeout_s: number): Promise<void> {
    checkTimeout(this.kind, this.device, timeout_s);
    if (this.lineFd >= 0) throw this.error("state", "open", "open", "already open");
    if (this.o.hardware_timeout_s > timeout_s) {
      throw this.error("timeout_refused", "open", `timeout_s=${timeout_s}`, `the chip's fixed timeout is ${this.o.hardware_timeout_s} s (hardware_timeout_s), longer than timeout_s=${timeout_s}; peers would recover before this host has reset`);
    }
    const chipFd = this.o.kernel.open(this.o.chip, O_RDWR | O_CLOEXEC);
    if (chipFd < 0) throw this.errnoError("open", "chip", -chipFd, `cannot open GPIO chip ${this.o.chip}`);
    try {
      this.chipInfo = this.readChipInfo(chipFd);
      this.lineFd = this.requestLines(chipFd, this.chipInfo);
    } finally {
      // The line request has its own file descriptor; the chip's is no longer needed.
      this.o.kernel.close(chipFd);
    }
    try {
      await this.keepalive(); // start a fresh countdown now, whatever the chip saw before
    } catch (error) {
      await this.close({ disarm: true });
      throw error;
    }
  }

  keepalive(): Promise<void> {
    if (this.lineFd < 0) return Promise.reject(notOpen(this.kind, this.device, "keepalive"));
    // A pulse takes pulse_high_ms + pulse_low_ms; a keepalive asked meanwhile is that pulse.
    this.pulse ??= this.onePulse().finally(() => {
      this.pulse = null;
    });
    return this.pulse;
  }

  async timeLeft(): Promise<number | null> {
    if (this.lineFd < 0) throw notOpen(this.kind, this.device, "timeLeft");
    return null; // a kicked chip has no register to ask
  }

  async info(): Promise<WatchdogInfo> {
    if (this.lineFd < 0 || !this.chipInfo) throw notOpen(this.kind, this.device, "info");
    const options = [`pulse ${this.o.pulse_high_ms} ms active, ${this.o.pulse_low_ms} ms inactive`, `line ${this.o.line}${this.o.active_low ? " active-low" : ""}`, this.o.drive];
    if (this.o.enable) options.push(`enable line ${this.o.enable.line}${this.o.enable.active_low ? " active-low" : ""}`);
    return {
      identity: `${this.chipInfo.name}${this.chipInfo.label ? ` [${this.chipInfo.label}]` : ""} line ${this.o.line}`,
      options,
      timeout_s: this.o.hardware_timeout_s,
      nowayout: this.o.enable === null,
      survivesKernelHang: true,
      warnings: this.o.enable === null ? [`${this.device} has no enable line: a clean stop cannot disarm the chip`] : [],
    };
  }

  async close(opts: { disarm: boolean }): Promise<CloseOutcome> {
    if (this.lineFd < 0) return { disarmed: true, warning: null };
    await this.pulse?.catch(() => {});
    const fd = this.lineFd;
    this.lineFd = -1;
    let outcome: CloseOutcome = { disarmed: false, warning: `${this.device} was left armed: the chip resets this host in about ${this.o.hardware_timeout_s} s` };
    if (opts.disarm && this.o.enable) {
      const r = this.o.kernel.ioctl(fd, GPIO_V2_LINE_SET_VALUES_IOCTL, encodeLineValues(0n, ENABLE));
      outcome = r < 0 ? { disarmed: false, warning: `${this.device}: cannot drive enable line ${this.o.enable.line} inactive (${errnoText(-r)}): the chip resets this host in about ${this.o.hardware_timeout_s} s` } : { disarmed: true, warning: null };
    } else if (opts.disarm) {
      outcome = { disarmed: false, warning: `${this.device} has no enable line, so it cannot be disarmed: the chip resets this host in about ${this.o.hardware_timeout_s} s` };
    }
    this.o.kernel.close(fd);
    return outcome;
  }

  private async onePulse(): Promise<void> {
    this.setKick(this.kickActive, "kick active");
    await this.sleep(this.o.pulse_high_ms);
    this.setKick(this.kickInactive, "kick inactive");
    await this.sleep(this.o.pulse_low_ms);
  }

  private setKick(values: Uint8Array, what: string): void {
    const r = this.o.kernel.ioctl(this.lineFd, GPIO_V2_LINE_SET_VALUES_IOCTL, values);
    if (r < 0) throw this.errnoError("GPIO_V2_LINE_SET_VALUES_IOCTL", `line ${this.o.line}`, -r, `cannot drive the kick line (${what})`);
  }

  private readChipInfo(chipFd: number): ChipInfo {
    const bytes = new Uint8Array(GPIOCHIP_INFO_SIZE);
    const r = this.o.kernel.ioctl(chipFd, GPIO_GET_CHIPINFO_IOCTL, bytes);
    if (r === -Errno.ENOTTY || r === -Errno.EINVAL) throw this.error("not_a_watchdog", "GPIO_GET_CHIPINFO_IOCTL", "chip", `${this.o.chip} is not a GPIO chip: it does not answer GPIO_GET_CHIPINFO_IOCTL (${errnoText(-r)})`, -r);
    if (r < 0) throw this.errnoError("GPIO_GET_CHIPINFO_IOCTL", "chip", -r, `cannot read ${this.o.chip}'s chip info`);
    const info = decodeChipInfo(bytes);
    for (const [name, offset] of [["line", this.o.line], ["enable.line", this.o.enable?.line]] as const) {
      if (offset !== undefined && offset >= info.lines) {
        throw this.error("setting_refused", "GPIO_GET_CHIPINFO_IOCTL", `${name} ${offset}`, `${name} ${offset} is beyond ${info.name}'s ${info.lines} lines (0..${info.lines - 1})`);
      }
    }
    return info;
  }

  private requestLines(chipFd: number, info: ChipInfo): number {
    const lines = [{ offset: this.o.line, active_low: this.o.active_low, initial_active: false }];
    // The enable line comes up active in the same request: the chip is armed from this moment.
    if (this.o.enable) lines.push({ offset: this.o.enable.line, active_low: this.o.enable.active_low, initial_active: true });
    const request = encodeOutputRequest(lines, this.o.consumer ?? "hapd-watchdog", this.o.drive);
    const r = this.o.kernel.ioctl(chipFd, GPIO_V2_GET_LINE_IOCTL, request);
    const which = this.o.enable ? `lines ${this.o.line} and ${this.o.enable.line}` : `line ${this.o.line}`;
    if (r === -Errno.EBUSY) throw this.error("errno", "GPIO_V2_GET_LINE_IOCTL", which, `${which} of ${info.name} ${this.o.enable ? "are" : "is"} in use by another consumer (${errnoText(Errno.EBUSY)})`, Errno.EBUSY);
    if (r < 0) throw this.errnoError("GPIO_V2_GET_LINE_IOCTL", which, -r, `cannot request ${which} of ${info.name} as outputs`);
    return requestFd(request);
  }

  private error(reason: WatchdogErrorReason, op: string, setting: string, what: string, errno: number | null = null): WatchdogError {
    return new WatchdogError({ kind: this.kind, device: this.device, setting, reason, op, errno, message: `${this.device}: ${what}` });
  }

  private errnoError(op: string, setting: string, errno: number, what: string): WatchdogError {
    return this.error("errno", op, setting, `${what} (${op}: ${errnoText(errno)})`, errno);
  }
}
