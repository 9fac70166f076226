// A deterministic failover simulator for the resource manager: the real pure pieces the DC runs
// (cib.ts applyEntry, cib-input.ts nodeCondition/housekeeping/clusterInput/recordDigest,
// scheduler.ts schedule, executor/core.ts ExecutorCore, executor/adapter.ts expectedRc/judge)
// driven the way services/node/crm-controller.ts and local-executor.ts drive them, against a
// model world that knows what each machine REALLY runs, independently of what the CIB believes.
//
// Why a separate "real" world: every safety property that matters to an operator ("the volume is
// never mounted twice") is about the machines, not about the records. A bug that makes the CIB
// forget a running resource is only visible when the truth is kept apart from the records.
//
// Everything random comes from one seeded generator; time is virtual (one second per step), so a
// seed replays exactly. Nothing here reads a clock, a file or a socket.
import { type CibState, type Command, applyEntry, emptyState, encodeCommand } from "../../services/cib/cib.ts";
import { type ConfigDoc, type NodeCondition, type World, anonymousClonePrimitives, clusterInput, hasRecords, housekeeping, nodeCondition, recordDigest, resolvedPrimitives, runtimeConfig } from "../../services/crm/cib-input.ts";
import type { GraphAction } from "../../services/crm/graph.ts";
import { type ClusterConfig, type PrimitiveDef, isFalse } from "../../services/crm/model.ts";
import { schedule, transitionSummary } from "../../services/crm/scheduler.ts";
import { expectedRc, judge, primitiveId } from "../../services/executor/adapter.ts";
import { OCF_RC, type OpResult } from "../../services/executor/agents/types.ts";
import { type ExecutorEffect, ExecutorCore } from "../../services/executor/core.ts";
import { foreignPending } from "../../services/node/crm-controller.ts";
import { seededRandom } from "../../services/shared/random.ts";

export const HOSTS = ["host-a", "host-b"] as const;
export const ARB = "arb";
const ALL = [...HOSTS, ARB];
const BASE_MS = 1_700_000_000_000;

/** Primitives that are not clones: property (1) applies to them. */
export const SINGLE = ["vip", "vm", "web-ip", "web-app", "fs"] as const;
export const CLONED = "base-d";
export const PROMOTABLE = "drbd-r";
export const PROMOTED_MAX = 1;
/** Colocated with the promotable clone's Promoted role and ordered after its promote. */
export const ON_PRIMARY = "fs";

/** The operator-visible parts of the configuration the events change. */
interface DocState {
  gen: Record<string, number>;
  moves: Record<string, string>;
}

/** The YAML of docs/scheduler.md; `gen` parameters are what "change a parameter" bumps. */
export function yamlFor(gen: Record<string, number>): string {
  const g = (id: string): number => gen[id] ?? 0;
  const mon = (s: number): string => `operations: [{ name: monitor, interval: ${s}s, timeout: 20s }]`;
  return `
cluster:
  stonith: true
defaults:
  resource: { stickiness: 100, migration_threshold: 2 }
resources:
  - id: vip
    agent: hapd:marker
    params: { gen: "${g("vip")}" }
    ${mon(10)}
  - id: vm
    agent: hapd:marker
    allow_migrate: true
    params: { gen: "${g("vm")}" }
    ${mon(10)}
  - group: web
    members:
      - { id: web-ip, agent: hapd:marker, params: { gen: "${g("web-ip")}" }, ${mon(10)} }
      - { id: web-app, agent: hapd:marker, params: { gen: "${g("web-app")}" }, ${mon(10)} }
  - clone: base
    resource: { id: base-d, agent: hapd:marker, params: { gen: "${g("base-d")}" }, ${mon(10)} }
  - clone: drbd
    promotable: true
    clone_max: 2
    promoted_max: ${PROMOTED_MAX}
    resource:
      id: drbd-r
      agent: hapd:marker
      params: { gen: "${g("drbd-r")}" }
      operations:
        - { name: monitor, interval: 10s, timeout: 20s, role: Unpromoted }
        - { name: monitor, interval: 11s, timeout: 20s, role: Promoted }
  - id: fs
    agent: hapd:marker
    params: { gen: "${g("fs")}" }
    ${mon(10)}
constraints:
  - { location: vip-prefers-a, resource: vip, node: host-a, score: 50 }
  - { location: drbd-promote-a, resource: drbd, node: host-a, score: 10, role: Promoted }
  - { location: drbd-promote-b, resource: drbd, node: host-b, score: 5, role: Promoted }
  - { colocation: fs-on-primary, resource: fs, with: drbd, with_role: Promoted, score: INFINITY }
  - { order: promote-then-fs, first: drbd, first_action: promote, then: fs, then_action: start }
`;
}

export type Role = "Started" | "Promoted";

interface Host {
  name: string;
  powered: boolean;
  /** hapd running (killed → out of the view, but the machine and its resources go on). */
  hapd: boolean;
  links: boolean;
  /** The fencing service confirmed it powered off since it left the view. */
  fenced: boolean;
  /** Step at which the fencing service's power-off lands (null: none under way). */
  fenceAt: number | null;
  /**
   * A fencing asked by the resource manager while the host was a member (`request(..., {member:
   * true})`): the requesting node executes it (null: the view's executor fences a lost host).
   */
  fenceBy: string | null;
  /** How often the fencing service powered it off: a fence action is confirmed once it grows. */
  fenceCount: number;
  /** The DC is the target of its own fence action: it stops feeding its watchdog (next step). */
  selfFencing: boolean;
  /** Grows on every power-on (hapd start): call ids are incarnation * 1000 + n (local-executor.ts). */
  incarnation: number;
  /** Actions this node received, in order; one at a time per resource instance (LocalExecutor.run). */
  jobs: Job[];
  /** What the machine REALLY runs, by primitive (an anonymous clone runs once per host). */
  real: Map<string, Role>;
  /** Recurring monitors the node's executor runs, by primitive: what a death reports under. */
  monitors: Map<string, { instance: string; interval_ms: number; timeout_ms: number; expected: number }>;
  /** The last call id used; starts at incarnation * 1000 (local-executor.ts). */
  callId: number;
  standby: boolean;
  /**
   * Definitions of the primitives this node ran (local-executor.ts knownFile, on tmpfs: lost on a
   * power cycle): a resource removed from the configuration is stopped with the one it ran with.
   */
  known: Map<string, PrimitiveDef>;
}

/**
 * An action a node received. It runs whatever its DC has become since (a DC that moved on or
 * left does not call it back): an action nobody waits for any more is an "orphan".
 */
interface Job {
  action: GraphAction;
  /** The transition that waits for its answer (while it is the running one and still waits). */
  r: Running;
  /** Its pending record is committed and the agent runs (record-pending tasks only). */
  started: boolean;
}

interface Fence {
  /** In the view when the fencing was decided: the DC waits for the confirmation. */
  member: boolean;
  /** The target's fenceCount at dispatch. */
  count: number;
}

interface Running {
  tid: number;
  dc: string;
  /**
   * The Raft term of the DC that planned it: every action it sends carries it (CrmExec.term, or
   * r.term for the DC's own local actions) and so does the pending record the node commits.
   */
  term: number;
  core: ExecutorCore;
  inflight: Map<number, GraphAction>;
  fences: Map<number, Fence>;
  aborted: boolean;
}

/** Actions recorded as pending before they run (local-executor.ts RECORD_PENDING). */
const RECORD_PENDING: ReadonlySet<string> = new Set(["start", "stop", "promote", "demote", "migrate_to", "migrate_from"]);
/** Pacemaker's rc for an operation still in flight (PCMK_OCF_UNKNOWN). */
const PENDING_RC = 193;

export interface SimOptions {
  seed: number;
  /** Model steps with faults before the settle phase. */
  steps: number;
  /** The non-vacuity switch: treat "lost" as "left", i.e. recover without fencing first. */
  lostAsLeft?: boolean;
  /** Transitions allowed for convergence once faults stop. */
  settleTransitions?: number;
  /** Probability that an agent action fails (rc 1) when run. */
  failRate?: number;
  /** Probability that a stop fails (separately: a failed stop makes the node unclean). */
  stopFailRate?: number;
  /**
   * When a leadership move (without a partition) may happen: "any-time" (the default, faithful:
   * Raft may re-elect whenever), or "when-idle" (only while the DC is idle, nothing in flight
   * anywhere and nothing left to plan): kept for narrowing a failure down, not for the main run.
   */
  leadershipMoves?: "any-time" | "when-idle";
  /**
   * The runtime before bugs 5 and 6 were fixed, for proving the regression tests can fail (never
   * for the main run): "no-dc-term" commits pending records without the asking DC's term (an old
   * DC's action runs after a new DC planned); "plan-over-pending" plans over a member's pending
   * record of an earlier DC (a pending promote read as done).
   */
  oldRuntime?: ReadonlyArray<"no-dc-term" | "plan-over-pending">;
}

export interface SimResult {
  seed: number;
  violation: string | null;
  trace: string[];
  stats: SimStats;
}

export interface SimStats {
  transitions: number;
  events: number;
  actions: number;
  /** Power-offs by the fencing service. */
  fencings: number;
  /** Fence actions for a node still in the view (a failed stop there): asked with {member: true}. */
  memberFences: number;
  /** ... of which the DC itself was the target (it stopped feeding its watchdog). */
  selfFences: number;
  /** Member fence actions the DC saw confirmed (and recovered from: forget-node, action ok). */
  memberFencesConfirmed: number;
  /** Fence actions failed because the (non-member) target came back in the view unfenced. */
  fencesRefused: number;
  /** Actions a node received and ran after the DC that sent them stopped waiting for them. */
  orphansRun: number;
  /** Record-pending actions a node did not run because it could not commit the pending record. */
  notRunUncommitted: number;
  /** ... of which the CIB refused the pending record: asked by the DC of an older term. */
  refusedOldTerm: number;
  /** Plans a DC put off: a member still had a pending record of an earlier DC's action. */
  waitsForeignPending: number;
  /** clear_failcount actions the DC recorded. */
  failCountsCleared: number;
}

class Violation extends Error {}

export class FailoverSim {
  private readonly rnd: () => number;
  private readonly hosts = new Map<string, Host>();
  private cib: CibState = emptyState();
  private index = 0;
  private step = 0;
  private dc: string | null = "host-a";
  /** The Raft term of the current leadership: grows on every election (every leadership move). */
  private term = 1;
  private prevCondition = new Map<string, NodeCondition>();
  private running: Running | null = null;
  private dirty = true;
  /** Incarnations: any strictly growing number per host (the runtime uses ms timestamps). */
  private incarnations = 0;
  private tid = 0;
  private readonly doc: DocState = { gen: {}, moves: {} };
  private configCache: { version: number; config: ClusterConfig; prims: Map<string, PrimitiveDef>; anonymous: Set<string> } | null = null;
  private faults = true;
  private lastWaitNote = "";
  /** When each action was sent to its node, and when the promotable clone last died per host. */
  private readonly dispatchedAt = new WeakMap<GraphAction, number>();
  private readonly promotableDiedAt = new Map<string, number>();
  readonly trace: string[] = [];
  readonly stats: SimStats = { transitions: 0, events: 0, actions: 0, fencings: 0, memberFences: 0, selfFences: 0, memberFencesConfirmed: 0, fencesRefused: 0, orphansRun: 0, notRunUncommitted: 0, refusedOldTerm: 0, waitsForeignPending: 0, failCountsCleared: 0 };

  constructor(private readonly opts: SimOptions) {
    this.rnd = seededRandom(opts.seed ^ 0x5eed);
    for (const name of ALL) {
      const incarnation = ++this.incarnations;
      this.hosts.set(name, { name, powered: true, hapd: true, links: true, fenced: false, fenceAt: null, fenceBy: null, fenceCount: 0, selfFencing: false, incarnation, jobs: [], real: new Map(), monitors: new Map(), callId: incarnation * 1000, standby: false, known: new Map() });
    }
    this.pushConfig("initial configuration");
  }

  // ---- randomness ---------------------------------------------------------------------------

  private chance(p: number): boolean {
    return this.rnd() < p;
  }
  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
  private pick<T>(xs: readonly T[]): T {
    const x = xs[Math.floor(this.rnd() * xs.length)];
    if (x === undefined) throw new Error("pick from an empty list");
    return x;
  }

  private log(line: string): void {
    this.trace.push(`[${this.step}] ${line}`);
  }

  private host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  // ---- the world: membership, quorum, fencing -------------------------------------------------

  private inView(h: Host): boolean {
    return h.powered && h.hapd && h.links;
  }

  /** The partition with the arbitrator: the only one that can hold 2 of 3 votes. */
  private members(): string[] {
    return ALL.filter((n) => this.inView(this.host(n)));
  }

  private quorate(): boolean {
    return this.members().length >= 2;
  }

  /** The world as the DC's node sees it (services/node/runtime.ts world()). */
  world(): World {
    const members = new Set(this.members());
    return {
      quorate: this.quorate(),
      dc: this.dc,
      nodes: ALL.map((name) => {
        const h = this.host(name);
        let condition = nodeCondition({ member: members.has(name), fenced: h.fenced, leftCleanly: false, hasRecords: hasRecords(this.cib, name) });
        // The deliberately broken mapping: a lost node treated as clean, recovered without fencing.
        if (this.opts.lostAsLeft && condition === "lost") condition = "left";
        // Membership heartbeats carry a member's incarnation (runtime.ts world()).
        return condition === "member" ? { name, condition, incarnation: h.incarnation } : { name, condition };
      }),
    };
  }

  // ---- the CIB: only ever advanced by applyEntry of the runtime's commands ----------------------

  /** Propose and commit at once, in the current leader's term (applyEntry refuses what it must). */
  private propose(cmd: Command): { ok: boolean; reason: string } {
    this.index += 1;
    const out = applyEntry(this.cib, { index: this.index, term: this.term, data: encodeCommand(cmd) });
    this.cib = out.state;
    if (!out.result) return { ok: false, reason: "no result" };
    return out.result.ok ? { ok: true, reason: "" } : { ok: false, reason: out.result.reason };
  }

  private apply(cmd: Command): void {
    const r = this.propose(cmd);
    if (!r.ok) throw new Error(`the CIB refused ${cmd.kind}: ${r.reason}`);
  }

  private configDoc(): ConfigDoc {
    const d: ConfigDoc = { yaml: yamlFor(this.doc.gen) };
    if (Object.keys(this.doc.moves).length > 0) d.moves = { ...this.doc.moves };
    return d;
  }

  private pushConfig(why: string): void {
    this.apply({ kind: "config", version: this.cib.config.version + 1, doc: this.configDoc() });
    this.log(`config v${this.cib.config.version}: ${why}`);
  }

  private current(): { version: number; config: ClusterConfig; prims: Map<string, PrimitiveDef>; anonymous: Set<string> } {
    const version = this.cib.config.version;
    if (this.configCache?.version !== version) {
      const config = runtimeConfig(this.cib.config.doc as ConfigDoc, HOSTS, [ARB]);
      this.configCache = { version, config, prims: resolvedPrimitives(config), anonymous: anonymousClonePrimitives(config) };
    }
    return this.configCache;
  }

  private now_ms(): number {
    return BASE_MS + this.step * 1000;
  }

  // ---- the DC loop (crm-controller.ts) -------------------------------------------------------

  /** crm-controller.ts worldChanged: re-plan, and stop launching in the running transition. */
  private worldChanged(reason: string): void {
    this.dirty = true;
    const r = this.running;
    if (r && !r.aborted) {
      r.aborted = true;
      this.log(`transition ${r.tid} aborted: ${reason}`);
      this.handle(r, r.core.abort(reason));
    }
  }

  private handle(r: Running, effects: ExecutorEffect[]): void {
    for (const e of effects) {
      if (e.kind === "finished") {
        this.log(`transition ${r.tid} ${e.report.outcome}${e.report.reason ? `: ${e.report.reason}` : ""}`);
        if (this.running === r) this.running = null;
        this.dirty = true;
        continue;
      }
      const a = e.action;
      if (a.task === "do_shutdown") {
        this.handle(r, r.core.complete(a.id, { ok: true, reason: "" }));
        continue;
      }
      if (a.task === "clear_failcount") {
        // crm-controller.ts dispatch: a CIB-only action, the DC records the reset (no agent).
        if (a.resource === null || a.node === null) {
          this.handle(r, r.core.complete(a.id, { ok: false, reason: `${a.key}: no resource or node` }));
          continue;
        }
        const res = this.propose({ kind: "fail-count", node: a.node, resource: a.resource, action: "reset", at_ms: this.now_ms() });
        this.stats.failCountsCleared += 1;
        this.dirty = true; // crm-controller cibApplied: a fail-count change re-plans
        this.log(`#${a.id} ${a.key}: fail count of ${a.resource} on ${a.node} reset by ${r.dc}`);
        this.handle(r, r.core.complete(a.id, res));
        continue;
      }
      if (a.node === null) {
        this.handle(r, r.core.complete(a.id, { ok: false, reason: `${a.key}: no node` }));
        continue;
      }
      const h = this.host(a.node);
      r.inflight.set(a.id, a);
      this.dispatchedAt.set(a, this.step);
      if (a.task === "stonith") {
        this.dispatchFence(r, a, h);
        continue;
      }
      if (!this.inView(h)) {
        // crm-controller tick: a remote action of a node out of the view fails at once.
        r.inflight.delete(a.id);
        this.log(`#${a.id} ${a.key}: ${h.name} left the cluster before answering`);
        this.handle(r, r.core.complete(a.id, { ok: false, reason: `${h.name} left the cluster before answering` }));
        continue;
      }
      // Received (crm-exec is retransmitted until answered): the node runs it whatever happens to
      // the DC, when its turn comes in the queue of that resource instance.
      h.jobs.push({ action: a, r, started: false });
    }
  }

  /** crm-controller.ts dispatch of a stonith action. */
  private dispatchFence(r: Running, a: GraphAction, t: Host): void {
    const member = this.inView(t);
    r.fences.set(a.id, { member, count: t.fenceCount });
    if (!member) return; // a lost node: the fencing service fences it by itself (noteLeft)
    this.stats.memberFences += 1;
    if (t.name === this.dc) {
      // The DC cannot power itself off: it stops feeding its watchdog; the peers fence it when it leaves.
      this.stats.selfFences += 1;
      t.selfFencing = true;
      this.log(`#${a.id} ${a.key}: ${t.name} is the DC and a member: it self-fences`);
      return;
    }
    // fencing.request(target, reason, {member: true}): executed by the requesting node.
    if (t.fenceAt === null) {
      t.fenceAt = this.step + this.int(2, 25);
      t.fenceBy = this.dc;
    }
    this.log(`#${a.id} ${a.key}: ${t.name} is a member: ${this.dc ?? "?"} asks the fencing service ({member: true}), power-off at step ${t.fenceAt}`);
  }

  /** The DC went away or moved: what it had sent still runs on the nodes that received it. */
  private dropTransition(why: string): void {
    const r = this.running;
    if (!r) return;
    const left = this.jobsOf(r).length;
    this.log(`transition ${r.tid} dropped (${why}); ${left} action(s) left on the nodes`);
    this.running = null;
  }

  /** Jobs on the nodes sent by transition r. */
  private jobsOf(r: Running): Job[] {
    return ALL.flatMap((n) => this.host(n).jobs.filter((j) => j.r === r));
  }

  private electIfNeeded(): void {
    const members = this.members();
    if (this.dc !== null && members.includes(this.dc) && this.quorate()) return;
    if (this.running) this.dropTransition(`DC ${this.dc ?? "none"} lost its quorum or its place in the view`);
    const next = this.quorate() ? this.pick(members) : null;
    // A new election: a newer Raft term (even when the same node wins it again).
    if (next !== null) this.term += 1;
    if (next !== this.dc) this.log(`DC: ${this.dc ?? "none"} → ${next ?? "none"}${next !== null ? ` (term ${this.term})` : ""}`);
    this.dc = next;
    // A new DC starts with no memory of the previous conditions (crm-controller clears it off leader).
    this.prevCondition = new Map();
    this.dirty = true;
  }

  /**
   * crm-controller.ts plan(): housekeeping first, then schedule and run. canPlan (an entry of the
   * leader's own term committed, everything committed applied) always holds here: proposals commit
   * and apply at once, so a new DC plans from the whole committed state.
   */
  private plan(): void {
    const world = this.world();
    if (!world.quorate) return;
    const hk = housekeeping(this.cib, world, this.prevCondition);
    if (hk.length > 0) {
      for (const cmd of hk) {
        this.apply(cmd);
        this.log(`housekeeping: forget ${cmd.node} (keep fail counts: ${cmd.keep_fail_counts})`);
      }
      this.dirty = true; // plan again on the state that includes them
      return;
    }
    // crm-controller.ts plan: with nothing of its own running, every pending record is an earlier
    // DC's action; one on a member that may still run decides what is where: wait for its final
    // record (which re-plans). Pending records on non-members do not block (fenced first).
    const members = new Set(world.nodes.filter((n) => n.condition === "member").map((n) => n.name));
    const foreign = this.opts.oldRuntime?.includes("plan-over-pending") ? null : foreignPending(this.cib, members, this.now_ms());
    if (foreign !== null) {
      this.dirty = true;
      this.stats.waitsForeignPending += 1;
      if (this.lastWaitNote !== foreign) this.log(`${this.dc ?? "?"} waits for ${foreign} (asked by an earlier DC) before planning`);
      this.lastWaitNote = foreign;
      return;
    }
    this.lastWaitNote = "";
    this.dirty = false;
    const { config } = this.current();
    const t = schedule(clusterInput(this.cib, config, world), { now_s: Math.floor(this.now_ms() / 1000) });
    const real = t.graph.actions.filter((a) => !a.pseudo);
    if (real.length === 0) return;
    this.tid += 1;
    this.stats.transitions += 1;
    const core = new ExecutorCore(t.graph, { concurrency_max: 16, node_concurrency_max: 8, abort_on_failure: true });
    const r: Running = { tid: this.tid, dc: this.dc ?? "?", term: this.term, core, inflight: new Map(), fences: new Map(), aborted: false };
    this.running = r;
    this.log(`transition ${r.tid} by ${r.dc} (${world.nodes.map((n) => `${n.name}=${n.condition}`).join(" ")}): ${transitionSummary(t).map((l) => l.trim().replace(/\s+/g, " ")).join(" | ")}`);
    this.handle(r, core.start());
  }

  /** Does the DC still wait for this job's answer? */
  private listening(j: Job): boolean {
    return this.running === j.r && j.r.inflight.has(j.action.id) && this.dc === j.r.dc;
  }

  /** The queue a job waits in (LocalExecutor.run: primitiveOf(resource) || key). */
  private static queueKey(a: GraphAction): string {
    return primitiveId(a.resource ?? "") || a.key;
  }

  /** Jobs that may take their next step now: the first of each instance's queue on each host. */
  private heads(): Array<{ h: Host; j: Job }> {
    const out: Array<{ h: Host; j: Job }> = [];
    for (const n of ALL) {
      const h = this.host(n);
      if (!h.powered) continue;
      const seen = new Set<string>();
      for (const j of h.jobs) {
        const k = FailoverSim.queueKey(j.action);
        if (seen.has(k)) continue;
        seen.add(k);
        // A queued job starts only in a running hapd; an agent already running finishes anyway.
        if (j.started || h.hapd) out.push({ h, j });
      }
    }
    return out;
  }

  /** Can this node commit to the CIB (in the quorate view)? */
  private canCommit(h: Host): boolean {
    return this.inView(h) && this.quorate();
  }

  /** The next step of a job: commit its pending record and start the agent, or finish. */
  private progressJob(h: Host, j: Job): void {
    const a = j.action;
    const listening = this.listening(j);
    const tag = listening ? "" : "(orphan) ";
    if (!j.started && RECORD_PENDING.has(a.task)) {
      // Monitors must not report a stop (or a demotion) as a failure: cancelled first.
      if (a.task === "stop" || a.task === "demote" || a.task === "migrate_to") h.monitors.delete(primitiveId(a.resource ?? ""));
      const refused = this.canCommit(h) ? this.commitPending(h, a, j.r.term) : "no quorum";
      if (refused === null) {
        j.started = true;
        this.log(`  ${tag}${a.key} on ${h.name}: pending recorded (call ${h.callId}, term ${j.r.term}), agent runs`);
        return;
      }
      // A node that cannot commit the pending record runs nothing (no quorum, or the CIB refused
      // it: asked by the DC of an older term, a newer DC may have planned without it).
      h.jobs.splice(h.jobs.indexOf(j), 1);
      this.stats.notRunUncommitted += 1;
      if (refused !== "no quorum") this.stats.refusedOldTerm += 1;
      this.log(`  ${tag}${a.key} on ${h.name}: not run, the pending record cannot be committed (${refused})`);
      this.answer(j, { ok: false, reason: `${a.task} not run: ${refused}` });
      return;
    }
    h.jobs.splice(h.jobs.indexOf(j), 1);
    if (!listening) this.stats.orphansRun += 1;
    if (tag) this.log(`  (orphan) ${a.key} runs on ${h.name}`);
    const out = this.execute(h, a, this.canCommit(h));
    this.answer(j, out);
  }

  private answer(j: Job, out: { ok: boolean; reason: string }): void {
    if (!this.listening(j)) return;
    const r = j.r;
    r.inflight.delete(j.action.id);
    this.stats.actions += 1;
    this.handle(r, r.core.complete(j.action.id, out));
  }

  /** Commit the pending record (with the asking DC's term): null when committed, else why not. */
  private commitPending(h: Host, a: GraphAction, dcTerm: number): string | null {
    const { prims, anonymous } = this.current();
    const prim = primitiveId(a.resource ?? "");
    const instance = anonymous.has(prim) ? prim : (a.resource ?? "");
    const def = prims.get(prim);
    if (def) this.remember(h, prim, def);
    h.callId += 1;
    const pending: Extract<Command, { kind: "op-result" }>["result"] = {
      op: a.task,
      interval_ms: 0,
      rc: PENDING_RC,
      expected_rc: expectedRc(a),
      call_id: h.callId,
      exec_time_ms: 0,
      at_ms: this.now_ms(),
      op_status: -1,
    };
    if (def) pending.digest = recordDigest(def, a.task, a.interval_ms, a.timeout_ms);
    const cmd: Command = { kind: "op-result", node: h.name, resource: instance, result: pending, dc_term: dcTerm };
    if (this.opts.oldRuntime?.includes("no-dc-term")) delete cmd.dc_term;
    const res = this.propose(cmd);
    if (!res.ok) return res.reason;
    this.dirty = true; // crm-controller cibApplied: an op-result with interval 0 only re-plans
    return null;
  }

  /** local-executor.ts remember: the definition a node ran a primitive with. */
  private remember(h: Host, prim: string, def: PrimitiveDef): void {
    h.known.set(prim, def);
  }

  /** A fence action the DC can complete now: confirmed, or (a non-member target) back in the view. */
  private fenceDecided(r: Running, a: GraphAction): boolean {
    const t = this.host(a.node ?? "");
    const f = r.fences.get(a.id);
    if (!f) return true;
    if (t.fenceCount > f.count || (!t.powered && t.fenced)) return true;
    return !f.member && this.inView(t);
  }

  private completeFence(r: Running, a: GraphAction): void {
    r.inflight.delete(a.id);
    this.stats.actions += 1;
    const t = this.host(a.node ?? "");
    const f = r.fences.get(a.id);
    r.fences.delete(a.id);
    if (t.fenceCount > (f?.count ?? 0) || (!t.powered && t.fenced)) {
      // crm-controller checkFence: confirmed → forget its records before anything is started elsewhere.
      this.apply({ kind: "forget-node", node: t.name, keep_fail_counts: false });
      if (f?.member) this.stats.memberFencesConfirmed += 1;
      this.log(`#${a.id} ${a.key}: ${t.name} confirmed fenced${f?.member ? " (fenced as a member)" : ""}`);
      this.handle(r, r.core.complete(a.id, { ok: true, reason: "" }));
    } else {
      this.stats.fencesRefused += 1;
      this.log(`#${a.id} ${a.key}: failed, ${t.name} is back in the cluster`);
      this.handle(r, r.core.complete(a.id, { ok: false, reason: `${t.name} is back in the cluster` }));
    }
  }

  // ---- a node's executor (local-executor.ts) and the REAL machine ------------------------------

  /** Run an agent action on a machine, change what it REALLY runs, record like local-executor.ts. */
  private execute(h: Host, a: GraphAction, recordable: boolean): { ok: boolean; reason: string } {
    const { prims, config, anonymous } = this.current();
    const prim = primitiveId(a.resource ?? "");
    // An anonymous clone's history is kept under the primitive id (local-executor.ts).
    const instance = anonymous.has(prim) ? prim : (a.resource ?? "");
    // An orphan (no longer configured) is stopped with the definition this node ran it with.
    const def = prims.get(prim) ?? h.known.get(prim);
    if (prims.has(prim)) this.remember(h, prim, prims.get(prim)!);
    if (a.task === "cancel") {
      const interval = Number(a.meta["interval"] ?? a.interval_ms);
      const task = a.meta["task"] ?? "monitor";
      const mon = h.monitors.get(prim);
      if (mon && mon.interval_ms === interval) h.monitors.delete(prim);
      if (recordable) this.apply({ kind: "op-delete", node: h.name, resource: instance, key: `${task}_${interval}` });
      return { ok: true, reason: "" };
    }
    if (!def) return { ok: false, reason: `${instance} is not in the configuration` };
    const cur = h.real.get(prim) ?? null;
    const probeRc = cur === null ? OCF_RC.NOT_RUNNING : cur === "Promoted" ? OCF_RC.RUNNING_PROMOTED : OCF_RC.SUCCESS;
    const failRate = a.task === "stop" ? (this.opts.stopFailRate ?? 0) : (this.opts.failRate ?? 0);
    const injected = this.faults && a.task !== "monitor" && this.chance(failRate);
    if (a.task === "stop" || a.task === "demote" || a.task === "migrate_to") h.monitors.delete(prim);
    let rc: number = OCF_RC.SUCCESS;
    if (injected) {
      rc = OCF_RC.ERR_GENERIC;
      this.log(`  injected failure: ${a.key} on ${h.name}`);
    } else {
      switch (a.task) {
        case "monitor":
          rc = probeRc;
          break;
        case "start":
          // A death of the promoted instance after the start was sent is a race no resource
          // manager can prevent (the monitor reports it, and the fs is recovered); not a violation.
          if (prim === ON_PRIMARY && h.real.get(PROMOTABLE) !== "Promoted" && (this.promotableDiedAt.get(h.name) ?? -1) < (this.dispatchedAt.get(a) ?? 0)) {
            throw new Violation(`property 3: ${ON_PRIMARY} starts on ${h.name} where ${PROMOTABLE} is ${h.real.get(PROMOTABLE) ?? "not running"}, not Promoted`);
          }
          if (h.name === ARB) throw new Violation(`property 4: ${a.key} runs on the arbitrator`);
          if (cur === null) h.real.set(prim, "Started");
          break;
        case "stop":
          h.real.delete(prim);
          break;
        case "promote":
          if (cur === null) rc = OCF_RC.NOT_RUNNING;
          else h.real.set(prim, "Promoted");
          break;
        case "demote":
          if (cur === null) rc = OCF_RC.NOT_RUNNING;
          else h.real.set(prim, "Started");
          break;
        case "migrate_to": {
          // A live migration moves the running instance during migrate_to; migrate_from checks it.
          const target = this.hosts.get(a.meta["migrate_target"] ?? "");
          if (cur === null) rc = OCF_RC.NOT_RUNNING;
          else if (!target || !target.powered || !target.hapd) rc = OCF_RC.ERR_GENERIC;
          else {
            if (prim === ON_PRIMARY && target.real.get(PROMOTABLE) !== "Promoted") throw new Violation(`property 3: ${ON_PRIMARY} migrates to ${target.name} where ${PROMOTABLE} is not Promoted`);
            if (target.name === ARB) throw new Violation(`property 4: ${a.key} migrates to the arbitrator`);
            h.real.delete(prim);
            target.real.set(prim, "Started");
          }
          break;
        }
        case "migrate_from":
          rc = cur === null ? OCF_RC.NOT_RUNNING : OCF_RC.SUCCESS;
          break;
        default:
          break;
      }
    }
    const code: OpResult["code"] = rc === OCF_RC.SUCCESS ? "success" : rc === OCF_RC.NOT_RUNNING ? "not-running" : rc === OCF_RC.RUNNING_PROMOTED ? "running-promoted" : "generic";
    const result: OpResult = { action: "monitor", exec: "done", rc, code, reason: "", stdout: "", stderr: "", output_truncated: false };
    const verdict = judge(a, result);
    const expected = expectedRc(a);
    const probe = a.task === "monitor" && a.interval_ms === 0;
    let fail: "increment" | "infinity" | undefined;
    if (!verdict.ok) {
      const harmlessProbe = probe && (rc === 0 || rc === 7 || rc === 8);
      const startFailureFatal = !isFalse(config.properties["start-failure-is-fatal"]);
      if (!harmlessProbe) fail = a.task === "stop" || (a.task === "start" && startFailureFatal) ? "infinity" : "increment";
    }
    if (verdict.ok && a.task === "monitor" && a.interval_ms > 0) h.monitors.set(prim, { instance, interval_ms: a.interval_ms, timeout_ms: a.timeout_ms, expected });
    if (recordable) {
      h.callId += 1;
      const rec: Extract<Command, { kind: "op-result" }>["result"] = {
        op: a.task,
        interval_ms: a.interval_ms,
        rc,
        expected_rc: expected,
        call_id: h.callId,
        exec_time_ms: 0,
        at_ms: this.now_ms(),
        op_status: 0,
        digest: recordDigest(def, a.task, a.interval_ms, a.timeout_ms),
      };
      if (!verdict.ok) rec.exit_reason = verdict.reason.slice(0, 500);
      const cmd: Command = { kind: "op-result", node: h.name, resource: instance, result: rec };
      if (fail) cmd.fail = fail;
      this.apply(cmd);
      this.dirty = true;
    }
    this.log(`  ${a.key} on ${h.name}: rc ${rc}${verdict.ok ? "" : ` (${verdict.reason}${fail ? `, fail ${fail}` : ""})`}${recordable ? "" : " [not recorded]"}`);
    return verdict;
  }

  // ---- the fencing service -------------------------------------------------------------------

  /** A host that left the quorate view is powered off by its peer after a delay. */
  private noteLeft(h: Host, why: string): void {
    this.log(`${h.name} leaves the view: ${why}`);
    if (h.fenceAt === null) h.fenceAt = this.step + this.int(2, 25);
    h.fenceBy = null; // lost now: the view's executor fences it (a member request becomes moot)
    // hapd is gone: what it had queued never starts (an agent already running may still finish).
    if (!h.hapd) h.jobs = h.jobs.filter((j) => j.started);
    this.failInflightOn(h);
    this.worldChanged(`${h.name} left`);
    this.electIfNeeded();
  }

  /** crm-controller tick: remote actions of a node out of the view fail (it may still run them). */
  private failInflightOn(h: Host): void {
    const r = this.running;
    if (r) {
      // crm-controller tick: remote actions of a node that left fail; the node may still run them.
      for (const a of [...r.inflight.values()]) {
        if (a.node !== h.name || a.task === "stonith") continue;
        if (this.running !== r || !r.inflight.has(a.id)) continue;
        r.inflight.delete(a.id);
        this.stats.actions += 1;
        this.log(`#${a.id} ${a.key}: ${h.name} left the cluster before answering`);
        this.handle(r, r.core.complete(a.id, { ok: false, reason: `${h.name} left the cluster before answering` }));
      }
    }
  }

  private powerOff(h: Host, by: string): void {
    h.powered = false;
    h.fenced = true;
    h.fenceAt = null;
    h.fenceBy = null;
    h.selfFencing = false;
    h.fenceCount += 1;
    h.real.clear();
    h.monitors.clear();
    h.jobs = [];
    this.stats.fencings += 1;
    this.log(`${h.name} powered off by ${by} (confirmed)`);
  }

  private powerOn(h: Host, why: string): void {
    const incarnation = ++this.incarnations;
    Object.assign(h, { powered: true, hapd: true, links: true, fenced: false, fenceAt: null, fenceBy: null, selfFencing: false, incarnation, callId: incarnation * 1000, jobs: [] });
    h.real.clear();
    h.monitors.clear();
    h.known.clear(); // tmpfs: a power cycle loses it
    this.log(`${h.name} ${why} (incarnation ${incarnation})`);
  }

  /** The DC that is its own fence target stops feeding its watchdog: it leaves the view. */
  private selfFences(): void {
    for (const name of HOSTS) {
      const h = this.host(name);
      if (!h.selfFencing || !h.powered) continue;
      h.selfFencing = false;
      if (!h.hapd) continue;
      h.hapd = false;
      this.noteLeft(h, "self-fence (stopped feeding its watchdog)");
    }
  }

  private fencingProgress(force: boolean): void {
    for (const name of HOSTS) {
      const h = this.host(name);
      if (h.fenceAt === null || !h.powered) continue;
      if (!this.quorate()) continue;
      if (h.fenceBy !== null) {
        // A member fenced at the resource manager's request: the requesting node executes it.
        // Only that node holds the request: if it left the view, the request is gone (a new DC
        // asks again when it schedules the fencing again).
        if (!this.inView(this.host(h.fenceBy))) {
          this.log(`the fencing of ${name} requested by ${h.fenceBy} is lost: ${h.fenceBy} left the view`);
          h.fenceAt = null;
          h.fenceBy = null;
          continue;
        }
      } else {
        // The peer does it over IPMI: it must be in the quorate view itself.
        const peer = this.host(name === "host-a" ? "host-b" : "host-a");
        if (!this.inView(peer)) continue;
      }
      if (!force && this.step < h.fenceAt) continue;
      const member = this.inView(h);
      this.powerOff(h, `the fencing service${h.fenceBy !== null ? ` (asked by ${h.fenceBy})` : ""}`);
      this.worldChanged(`${name} fenced`);
      // A member switched off leaves the view at once.
      if (member) this.failInflightOn(h);
      this.electIfNeeded();
    }
  }

  // ---- events --------------------------------------------------------------------------------

  private event(): void {
    this.stats.events += 1;
    const members = this.members();
    const hostsIn = HOSTS.filter((n) => members.includes(n));
    const choice = this.int(0, 10);
    switch (choice) {
      case 0:
      case 1: {
        // Kill hapd or cut the links of a host, only while its peer stays to form the quorate
        // side (with both hosts gone the arbitrator alone can neither plan nor fence).
        if (hostsIn.length < 2) return;
        const h = this.host(this.pick(hostsIn));
        if (choice === 0) h.hapd = false;
        else h.links = false;
        this.noteLeft(h, choice === 0 ? "hapd killed" : "links cut");
        return;
      }
      case 2: {
        const off = HOSTS.filter((n) => !this.host(n).powered);
        if (off.length === 0) return;
        const h = this.host(this.pick(off));
        this.powerOn(h, "powered back on and rejoins the view");
        this.worldChanged(`${h.name} joined`);
        this.electIfNeeded();
        return;
      }
      case 3:
      case 4: {
        // A running instance dies; only a monitored one is noticed (and killed, so the model
        // does not leave deaths nobody could see, which no resource manager can recover).
        const cands: Array<[Host, string]> = [];
        for (const n of hostsIn) for (const p of this.host(n).real.keys()) if (this.host(n).monitors.has(p)) cands.push([this.host(n), p]);
        if (cands.length === 0) return;
        const [h, p] = this.pick(cands);
        const mon = h.monitors.get(p)!;
        h.real.delete(p);
        h.monitors.delete(p);
        if (p === PROMOTABLE) this.promotableDiedAt.set(h.name, this.step);
        const def = this.current().prims.get(p);
        if (!def) return;
        h.callId += 1;
        this.apply({
          kind: "op-result",
          node: h.name,
          resource: mon.instance,
          fail: "increment",
          result: { op: "monitor", interval_ms: mon.interval_ms, rc: 7, expected_rc: mon.expected, call_id: h.callId, exec_time_ms: 0, at_ms: this.now_ms(), op_status: 0, digest: recordDigest(def, "monitor", mon.interval_ms, mon.timeout_ms), exit_reason: "not running" },
        });
        this.log(`${p} dies on ${h.name}; its monitor reports rc 7`);
        this.worldChanged(`${mon.instance} monitor on ${h.name} returned rc 7`);
        return;
      }
      case 5: {
        const h = this.host(this.pick(HOSTS));
        h.standby = !h.standby;
        this.apply({ kind: "node-flags", node: h.name, standby: h.standby });
        this.log(`${h.name} ${h.standby ? "standby" : "online"}`);
        this.worldChanged("node-flags");
        return;
      }
      case 6: {
        const rsc = this.pick(["vip", "vm", "web", "fs"]);
        if (this.doc.moves[rsc] !== undefined && this.chance(0.6)) delete this.doc.moves[rsc];
        else this.doc.moves[rsc] = this.pick(HOSTS);
        this.pushConfig(`move ${rsc} → ${this.doc.moves[rsc] ?? "(cleared)"}`);
        this.worldChanged("configuration");
        return;
      }
      case 7: {
        const p = this.pick([...SINGLE, CLONED, PROMOTABLE]);
        this.doc.gen[p] = (this.doc.gen[p] ?? 0) + 1;
        this.pushConfig(`parameter of ${p} changed`);
        this.worldChanged("configuration");
        return;
      }
      case 8: {
        // Leadership moves within the quorate side (a Raft re-election).
        const others = members.filter((m) => m !== this.dc);
        if (!this.quorate() || others.length === 0) return;
        if (this.opts.leadershipMoves === "when-idle" && (this.running !== null || ALL.some((n) => this.host(n).jobs.length > 0) || this.dirty)) return;
        const next = this.pick(others);
        this.dropTransition(`leadership moves to ${next}`);
        this.term += 1;
        this.log(`DC: ${this.dc ?? "none"} → ${next} (term ${this.term})`);
        this.dc = next;
        this.prevCondition = new Map();
        this.dirty = true;
        return;
      }
      default:
        return; // a quiet moment
    }
  }

  // ---- properties ----------------------------------------------------------------------------

  check(): void {
    for (const p of SINGLE) {
      const on = ALL.filter((n) => this.host(n).real.has(p));
      if (on.length > 1) throw new Violation(`property 1: ${p} REALLY runs on ${on.join(" and ")}`);
    }
    const promoted = ALL.filter((n) => this.host(n).real.get(PROMOTABLE) === "Promoted");
    if (promoted.length > PROMOTED_MAX) throw new Violation(`property 2: ${PROMOTABLE} REALLY promoted on ${promoted.join(" and ")}`);
    if (this.host(ARB).real.size > 0) throw new Violation(`property 4: the arbitrator REALLY runs ${[...this.host(ARB).real.keys()].join(", ")}`);
  }

  // ---- one step, the run ---------------------------------------------------------------------

  /** One model step: an event, a fencing landing, an orphan finishing, or the DC's next move. */
  private tick(eventRate: number): void {
    this.step += 1;
    this.selfFences();
    this.fencingProgress(false);
    this.electIfNeeded();
    if (this.faults && this.chance(eventRate)) {
      this.event();
      return;
    }
    const heads = this.heads();
    const orphans = heads.filter((x) => !this.listening(x.j));
    if (orphans.length > 0 && this.chance(0.3)) {
      const { h, j } = this.pick(orphans);
      this.progressJob(h, j);
      return;
    }
    const r = this.running;
    if (r) {
      const ready: Array<() => void> = [];
      for (const { h, j } of heads) if (this.listening(j)) ready.push(() => this.progressJob(h, j));
      for (const a of r.inflight.values()) if (a.task === "stonith" && this.fenceDecided(r, a)) ready.push(() => this.completeFence(r, a));
      if (ready.length > 0) this.pick(ready)();
      return;
    }
    if (this.dc !== null && this.dirty) this.plan();
  }

  private busy(): boolean {
    return ALL.some((n) => this.host(n).jobs.length > 0);
  }

  private settle(): void {
    this.faults = false;
    this.log("---- faults stop: heal everything ----");
    // Out-of-view hosts are fenced and powered back on; what nodes still run finishes in the loop.
    this.selfFences();
    this.fencingProgress(true);
    for (const name of HOSTS) {
      const h = this.host(name);
      // Without quorum nothing fences (both hosts lost or fenced): the operator switches it off.
      if (h.powered && !this.inView(h)) this.powerOff(h, "the operator (no quorate side could fence it)");
    }
    for (const name of HOSTS) {
      const h = this.host(name);
      if (!h.powered) {
        this.powerOn(h, "powered back on");
        this.worldChanged(`${name} joined`);
      }
      if (h.standby) {
        h.standby = false;
        this.apply({ kind: "node-flags", node: name, standby: false });
        this.log(`${name} online`);
        this.worldChanged("node-flags");
      }
    }
    this.electIfNeeded();
    // The operator's cleanup: failures injected earlier may have banned a resource from both
    // hosts (start-failure-is-fatal), which is correct behaviour, not a liveness bug.
    for (const rsc of Object.keys(this.cib.resources).sort()) this.apply({ kind: "cleanup", resource: rsc });
    this.log("cleanup of every resource");
    this.worldChanged("cleanup");
  }

  /** The CIB as the model holds it (for debugging a seed). */
  cibState(): CibState {
    return this.cib;
  }

  run(): SimResult {
    try {
      this.check();
      for (let i = 0; i < this.opts.steps; i++) {
        this.tick(0.08);
        this.check();
      }
      this.settle();
      this.check();
      const limit = this.opts.settleTransitions ?? 30;
      const startTid = this.stats.transitions;
      for (let guard = 0; ; guard++) {
        if (guard > 20_000) throw new Violation("liveness: the settle phase did not end (model stuck)");
        if (this.stats.transitions - startTid > limit) throw new Violation(`liveness: no empty graph within ${limit} transitions after faults stopped`);
        if (!this.running && !this.dirty && this.dc !== null && !this.busy()) break;
        this.tick(0);
        this.check();
      }
      this.log(`converged after ${this.stats.transitions - startTid} transition(s)`);
      this.checkLiveness();
      return { seed: this.opts.seed, violation: null, trace: this.trace, stats: this.stats };
    } catch (e) {
      if (!(e instanceof Violation)) throw e;
      this.log(`VIOLATION: ${e.message}`);
      return { seed: this.opts.seed, violation: e.message, trace: this.trace, stats: this.stats };
    }
  }

  private checkLiveness(): void {
    const where = (p: string): string[] => HOSTS.filter((n) => this.host(n).real.has(p));
    for (const p of SINGLE) if (where(p).length !== 1) throw new Violation(`liveness: ${p} REALLY runs on ${where(p).length} hosts after convergence`);
    for (const p of [CLONED, PROMOTABLE]) if (where(p).length !== HOSTS.length) throw new Violation(`liveness: clone ${p} REALLY runs on ${where(p).join(", ") || "no host"} after convergence`);
    const promoted = HOSTS.filter((n) => this.host(n).real.get(PROMOTABLE) === "Promoted");
    if (promoted.length !== 1) throw new Violation(`liveness: ${PROMOTABLE} REALLY promoted on ${promoted.length} hosts after convergence`);
    const fsOn = where(ON_PRIMARY)[0];
    if (fsOn !== promoted[0]) throw new Violation(`liveness: ${ON_PRIMARY} runs on ${fsOn ?? "nothing"}, the promoted ${PROMOTABLE} on ${promoted[0] ?? "nothing"}`);
  }
}

export function simulate(opts: SimOptions): SimResult {
  return new FailoverSim(opts).run();
}
