// A register-based watchdog chip on I2C, through the i2c-dev uAPI: select the chip with
// I2C_SLAVE, write the timeout register, optionally read it back, optionally write an enable
// register, and kick by writing a value to a register. A disable register, when the chip has
// one, lets a clean stop disarm it; without one it cannot be stopped (nowayout).
//
// Why not the i2c-bus package: built against Bun's Node headers it loads, but its first native
// call kills the process in Bun 1.4 (see docs/watchdog.md), so the syscalls go through bun:ffi.

import { checkTimeout, notOpen, WatchdogError, type CloseOutcome, type WatchdogDriver, type WatchdogErrorReason, type WatchdogInfo } from "./driver.ts";
import { Errno, errnoText } from "./errno.ts";
import { hex, I2C_SLAVE } from "./i2c-uapi.ts";
import { O_CLOEXEC, O_RDWR, type KernelPort } from "./kernel-port.ts";

export type RegisterWrite = { register: number; value: number };

export type I2cWatchdogOptions = {
  bus: string;
  address: number;
  timeout: { register: number; width_bytes: 1 | 2; byte_order: "little" | "big"; unit_ms: number };
  kick: RegisterWrite;
  enable: RegisterWrite | null;
  disable: RegisterWrite | null;
  /** Read the timeout register back after writing it. */
  verify_timeout: boolean;
  kernel: KernelPort;
};

export class I2cWatchdog implements WatchdogDriver {
  readonly kind = "i2c" as const;
  readonly device: string;
  private readonly o: I2cWatchdogOptions;
  private fd = -1;
  private timeout_s = 0;
  private readonly kickBytes: Uint8Array;

  constructor(options: I2cWatchdogOptions) {
    this.o = options;
    this.device = `${options.bus}@${hex(options.address)}`;
    this.kickBytes = Uint8Array.of(options.kick.register, options.kick.value);
  }

  async open(timeout_s: number): Promise<void> {
    checkTimeout(this.kind, this.device, timeout_s);
    if (this.fd >= 0) throw this.error("state", "open", "open", "already open");
    const { value, effective_s } = this.encodeTimeout(timeout_s);
    const fd = this.o.kernel.open(this.o.bus, O_RDWR | O_CLOEXEC);
    if (fd < 0) throw this.errnoError("open", "bus", -fd, `cannot open I2C bus ${this.o.bus}`);
    this.fd = fd;
    let touched = false; // once a register is written the chip may be counting down
    try {
      this.selectChip();
      this.timeout_s = effective_s;
      touched = true;
      this.writeRegister(this.o.timeout.register, value, `timeout_s=${timeout_s}`);
      if (this.o.verify_timeout) this.verifyTimeout(value, timeout_s);
      if (this.o.enable) this.writeRegister(this.o.enable.register, Uint8Array.of(this.o.enable.value), "enable");
      this.kick();
    } catch (error) {
      const outcome = await this.close({ disarm: touched });
      if (touched && !outcome.disarmed && error instanceof WatchdogError) {
        throw new WatchdogError({ kind: error.kind, device: error.device, setting: error.setting, reason: error.reason, op: error.op, errno: error.errno, message: `${error.message}; ${outcome.warning}` });
      }
      throw error;
    }
  }

  async keepalive(): Promise<void> {
    if (this.fd < 0) throw notOpen(this.kind, this.device, "keepalive");
    this.kick();
  }

  async timeLeft(): Promise<number | null> {
    if (this.fd < 0) throw notOpen(this.kind, this.device, "timeLeft");
    return null; // a generic register chip has no agreed "time left" register
  }

  async info(): Promise<WatchdogInfo> {
    if (this.fd < 0) throw notOpen(this.kind, this.device, "info");
    const t = this.o.timeout;
    const options = [`timeout register ${hex(t.register)} (${t.width_bytes} byte${t.width_bytes === 2 ? `s ${t.byte_order}-endian` : ""}, ${t.unit_ms} ms units)`, `kick ${hex(this.o.kick.register)}=${hex(this.o.kick.value)}`];
    if (this.o.enable) options.push(`enable ${hex(this.o.enable.register)}=${hex(this.o.enable.value)}`);
    if (this.o.disable) options.push(`disable ${hex(this.o.disable.register)}=${hex(this.o.disable.value)}`);
    return {
      identity: `I2C watchdog at ${hex(this.o.address)} on ${this.o.bus}`,
      options,
      timeout_s: this.timeout_s,
      nowayout: this.o.disable === null,
      survivesKernelHang: true,
      warnings: this.o.disable === null ? [`${this.device} has no disable register: a clean stop cannot disarm the chip`] : [],
    };
  }

  async close(opts: { disarm: boolean }): Promise<CloseOutcome> {
    if (this.fd < 0) return { disarmed: true, warning: null };
    const when = this.timeout_s > 0 ? `in about ${this.timeout_s} s` : "when its timeout runs out";
    let outcome: CloseOutcome = { disarmed: false, warning: `${this.device} was left armed: the chip resets this host ${when}` };
    if (opts.disarm && this.o.disable) {
      const r = this.o.kernel.write(this.fd, Uint8Array.of(this.o.disable.register, this.o.disable.value));
      outcome = r === 2 ? { disarmed: true, warning: null } : { disarmed: false, warning: `${this.device}: writing the disable register failed (${r < 0 ? errnoText(-r) : `${r} of 2 bytes`}): the chip resets this host ${when}` };
    } else if (opts.disarm) {
      outcome = { disarmed: false, warning: `${this.device} has no disable register, so it cannot be disarmed: the chip resets this host ${when}` };
    }
    this.o.kernel.close(this.fd);
    this.fd = -1;
    return outcome;
  }

  /** The register value for the timeout, rounded down so the chip never waits longer than asked. */
  private encodeTimeout(timeout_s: number): { value: Uint8Array; effective_s: number } {
    const t = this.o.timeout;
    const count = Math.floor((timeout_s * 1000) / t.unit_ms);
    const max = t.width_bytes === 1 ? 0xff : 0xffff;
    if (count < 1 || count > max) {
      throw this.error("timeout_refused", "encode", `timeout_s=${timeout_s}`, `timeout_s=${timeout_s} is ${count} units of ${t.unit_ms} ms, outside the ${t.width_bytes * 8}-bit timeout register's 1..${max}`);
    }
    const value = t.width_bytes === 1 ? Uint8Array.of(count) : t.byte_order === "little" ? Uint8Array.of(count & 0xff, count >> 8) : Uint8Array.of(count >> 8, count & 0xff);
    return { value, effective_s: (count * t.unit_ms) / 1000 };
  }

  private selectChip(): void {
    const r = this.o.kernel.ioctl(this.fd, I2C_SLAVE, this.o.address);
    const setting = `address ${hex(this.o.address)}`;
    if (r === -Errno.EBUSY) throw this.error("errno", "I2C_SLAVE", setting, `${setting} is claimed by a kernel driver (I2C_SLAVE: ${errnoText(Errno.EBUSY)})`, Errno.EBUSY);
    if (r < 0) throw this.errnoError("I2C_SLAVE", setting, -r, `cannot select ${setting}`);
  }

  private writeRegister(register: number, data: Uint8Array, setting: string): void {
    const bytes = new Uint8Array(1 + data.length);
    bytes[0] = register;
    bytes.set(data, 1);
    this.write(bytes, setting, `cannot write register ${hex(register)}`);
  }

  private kick(): void {
    this.write(this.kickBytes, "keepalive", `cannot write the kick register ${hex(this.o.kick.register)}`);
  }

  private write(bytes: Uint8Array, setting: string, what: string): void {
    const r = this.o.kernel.write(this.fd, bytes);
    if (r < 0) throw this.errnoError("write", setting, -r, what);
    if (r !== bytes.length) throw this.error("verify_failed", "write", setting, `${what}: the bus took ${r} of ${bytes.length} bytes`);
  }

  private verifyTimeout(value: Uint8Array, timeout_s: number): void {
    const setting = `timeout_s=${timeout_s}`;
    const register = this.o.timeout.register;
    // Two transactions (write the register pointer, then read): what i2c-dev's plain read/write
    // gives without I2C_RDWR. Register chips with an auto-increment pointer accept it.
    this.write(Uint8Array.of(register), setting, `cannot select register ${hex(register)} to read it back`);
    const back = new Uint8Array(value.length);
    const r = this.o.kernel.read(this.fd, back);
    if (r < 0) throw this.errnoError("read", setting, -r, `cannot read register ${hex(register)} back`);
    if (r !== value.length || back.some((byte, i) => byte !== value[i])) {
      throw this.error("verify_failed", "read", setting, `register ${hex(register)} reads back ${[...back.subarray(0, Math.max(r, 0))].map(hex).join(" ") || "nothing"} after writing ${[...value].map(hex).join(" ")}: the chip did not take ${setting}`);
    }
  }

  private error(reason: WatchdogErrorReason, op: string, setting: string, what: string, errno: number | null = null): WatchdogError {
    return new WatchdogError({ kind: this.kind, device: this.device, setting, reason, op, errno, message: `${this.device}: ${what}` });
  }

  private errnoError(op: string, setting: string, errno: number, what: string): WatchdogError {
    return this.error("errno", op, setting, `${what} (${op}: ${errnoText(errno)})`, errno);
  }
}
