// softdog, the fallback when a box has no hardware watchdog: the Linux driver on softdog's
// device. It resets a box whose userland hangs, but it is a kernel timer, so a kernel that hangs
// takes it along: info() says so (survivesKernelHang: false, and a warning for status).
//
// The device is found at open(), not at construction: softdog may need `modprobe softdog` first,
// and its watchdogN number depends on what else registered before it.

import { checkTimeout, notOpen, WatchdogError, type CloseOutcome, type WatchdogDriver, type WatchdogInfo } from "./driver.ts";
import { realHost, type HostPort } from "./host-port.ts";
import type { KernelPort } from "./kernel-port.ts";
import { LinuxWatchdog } from "./linux-watchdog.ts";
import { findSoftdog } from "./sysfs.ts";

export type SoftdogOptions = {
  /** The device; null finds the watchdog whose identity is "Software Watchdog". */
  device: string | null;
  /** Run `modprobe softdog` when it is not there yet. */
  load_module: boolean;
  kernel: KernelPort;
  host?: HostPort;
};

export class SoftdogWatchdog implements WatchdogDriver {
  readonly kind = "softdog" as const;
  private readonly options: SoftdogOptions;
  private readonly host: HostPort;
  private inner: LinuxWatchdog | null = null;

  constructor(options: SoftdogOptions) {
    this.options = options;
    this.host = options.host ?? realHost;
  }

  get device(): string {
    return this.inner?.device ?? this.options.device ?? "softdog";
  }

  async open(timeout_s: number): Promise<void> {
    checkTimeout(this.kind, this.device, timeout_s);
    const device = this.options.device ?? this.locate();
    const inner = new LinuxWatchdog({ device, kind: "softdog", kernel: this.options.kernel, host: this.host, module: "softdog" });
    await inner.open(timeout_s);
    this.inner = inner;
  }

  keepalive(): Promise<void> {
    return this.opened("keepalive").keepalive();
  }

  timeLeft(): Promise<number | null> {
    return this.opened("timeLeft").timeLeft();
  }

  info(): Promise<WatchdogInfo> {
    return this.opened("info").info();
  }

  async close(opts: { disarm: boolean }): Promise<CloseOutcome> {
    if (!this.inner) return { disarmed: true, warning: null };
    return this.inner.close(opts);
  }

  private opened(op: string): LinuxWatchdog {
    if (!this.inner) throw notOpen(this.kind, this.device, op);
    return this.inner;
  }

  private locate(): string {
    const found = findSoftdog(this.host);
    if (found) return found;
    if (!this.options.load_module) {
      throw this.unavailable("no watchdog with the identity \"Software Watchdog\" is registered, and load_module is off");
    }
    const loaded = this.host.modprobe("softdog");
    const after = findSoftdog(this.host);
    if (after) return after;
    throw this.unavailable(loaded.ok ? "modprobe softdog succeeded but no softdog device appeared in /sys/class/watchdog" : `modprobe softdog failed: ${loaded.message}`);
  }

  private unavailable(why: string): WatchdogError {
    return new WatchdogError({ kind: this.kind, device: "softdog", setting: "device", reason: "unavailable", op: "modprobe", message: `softdog is not available on this kernel: ${why}` });
  }
}
