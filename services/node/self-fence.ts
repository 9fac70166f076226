// Self-fencing, as a state machine without I/O: a host that loses quorum while it runs resources
// must stop them within their stop timeout; if it cannot (a stop hangs, or the stop never comes
// back), it asks the supervisor to stop feeding the watchdog, and the box resets. The quorate
// side relies on exactly this when no fence device can confirm the host is off (the SBD rule,
// fencing/core.ts): it waits lease + stop timeout + 2 x watchdog timeout, then recovers.

export interface SelfFenceConfig {
  /** The longest a stop of every resource may take; peers add it to their wait. */
  stopTimeout_ms: number;
}

export type SelfFenceEffect =
  | { kind: "stop-resources"; deadline_ms: number }
  | { kind: "self-fence"; reason: string }
  | { kind: "log"; message: string };

export class SelfFenceCore {
  private stopping: { deadline_ms: number } | null = null;
  private fenced = false;

  constructor(private readonly cfg: SelfFenceConfig) {}

  /** Quorum changed (or the resource count did, while without quorum). */
  onQuorum(quorate: boolean, resourcesRunning: number, now_ms: number): SelfFenceEffect[] {
    if (quorate || this.stopping || this.fenced || resourcesRunning === 0) return [];
    // Lost quorum with resources running: the other side may take them over once it is sure we
    // are gone. Stop them now, and regardless of whether quorum comes back meanwhile.
    this.stopping = { deadline_ms: now_ms + this.cfg.stopTimeout_ms };
    return [
      { kind: "log", message: `quorum lost with ${resourcesRunning} resources running: stopping them within ${this.cfg.stopTimeout_ms} ms` },
      { kind: "stop-resources", deadline_ms: this.stopping.deadline_ms },
    ];
  }

  /** The resource manager reports the outcome of the stop. */
  onStopped(ok: boolean, detail: string, now_ms: number): SelfFenceEffect[] {
    if (!this.stopping || this.fenced) return [];
    if (ok && now_ms <= this.stopping.deadline_ms) {
      this.stopping = null;
      return [{ kind: "log", message: "all resources stopped after quorum loss" }];
    }
    return this.fence(ok ? `resources stopped only after the deadline (${detail})` : `resources could not be stopped: ${detail}`);
  }

  tick(now_ms: number): SelfFenceEffect[] {
    if (this.stopping && !this.fenced && now_ms > this.stopping.deadline_ms) return this.fence(`stopping resources took longer than ${this.cfg.stopTimeout_ms} ms`);
    return [];
  }

  get selfFenced(): boolean {
    return this.fenced;
  }

  private fence(reason: string): SelfFenceEffect[] {
    this.fenced = true;
    return [
      { kind: "log", message: `SELF-FENCE: ${reason}` },
      { kind: "self-fence", reason },
    ];
  }
}

/** How long the quorate side waits before it may treat a silent host as self-fenced. */
export function selfFenceWait_ms(t: { lease_ms: number; stopTimeout_ms: number; watchdogTimeout_s: number; safetyFactor?: number }): number {
  return t.lease_ms + t.stopTimeout_ms + (t.safetyFactor ?? 2) * t.watchdogTimeout_s * 1000;
}
