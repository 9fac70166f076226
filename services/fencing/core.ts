// The fencing service of one node, as a state machine without I/O.
//
// When a host leaves the quorate view, every member of that view computes the same fencing
// request and the same executor (the lowest node id in the view), so a request is executed once
// cluster-wide without a lock. Only a quorate node ever fences: the side that lost the
// arbitrator's vote cannot shoot. The executor runs the target's topology levels in order
// (level 1: its BMC); an attempt succeeds only when the device confirmed the power is off. A
// failed or unreachable device is a failed attempt: retry with backoff, then the next level,
// and never a success. Every step is an event; events are gossiped so every node keeps the same
// history. If the executor dies mid-way, the view changes and the next executor picks the
// request up.

export interface Clock {
  mono_ms: number;
  wall_ms: number;
}

export interface DeviceSpec {
  /** e.g. "ipmi:10.70.0.101:623", "watchdog:host-a" */
  id: string;
  /**
   * ipmi: the adapter powers the target off and confirms it. watchdog: nothing to run; the target
   * is certainly self-fenced once `wait_ms` has passed since it left the view (the SBD rule), and
   * only targets known to have an armed watchdog get this level.
   */
  kind: "ipmi" | "watchdog";
  wait_ms?: number;
}

export interface TargetSpec {
  name: string;
  /** levels[0] is level 1; each level lists devices that must all confirm. */
  levels: DeviceSpec[][];
  /** Static delay before fencing this target (for clusters without an arbitrator). */
  delay_ms: number;
}

export interface FencingConfig {
  self: string;
  /** Nodes by name with their ids; the executor is the lowest id of the quorate view. */
  nodeIds: ReadonlyMap<string, number>;
  targets: readonly TargetSpec[];
  attemptsPerLevel: number;
  backoff_ms: { first: number; max: number };
}

export type Result = "ok" | "failed";

export interface FenceEvent {
  /** "<executor>:<request seq>:<step>", unique cluster-wide. */
  id: string;
  request: string;
  target: string;
  action: "off";
  reason: string;
  /** The node that saw the target leave and requested fencing (the executor, by construction). */
  requester: string;
  executor: string;
  phase: "requested" | "attempt" | "done" | "gave-up-level" | "cancelled";
  device?: string;
  level?: number;
  result?: Result;
  detail?: string;
  at_wall_ms: number;
  duration_ms?: number;
}

export interface Attempt {
  attempt: string;
  target: string;
  device: DeviceSpec;
  level: number;
}

export type FencingEffect =
  | { kind: "run"; attempt: Attempt }
  | { kind: "event"; event: FenceEvent }
  | { kind: "fenced"; target: string };

interface Pending {
  request: string;
  target: TargetSpec;
  reason: string;
  viewId: number;
  startedAt: Clock;
  level: number;
  attemptsAtLevel: number;
  nextAt_ms: number;
  running: string | null;
  /** Executor of record; another node may take over after a view change. */
  executor: string;
  /**
   * Asked by the resource manager for a node still in the view (on-fail=fence, a failed stop):
   * it is fenced although it is a member, and its presence does not cancel the request.
   */
  member?: true;
}

export interface TargetStatus {
  target: string;
  state: "pending" | "fencing" | "fenced" | "retrying";
  since_wall_ms: number;
  executor: string;
  level: number;
}

export class FencingCore {
  private readonly pending = new Map<string, Pending>();
  /** Targets confirmed off and not seen back since: recovery of their resources is safe. */
  private readonly fenced = new Map<string, number>();
  private readonly history: FenceEvent[] = [];
  private readonly seen = new Set<string>();
  private lastView: { id: number; members: string[]; quorate: boolean } = { id: 0, members: [], quorate: false };
  /**
   * Members of the last view in which this node held quorum. Compared with the next quorate view,
   * not just the previous view: a node may pass through a view without quorum (its own detection
   * a moment before the others'), and a host lost meanwhile must still be fenced.
   */
  private lastQuorateMembers: string[] = [];
  /**
   * Nodes that announced a clean stop (resources stopped), with when: leaving the view within
   * LEAVE_GRACE_MS after it is not a failure. The mark expires, so a node that restarted quickly
   * without ever leaving the view is fenced as usual the next time it vanishes without a word.
   */
  private readonly leftCleanly = new Map<string, number>();
  static readonly LEAVE_GRACE_MS = 10_000;
  private seq = 0;
  private readonly targets: Map<string, TargetSpec>;  // levels may change (setWatchdog)
  static readonly HISTORY_MAX = 500;

  constructor(private readonly cfg: FencingConfig) {
    this.targets = new Map(cfg.targets.map((t) => [t.name, t]));
  }

  // ---- inputs -------------------------------------------------------------------------------

  /** The membership view changed, or quorum did. */
  onView(view: { id: number; members: string[] }, quorate: boolean, now: Clock): FencingEffect[] {
    const fx: FencingEffect[] = [];
    const before = this.lastView.members;
    this.lastView = { id: view.id, members: [...view.members], quorate };
    for (const name of view.members) {
      // A node that left cleanly and is now back starts afresh; while it is still in the view
      // (between its announcement and its departure) the mark stays.
      if (!before.includes(name)) this.leftCleanly.delete(name);
      // A target back in the view was powered on again: it is no longer "fenced", and a request
      // still pending for it is moot.
      const p = this.pending.get(name);
      // With an attempt in flight the power-off may already have happened: the request is not
      // cancelled; its result decides (a target switched off leaves the view again at once).
      if (p?.running || p?.member) continue;
      this.fenced.delete(name);
      if (p) {
        this.pending.delete(name);
        this.emit(fx, this.event(p, "cancelled", now, { detail: "target rejoined the cluster before any attempt" }));
      }
    }
    if (!quorate) return fx; // the side without quorum never fences
    const lost = this.lastQuorateMembers.filter((m) => !view.members.includes(m));
    this.lastQuorateMembers = [...view.members];
    for (const name of lost) {
      const target = this.targets.get(name);
      if (!target || this.pending.has(name) || this.fenced.has(name)) continue;
      const announced = this.leftCleanly.get(name);
      this.leftCleanly.delete(name);
      if (announced !== undefined && now.mono_ms - announced <= FencingCore.LEAVE_GRACE_MS) continue;
      const executor = this.executorOf(view.members.filter((m) => m !== name));
      const request = `${executor}:${view.id}:${name}`;
      const p: Pending = {
        request,
        target,
        reason: "peer is no longer part of the cluster",
        viewId: view.id,
        startedAt: now,
        level: 0,
        attemptsAtLevel: 0,
        nextAt_ms: now.mono_ms + target.delay_ms,
        running: null,
        executor,
      };
      this.pending.set(name, p);
      if (executor === this.cfg.self) this.emit(fx, this.event(p, "requested", now, {}));
    }
    // A new view may change who executes what is still pending.
    for (const p of this.pending.values()) {
      // Never the target itself (it may be back in the view while an attempt is in flight).
      const executor = this.executorOf(view.members.filter((m) => m !== p.target.name));
      if (p.executor !== executor) {
        p.executor = executor;
        // An attempt already in flight here keeps running: its answer is still the truth.
        if (!p.running) p.nextAt_ms = now.mono_ms;
      }
    }
    return [...fx, ...this.tick(now)];
  }

  tick(now: Clock): FencingEffect[] {
    const fx: FencingEffect[] = [];
    if (!this.lastView.quorate) return fx;
    for (const p of this.pending.values()) {
      if (p.executor !== this.cfg.self || p.running || now.mono_ms < p.nextAt_ms) continue;
      if (this.lastView.members.includes(p.target.name) && !p.member) continue; // back in the view: no new attempt
      const devices = p.target.levels[p.level];
      if (!devices || devices.length === 0) continue;
      // Devices of one level must all confirm; they are tried one after the other.
      const device = devices[p.attemptsAtLevel % devices.length]!;
      if (device.kind === "watchdog") {
        // The SBD rule: no confirmation is possible, only the certainty of elapsed time.
        const ready = p.startedAt.mono_ms + (device.wait_ms ?? Infinity);
        if (now.mono_ms < ready) {
          if (p.attemptsAtLevel === 0) {
            p.attemptsAtLevel = 1;
            this.emit(fx, this.event(p, "attempt", now, { device: device.id, level: p.level + 1, detail: `waiting ${device.wait_ms} ms for the target's watchdog` }));
          }
          p.nextAt_ms = ready;
          continue;
        }
        this.pending.delete(p.target.name);
        this.fenced.set(p.target.name, now.wall_ms);
        this.emit(fx, this.event(p, "done", now, { result: "ok", device: device.id, level: p.level + 1, detail: `self-fenced: ${device.wait_ms} ms passed since it left (lease + stop timeout + 2 x watchdog timeout)`, duration_ms: Math.round(now.mono_ms - p.startedAt.mono_ms) }));
        fx.push({ kind: "fenced", target: p.target.name });
        continue;
      }
      this.seq += 1;
      const attempt = `${this.cfg.self}:${this.seq}`;
      p.running = attempt;
      this.emit(fx, this.event(p, "attempt", now, { device: device.id, level: p.level + 1 }));
      fx.push({ kind: "run", attempt: { attempt, target: p.target.name, device, level: p.level + 1 } });
    }
    return fx;
  }

  /** The device adapter finished an attempt. `ok` only for a confirmed power-off. */
  attemptDone(attempt: string, ok: boolean, detail: string, now: Clock): FencingEffect[] {
    const fx: FencingEffect[] = [];
    const p = [...this.pending.values()].find((x) => x.running === attempt);
    if (!p) return fx; // cancelled or taken over meanwhile
    p.running = null;
    const device = p.target.levels[p.level]?.[p.attemptsAtLevel % (p.target.levels[p.level]?.length ?? 1)]?.id;
    if (ok) {
      this.pending.delete(p.target.name);
      this.fenced.set(p.target.name, now.wall_ms);
      this.emit(fx, this.event(p, "done", now, { result: "ok", detail, level: p.level + 1, ...(device ? { device } : {}), duration_ms: Math.round(now.mono_ms - p.startedAt.mono_ms) }));
      fx.push({ kind: "fenced", target: p.target.name });
      return fx;
    }
    p.attemptsAtLevel += 1;
    const backoff = Math.min(this.cfg.backoff_ms.max, this.cfg.backoff_ms.first * 2 ** (p.attemptsAtLevel - 1));
    this.emit(fx, this.event(p, "done", now, { result: "failed", detail, level: p.level + 1, ...(device ? { device } : {}), duration_ms: Math.round(now.mono_ms - p.startedAt.mono_ms) }));
    if (p.attemptsAtLevel >= this.cfg.attemptsPerLevel) {
      this.emit(fx, this.event(p, "gave-up-level", now, { level: p.level + 1, detail: `${p.attemptsAtLevel} attempts failed` }));
      p.level = (p.level + 1) % p.target.levels.length; // after the last level, start over: never give up
      p.attemptsAtLevel = 0;
    }
    p.nextAt_ms = now.mono_ms + backoff;
    return fx;
  }

  /** Events gossiped by other nodes: history, and "fenced" learned from the executor. */
  onRemote(events: readonly FenceEvent[]): FencingEffect[] {
    const fx: FencingEffect[] = [];
    for (const e of events) {
      if (this.seen.has(e.id)) continue;
      this.record(e);
      fx.push({ kind: "event", event: e });
      if (e.phase === "done" && e.result === "ok" && this.pending.has(e.target)) {
        this.pending.delete(e.target);
        this.fenced.set(e.target, e.at_wall_ms);
        fx.push({ kind: "fenced", target: e.target });
      }
    }
    return fx;
  }

  /**
   * What a target's watchdog is, as it last said (node-info gossip): with an armed watchdog it gets
   * the self-fence level after its devices; without one, only a device can fence it.
   */
  setWatchdog(target: string, wait_ms: number | null): void {
    const t = this.targets.get(target);
    if (!t) return;
    const devices = t.levels.filter((l) => !l.some((d) => d.kind === "watchdog"));
    const levels = wait_ms === null ? devices : [...devices, [{ id: `watchdog:${target}`, kind: "watchdog" as const, wait_ms }]];
    this.targets.set(target, { ...t, levels });
    const p = this.pending.get(target);
    if (p) p.target = this.targets.get(target)!;
  }

  /** A peer announced that it stops cleanly. */
  onLeave(node: string, now: Clock): void {
    this.leftCleanly.set(node, now.mono_ms);
  }

  /**
   * The resource manager needs this node fenced (the scheduler found it unclean) and no request
   * exists: ask for it here, executed by this node. Nothing happens for a node in the view, one
   * already fenced or pending, or on a side without quorum.
   */
  request(name: string, reason: string, now: Clock, opts: { member?: boolean } = {}): FencingEffect[] {
    const target = this.targets.get(name);
    const inView = this.lastView.members.includes(name);
    if (!target || name === this.cfg.self || !this.lastView.quorate || (inView && !opts.member) || this.pending.has(name)) return [];
    // A member asked to be fenced again after an earlier fencing (it came back): a new request.
    if (this.fenced.has(name)) {
      if (!inView) return [];
      this.fenced.delete(name);
    }
    const fx: FencingEffect[] = [];
    const p: Pending = {
      request: `${this.cfg.self}:${this.lastView.id}:${name}:rm`,
      target,
      reason,
      viewId: this.lastView.id,
      startedAt: now,
      level: 0,
      attemptsAtLevel: 0,
      nextAt_ms: now.mono_ms,
      running: null,
      executor: this.cfg.self,
    };
    if (inView) p.member = true;
    this.pending.set(name, p);
    this.emit(fx, this.event(p, "requested", now, {}));
    return [...fx, ...this.tick(now)];
  }

  /** Is a request for this target under way anywhere this node knows of? */
  isPending(target: string): boolean {
    return this.pending.has(target);
  }


  // ---- queries ------------------------------------------------------------------------------

  /** Has this node been confirmed off since it left? The resource manager waits for this. */
  isFenced(target: string): boolean {
    return this.fenced.has(target);
  }

  recent(count = 32): FenceEvent[] {
    return this.history.slice(-count);
  }

  status(): TargetStatus[] {
    const out: TargetStatus[] = [];
    for (const p of this.pending.values()) {
      out.push({ target: p.target.name, state: p.running ? "fencing" : p.attemptsAtLevel > 0 ? "retrying" : "pending", since_wall_ms: p.startedAt.wall_ms, executor: p.executor, level: p.level + 1 });
    }
    for (const [t, at] of this.fenced) out.push({ target: t, state: "fenced", since_wall_ms: at, executor: "", level: 0 });
    return out;
  }

  // ---- internals ----------------------------------------------------------------------------

  private executorOf(members: readonly string[]): string {
    let best = members[0] ?? this.cfg.self;
    for (const m of members) if ((this.cfg.nodeIds.get(m) ?? 99) < (this.cfg.nodeIds.get(best) ?? 99)) best = m;
    return best;
  }

  private event(p: Pending, phase: FenceEvent["phase"], now: Clock, extra: Partial<FenceEvent>): FenceEvent {
    this.seq += 1;
    return {
      id: `${this.cfg.self}:${this.seq}:${now.wall_ms}`,
      request: p.request,
      target: p.target.name,
      action: "off",
      reason: p.reason,
      requester: p.executor,
      executor: this.cfg.self,
      phase,
      at_wall_ms: now.wall_ms,
      ...extra,
    };
  }

  private emit(fx: FencingEffect[], e: FenceEvent): void {
    this.record(e);
    fx.push({ kind: "event", event: e });
  }

  private record(e: FenceEvent): void {
    this.seen.add(e.id);
    this.history.push(e);
    if (this.history.length > FencingCore.HISTORY_MAX) this.history.splice(0, this.history.length - FencingCore.HISTORY_MAX);
    if (this.seen.size > FencingCore.HISTORY_MAX * 4) {
      this.seen.clear();
      for (const h of this.history) this.seen.add(h.id);
    }
  }
}
