// A fake kernel for the watchdog drivers: the uAPI semantics of
//   drivers/watchdog/watchdog_dev.c  (one opener, start on open, keepalive, SETTIMEOUT returning
//                                     the timeout really set, magic close unless nowayout, GETTIMELEFT)
//   drivers/gpio/gpiolib-cdev.c      (v2 line request validation, a new fd per request,
//                                     SET_VALUES with mask/bits, EBUSY for a used line)
//   drivers/i2c/i2c-dev.c            (I2C_SLAVE with the address as the argument, EBUSY for an
//                                     address a driver claimed, write/read as one transaction each)
// with a virtual clock, so a countdown that runs out is an event a test can observe without
// waiting. Request numbers and struct offsets here are literals taken from the kernel headers
// (printed with gcc from /usr/include/linux/{watchdog,gpio,i2c-dev}.h on Debian 12, kernel
// headers 6.1), independently of the driver's own computation, so a wrong macro in the driver
// fails the tests instead of agreeing with itself.

import type { HostPort } from "../../services/watchdog/host-port.ts";
import type { KernelPort } from "../../services/watchdog/kernel-port.ts";

export const E = { EPERM: 1, ENOENT: 2, ENXIO: 6, EBADF: 9, EACCES: 13, EFAULT: 14, EBUSY: 16, EINVAL: 22, ENOTTY: 25, EOPNOTSUPP: 95 } as const;

/** From <linux/watchdog.h>, as gcc prints them. */
export const WD = {
  GETSUPPORT: 0x80285700,
  GETSTATUS: 0x80045701,
  GETBOOTSTATUS: 0x80045702,
  SETOPTIONS: 0x80045704,
  KEEPALIVE: 0x80045705,
  SETTIMEOUT: 0xc0045706,
  GETTIMEOUT: 0x80045707,
  GETTIMELEFT: 0x8004570a,
} as const;
export const WDIOF = { SETTIMEOUT: 0x0080, MAGICCLOSE: 0x0100, ALARMONLY: 0x0400, KEEPALIVEPING: 0x8000 } as const;

/** From <linux/gpio.h>. */
export const GPIO = { GET_CHIPINFO: 0x8044b401, V2_GET_LINE: 0xc250b407, V2_LINE_GET_VALUES: 0xc010b40e, V2_LINE_SET_VALUES: 0xc010b40f } as const;

/** From <linux/i2c-dev.h>. */
export const I2C = { SLAVE: 0x0703, TENBIT: 0x0704, FUNCS: 0x0705, SLAVE_FORCE: 0x0706 } as const;

export type Call =
  | { op: "open"; path: string; flags: number; result: number }
  | { op: "ioctl"; fd: number; request: number; arg: Uint8Array | number; result: number }
  | { op: "write"; fd: number; bytes: Uint8Array; result: number }
  | { op: "read"; fd: number; length: number; result: number }
  | { op: "close"; fd: number; result: number };

export interface FakeFile {
  ioctl(request: number, arg: Uint8Array | number): number;
  write(bytes: Uint8Array): number;
  read(into: Uint8Array): number;
  release(): void;
}

export interface FakeDevice {
  open(flags: number, kernel: FakeKernel): FakeFile | number;
  tick?(now_ms: number): void;
}

export class FakeKernel implements KernelPort {
  now_ms = 0;
  readonly calls: Call[] = [];
  /** Paths whose open fails with EACCES, as for a non-root caller. */
  readonly denied = new Set<string>();
  private readonly devices = new Map<string, FakeDevice>();
  private readonly files = new Map<number, FakeFile>();
  private next_fd = 3;

  add(path: string, device: FakeDevice): void {
    this.devices.set(path, device);
  }

  /** Give a file a descriptor (the GPIO line request does this from inside an ioctl). */
  install(file: FakeFile): number {
    const fd = this.next_fd++;
    this.files.set(fd, file);
    return fd;
  }

  /** Let virtual time pass: devices whose countdown ran out fire. */
  advance(ms: number): void {
    this.now_ms += ms;
    for (const device of this.devices.values()) device.tick?.(this.now_ms);
  }

  openFds(): number[] {
    return [...this.files.keys()];
  }

  ioctls(request: number): Extract<Call, { op: "ioctl" }>[] {
    return this.calls.filter((c): c is Extract<Call, { op: "ioctl" }> => c.op === "ioctl" && c.request === request);
  }

  writes(): Extract<Call, { op: "write" }>[] {
    return this.calls.filter((c): c is Extract<Call, { op: "write" }> => c.op === "write");
  }

  open(path: string, flags: number): number {
    let result: number;
    const device = this.devices.get(path);
    if (this.denied.has(path)) result = -E.EACCES;
    else if (!device) result = -E.ENOENT;
    else {
      const file = device.open(flags, this);
      result = typeof file === "number" ? file : this.install(file);
    }
    this.calls.push({ op: "open", path, flags, result });
    return result;
  }

  ioctl(fd: number, request: number, arg: Uint8Array | number): number {
    // Record what the driver sent, before the kernel writes back into it.
    const sent = typeof arg === "number" ? arg : arg.slice();
    const file = this.files.get(fd);
    const result = file ? file.ioctl(request, arg) : -E.EBADF;
    this.calls.push({ op: "ioctl", fd, request, arg: sent, result });
    return result;
  }

  write(fd: number, bytes: Uint8Array): number {
    const file = this.files.get(fd);
    const result = file ? file.write(bytes) : -E.EBADF;
    this.calls.push({ op: "write", fd, bytes: bytes.slice(), result });
    return result;
  }

  read(fd: number, into: Uint8Array): number {
    const file = this.files.get(fd);
    const result = file ? file.read(into) : -E.EBADF;
    this.calls.push({ op: "read", fd, length: into.length, result });
    return result;
  }

  close(fd: number): number {
    const file = this.files.get(fd);
    if (!file) {
      this.calls.push({ op: "close", fd, result: -E.EBADF });
      return -E.EBADF;
    }
    this.files.delete(fd);
    file.release();
    this.calls.push({ op: "close", fd, result: 0 });
    return 0;
  }
}

/** _IOC_SIZE of a request: bits 16..29. */
function iocSize(request: number): number {
  return (request >>> 16) & 0x3fff;
}

/** copy_from_user/copy_to_user: a pointer argument must hold _IOC_SIZE bytes, or EFAULT. */
function userStruct(request: number, arg: Uint8Array | number): DataView | null {
  if (typeof arg === "number" || arg.length < iocSize(request)) return null;
  return new DataView(arg.buffer, arg.byteOffset, arg.byteLength);
}

// ---- watchdog_dev.c ------------------------------------------------------------------------

export type FakeWatchdogSpec = {
  identity: string;
  options: number;
  firmware_version?: number;
  timeout_s: number;
  min_timeout_s?: number;
  max_timeout_s?: number;
  /** What the driver's set_timeout stores for a requested value (hardware granularity). */
  set_timeout?: (t: number) => number;
  nowayout?: boolean;
  /** The driver implements get_timeleft. */
  timeleft?: boolean;
};

export class FakeWatchdog implements FakeDevice {
  readonly spec: Required<Omit<FakeWatchdogSpec, "set_timeout">> & Pick<FakeWatchdogSpec, "set_timeout">;
  dev_open = false;
  active = false;
  allow_release = false;
  timeout_s: number;
  last_ping_ms = 0;
  pings = 0;
  /** Times the countdown ran out: each one is a machine reset. */
  resets = 0;
  private now_ms = 0;

  constructor(spec: FakeWatchdogSpec) {
    this.spec = { firmware_version: 0, min_timeout_s: 1, max_timeout_s: 65535, nowayout: false, timeleft: true, ...spec };
    this.timeout_s = spec.timeout_s;
  }

  tick(now_ms: number): void {
    this.now_ms = now_ms;
    if (this.active && now_ms - this.last_ping_ms >= this.timeout_s * 1000) {
      this.resets += 1;
      // The machine reset: the timer is gone with everything else.
      this.active = false;
      this.dev_open = false;
    }
  }

  open(_flags: number, kernel: FakeKernel): FakeFile | number {
    this.now_ms = kernel.now_ms;
    // watchdog_open: "the watchdog is single open!"
    if (this.dev_open) return -E.EBUSY;
    this.dev_open = true;
    this.start();
    const file: FakeFile = {
      ioctl: (request, arg) => this.ioctl(request, arg),
      write: (bytes) => this.write(bytes),
      read: () => -E.EINVAL,
      release: () => this.release(),
    };
    return file;
  }

  private start(): number {
    if (!this.active) {
      this.active = true;
      this.last_ping_ms = this.now_ms;
    }
    return 0;
  }

  private stop(): number {
    if (!this.active) return 0;
    // watchdog_stop: "nowayout prevents watchdog being stopped!"
    if (this.spec.nowayout) return -E.EBUSY;
    this.active = false;
    return 0;
  }

  private ping(): number {
    if (this.active) {
      this.last_ping_ms = this.now_ms;
      this.pings += 1;
    }
    return 0;
  }

  private write(bytes: Uint8Array): number {
    if (bytes.length === 0) return 0;
    // "just in case someone wrote the magic character five months ago..."
    this.allow_release = false;
    if (bytes.includes(0x56)) this.allow_release = true;
    this.ping();
    return bytes.length;
  }

  private ioctl(request: number, arg: Uint8Array | number): number {
    const known = (Object.values(WD) as number[]).includes(request);
    if (!known) return -E.ENOTTY;
    const user = userStruct(request, arg);
    if (!user) return -E.EFAULT;
    switch (request) {
      case WD.GETSUPPORT: {
        const bytes = arg as Uint8Array;
        user.setUint32(0, this.spec.options, true);
        user.setUint32(4, this.spec.firmware_version, true);
        bytes.fill(0, 8, 40);
        bytes.set(new TextEncoder().encode(this.spec.identity).subarray(0, 31), 8);
        return 0;
      }
      case WD.GETSTATUS:
      case WD.GETBOOTSTATUS:
        user.setInt32(0, 0, true);
        return 0;
      case WD.SETOPTIONS: {
        const val = user.getInt32(0, true);
        if (val & 0x0001) {
          const err = this.stop();
          if (err < 0) return err;
        }
        if (val & 0x0002) {
          const err = this.start();
          if (err < 0) return err;
        }
        return 0;
      }
      case WD.KEEPALIVE:
        if (!(this.spec.options & WDIOF.KEEPALIVEPING)) return -E.EOPNOTSUPP;
        return this.ping();
      case WD.SETTIMEOUT: {
        const t = user.getInt32(0, true);
        if (!(this.spec.options & WDIOF.SETTIMEOUT)) return -E.EOPNOTSUPP;
        // watchdog_timeout_invalid()
        if (t < 0 || t > 0xffffffff / 1000 || t < this.spec.min_timeout_s || t > this.spec.max_timeout_s) return -E.EINVAL;
        this.timeout_s = this.spec.set_timeout ? this.spec.set_timeout(t) : t;
        this.ping();
        user.setInt32(0, this.timeout_s, true); // falls through to GETTIMEOUT
        return 0;
      }
      case WD.GETTIMEOUT:
        if (this.timeout_s === 0) return -E.EOPNOTSUPP;
        user.setInt32(0, this.timeout_s, true);
        return 0;
      case WD.GETTIMELEFT: {
        if (!this.spec.timeleft) return -E.EOPNOTSUPP;
        const left_ms = this.active ? this.last_ping_ms + this.timeout_s * 1000 - this.now_ms : this.timeout_s * 1000;
        user.setInt32(0, Math.max(0, Math.floor(left_ms / 1000)), true);
        return 0;
      }
    }
    return -E.ENOTTY;
  }

  private release(): void {
    // watchdog_release: stop only after the magic character (or without MAGICCLOSE support);
    // otherwise "watchdog did not stop!" and it keeps running.
    if (this.active && (this.allow_release || !(this.spec.options & WDIOF.MAGICCLOSE))) this.stop();
    this.allow_release = false;
    this.dev_open = false;
  }
}

// ---- gpiolib-cdev.c ------------------------------------------------------------------------

const FLAG = { USED: 1n, ACTIVE_LOW: 2n, INPUT: 4n, OUTPUT: 8n, EDGE_RISING: 16n, EDGE_FALLING: 32n, OPEN_DRAIN: 64n, OPEN_SOURCE: 128n, PULL_UP: 256n, PULL_DOWN: 512n, BIAS_DISABLED: 1024n, CLOCK_REALTIME: 2048n, CLOCK_HTE: 4096n };
const VALID_FLAGS = FLAG.ACTIVE_LOW | FLAG.INPUT | FLAG.OUTPUT | FLAG.EDGE_RISING | FLAG.EDGE_FALLING | FLAG.OPEN_DRAIN | FLAG.OPEN_SOURCE | FLAG.PULL_UP | FLAG.PULL_DOWN | FLAG.BIAS_DISABLED | FLAG.CLOCK_REALTIME | FLAG.CLOCK_HTE;

export type FakeLine = { used: boolean; consumer: string; output: boolean; active_low: boolean; flags: bigint; physical: 0 | 1; history: { at_ms: number; physical: 0 | 1 }[] };

export class FakeGpioChip implements FakeDevice {
  readonly lines: FakeLine[];
  private now_ms = 0;

  constructor(
    readonly name: string,
    readonly label: string,
    nlines: number,
  ) {
    this.lines = Array.from({ length: nlines }, () => ({ used: false, consumer: "", output: false, active_low: false, flags: 0n, physical: 0 as 0 | 1, history: [] }));
  }

  tick(now_ms: number): void {
    this.now_ms = now_ms;
  }

  open(_flags: number, kernel: FakeKernel): FakeFile {
    return {
      ioctl: (request, arg) => {
        this.now_ms = kernel.now_ms;
        if (request === GPIO.GET_CHIPINFO) return this.chipInfo(arg);
        if (request === GPIO.V2_GET_LINE) return this.getLine(arg, kernel);
        return -E.ENOTTY;
      },
      write: () => -E.EINVAL,
      read: () => -E.EINVAL,
      release: () => {},
    };
  }

  /** Rising edges of a line's physical level. */
  risingEdges(offset: number): number[] {
    const line = this.lines[offset]!;
    return line.history.filter((h, i) => h.physical === 1 && (i === 0 ? true : line.history[i - 1]!.physical === 0)).map((h) => h.at_ms);
  }

  private chipInfo(arg: Uint8Array | number): number {
    const user = userStruct(GPIO.GET_CHIPINFO, arg);
    if (!user) return -E.EFAULT;
    const bytes = arg as Uint8Array;
    bytes.fill(0, 0, 68);
    bytes.set(new TextEncoder().encode(this.name).subarray(0, 31), 0);
    bytes.set(new TextEncoder().encode(this.label).subarray(0, 31), 32);
    user.setUint32(64, this.lines.length, true);
    return 0;
  }

  /** linereq_create(): validate, request every line or none, hand back a new fd at offset 588. */
  private getLine(arg: Uint8Array | number, kernel: FakeKernel): number {
    const user = userStruct(GPIO.V2_GET_LINE, arg);
    if (!user) return -E.EFAULT;
    const bytes = arg as Uint8Array;
    const num_lines = user.getUint32(560, true);
    if (num_lines === 0 || num_lines > 64) return -E.EINVAL;
    if (bytes.subarray(568, 588).some((b) => b !== 0)) return -E.EINVAL; // request padding
    const cfg = 288;
    const num_attrs = user.getUint32(cfg + 8, true);
    if (num_attrs > 10) return -E.EINVAL;
    if (bytes.subarray(cfg + 12, cfg + 32).some((b) => b !== 0)) return -E.EINVAL; // config padding
    const attrs = Array.from({ length: num_attrs }, (_, i) => {
      const at = cfg + 32 + i * 24;
      return { id: user.getUint32(at, true), padding: user.getUint32(at + 4, true), value: user.getBigUint64(at + 8, true), mask: user.getBigUint64(at + 16, true) };
    });
    if (attrs.some((a) => a.padding !== 0)) return -E.EINVAL;
    const base = user.getBigUint64(cfg, true);
    const offsets: number[] = [];
    const plan: { offset: number; flags: bigint; value: 0 | 1 }[] = [];
    for (let i = 0; i < num_lines; i++) {
      const offset = user.getUint32(4 * i, true);
      if (offset >= this.lines.length) return -E.EINVAL;
      const bit = 1n << BigInt(i);
      // gpio_v2_line_config_flags(): the first FLAGS attribute naming the line wins.
      const flags = attrs.find((a) => a.id === 1 && (a.mask & bit) !== 0n)?.value ?? base;
      if (!flagsValid(flags)) return -E.EINVAL;
      const values = attrs.find((a) => a.id === 2 && (a.mask & bit) !== 0n);
      plan.push({ offset, flags, value: values && (values.value & bit) !== 0n ? 1 : 0 });
      offsets.push(offset);
    }
    if (new Set(offsets).size !== offsets.length) return -E.EBUSY; // the second request of a line fails
    if (plan.some((p) => this.lines[p.offset]!.used)) return -E.EBUSY;
    const consumerRaw = bytes.subarray(256, 288);
    const consumer = new TextDecoder().decode(consumerRaw.subarray(0, consumerRaw.indexOf(0) >= 0 ? consumerRaw.indexOf(0) : 32));
    for (const p of plan) {
      const line = this.lines[p.offset]!;
      line.used = true;
      line.consumer = consumer;
      line.flags = p.flags;
      line.output = (p.flags & FLAG.OUTPUT) !== 0n;
      line.active_low = (p.flags & FLAG.ACTIVE_LOW) !== 0n;
      if (line.output) this.drive(line, p.value);
    }
    const fd = kernel.install(this.lineRequest(offsets, kernel));
    user.setInt32(588, fd, true);
    return 0;
  }

  private drive(line: FakeLine, logical: 0 | 1): void {
    const physical = (line.active_low ? logical ^ 1 : logical) as 0 | 1;
    line.physical = physical;
    line.history.push({ at_ms: this.now_ms, physical });
  }

  private lineRequest(offsets: number[], kernel: FakeKernel): FakeFile {
    return {
      ioctl: (request, arg) => {
        this.now_ms = kernel.now_ms;
        const user = userStruct(request, arg);
        if (request !== GPIO.V2_LINE_SET_VALUES && request !== GPIO.V2_LINE_GET_VALUES) return -E.ENOTTY;
        if (!user) return -E.EFAULT;
        const bits = user.getBigUint64(0, true);
        const mask = user.getBigUint64(8, true);
        const chosen = offsets.map((offset, i) => ({ offset, bit: 1n << BigInt(i) })).filter((l) => (mask & l.bit) !== 0n);
        if (chosen.length === 0) return -E.EINVAL; // num_set == 0 / num_get == 0
        if (request === GPIO.V2_LINE_GET_VALUES) {
          let out = 0n;
          for (const l of chosen) {
            const line = this.lines[l.offset]!;
            if ((line.active_low ? line.physical ^ 1 : line.physical) === 1) out |= l.bit;
          }
          user.setBigUint64(0, out, true);
          return 0;
        }
        // linereq_set_values_unlocked(): every masked line must be an output.
        if (chosen.some((l) => !this.lines[l.offset]!.output)) return -E.EPERM;
        for (const l of chosen) this.drive(this.lines[l.offset]!, (bits & l.bit) !== 0n ? 1 : 0);
        return 0;
      },
      write: () => -E.EINVAL,
      read: () => -E.EINVAL,
      release: () => {
        for (const offset of offsets) {
          const line = this.lines[offset]!;
          line.used = false;
          line.consumer = "";
        }
      },
    };
  }
}

/** gpio_v2_line_flags_validate(). */
function flagsValid(flags: bigint): boolean {
  if ((flags & ~VALID_FLAGS) !== 0n) return false;
  const has = (f: bigint) => (flags & f) !== 0n;
  if (has(FLAG.INPUT) && has(FLAG.OUTPUT)) return false;
  if ((has(FLAG.EDGE_RISING) || has(FLAG.EDGE_FALLING)) && has(FLAG.OUTPUT)) return false;
  if ((has(FLAG.OPEN_DRAIN) || has(FLAG.OPEN_SOURCE)) && !has(FLAG.OUTPUT)) return false;
  if (has(FLAG.OPEN_DRAIN) && has(FLAG.OPEN_SOURCE)) return false;
  const bias = [FLAG.PULL_UP, FLAG.PULL_DOWN, FLAG.BIAS_DISABLED].filter(has).length;
  if (bias > 1) return false;
  if (bias > 0 && !has(FLAG.INPUT) && !has(FLAG.OUTPUT)) return false;
  return true;
}

// ---- i2c-dev.c -----------------------------------------------------------------------------

export interface FakeI2cChip {
  /** One write transaction; false = the chip did not acknowledge. */
  write(bytes: Uint8Array, now_ms: number): boolean;
  read(into: Uint8Array, now_ms: number): boolean;
  tick?(now_ms: number): void;
}

export class FakeI2cBus implements FakeDevice {
  readonly chips = new Map<number, FakeI2cChip>();
  /** Addresses a kernel driver has bound (i2cdev_check_addr → EBUSY). */
  readonly claimed = new Set<number>();

  tick(now_ms: number): void {
    for (const chip of this.chips.values()) chip.tick?.(now_ms);
  }

  open(_flags: number, kernel: FakeKernel): FakeFile {
    let address = -1;
    return {
      ioctl: (request, arg) => {
        switch (request) {
          case I2C.SLAVE:
          case I2C.SLAVE_FORCE: {
            // The argument is the address itself; a pointer would be read as a huge address.
            if (typeof arg !== "number" || arg > 0x7f || arg < 0) return -E.EINVAL;
            if (request === I2C.SLAVE && this.claimed.has(arg)) return -E.EBUSY;
            address = arg;
            return 0;
          }
          case I2C.FUNCS: {
            if (typeof arg === "number" || arg.length < 8) return -E.EFAULT;
            new DataView(arg.buffer, arg.byteOffset).setBigUint64(0, 0x0eff0009n, true);
            return 0;
          }
          default:
            return -E.ENOTTY;
        }
      },
      write: (bytes) => {
        const count = Math.min(bytes.length, 8192);
        const chip = this.chips.get(address);
        if (!chip || !chip.write(bytes.slice(0, count), kernel.now_ms)) return -E.ENXIO;
        return count;
      },
      read: (into) => {
        const chip = this.chips.get(address);
        if (!chip || !chip.read(into, kernel.now_ms)) return -E.ENXIO;
        return into.length;
      },
      release: () => {},
    };
  }
}

export type RegisterChipSpec = {
  timeout: { register: number; width_bytes: 1 | 2; byte_order: "big" | "little"; unit_ms: number; max_value: number };
  kick: { register: number; value: number };
  enable?: { register: number; value: number };
  disable?: { register: number; value: number };
};

/** A generic register watchdog chip with an auto-incrementing register pointer. */
export class FakeRegisterWatchdog implements FakeI2cChip {
  readonly registers = new Uint8Array(256);
  enabled = false;
  last_kick_ms = 0;
  kicks = 0;
  resets = 0;
  private pointer = 0;

  constructor(readonly spec: RegisterChipSpec) {}

  timeoutCount(): number {
    const t = this.spec.timeout;
    const a = this.registers[t.register]!;
    const b = this.registers[(t.register + 1) & 0xff]!;
    return t.width_bytes === 1 ? a : t.byte_order === "big" ? (a << 8) | b : a | (b << 8);
  }

  write(bytes: Uint8Array, now_ms: number): boolean {
    if (bytes.length === 0) return true;
    this.pointer = bytes[0]!;
    for (const byte of bytes.subarray(1)) {
      this.store(this.pointer, byte, now_ms);
      this.pointer = (this.pointer + 1) & 0xff;
    }
    // A width-2 timeout that exceeds the chip's range is clamped, as real chips do.
    if (this.timeoutCount() > this.spec.timeout.max_value) this.setTimeoutCount(this.spec.timeout.max_value);
    return true;
  }

  read(into: Uint8Array): boolean {
    for (let i = 0; i < into.length; i++) into[i] = this.registers[(this.pointer + i) & 0xff]!;
    return true;
  }

  tick(now_ms: number): void {
    if (this.enabled && now_ms - this.last_kick_ms >= this.timeoutCount() * this.spec.timeout.unit_ms) {
      this.resets += 1;
      this.enabled = false;
    }
  }

  private store(register: number, value: number, now_ms: number): void {
    this.registers[register] = value;
    const { kick, enable, disable } = this.spec;
    if (register === kick.register && value === kick.value && this.enabled) {
      this.kicks += 1;
      this.last_kick_ms = now_ms;
    }
    if (enable && register === enable.register && value === enable.value) {
      this.enabled = true;
      this.last_kick_ms = now_ms;
    }
    if (disable && register === disable.register && value === disable.value) this.enabled = false;
  }

  private setTimeoutCount(count: number): void {
    const t = this.spec.timeout;
    if (t.width_bytes === 1) this.registers[t.register] = count & 0xff;
    else if (t.byte_order === "big") this.registers.set([count >> 8, count & 0xff], t.register);
    else this.registers.set([count & 0xff, count >> 8], t.register);
  }
}

// ---- sysfs and modprobe --------------------------------------------------------------------

export class FakeHost implements HostPort {
  readonly files = new Map<string, () => string | null>();
  readonly links = new Map<string, string>();
  modprobeCalls: string[] = [];
  onModprobe: (module: string) => { ok: boolean; message: string } = () => ({ ok: false, message: "modprobe: FATAL: Module softdog not found in directory /lib/modules/6.18.44" });

  /** Publish /sys/class/watchdog/NAME/{identity,nowayout,state,timeout} for a fake device. */
  addWatchdogClass(name: string, device: FakeWatchdog, opts: { nowayoutAttribute?: boolean; stateAttribute?: boolean } = {}): void {
    const dir = `/sys/class/watchdog/${name}`;
    this.files.set(`${dir}/identity`, () => device.spec.identity);
    this.files.set(`${dir}/timeout`, () => String(device.timeout_s));
    if (opts.nowayoutAttribute ?? true) this.files.set(`${dir}/nowayout`, () => (device.spec.nowayout ? "1" : "0"));
    if (opts.stateAttribute ?? true) this.files.set(`${dir}/state`, () => (device.active ? "active" : "inactive"));
  }

  readText(path: string): string | null {
    return this.files.get(path)?.() ?? null;
  }

  listDir(path: string): string[] {
    const prefix = `${path}/`;
    const names = new Set<string>();
    for (const file of this.files.keys()) if (file.startsWith(prefix)) names.add(file.slice(prefix.length).split("/")[0]!);
    return [...names];
  }

  readLink(path: string): string | null {
    return this.links.get(path) ?? null;
  }

  modprobe(module: string): { ok: boolean; message: string } {
    this.modprobeCalls.push(module);
    return this.onModprobe(module);
  }
}
