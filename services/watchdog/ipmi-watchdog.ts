// The BMC's IPMI watchdog timer (Set / Get / Reset Watchdog Timer, IPMI v2.0 §27) through the
// project's RMCP+ client. The timer runs in the BMC, outside the host: it survives a kernel hang,
// and on expiry the BMC hard-resets or powers off the chassis.
//
// Arming is Set (which loads the settings and stops the timer) then Reset (which starts it), then
// Get to check the BMC kept what we sent. A clean stop is Set with "don't stop" clear and action
// "none". The timer is shared with the host's own ipmi_watchdog kernel driver (timer use SMS/OS):
// do not load that driver on a hapd host.
//
// ipmi_sim 2.0.33 quirks (../shared/peers/ipmi/README.md): Reset does not re-arm a running
// countdown unless a "messaging" pre-timeout of at least 1 s is set and pets are at least 1 s
// apart — hence the defaults pretimeout messaging/1 s and min_pet_interval_ms 1000, which cost
// nothing on a real BMC; its Get reply has 6 bytes (no present countdown): timeLeft() is null.

import type { CipherPolicy } from "../../ipmi/session.ts";
import { IpmiClient } from "../../ipmi/client.ts";
import { MAX_WATCHDOG_COUNTDOWN_MS, WATCHDOG_USE_SMS_OS, type DeviceId, type WatchdogSettings, type WatchdogState, type WatchdogTimeoutAction } from "../../ipmi/commands.ts";
import { IpmiError } from "../../ipmi/errors.ts";
import { checkTimeout, notOpen, WatchdogError, type CloseOutcome, type WatchdogDriver, type WatchdogErrorReason, type WatchdogInfo } from "./driver.ts";

/** What the driver needs from an IPMI session; IpmiClient has it. Tests may bring their own. */
export interface IpmiWatchdogPort {
  watchdogSet(settings: WatchdogSettings): Promise<void>;
  watchdogGet(): Promise<WatchdogState>;
  watchdogReset(): Promise<void>;
  deviceId(): Promise<DeviceId>;
  close(): Promise<void>;
}

export type IpmiWatchdogAction = "hard_reset" | "power_off" | "power_cycle";
export type IpmiPretimeout = { interrupt: "none" | "messaging" | "nmi" | "smi"; interval_s: number };

export type IpmiWatchdogOptions = {
  host: string;
  port: number;
  username: string;
  password: string | Uint8Array;
  cipher: CipherPolicy;
  privilege: "administrator" | "operator";
  action: IpmiWatchdogAction;
  pretimeout: IpmiPretimeout;
  /** A keepalive sooner than this after the last pet is folded into it (ipmi_sim needs ≥ 1 s). */
  min_pet_interval_ms: number;
  request_timeout_ms: number;
  max_attempts: number;
  /** Opens a session; IpmiClient.open by default. */
  connect?: () => Promise<IpmiWatchdogPort>;
  now_ms?: () => number;
  log?: (line: string) => void;
};

const ACTION: Record<IpmiWatchdogAction, WatchdogTimeoutAction> = { hard_reset: "hard_reset", power_off: "power_down", power_cycle: "power_cycle" };
/** Expiration flag of timer use SMS/OS (bit 4): cleared on arming, so a later Get shows only new expiries. */
const SMS_OS_EXPIRED = 0x10;
const WATCHDOG_NOT_INITIALIZED = 0x80;

export class IpmiWatchdog implements WatchdogDriver {
  readonly kind = "ipmi" as const;
  readonly device: string;
  private readonly o: IpmiWatchdogOptions;
  private readonly now_ms: () => number;
  private session: IpmiWatchdogPort | null = null;
  private armed = false;
  private timeout_s = 0;
  private identity = "";
  private last_pet_ms = -Infinity;
  private pet: Promise<void> | null = null;

  constructor(options: IpmiWatchdogOptions) {
    this.o = options;
    this.device = `${options.host}:${options.port}`;
    this.now_ms = options.now_ms ?? (() => performance.now());
  }

  async open(timeout_s: number): Promise<void> {
    checkTimeout(this.kind, this.device, timeout_s);
    if (this.armed) throw this.error("state", "open", "open", "already open");
    if (timeout_s * 1000 > MAX_WATCHDOG_COUNTDOWN_MS) {
      throw this.error("timeout_refused", "Set Watchdog Timer", `timeout_s=${timeout_s}`, `timeout_s=${timeout_s} exceeds the IPMI countdown's ${MAX_WATCHDOG_COUNTDOWN_MS / 1000} s`);
    }
    const pre = this.o.pretimeout;
    if (pre.interrupt !== "none" && pre.interval_s >= timeout_s) {
      throw this.error("timeout_refused", "Set Watchdog Timer", `pretimeout.interval_s=${pre.interval_s}`, `pretimeout.interval_s=${pre.interval_s} must be shorter than timeout_s=${timeout_s}`);
    }
    const session = await this.step("open", "connect", () => this.connect());
    this.session = session;
    try {
      const id = await this.step("Get Device ID", "open", () => session.deviceId());
      this.identity = `IPMI BMC ${this.device} (manufacturer ${id.manufacturer_id}, product ${id.product_id}, firmware ${id.firmware_major}.${id.firmware_minor_bcd.toString(16).padStart(2, "0")}, IPMI ${id.ipmi_version_major}.${id.ipmi_version_minor})`;
      this.timeout_s = timeout_s;
      const settings = this.settings(timeout_s);
      await this.step("Set Watchdog Timer", this.settingText(timeout_s), () => session.watchdogSet(settings));
      await this.step("Reset Watchdog Timer", "start", () => session.watchdogReset());
      this.last_pet_ms = this.now_ms();
      const state = await this.step("Get Watchdog Timer", "verify", () => session.watchdogGet());
      this.verify(state, settings, timeout_s);
      this.armed = true;
    } catch (error) {
      // A half-armed BMC timer would reset a host that reports it has no watchdog: stop it.
      await this.stopTimer(session).catch(() => {});
      await session.close();
      this.session = null;
      this.timeout_s = 0;
      throw error;
    }
  }

  keepalive(): Promise<void> {
    if (!this.armed) return Promise.reject(notOpen(this.kind, this.device, "keepalive"));
    if (this.pet) return this.pet;
    if (this.now_ms() - this.last_pet_ms < this.o.min_pet_interval_ms) return Promise.resolve();
    this.pet = this.petOnce().finally(() => {
      this.pet = null;
    });
    return this.pet;
  }

  async timeLeft(): Promise<number | null> {
    if (!this.armed) throw notOpen(this.kind, this.device, "timeLeft");
    const state = await this.withSession("Get Watchdog Timer", "time left", (s) => s.watchdogGet());
    return state.present_countdown_ms === null ? null : state.present_countdown_ms / 1000;
  }

  async info(): Promise<WatchdogInfo> {
    if (!this.armed) throw notOpen(this.kind, this.device, "info");
    return {
      identity: this.identity,
      options: ["timer use SMS/OS", `action ${this.o.action.replace("_", " ")}`, `pre-timeout ${this.o.pretimeout.interrupt}${this.o.pretimeout.interrupt === "none" ? "" : ` ${this.o.pretimeout.interval_s} s`}`],
      timeout_s: this.timeout_s,
      nowayout: false,
      survivesKernelHang: true,
      warnings: [],
    };
  }

  async close(opts: { disarm: boolean }): Promise<CloseOutcome> {
    if (!this.armed || !this.session) return { disarmed: true, warning: null };
    await this.pet?.catch(() => {});
    this.armed = false;
    let outcome: CloseOutcome = { disarmed: false, warning: `the BMC watchdog of ${this.device} was left armed: it will ${this.o.action.replace("_", " ")} this host in about ${this.timeout_s} s` };
    if (opts.disarm) {
      try {
        await this.withSession("Set Watchdog Timer", "disarm", (s) => this.stopTimer(s));
        outcome = { disarmed: true, warning: null };
      } catch (error) {
        outcome = { disarmed: false, warning: `cannot stop the BMC watchdog of ${this.device} (${(error as Error).message}): it will ${this.o.action.replace("_", " ")} this host in about ${this.timeout_s} s` };
      }
    }
    await this.session?.close();
    this.session = null;
    return outcome;
  }

  private async petOnce(): Promise<void> {
    try {
      await this.withSession("Reset Watchdog Timer", "keepalive", (s) => s.watchdogReset());
    } catch (error) {
      // 0x80: the BMC has no settings for the timer any more (it rebooted, or someone cleared
      // it). Arm it again rather than let the host run unguarded.
      if (!(error instanceof WatchdogError) || !(error.cause instanceof IpmiError) || error.cause.completion_code !== WATCHDOG_NOT_INITIALIZED) throw error;
      this.o.log?.(`BMC ${this.device} lost its watchdog settings (0x80); arming again`);
      const settings = this.settings(this.timeout_s);
      await this.withSession("Set Watchdog Timer", this.settingText(this.timeout_s), (s) => s.watchdogSet(settings));
      await this.withSession("Reset Watchdog Timer", "keepalive", (s) => s.watchdogReset());
    }
    this.last_pet_ms = this.now_ms();
  }

  private settings(timeout_s: number): WatchdogSettings {
    return {
      timer_use: WATCHDOG_USE_SMS_OS,
      dont_stop: false,
      dont_log: false,
      timeout_action: ACTION[this.o.action],
      pretimeout_interrupt: this.o.pretimeout.interrupt,
      pretimeout_interval_s: this.o.pretimeout.interrupt === "none" ? 0 : this.o.pretimeout.interval_s,
      expiration_flags_clear: SMS_OS_EXPIRED,
      initial_countdown_ms: timeout_s * 1000,
    };
  }

  private settingText(timeout_s: number): string {
    return `timeout_s=${timeout_s}, action=${this.o.action}, pretimeout=${this.o.pretimeout.interrupt}/${this.o.pretimeout.interval_s}s`;
  }

  private verify(state: WatchdogState, sent: WatchdogSettings, timeout_s: number): void {
    const wrong: string[] = [];
    if (state.timer_use !== sent.timer_use) wrong.push(`timer use ${state.timer_use} instead of ${sent.timer_use} (SMS/OS)`);
    if (state.timeout_action !== sent.timeout_action) wrong.push(`action ${state.timeout_action} instead of ${sent.timeout_action}`);
    if (state.initial_countdown_ms !== sent.initial_countdown_ms) wrong.push(`countdown ${state.initial_countdown_ms} ms instead of ${sent.initial_countdown_ms} ms`);
    if (wrong.length > 0) throw this.error("verify_failed", "Get Watchdog Timer", `timeout_s=${timeout_s}`, `the BMC did not keep the watchdog settings: ${wrong.join(", ")}`);
  }

  private stopTimer(session: IpmiWatchdogPort): Promise<void> {
    return session.watchdogSet({ ...this.settings(Math.max(1, this.timeout_s)), timeout_action: "none", pretimeout_interrupt: "none", pretimeout_interval_s: 0, dont_stop: false });
  }

  private connect(): Promise<IpmiWatchdogPort> {
    if (this.o.connect) return this.o.connect();
    const per_command_ms = this.o.request_timeout_ms * this.o.max_attempts;
    return IpmiClient.open({
      host: this.o.host,
      port: this.o.port,
      username: this.o.username,
      password: this.o.password,
      cipher: this.o.cipher,
      privilege: this.o.privilege,
      request_timeout_ms: this.o.request_timeout_ms,
      max_attempts: this.o.max_attempts,
      command_timeout_ms: per_command_ms,
      login_timeout_ms: Math.max(per_command_ms * 2, 2000),
      ...(this.o.log ? { log: this.o.log } : {}),
    });
  }

  /**
   * Run a command on the session; when the session itself is gone (closed, or no answer — an
   * idle BMC session expires after some seconds), open a new one and try once more.
   */
  private async withSession<T>(op: string, setting: string, run: (s: IpmiWatchdogPort) => Promise<T>): Promise<T> {
    if (this.session) {
      try {
        return await run(this.session);
      } catch (error) {
        if (!(error instanceof IpmiError) || (error.code !== "closed" && error.code !== "timeout")) throw this.wrap(op, setting, error);
        this.o.log?.(`session with BMC ${this.device} lost (${error.message}); opening a new one`);
        await this.session.close().catch(() => {});
        this.session = null;
      }
    }
    const session = await this.step("open", "reconnect", () => this.connect());
    this.session = session;
    return this.step(op, setting, () => run(session));
  }

  private async step<T>(op: string, setting: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.wrap(op, setting, error);
    }
  }

  private wrap(op: string, setting: string, error: unknown): WatchdogError {
    if (error instanceof WatchdogError) return error;
    const text = error instanceof Error ? error.message : String(error);
    return new WatchdogError({ kind: this.kind, device: this.device, setting, reason: "ipmi", op, cause: error, message: `BMC watchdog ${this.device}: ${op} (${setting}) failed: ${text}` });
  }

  private error(reason: WatchdogErrorReason, op: string, setting: string, what: string): WatchdogError {
    return new WatchdogError({ kind: this.kind, device: this.device, setting, reason, op, message: `BMC watchdog ${this.device}: ${what}` });
  }
}
