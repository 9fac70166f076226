// The resource manager's loop on the designated coordinator (the CIB's Raft leader), and the
// node-side half that answers it. On the DC:
//
//   world or CIB changed → (abort the running transition) → when idle: housekeeping proposals
//   (forget fenced or rejoined nodes' histories) → schedule(config, status) → run the graph:
//   pseudo actions inside the executor core, fencing by waiting for the fencing service's
//   confirmation, every resource action on its node (locally, or by a crm-exec message retried
//   until the crm-result arrives) → each result is in the CIB before the action completes →
//   transition finished → schedule again, until the graph is empty.
//
// What aborts a transition (the plan was made for a world that no longer exists): a membership or
// quorum change, a node fenced, a new configuration, node flags or attributes, a cleanup, and a
// recurring monitor reporting a failure. The transition's own results do not abort it.
import type { ApplyResult, CibState, Command } from "../cib/cib.ts";
import { type ConfigDoc, type NodeCondition, type ResourceView, type World, anonymousClonePrimitives, clusterInput, housekeeping, isConfigDoc, resolvedPrimitives, resourceViews, runtimeConfig } from "../crm/cib-input.ts";
import type { GraphAction } from "../crm/graph.ts";
import { type ClusterConfig, isFalse } from "../crm/model.ts";
import { schedule, transitionSummary } from "../crm/scheduler.ts";
import { primitiveId } from "../executor/adapter.ts";
import { type ActionOutcome, type ExecutorEffect, ExecutorCore } from "../executor/core.ts";
import type { Logger } from "../shared/log.ts";
import { type CrmExec, type CrmResult, actionForWire, actionFromWire } from "./crm-messages.ts";
import type { LocalExecutor, PrimitiveTable } from "./local-executor.ts";

export interface CrmDeps {
  self: string;
  hosts: readonly string[];
  arbitrators: readonly string[];
  cib: () => CibState | null;
  appliedIndex: () => number;
  isLeader: () => boolean;
  /**
   * The leader has committed an entry of its own term and applied everything committed: every
   * result an earlier DC's actions recorded is in the state it plans from.
   */
  canPlan: () => boolean;
  term: () => number;
  /** Membership, quorum and fencing as this node sees them. */
  world: () => World;
  propose: (cmd: Command) => Promise<ApplyResult>;
  local: LocalExecutor;
  send: (node: string, m: CrmExec | CrmResult) => void;
  fencing: { isFenced(node: string): boolean; isPending(node: string): boolean; request(node: string, reason: string, opts?: { member?: boolean }): void } | null;
  /** The scheduler wants this node fenced (on-fail=fence, a failed stop here): stop feeding the watchdog. */
  selfFence: (reason: string) => void;
  log: Logger;
}

/** Retransmit an unanswered crm-exec this often (UDP; the node runs a request id once). */
const RESEND_MS = 1000;
/** Beyond an action's own timeout, how long the DC waits for its answer before failing it. */
const ANSWER_GRACE_MS = 5000;
/** Fencing that nothing confirms within this fails the action; the next plan asks again. */
const FENCE_WAIT_MS = 90_000;
/** Re-plan this often even when nothing changed: failure-timeout expiries, for one. */
const RECHECK_MS = 15_000;

interface Remote {
  aid: number;
  node: string;
  msg: CrmExec;
  sent_ms: number;
  deadline_ms: number;
  /** Result received; completing waits until the CIB here holds it. */
  result: CrmResult | null;
}

interface Fence {
  node: string;
  since_ms: number;
  asked: boolean;
  /** In the view when the fencing was decided (on-fail=fence, a failed stop): it must not "come back". */
  member: boolean;
}

interface Running {
  tid: number;
  term: number;
  core: ExecutorCore;
  remotes: Map<number, Remote>;
  fences: Map<number, Fence>;
  actions: number;
}

/** A pending record older than this is taken as Pacemaker takes it (the action may have happened). */
const FOREIGN_PENDING_MAX_MS = 120_000;

/**
 * The first operation recorded as pending (op_status -1) on a member that is recent enough to
 * still be running, as "start svc on host-a"; null when none. Called when this DC has nothing running, so
 * every pending record belongs to an earlier DC's transition.
 */
export function foreignPending(st: CibState, members: ReadonlySet<string>, now_ms: number): string | null {
  for (const rsc of Object.keys(st.resources).sort()) {
    for (const [node, on] of Object.entries(st.resources[rsc]!)) {
      // On a node out of the view the scheduler counts a pending action as done (it fences first).
      if (!members.has(node)) continue;
      for (const o of Object.values(on.ops)) {
        if (o.op_status === -1 && now_ms - o.at_ms < FOREIGN_PENDING_MAX_MS) return `${o.op} ${rsc} on ${node}`;
      }
    }
  }
  return null;
}

export class CrmController {
  private tid = 0;
  private running: Running | null = null;
  private dirty = true;
  private abortReason: string | null = null;
  private planning = false;
  private notBefore_ms = 0;
  private lastPlan_ms = 0;
  private lastOutcome = "";
  private warnings: string[] = [];
  private lastWaitNote = "";
  private cache: { version: number; config: ClusterConfig | null; table: PrimitiveTable | null; error: string | null } = { version: -1, config: null, table: null, error: null };
  private readonly prevCondition = new Map<string, NodeCondition>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(private readonly deps: CrmDeps) {
    this.schedule();
  }

  // ---- configuration, shared by both halves ------------------------------------------------

  /** The configuration the CIB holds, parsed once per version. */
  current(): { version: number; config: ClusterConfig | null; error: string | null } {
    const st = this.deps.cib();
    const version = st?.config.version ?? 0;
    if (version !== this.cache.version) {
      const doc = st?.config.doc;
      let config: ClusterConfig | null = null;
      let error: string | null = null;
      if (isConfigDoc(doc)) {
        try {
          config = runtimeConfig(doc, this.deps.hosts, this.deps.arbitrators);
        } catch (e) {
          error = (e as Error).message;
        }
      }
      const table: PrimitiveTable = config
        ? { version, prims: resolvedPrimitives(config), startFailureFatal: !isFalse(config.properties["start-failure-is-fatal"]), anonymous: anonymousClonePrimitives(config) }
        : { version, prims: new Map(), startFailureFatal: true, anonymous: new Set() };
      this.cache = { version, config, table, error };
    }
    return this.cache;
  }

  primitives(): PrimitiveTable | null {
    this.current();
    return this.cache.table;
  }

  configDoc(): ConfigDoc | null {
    const doc = this.deps.cib()?.config.doc;
    return isConfigDoc(doc) ? doc : null;
  }

  resources(): ResourceView[] {
    const st = this.deps.cib();
    const { config } = this.current();
    return st && config ? resourceViews(st, config) : [];
  }

  report(): { config_version: number; dc: boolean; transition: { state: "idle" | "running"; actions: number; last_outcome: string } | null; warnings: string[] } {
    const leader = this.deps.isLeader();
    const { version, error } = this.current();
    return {
      config_version: version,
      dc: leader,
      transition: leader ? { state: this.running ? "running" : "idle", actions: this.running?.actions ?? 0, last_outcome: this.lastOutcome } : null,
      warnings: error ? [`configuration not usable: ${error}`, ...this.warnings] : this.warnings,
    };
  }

  // ---- inputs ---------------------------------------------------------------------------------

  /** Something the plan depends on changed: re-plan, and stop the running transition first. */
  worldChanged(reason: string): void {
    this.dirty = true;
    this.kick();
    if (this.running && this.abortReason === null) {
      this.abortReason = reason;
      this.deps.log.info("crm", `transition ${this.running.tid} aborted: ${reason}`);
      this.handle(this.running, this.running.core.abort(reason));
    }
  }

  /** Every applied CIB command: which of them change the plan. */
  cibApplied(cmd: Command | null, result: ApplyResult | null): void {
    if (!cmd || !result?.ok) return;
    switch (cmd.kind) {
      case "config":
        this.worldChanged(`configuration version ${cmd.version}`);
        break;
      case "fail-count":
        // Only the DC resets fail counts (clear_failcount actions of its own transitions).
        this.dirty = true;
        break;
      case "node-flags":
      case "node-attr":
      case "cleanup":
        this.worldChanged(`${cmd.kind} ${"node" in cmd && cmd.node ? cmd.node : ""}`.trim());
        break;
      case "op-result":
        // A recurring monitor's change of result: the transition did not ask for it.
        if (cmd.result.interval_ms > 0 && !this.isOwnResult(cmd)) this.worldChanged(`${cmd.resource} monitor on ${cmd.node} returned rc ${cmd.result.rc}`);
        else {
          this.dirty = true;
          this.kick();
        }
        break;
      default:
        break;
    }
  }

  private isOwnResult(cmd: Extract<Command, { kind: "op-result" }>): boolean {
    if (!this.running) return false;
    // An anonymous clone's results are recorded under the primitive id ("vol0-r"), the graph
    // names the instance ("vol0-r:0"): compare without the instance number.
    const same = (resource: string | null) => resource !== null && (resource === cmd.resource || primitiveId(resource) === cmd.resource);
    for (const r of this.running.remotes.values()) if (r.node === cmd.node && same(r.msg.action.resource) && r.msg.action.interval_ms === cmd.result.interval_ms) return true;
    return this.running.core.graph.actions.some((a) => a.node === cmd.node && same(a.resource) && a.interval_ms === cmd.result.interval_ms && this.running!.core.state(a.id) === "running");
  }

  /** Any entry applied (a leader's no-op too): a DC waiting to be allowed to plan can go now. */
  committed(): void {
    if (this.dirty && !this.running) this.kick();
  }

  /** A node's answer to one of our requests. */
  onResult(m: CrmResult): void {
    const r = this.running;
    if (!r || m.dc !== this.deps.self || m.term !== r.term || m.tid !== r.tid) return;
    const remote = r.remotes.get(m.aid);
    if (!remote || remote.node !== m.node || remote.result) return;
    remote.result = m;
    this.completeAnswered(r);
  }

  /** A DC asks this node to run an action. */
  onExec(m: CrmExec): void {
    if (m.node !== this.deps.self) return;
    const requestId = `${m.dc}:${m.term}:${m.tid}:${m.aid}`;
    void this.deps.local.runOnce(requestId, actionFromWire(m.action, this.deps.self), m.config_version, m.term).then((o) => {
      this.deps.send(m.dc, { svc: "crm-result", dc: m.dc, term: m.term, tid: m.tid, aid: m.aid, node: this.deps.self, ok: o.ok, reason: o.reason.slice(0, 1000), index: o.index });
    });
  }

  // ---- the loop -------------------------------------------------------------------------------

  private kicked = false;

  /** Plan on the next turn of the event loop rather than at the next 50 ms tick. */
  private kick(): void {
    if (this.kicked) return;
    this.kicked = true;
    setTimeout(() => {
      this.kicked = false;
      this.tick();
    }, 0);
  }

  private tick(): void {
    const now = performance.now();
    const r = this.running;
    if (r) {
      if (!this.deps.isLeader()) this.worldChanged("this node is no longer the DC");
      this.completeAnswered(r);
      const members = new Set(this.deps.world().nodes.filter((n) => n.condition === "member").map((n) => n.name));
      for (const remote of [...r.remotes.values()]) {
        if (remote.result) continue;
        if (!members.has(remote.node)) this.complete(r, remote.aid, { ok: false, reason: `${remote.node} left the cluster before answering` });
        else if (now > remote.deadline_ms) this.complete(r, remote.aid, { ok: false, reason: `${remote.node} did not answer within ${Math.round(remote.deadline_ms - remote.sent_ms)} ms` });
        else if (now - remote.sent_ms >= RESEND_MS) {
          this.deps.send(remote.node, remote.msg);
          remote.sent_ms = now;
        }
      }
      for (const [aid, f] of [...r.fences]) this.checkFence(r, aid, f, now);
      return;
    }
    if (!this.deps.isLeader()) {
      this.prevCondition.clear();
      return;
    }
    if (now - this.lastPlan_ms > RECHECK_MS) this.dirty = true;
    if (this.dirty && !this.planning && now >= this.notBefore_ms && this.deps.canPlan()) void this.plan();
  }

  private async plan(): Promise<void> {
    this.planning = true;
    try {
      const st = this.deps.cib();
      const world = this.deps.world();
      this.dirty = false;
      this.lastPlan_ms = performance.now();
      if (!st || !world.quorate) return;
      for (const cmd of housekeeping(st, world, this.prevCondition)) {
        const r = await this.deps.propose(cmd).catch((e: Error) => ({ ok: false as const, index: 0, reason: e.message }));
        if (!r.ok) this.deps.log.warn("crm", `${cmd.kind} ${"node" in cmd ? cmd.node : ""}: ${r.reason}`);
        this.dirty = true; // plan again on the state that includes it
      }
      if (this.dirty || !this.deps.isLeader()) return;
      const foreign = foreignPending(st, new Set(world.nodes.filter((n) => n.condition === "member").map((n) => n.name)), Date.now());
      if (foreign) {
        // An action an earlier DC asked for is still running: its result decides what is where
        // (a pending promote is not yet a promotion). Its final record re-plans.
        this.dirty = true;
        this.notBefore_ms = performance.now() + 100;
        setTimeout(() => this.kick(), 100);
        if (this.lastWaitNote !== foreign) this.deps.log.info("crm", `waiting for ${foreign} (asked by an earlier DC) before planning`);
        this.lastWaitNote = foreign;
        return;
      }
      this.lastWaitNote = "";
      const { version, config, error } = this.current();
      if (!config) {
        if (error) this.warnings = [`configuration not usable: ${error}`];
        return;
      }
      const now_s = Math.floor(Date.now() / 1000);
      const t = schedule(clusterInput(st, config, world), { now_s });
      this.warnings = t.warnings.slice(0, 20);
      const real = t.graph.actions.filter((a) => !a.pseudo);
      if (real.length === 0) {
        // Pseudo-only graphs change nothing; nothing to run until the world changes.
        return;
      }
      this.tid += 1;
      const core = new ExecutorCore(t.graph, { concurrency_max: 16, node_concurrency_max: 8, abort_on_failure: true });
      const running: Running = { tid: this.tid, term: this.deps.term(), core, remotes: new Map(), fences: new Map(), actions: real.length };
      this.running = running;
      this.abortReason = null;
      const lines = transitionSummary(t);
      this.deps.log.info("crm", `transition ${running.tid} (config ${version}): ${real.length} actions`);
      for (const l of lines) this.deps.log.info("crm", `transition ${running.tid}: ${l.trim().replace(/\s+/g, " ")}`);
      this.handle(running, core.start());
      if (this.timer) clearTimeout(this.timer);
      this.schedule();
    } finally {
      this.planning = false;
    }
  }

  private handle(r: Running, effects: ExecutorEffect[]): void {
    for (const e of effects) {
      if (e.kind === "finished") {
        const rep = e.report;
        this.lastOutcome = rep.outcome === "complete" ? "complete" : `${rep.outcome}: ${rep.reason}`;
        this.deps.log.info("crm", `transition ${r.tid} ${rep.outcome}${rep.reason ? `: ${rep.reason}` : ""} (${rep.completed.length} done, ${rep.failed.length} failed, ${rep.skipped.length + rep.not_run.length} not run)`);
        if (this.running === r) this.running = null;
        this.dirty = true;
        this.kick();
        // After a failure, a short pause: the next plan reacts to the recorded failure, and a
        // flapping agent cannot spin the DC.
        if (rep.outcome !== "complete") {
          this.notBefore_ms = performance.now() + 200;
          setTimeout(() => this.kick(), 200);
        }
        continue;
      }
      this.dispatch(r, e.action);
    }
  }

  private dispatch(r: Running, a: GraphAction): void {
    if (a.task === "stonith") {
      if (a.node === null) return this.complete(r, a.id, { ok: false, reason: "fencing without a target" });
      this.deps.log.warn("crm", `fencing ${a.node} before recovering its resources: ${a.reason ?? ""}`);
      const member = this.deps.world().nodes.some((n) => n.name === a.node && n.condition === "member");
      const f: Fence = { node: a.node, since_ms: performance.now(), asked: false, member };
      r.fences.set(a.id, f);
      if (member) {
        // Still in the view: nobody fences it by itself. The DC cannot power itself off; it stops
        // feeding its watchdog and the peers fence it when it leaves.
        f.asked = true;
        if (a.node === this.deps.self) this.deps.selfFence(a.reason ?? "the resource manager fences this node");
        else this.deps.fencing?.request(a.node, a.reason ?? "the resource manager fences it", { member: true });
      }
      return this.checkFence(r, a.id, f, performance.now());
    }
    if (a.task === "do_shutdown") return this.complete(r, a.id, { ok: true, reason: "" });
    if (a.task === "clear_failcount") {
      // A CIB-only action (failures of a resource no longer configured): the DC records it.
      if (a.resource === null || a.node === null) return this.complete(r, a.id, { ok: false, reason: `${a.key}: no resource or node` });
      void this.deps
        .propose({ kind: "fail-count", node: a.node, resource: a.resource, action: "reset", at_ms: Date.now() })
        .catch((e: Error) => ({ ok: false as const, index: 0, reason: e.message }))
        .then((res) => this.complete(r, a.id, res.ok ? { ok: true, reason: "" } : { ok: false, reason: res.reason }));
      return;
    }
    if (a.node === null) return this.complete(r, a.id, { ok: false, reason: `${a.key}: no node` });
    const version = this.current().version;
    if (a.node === this.deps.self) {
      void this.deps.local.run(a, version, r.term).then((o) => this.waitApplied(r, a.id, o.index, { ok: o.ok, reason: o.reason }));
      return;
    }
    const msg: CrmExec = { svc: "crm-exec", dc: this.deps.self, term: r.term, tid: r.tid, aid: a.id, node: a.node, config_version: version, action: actionForWire(a) };
    const now = performance.now();
    r.remotes.set(a.id, { aid: a.id, node: a.node, msg, sent_ms: now, deadline_ms: now + (a.timeout_ms > 0 ? a.timeout_ms : 20_000) + ANSWER_GRACE_MS, result: null });
    this.deps.send(a.node, msg);
  }

  private checkFence(r: Running, aid: number, f: Fence, now: number): void {
    const fencing = this.deps.fencing;
    if (!fencing) return this.complete(r, aid, { ok: false, reason: "no fencing service on this node" });
    if (fencing.isFenced(f.node)) {
      r.fences.delete(aid);
      this.deps.log.info("crm", `${f.node} is confirmed fenced: its resources may be recovered`);
      // Nothing of it runs any more: forget its records before anything is started elsewhere.
      void this.deps
        .propose({ kind: "forget-node", node: f.node, keep_fail_counts: false })
        .catch((e: Error) => ({ ok: false as const, index: 0, reason: e.message }))
        .then((res) => this.complete(r, aid, res.ok ? { ok: true, reason: "" } : { ok: false, reason: `recording the fencing of ${f.node}: ${res.reason}` }));
      return;
    }
    const member = this.deps.world().nodes.some((n) => n.name === f.node && n.condition === "member");
    if (member && !f.member) {
      r.fences.delete(aid);
      return this.complete(r, aid, { ok: false, reason: `${f.node} is back in the cluster` });
    }
    // The fencing service fences a node lost from a quorate view by itself; if it has nothing
    // under way for this one (it was never seen in a view of ours), ask.
    if (!f.asked && !fencing.isPending(f.node) && now - f.since_ms > 1000) {
      f.asked = true;
      fencing.request(f.node, "the resource manager found it unclean");
    }
    if (now - f.since_ms > FENCE_WAIT_MS) {
      r.fences.delete(aid);
      this.complete(r, aid, { ok: false, reason: `fencing of ${f.node} not confirmed within ${FENCE_WAIT_MS / 1000} s` });
    }
  }

  private completeAnswered(r: Running): void {
    for (const remote of [...r.remotes.values()]) {
      if (!remote.result) continue;
      if (this.deps.appliedIndex() < remote.result.index) continue; // not yet in our CIB
      r.remotes.delete(remote.aid);
      this.complete(r, remote.aid, { ok: remote.result.ok, reason: remote.result.reason });
    }
  }

  private waitApplied(r: Running, aid: number, index: number, outcome: ActionOutcome): void {
    const check = (): void => {
      if (this.deps.appliedIndex() >= index || this.running !== r) this.complete(r, aid, outcome);
      else setTimeout(check, 10);
    };
    check();
  }

  private complete(r: Running, aid: number, outcome: ActionOutcome): void {
    r.remotes.delete(aid);
    if (r.core.report !== null || r.core.state(aid) !== "running") return;
    this.handle(r, r.core.complete(aid, outcome));
  }

  /**
   * The loop's own clock: every 50 ms while a transition runs (retransmissions, deadlines, the
   * fencing confirmation are on the failover's critical path), every 500 ms when idle (recheck
   * only; changes arrive through kick()), so an idle node stays idle.
   */
  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(
      () => {
        this.tick();
        this.schedule();
      },
      this.running ? 50 : 500,
    );
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
