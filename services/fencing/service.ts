// The fencing service's edge: it owns the fencing core, runs attempts against the BMCs, logs and
// persists every event, and gossips this node's events to its peers. The node runtime only feeds
// it views, ticks and what peers said.
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../shared/config.ts";
import type { Logger } from "../shared/log.ts";
import { type Clock, type FenceEvent, FencingCore, type FencingEffect, type TargetStatus } from "./core.ts";
import { encodeServiceMessage } from "./gossip.ts";
import { ipmiFenceOff } from "./ipmi-device.ts";

const HISTORY_FILE = "fence-history.jsonl";
/** Recent events are re-gossiped this often, so a node that missed one catches up. */
const REGOSSIP_MS = 2000;

export class FencingService {
  private readonly core: FencingCore;
  private lastGossip_ms = 0;

  constructor(
    private readonly cfg: Config,
    private readonly log: Logger,
    /** Put a service message on the links, to every peer. */
    private readonly broadcast: (payload: Uint8Array) => void,
  ) {
    // Every host is a target: level 1 its BMC when it has one; the watchdog level is added when
    // the host tells us (node-info) that its watchdog is armed.
    this.core = new FencingCore({
      self: cfg.node,
      nodeIds: new Map(cfg.nodes.map((n) => [n.name, n.id])),
      targets: cfg.nodes
        .filter((n) => n.role === "host")
        .map((n) => ({
          name: n.name,
          levels: n.bmc ? [[{ id: `ipmi:${n.bmc.address}:${n.bmc.port}`, kind: "ipmi" as const }]] : [],
          delay_ms: cfg.fencing.delay_ms[n.name] ?? 0,
        })),
      attemptsPerLevel: cfg.fencing.attempts_per_level,
      backoff_ms: { first: 500, max: 10_000 },
    });
  }

  private clock(): Clock {
    return { mono_ms: performance.now(), wall_ms: Date.now() };
  }

  onView(view: { id: number; members: string[] }, quorate: boolean): void {
    this.apply(this.core.onView(view, quorate, this.clock()));
  }

  tick(): void {
    this.apply(this.core.tick(this.clock()));
    if (performance.now() - this.lastGossip_ms > REGOSSIP_MS) this.gossip(this.core.recent(16));
  }

  onRemote(events: readonly FenceEvent[]): void {
    this.apply(this.core.onRemote(events));
  }

  onLeave(node: string): void {
    this.core.onLeave(node, this.clock());
  }

  request(node: string, reason: string, opts: { member?: boolean } = {}): void {
    this.apply(this.core.request(node, reason, this.clock(), opts));
  }

  isFenced(node: string): boolean {
    return this.core.isFenced(node);
  }

  isPending(node: string): boolean {
    return this.core.isPending(node);
  }

  setWatchdog(node: string, wait_ms: number | null): void {
    this.core.setWatchdog(node, wait_ms);
  }

  status(): { targets: TargetStatus[]; recent: FenceEvent[] } {
    return { targets: this.core.status(), recent: this.core.recent(5) };
  }

  history(): FenceEvent[] {
    return this.core.recent(FencingCore.HISTORY_MAX);
  }

  /** What an earlier run of this node recorded (when the service is not running). */
  static persistedHistory(stateDir: string): FenceEvent[] {
    try {
      return readFileSync(join(stateDir, HISTORY_FILE), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as FenceEvent);
    } catch {
      return [];
    }
  }

  private apply(effects: FencingEffect[]): void {
    const fresh: FenceEvent[] = [];
    for (const e of effects) {
      switch (e.kind) {
        case "run":
          this.runAttempt(e.attempt.attempt, e.attempt.target);
          break;
        case "event":
          this.record(e.event);
          if (e.event.executor === this.cfg.node) fresh.push(e.event);
          break;
        case "fenced":
          this.log.warn("fencing", `${e.target} is confirmed off: its resources may be recovered`);
          break;
      }
    }
    if (fresh.length > 0) this.gossip(fresh);
  }

  private runAttempt(attempt: string, target: string): void {
    const bmc = this.cfg.nodes.find((n) => n.name === target)?.bmc;
    if (!bmc) {
      this.apply(this.core.attemptDone(attempt, false, "no BMC configured", this.clock()));
      return;
    }
    const f = this.cfg.fencing;
    ipmiFenceOff({ ...bmc, power_timeout_ms: f.power_timeout_ms, attempt_timeout_ms: f.attempt_timeout_ms }).then(
      (detail) => this.apply(this.core.attemptDone(attempt, true, detail, this.clock())),
      (err: Error) => this.apply(this.core.attemptDone(attempt, false, err.message, this.clock())),
    );
  }

  private record(e: FenceEvent): void {
    const what =
      e.phase === "requested"
        ? `fencing ${e.target} (off): ${e.reason}`
        : e.phase === "attempt"
          ? `fencing ${e.target}: level ${e.level} ${e.device}`
          : e.phase === "done"
            ? `fencing ${e.target} ${e.result === "ok" ? "SUCCEEDED" : "failed"} via ${e.device ?? "?"}: ${e.detail ?? ""} (${e.duration_ms ?? 0} ms since the request)`
            : e.phase === "gave-up-level"
              ? `fencing ${e.target}: level ${e.level} exhausted (${e.detail}); trying the next level`
              : `fencing ${e.target} cancelled: ${e.detail ?? ""}`;
    const by = e.executor === this.cfg.node ? "" : ` [by ${e.executor}]`;
    (e.phase === "done" && e.result === "failed" ? this.log.warn : this.log.info)("fencing", `${what}${by}`);
    try {
      mkdirSync(this.cfg.state_dir, { recursive: true, mode: 0o700 });
      appendFileSync(join(this.cfg.state_dir, HISTORY_FILE), `${JSON.stringify(e)}\n`, { mode: 0o600 });
    } catch (err) {
      this.log.warn("fencing", `cannot persist fencing history: ${(err as Error).message}`);
    }
  }

  private gossip(events: FenceEvent[]): void {
    if (events.length === 0) return;
    this.lastGossip_ms = performance.now();
    this.broadcast(encodeServiceMessage({ svc: "fence", events }));
  }
}
