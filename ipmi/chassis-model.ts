// The simulated machine behind hapd's own BMC responder: a power state and a watchdog timer
// with a real countdown (IPMI v2.0 spec section 27). No I/O and no clock: every call takes
// now_ms, and tick(now_ms) performs whatever came due (a watchdog action, the "on" half of a
// power cycle). Unlike ipmi_sim 2.0.33, Reset Watchdog Timer re-arms a running countdown.

import { CompletionCode, type ChassisAction, type WatchdogSettings, type WatchdogState } from "./commands.ts";

export type ChassisEvent =
  | { kind: "power"; power_on: boolean; cause: string; at_ms: number }
  | { kind: "reset"; cause: string; at_ms: number }
  | { kind: "watchdog_expired"; action: WatchdogSettings["timeout_action"]; at_ms: number };

export type ChassisModelConfig = {
  power_on: boolean;
  /** How long a power cycle (command or watchdog action) keeps the chassis off. */
  power_cycle_off_ms: number;
};

const MAX_EVENTS = 256;

export class ChassisModel {
  power_on: boolean;
  /** Incremented at every power-on and hard reset, like bmc-sim's `boots` file. */
  boots = 0;
  /** 1 after a power command, 0x10 after a watchdog/other event (Get Chassis Status byte 2). */
  last_power_event = 0;
  readonly events: ChassisEvent[] = [];
  private readonly power_cycle_off_ms: number;
  private power_on_at_ms: number | null = null;
  private watchdog: WatchdogSettings | null = null;
  private watchdog_expires_at_ms: number | null = null;
  private expiration_flags = 0;

  constructor(cfg: ChassisModelConfig) {
    this.power_on = cfg.power_on;
    this.power_cycle_off_ms = cfg.power_cycle_off_ms;
    if (cfg.power_on) this.boots = 1;
  }

  private record(event: ChassisEvent): void {
    this.events.push(event);
    if (this.events.length > MAX_EVENTS) this.events.shift();
  }

  private setPower(on: boolean, cause: string, now_ms: number): void {
    if (this.power_on === on) return;
    this.power_on = on;
    if (on) this.boots += 1;
    this.record({ kind: "power", power_on: on, cause, at_ms: now_ms });
  }

  /** Chassis Control. Returns a completion code (0 = done). */
  control(action: ChassisAction, now_ms: number): number {
    this.last_power_event = 0x10; // "last power state change was by IPMI command"
    switch (action) {
      case "power_off":
        this.power_on_at_ms = null;
        this.setPower(false, "chassis power-off", now_ms);
        return CompletionCode.OK;
      case "soft_shutdown":
        this.power_on_at_ms = null;
        this.setPower(false, "graceful shutdown", now_ms);
        return CompletionCode.OK;
      case "power_on":
        this.power_on_at_ms = null;
        this.setPower(true, "chassis power-on", now_ms);
        return CompletionCode.OK;
      case "power_cycle":
        // The spec leaves a cycle of a powered-off chassis undefined; real BMCs often refuse it.
        if (!this.power_on) return CompletionCode.NOT_SUPPORTED_IN_PRESENT_STATE;
        this.powerCycle("chassis power-cycle", now_ms);
        return CompletionCode.OK;
      case "hard_reset":
        if (this.power_on) {
          this.boots += 1;
          this.record({ kind: "reset", cause: "hard-reset", at_ms: now_ms });
        }
        return CompletionCode.OK;
      case "pulse_diagnostic":
        return CompletionCode.INVALID_DATA_FIELD;
    }
  }

  private powerCycle(cause: string, now_ms: number): void {
    this.setPower(false, cause, now_ms);
    this.power_on_at_ms = now_ms + this.power_cycle_off_ms;
  }

  setWatchdog(settings: WatchdogSettings, now_ms: number): number {
    if (settings.timer_use === 0 || settings.timer_use > 5) return CompletionCode.INVALID_DATA_FIELD;
    const wasRunning = this.watchdog_expires_at_ms !== null;
    this.watchdog = settings;
    this.expiration_flags &= ~settings.expiration_flags_clear & 0xff;
    // "Don't stop" keeps a running timer running, restarted from the new countdown.
    this.watchdog_expires_at_ms = wasRunning && settings.dont_stop ? now_ms + settings.initial_countdown_ms : null;
    return CompletionCode.OK;
  }

  resetWatchdog(now_ms: number): number {
    if (!this.watchdog) return CompletionCode.WATCHDOG_NOT_INITIALIZED;
    if (this.watchdog.initial_countdown_ms === 0) return CompletionCode.WATCHDOG_NOT_INITIALIZED;
    this.watchdog_expires_at_ms = now_ms + this.watchdog.initial_countdown_ms;
    return CompletionCode.OK;
  }

  getWatchdog(now_ms: number): WatchdogState {
    const w = this.watchdog;
    const remaining = this.watchdog_expires_at_ms === null ? (w?.initial_countdown_ms ?? 0) : Math.max(0, this.watchdog_expires_at_ms - now_ms);
    return {
      timer_use: w?.timer_use ?? 0,
      running: this.watchdog_expires_at_ms !== null,
      dont_log: w?.dont_log ?? false,
      timeout_action: w?.timeout_action ?? "none",
      pretimeout_interrupt: w?.pretimeout_interrupt ?? "none",
      pretimeout_interval_s: w?.pretimeout_interval_s ?? 0,
      expiration_flags: this.expiration_flags,
      initial_countdown_ms: w?.initial_countdown_ms ?? 0,
      present_countdown_ms: remaining,
    };
  }

  nextWakeMs(): number | null {
    const times = [this.power_on_at_ms, this.watchdog_expires_at_ms].filter((t): t is number => t !== null);
    return times.length === 0 ? null : Math.min(...times);
  }

  tick(now_ms: number): void {
    if (this.power_on_at_ms !== null && now_ms >= this.power_on_at_ms) {
      this.power_on_at_ms = null;
      this.setPower(true, "power-cycle on", now_ms);
    }
    const w = this.watchdog;
    if (w && this.watchdog_expires_at_ms !== null && now_ms >= this.watchdog_expires_at_ms) {
      this.watchdog_expires_at_ms = null;
      this.expiration_flags |= 1 << w.timer_use;
      this.last_power_event = 0x10;
      this.record({ kind: "watchdog_expired", action: w.timeout_action, at_ms: now_ms });
      if (w.timeout_action === "power_down") {
        this.power_on_at_ms = null;
        this.setPower(false, "watchdog power down", now_ms);
      } else if (w.timeout_action === "hard_reset" && this.power_on) {
        this.boots += 1;
        this.record({ kind: "reset", cause: "watchdog hard reset", at_ms: now_ms });
      } else if (w.timeout_action === "power_cycle" && this.power_on) {
        this.powerCycle("watchdog power cycle", now_ms);
      }
    }
  }
}
