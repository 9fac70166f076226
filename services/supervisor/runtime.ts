// `hapd node`: the supervisor process. It spawns the node's services as children of the same
// binary, takes their registrations and heartbeats on a unix socket, restarts what dies or hangs,
// and is the only process that feeds the watchdog.
//
// Process model (decided by the memory budget: half of Corosync + Pacemaker's 218 MiB RSS): one
// small supervisor plus one "cluster" service that holds membership, quorum and fencing. A Bun
// process costs ~25 MiB before any code runs, so a process per service would not fit.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { type Server, type Socket, createServer } from "node:net";
import { join } from "node:path";
import type { Config } from "../shared/config.ts";
import { type Logger, createLogger } from "../shared/log.ts";
import { type ServiceSpec, SupervisorCore, type SupervisorEffect } from "./core.ts";
import { SUPERVISOR_ENV } from "./client.ts";
import { VOLUME_SERVICE_ENV } from "../replication/service-env.ts";
import { type SupervisorReport, type WatchdogReport, parseLine } from "./protocol.ts";
import type { WatchdogDriver } from "../watchdog/driver.ts";

export const SUPERVISOR_SOCKET = "supervisor.sock";
const TICK_MS = 100;

export function supervisorSocketPath(cfg: Config): string {
  return join(cfg.run_dir, SUPERVISOR_SOCKET);
}

export class Supervisor {
  private readonly log: Logger;
  private core!: SupervisorCore;
  private readonly children = new Map<string, ChildProcess>();
  private server: Server | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private watchdog: WatchdogDriver | null = null;
  private watchdogReport: WatchdogReport;
  private keepaliveInFlight = false;
  private lastKeepalive_ms: number | null = null;
  private done: ((code: number) => void) | null = null;

  constructor(
    private readonly cfg: Config,
    private readonly command: string[],
  ) {
    this.log = createLogger(cfg.node, cfg.log_file ? { file: cfg.log_file, stderr: true } : {});
    const choice = cfg.watchdog === null ? "not-configured" : cfg.watchdog.kind === "none" ? "none-by-choice" : "configured";
    this.watchdogReport = {
      driver: cfg.watchdog?.kind ?? "none",
      device: "",
      timeout_s: cfg.watchdog && cfg.watchdog.kind !== "none" ? cfg.watchdog.timeout_s : 0,
      armed: false,
      time_left_s: null,
      last_keepalive_ms_ago: null,
      warnings: [],
      error: choice === "not-configured" ? "no watchdog configured: this node will not run resources (configure one, or choose `watchdog: {kind: none}`)" : "",
      feeding: false,
      feed_stopped: "",
      choice,
      resources_allowed: choice === "none-by-choice",
    };
  }

  private now(): number {
    return performance.now();
  }

  async run(): Promise<number> {
    const s = this.cfg.supervisor;
    const specs: ServiceSpec[] = [
      {
        name: "cluster",
        critical: true,
        onExhausted: s.on_exhausted,
        maxRestarts: s.max_restarts,
        window_ms: s.window_ms,
        backoff_ms: { first: 200, max: 5000 },
        startGrace_ms: 10_000,
        missedHeartbeats: s.missed_heartbeats,
      },
    ];
    // Replicated volumes run in their own process: their data path (NBD, peer link, disk I/O)
    // must not delay the membership heartbeats, and a crash there must not take quorum with it.
    // Critical: a Primary whose volume service is gone serves no disk, so escalate like cluster.
    if ((this.cfg.volumes?.length ?? 0) > 0) specs.push({ ...specs[0]!, name: "volume" });
    const keepalive_ms = this.cfg.watchdog && this.cfg.watchdog.kind !== "none" ? Math.max(250, Math.min(1000, (this.cfg.watchdog.timeout_s * 1000) / 4)) : 1000;
    this.core = new SupervisorCore(specs, keepalive_ms);
    // Bad input fails before anything starts (and before the watchdog is armed).
    const { loadKeyFile } = await import("../shared/keyfile.ts");
    loadKeyFile(this.cfg.cluster.key_file);
    await this.openWatchdog();
    await this.listen();
    this.log.info("supervisor", `supervising ${specs.map((x) => x.name).join(", ")}; watchdog: ${this.describeWatchdog()}`);
    this.apply(this.core.start(this.now()));
    this.timer = setInterval(() => this.apply(this.core.tick(this.now())), TICK_MS);
    const stop = () => this.apply(this.core.stop());
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    return new Promise((resolve) => {
      this.done = resolve;
    });
  }

  private describeWatchdog(): string {
    const w = this.watchdogReport;
    if (w.choice === "none-by-choice") return "NONE by the operator's choice";
    if (w.error) return `NOT WORKING: ${w.error}`;
    return `${w.driver} ${w.device}, timeout ${w.timeout_s} s${w.warnings.length ? ` (${w.warnings.join("; ")})` : ""}`;
  }

  private async openWatchdog(): Promise<void> {
    const wcfg = this.cfg.watchdog;
    if (!wcfg || wcfg.kind === "none") return;
    // Directly, not through watchdog/index.ts: that also exports the zod schema.
    const { createWatchdog } = await import("../watchdog/factory.ts");
    const { describeFailure } = await import("../watchdog/describe-failure.ts");
    try {
      const driver = createWatchdog(wcfg, { log: (line) => this.log.info("watchdog", line) });
      this.watchdogReport.device = driver.device;
      await driver.open(wcfg.timeout_s);
      const info = await driver.info();
      this.watchdog = driver;
      Object.assign(this.watchdogReport, { armed: true, timeout_s: info.timeout_s, warnings: info.warnings, feeding: true, resources_allowed: true, error: "" });
      this.lastKeepalive_ms = this.now();
    } catch (e) {
      const why = describeFailure(e);
      this.watchdogReport.error = `${why}; this node will not run resources`;
      this.log.error("watchdog", `cannot arm the ${wcfg.kind} watchdog: ${why}`);
    }
  }

  private listen(): Promise<void> {
    mkdirSync(this.cfg.run_dir, { recursive: true, mode: 0o700 });
    const path = supervisorSocketPath(this.cfg);
    rmSync(path, { force: true });
    return new Promise((resolve, reject) => {
      const server = createServer((sock) => this.onClient(sock));
      server.on("error", reject);
      server.listen(path, () => {
        chmodSync(path, 0o600);
        this.server = server;
        resolve();
      });
    });
  }

  private onClient(sock: Socket): void {
    let buf = "";
    let service: { name: string; pid: number } | null = null;
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      buf += d;
      if (buf.length > 65_536) return sock.destroy();
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = parseLine(line);
        if (!m.ok) {
          sock.write(`${JSON.stringify({ error: m.error })}\n`);
          continue;
        }
        const now = this.now();
        switch (m.msg.t) {
          case "register":
            service = { name: m.msg.service, pid: m.msg.pid };
            this.apply(this.core.registered(m.msg.service, m.msg.pid, m.msg.interval_ms, now));
            break;
          case "hb":
            if (service) this.core.heartbeat(service.name, service.pid, now);
            break;
          case "self-fence":
            this.log.error("supervisor", `${service?.name ?? "a client"} asks for a self-fence: ${m.msg.reason}`);
            this.apply(this.core.selfFence(m.msg.reason));
            break;
          case "status":
            void this.report().then((r) => sock.write(`${JSON.stringify(r)}\n`));
            break;
          case "restart": {
            const fx = this.core.restartAll();
            this.apply(fx);
            const names = fx.flatMap((e) => (e.kind === "kill" ? [e.service] : []));
            sock.write(`${JSON.stringify({ ok: true, restarting: names })}\n`);
            break;
          }
        }
      }
    });
    sock.on("error", () => undefined);
  }

  async report(): Promise<SupervisorReport> {
    const now = this.now();
    const w = this.watchdogReport;
    w.last_keepalive_ms_ago = this.lastKeepalive_ms === null ? null : Math.round(now - this.lastKeepalive_ms);
    w.feeding = this.watchdog !== null && this.core.feedingWatchdog;
    w.feed_stopped = this.core.feedStopped;
    if (this.watchdog) {
      // A local device answers GETTIMELEFT for free; asking a BMC is a network round trip every
      // time status is polled (and ipmi_sim's reply lacks the countdown), so for IPMI the time
      // left is what remains of the timeout since the last keepalive the BMC acknowledged.
      w.time_left_s =
        this.watchdog.kind === "ipmi"
          ? this.lastKeepalive_ms === null
            ? null
            : Math.max(0, Math.round(w.timeout_s - (now - this.lastKeepalive_ms) / 1000))
          : await this.watchdog.timeLeft().catch(() => null);
    }
    return { pid: process.pid, services: this.core.status(now), watchdog: { ...w } };
  }

  private apply(effects: SupervisorEffect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case "spawn":
          this.spawnService(e.service);
          break;
        case "kill":
          try {
            process.kill(e.pid, e.signal);
          } catch {
            // already gone; its exit event follows
          }
          break;
        case "keepalive":
          this.keepalive();
          break;
        case "stop-feeding":
          this.log.error("watchdog", `feeding stopped: ${e.reason}`);
          break;
        case "exit":
          void this.shutdown(e.code);
          break;
        case "log":
          this.log[e.level]("supervisor", e.message);
          break;
      }
    }
  }

  private keepalive(): void {
    const w = this.watchdog;
    if (!w || this.keepaliveInFlight) return;
    this.keepaliveInFlight = true;
    w.keepalive().then(
      () => {
        this.keepaliveInFlight = false;
        this.lastKeepalive_ms = this.now();
        if (this.watchdogReport.error) {
          this.log.info("watchdog", "keepalive works again");
          this.watchdogReport.error = "";
        }
      },
      (e: Error) => {
        this.keepaliveInFlight = false;
        // A keepalive that fails is a driver failure, never a silent no-op: say it, keep trying.
        this.watchdogReport.error = `keepalive failed: ${e.message}`;
        this.log.error("watchdog", `keepalive failed: ${e.message}`);
      },
    );
  }

  private spawnService(name: string): void {
    const [cmd, ...args] = this.command;
    const child = spawn(cmd!, [...args, "service", name, "--config", this.cfg.file], {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, ...(name === "volume" ? VOLUME_SERVICE_ENV : {}), [SUPERVISOR_ENV]: supervisorSocketPath(this.cfg) },
    });
    this.children.set(name, child);
    const pid = child.pid ?? -1;
    this.core.spawned(name, pid, this.now());
    this.log.info("supervisor", `started ${name} (pid ${pid})`);
    child.once("exit", (code, signal) => {
      const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
      this.apply(this.core.exited(name, pid, how, this.now()));
    });
  }

  private async shutdown(code: number): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.watchdog) {
      const out = await this.watchdog.close({ disarm: true }).catch((e: Error) => ({ disarmed: false, warning: e.message }));
      if (out.disarmed) this.log.info("watchdog", "disarmed on a clean stop");
      else this.log.warn("watchdog", `could not disarm: ${out.warning ?? "unknown"}`);
    }
    this.server?.close();
    rmSync(supervisorSocketPath(this.cfg), { force: true });
    this.log.info("supervisor", "stopped cleanly");
    this.done?.(code);
  }
}
