// The one interface every watchdog driver implements, and the one error type they raise.
//
// The supervisor is the only caller (issue 4): it opens the driver once, calls keepalive() from
// its loop while every critical service is alive, shows info()/timeLeft() in status, and calls
// close({ disarm: true }) only on a clean stop of the node.

export type WatchdogKind = "linux" | "ipmi" | "gpio" | "i2c" | "softdog";

export interface WatchdogInfo {
  /** What the hardware says it is ("iTCO_wdt", "Software Watchdog", "IPMI BMC 10.70.0.101:623 ..."). */
  identity: string;
  /** Capability and setting names, e.g. ["SETTIMEOUT", "MAGICCLOSE", "KEEPALIVEPING"]. */
  options: string[];
  /** The timeout the hardware really runs with, which may be shorter than the one asked for. */
  timeout_s: number;
  /** True when close cannot disarm it (kernel nowayout, a chip without an enable line or disable register). */
  nowayout: boolean;
  /** False for softdog: a kernel that hangs takes the timer with it. */
  survivesKernelHang: boolean;
  /** Sentences for status, e.g. "softdog does not survive a kernel hang". */
  warnings: string[];
}

export interface CloseOutcome {
  /** The timer is stopped: nothing will reset the box. */
  disarmed: boolean;
  /** Why not, or what to watch, for the log and status; null when all is as asked. */
  warning: string | null;
}

export interface WatchdogDriver {
  readonly kind: WatchdogKind;
  /** /dev/watchdog0, 10.70.0.101:623, /dev/gpiochip0:17, /dev/i2c-1@0x4b. */
  readonly device: string;
  /** Arms the watchdog with this timeout. Errors name the device and the setting. */
  open(timeout_s: number): Promise<void>;
  /** Restarts the countdown. */
  keepalive(): Promise<void>;
  /** Seconds before the reset, or null when the hardware cannot tell. */
  timeLeft(): Promise<number | null>;
  info(): Promise<WatchdogInfo>;
  /**
   * Releases the device. With disarm, stops the timer first (magic close 'V' for a Linux device)
   * unless the hardware forbids it (nowayout): the outcome says which. Without disarm the timer
   * keeps running and resets the box unless someone else takes over feeding it.
   */
  close(opts: { disarm: boolean }): Promise<CloseOutcome>;
}

/** What went wrong, in terms an operator can act on; describe-failure.ts turns it into a sentence. */
export type WatchdogErrorReason =
  | "errno" // a system call failed: see errno
  | "timeout_refused" // the hardware cannot run the timeout asked for
  | "setting_refused" // another setting does not fit the hardware (a line beyond the chip, a bad address)
  | "not_a_watchdog" // the device answers, but not as a watchdog
  | "unavailable" // the driver or device is not there at all (softdog not built, no module)
  | "verify_failed" // we wrote a setting and read back something else
  | "ipmi" // the BMC refused or did not answer: see cause (an IpmiError)
  | "state"; // called in the wrong state (keepalive before open)

export class WatchdogError extends Error {
  readonly kind: WatchdogKind;
  readonly device: string;
  /** The setting or step that failed: "open", "timeout_s=5", "line 17", "address 0x4b". */
  readonly setting: string;
  readonly reason: WatchdogErrorReason;
  /** errno when reason is "errno" (positive, e.g. 16 for EBUSY). */
  readonly errno: number | null;
  /** The system call or command that failed ("open", "WDIOC_SETTIMEOUT", "Set Watchdog Timer"). */
  readonly op: string;
  override readonly cause: unknown;

  constructor(fields: { kind: WatchdogKind; device: string; setting: string; reason: WatchdogErrorReason; op: string; message: string; errno?: number | null; cause?: unknown }) {
    super(fields.message);
    this.name = "WatchdogError";
    this.kind = fields.kind;
    this.device = fields.device;
    this.setting = fields.setting;
    this.reason = fields.reason;
    this.op = fields.op;
    this.errno = fields.errno ?? null;
    this.cause = fields.cause;
  }
}

export function checkTimeout(kind: WatchdogKind, device: string, timeout_s: number): void {
  if (!Number.isInteger(timeout_s) || timeout_s < 1 || timeout_s > 65535) {
    throw new WatchdogError({ kind, device, setting: `timeout_s=${timeout_s}`, reason: "timeout_refused", op: "open", message: `${device}: timeout_s=${timeout_s} is not a whole number of seconds between 1 and 65535` });
  }
}

export function notOpen(kind: WatchdogKind, device: string, op: string): WatchdogError {
  return new WatchdogError({ kind, device, setting: "open", reason: "state", op, message: `${device}: ${op} before open(): the watchdog is not open` });
}
