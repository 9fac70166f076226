// The supervisor's decisions, as a state machine without I/O: which service to start, restart or
// kill, when a hang is a hang, when to give up on a service, and whether the watchdog may be fed.
//
// It is the top of the watcher hierarchy (services -> supervisor -> watchdog): it feeds the
// watchdog only while every critical service is alive and heartbeating, and never while a
// self-fence is in progress. If the supervisor itself hangs, nobody feeds the watchdog and the
// box resets: that is the point, so this loop stays small and allocates little.

export type Escalation = "leave" | "reset";

export interface ServiceSpec {
  name: string;
  /** A critical service that is down or hung stops the watchdog feed. */
  critical: boolean;
  /** What to do when restarts are exhausted: stay down and leave the cluster, or let the box reset. */
  onExhausted: Escalation;
  maxRestarts: number;
  window_ms: number;
  backoff_ms: { first: number; max: number };
  /** Time a started service has to register before it counts as hung. */
  startGrace_ms: number;
  /** Heartbeats missed in a row before a running service counts as hung. */
  missedHeartbeats: number;
}

export type ServicePhase = "starting" | "running" | "backoff" | "stopping" | "failed" | "stopped";

interface ServiceState {
  spec: ServiceSpec;
  phase: ServicePhase;
  pid: number | null;
  restarts: number;
  recent: number[];
  spawnedAt_ms: number;
  lastHeartbeat_ms: number | null;
  interval_ms: number;
  nextStart_ms: number;
  lastExit: string;
  /** The operator asked for this restart: it does not count toward giving up. */
  requested: boolean;
}

export type SupervisorEffect =
  | { kind: "spawn"; service: string }
  | { kind: "kill"; service: string; pid: number; signal: "SIGTERM" | "SIGKILL" }
  | { kind: "keepalive" }
  | { kind: "stop-feeding"; reason: string }
  | { kind: "exit"; code: number }
  | { kind: "log"; level: "info" | "warn" | "error"; message: string };

export interface ServiceStatus {
  name: string;
  pid: number | null;
  phase: ServicePhase;
  restarts: number;
  critical: boolean;
  last_heartbeat_ms_ago: number | null;
  heartbeat_interval_ms: number;
  last_exit: string;
}

export class SupervisorCore {
  private readonly services = new Map<string, ServiceState>();
  private feeding = true;
  private feedStoppedReason = "";
  private stopping = false;
  private nextKeepalive_ms = 0;

  constructor(
    specs: readonly ServiceSpec[],
    private readonly keepaliveEvery_ms: number,
  ) {
    for (const spec of specs) {
      this.services.set(spec.name, {
        spec,
        phase: "stopped",
        pid: null,
        restarts: 0,
        recent: [],
        spawnedAt_ms: 0,
        lastHeartbeat_ms: null,
        interval_ms: 0,
        nextStart_ms: 0,
        lastExit: "",
        requested: false,
      });
    }
  }

  start(now_ms: number): SupervisorEffect[] {
    const fx: SupervisorEffect[] = [];
    for (const s of this.services.values()) this.spawn(s, now_ms, fx);
    return fx;
  }

  spawned(name: string, pid: number, now_ms: number): void {
    const s = this.services.get(name);
    if (!s) return;
    s.pid = pid;
    s.spawnedAt_ms = now_ms;
  }

  /** A service registered on the supervisor socket and declared its heartbeat interval. */
  registered(name: string, pid: number, interval_ms: number, now_ms: number): SupervisorEffect[] {
    const s = this.services.get(name);
    if (!s || s.pid !== pid) return [{ kind: "log", level: "warn", message: `registration from unknown service ${name} pid ${pid} ignored` }];
    s.interval_ms = Math.max(10, interval_ms);
    s.lastHeartbeat_ms = now_ms;
    if (s.phase === "starting") s.phase = "running";
    return [{ kind: "log", level: "info", message: `${name} running (pid ${pid}, heartbeat every ${s.interval_ms} ms)` }];
  }

  heartbeat(name: string, pid: number, now_ms: number): void {
    const s = this.services.get(name);
    if (s && s.pid === pid && s.phase === "running") s.lastHeartbeat_ms = now_ms;
  }

  exited(name: string, pid: number, how: string, now_ms: number): SupervisorEffect[] {
    const fx: SupervisorEffect[] = [];
    const s = this.services.get(name);
    if (!s || s.pid !== pid) return fx;
    s.pid = null;
    s.lastExit = how;
    s.lastHeartbeat_ms = null;
    if (this.stopping) {
      s.phase = "stopped";
      if ([...this.services.values()].every((x) => x.pid === null)) fx.push({ kind: "exit", code: 0 });
      return fx;
    }
    if (s.phase === "failed") return fx;
    if (s.requested) {
      s.requested = false;
      fx.push({ kind: "log", level: "info", message: `${name} (pid ${pid}) ${how}; starting it again as asked` });
      this.spawn(s, now_ms, fx);
      return fx;
    }
    fx.push({ kind: "log", level: "warn", message: `${name} (pid ${pid}) ${how}` });
    if (s.phase === "starting" && how === "exited with code 2") {
      // Exit 2 is bad input (configuration, key): restarting cannot fix it. Stop the node and
      // hand the operator the same exit code.
      s.phase = "failed";
      fx.push({ kind: "log", level: "error", message: `${name} refused its configuration; stopping the node` });
      this.stopping = true;
      fx.push({ kind: "exit", code: 2 });
      return fx;
    }
    s.recent = s.recent.filter((t) => now_ms - t < s.spec.window_ms);
    if (s.recent.length >= s.spec.maxRestarts) {
      s.phase = "failed";
      fx.push({ kind: "log", level: "error", message: `${name}: ${s.recent.length} restarts within ${s.spec.window_ms} ms; giving up (${s.spec.onExhausted})` });
      if (s.spec.onExhausted === "reset") this.stopFeeding(`${name} keeps failing`, fx);
      return fx;
    }
    const delay = Math.min(s.spec.backoff_ms.max, s.spec.backoff_ms.first * 2 ** Math.max(0, s.recent.length - 1));
    s.phase = "backoff";
    s.nextStart_ms = now_ms + (s.recent.length === 0 ? 0 : delay);
    this.tickService(s, now_ms, fx);
    return fx;
  }

  /** A service asked the box to fence itself (it could not stop its resources in time). */
  selfFence(reason: string): SupervisorEffect[] {
    const fx: SupervisorEffect[] = [];
    this.stopFeeding(`self-fence: ${reason}`, fx);
    return fx;
  }

  /** The operator restarts the services: each stops cleanly (TERM) and is started again. */
  restartAll(): SupervisorEffect[] {
    const fx: SupervisorEffect[] = [];
    for (const s of this.services.values()) {
      if (s.pid === null || s.phase === "stopping") continue;
      s.requested = true;
      s.phase = "stopping";
      fx.push({ kind: "log", level: "info", message: `restarting ${s.spec.name} as the operator asked` });
      fx.push({ kind: "kill", service: s.spec.name, pid: s.pid, signal: "SIGTERM" });
    }
    return fx;
  }

  /** A clean stop: TERM every service; the caller disarms the watchdog once "exit" comes out. */
  stop(): SupervisorEffect[] {
    const fx: SupervisorEffect[] = [];
    this.stopping = true;
    for (const s of this.services.values()) {
      if (s.pid !== null) {
        s.phase = "stopping";
        fx.push({ kind: "kill", service: s.spec.name, pid: s.pid, signal: "SIGTERM" });
      } else s.phase = "stopped";
    }
    if ([...this.services.values()].every((x) => x.pid === null)) fx.push({ kind: "exit", code: 0 });
    return fx;
  }

  tick(now_ms: number): SupervisorEffect[] {
    const fx: SupervisorEffect[] = [];
    if (this.stopping) return fx;
    for (const s of this.services.values()) this.tickService(s, now_ms, fx);
    if (this.feeding && now_ms >= this.nextKeepalive_ms && this.allCriticalHealthy(now_ms)) {
      this.nextKeepalive_ms = now_ms + this.keepaliveEvery_ms;
      fx.push({ kind: "keepalive" });
    }
    return fx;
  }

  get feedingWatchdog(): boolean {
    return this.feeding;
  }

  get feedStopped(): string {
    return this.feedStoppedReason;
  }

  status(now_ms: number): ServiceStatus[] {
    return [...this.services.values()].map((s) => ({
      name: s.spec.name,
      pid: s.pid,
      phase: s.phase,
      restarts: s.restarts,
      critical: s.spec.critical,
      last_heartbeat_ms_ago: s.lastHeartbeat_ms === null ? null : Math.round(now_ms - s.lastHeartbeat_ms),
      heartbeat_interval_ms: s.interval_ms,
      last_exit: s.lastExit,
    }));
  }

  private allCriticalHealthy(now_ms: number): boolean {
    for (const s of this.services.values()) {
      if (!s.spec.critical) continue;
      if (s.phase !== "running" || s.lastHeartbeat_ms === null) return false;
      if (now_ms - s.lastHeartbeat_ms > s.interval_ms * s.spec.missedHeartbeats) return false;
    }
    return true;
  }

  private tickService(s: ServiceState, now_ms: number, fx: SupervisorEffect[]): void {
    if (s.phase === "backoff" && now_ms >= s.nextStart_ms) {
      s.restarts += 1;
      s.recent.push(now_ms);
      fx.push({ kind: "log", level: "warn", message: `restarting ${s.spec.name} (restart ${s.restarts})` });
      this.spawn(s, now_ms, fx);
      return;
    }
    if (s.pid === null) return;
    if (s.phase === "starting" && now_ms - s.spawnedAt_ms > s.spec.startGrace_ms) {
      fx.push({ kind: "log", level: "warn", message: `${s.spec.name} (pid ${s.pid}) did not register within ${s.spec.startGrace_ms} ms: killing it` });
      fx.push({ kind: "kill", service: s.spec.name, pid: s.pid, signal: "SIGKILL" });
      s.phase = "stopping";
      return;
    }
    if (s.phase === "running" && s.lastHeartbeat_ms !== null) {
      const silent = now_ms - s.lastHeartbeat_ms;
      if (silent > s.interval_ms * s.spec.missedHeartbeats) {
        // A hang, not a crash: the process is there but its loop does not run. Kill it hard;
        // the exit event then restarts it like any other failure.
        fx.push({ kind: "log", level: "warn", message: `${s.spec.name} (pid ${s.pid}) hung: no heartbeat for ${Math.round(silent)} ms; killing it` });
        fx.push({ kind: "kill", service: s.spec.name, pid: s.pid, signal: "SIGKILL" });
        s.phase = "stopping";
      }
    }
  }

  private spawn(s: ServiceState, now_ms: number, fx: SupervisorEffect[]): void {
    s.phase = "starting";
    s.spawnedAt_ms = now_ms;
    s.lastHeartbeat_ms = null;
    fx.push({ kind: "spawn", service: s.spec.name });
  }

  private stopFeeding(reason: string, fx: SupervisorEffect[]): void {
    if (!this.feeding) return;
    this.feeding = false;
    this.feedStoppedReason = reason;
    fx.push({ kind: "stop-feeding", reason });
    fx.push({ kind: "log", level: "error", message: `no longer feeding the watchdog (${reason}): the box resets when it expires` });
  }
}
