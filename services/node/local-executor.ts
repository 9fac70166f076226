// This node's hands: runs the resource actions the DC sends (or its own, when it is the DC) through
// the agents, records every result in the replicated CIB before saying it is done, and repeats
// recurring monitors. The DC completes an action only once the CIB holds its result, so the next
// plan never starts from a world that forgot what just happened.
//
// Recording rules (Pacemaker's controller does the same):
// - every result is an op-result entry keyed rsc_op_interval, with its call id (ordered within a
//   node by a counter that starts from the incarnation, so it grows across restarts), the
//   expected rc, the exec status and the parameter digest;
// - a failure counts (fail count +1) unless it is a probe that found the resource running or
//   stopped, or a stop that found it not running; a failed stop, and a failed start when
//   start-failure-is-fatal, set the count to INFINITY;
// - a cancelled recurring monitor's entry is deleted.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { type ApplyResult, type Command } from "../cib/cib.ts";
import { recordDigest } from "../crm/cib-input.ts";
import type { GraphAction } from "../crm/graph.ts";
import { type PrimitiveDef, parseDuration_ms } from "../crm/model.ts";
import { dispatchFor, expectedRc, judge, primitiveId } from "../executor/adapter.ts";
import { type AgentOptions, resolveAgent } from "../executor/agents/index.ts";
import { type Agent, type OpRequest, type OpResult, OCF_RC } from "../executor/agents/types.ts";
import { RecurringMonitors } from "../executor/recurring.ts";
import type { Logger } from "../shared/log.ts";

export interface ExecOutcome {
  ok: boolean;
  reason: string;
  /** CIB log index of the recorded result (0 when nothing was recorded). */
  index: number;
}

export interface PrimitiveTable {
  version: number;
  prims: ReadonlyMap<string, PrimitiveDef>;
  startFailureFatal: boolean;
  /** Primitives of anonymous clones (recorded under the primitive id, as Pacemaker does). */
  anonymous: ReadonlySet<string>;
}

export interface LocalExecutorDeps {
  node: string;
  /**
   * Where the definitions of resources run here are kept (tmpfs: they outlive a restart of the
   * service, not a reboot). A resource removed from the configuration is still stopped with the
   * agent and parameters it was started with, as Pacemaker stops an orphan.
   */
  knownFile?: string;
  incarnation: number;
  /** The configuration this node has applied (null before any). */
  primitives: () => PrimitiveTable | null;
  propose: (cmd: Command) => Promise<ApplyResult>;
  /** A command id to propose one command more than once (applied at most once). */
  newId?: () => { origin: string; seq: number };
  log: Logger;
  agents?: AgentOptions;
}

const EXEC_STATUS: Record<OpResult["exec"], number> = { done: 0, "timed-out": 2, error: 4, "not-installed": 7 };
/** Actions recorded as pending before they run (they change where a resource may be active). */
const RECORD_PENDING: ReadonlySet<string> = new Set(["start", "stop", "promote", "demote", "migrate_to", "migrate_from"]);
/** Pacemaker's rc for an operation still in flight (PCMK_OCF_UNKNOWN). */
const PENDING_RC = 193;
/** How long an action waits for this node to apply the configuration version the DC planned with. */
const CONFIG_WAIT_MS = 3000;

interface Active {
  primitive: string;
  /** Order of (last) start: stops on shutdown go in reverse. */
  since: number;
}


export class LocalExecutor {
  private callId: number;
  private readonly agents = new Map<string, Agent | string>();
  private readonly recurring = new RecurringMonitors();
  /** Per recurring key: what the graph expected (0, or 8 for a promoted monitor) and its spec. */
  private readonly recurringInfo = new Map<string, { expected: number; agent: Agent; prim: PrimitiveDef; timeout_ms: number }>();
  private readonly activeSet = new Map<string, Active>();
  private startSeq = 0;
  /** Requests seen from a DC (dc:term:tid:aid) → their outcome, so a retransmission runs nothing twice. */
  private readonly seen = new Map<string, Promise<ExecOutcome>>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private closed = false;

  /** Definitions of the primitives this node has run (see knownFile). */
  private readonly known = new Map<string, PrimitiveDef>();

  constructor(private readonly deps: LocalExecutorDeps) {
    if (deps.knownFile) {
      try {
        const raw = JSON.parse(readFileSync(deps.knownFile, "utf8")) as Record<string, PrimitiveDef>;
        for (const [id, def] of Object.entries(raw)) if (def && typeof def === "object" && def.kind === "primitive") this.known.set(id, def);
      } catch {
        // none yet, or unreadable: orphans are then known only once this run sees them
      }
    }
    // Incarnations are milliseconds since the epoch and grow across restarts; a thousand call ids
    // per millisecond of restart gap keeps ids growing, and 1.8e15 stays a safe integer.
    this.callId = deps.incarnation * 1000;
    // Recurring monitors are due at most this late; 100 ms is well inside any monitor interval.
    // Without monitors (the arbitrator, an idle host) the timer is not armed at all.
    this.timer = null;
  }

  /** Instances that may be active here (started and not known stopped). */
  active(): string[] {
    return [...this.activeSet.keys()].sort();
  }

  /** Run one action once per request id (a DC retransmits until it hears the outcome). */
  runOnce(requestId: string, a: GraphAction, configVersion: number, dcTerm: number): Promise<ExecOutcome> {
    const known = this.seen.get(requestId);
    if (known) return known;
    const p = this.run(a, configVersion, dcTerm);
    this.seen.set(requestId, p);
    if (this.seen.size > 1000) this.seen.delete(this.seen.keys().next().value!);
    return p;
  }

  /** Per instance, the tail of its operations: one operation at a time per resource, as Pacemaker's executor. */
  private readonly queues = new Map<string, Promise<unknown>>();

  /**
   * Run one action. Operations on one instance run one after the other: a probe sent by a new DC
   * while a start is still running answers after the start, with the truth.
   */
  /** `dcTerm`: the Raft term of the DC that asked (absent for this node's own stops). */
  run(a: GraphAction, configVersion: number, dcTerm?: number): Promise<ExecOutcome> {
    const key = primitiveId(a.resource ?? "") || a.key;
    const prev = this.queues.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.runNow(a, configVersion, dcTerm));
    const tail = next.catch(() => undefined);
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return next;
  }

  private async runNow(a: GraphAction, configVersion: number, dcTerm: number | undefined): Promise<ExecOutcome> {
    const table = await this.tableAtLeast(configVersion);
    if (!table) return { ok: false, reason: `configuration version ${configVersion} has not reached ${this.deps.node} within ${CONFIG_WAIT_MS} ms`, index: 0 };
    const d = dispatchFor(a, (id) => table.prims.get(id) ?? this.known.get(id));
    if (d.kind === "invalid") return { ok: false, reason: d.reason, index: 0 };
    if (d.kind === "cancel") {
      const resource = table.anonymous.has(primitiveId(d.resource)) ? primitiveId(d.resource) : d.resource;
      const key = `${resource}_${d.task}_${d.interval_ms}`;
      this.recurring.cancel(key);
      this.recurringInfo.delete(key);
      return this.record({ kind: "op-delete", node: this.deps.node, resource, key: `${d.task}_${d.interval_ms}` });
    }
    if (d.kind !== "agent") return { ok: false, reason: `${a.key}: ${d.kind} is not run by a node's executor`, index: 0 };
    // An anonymous clone's instances are interchangeable: history is kept under the primitive id
    // (the scheduler maps it to whichever instance number it assigns), as Pacemaker's executor does.
    if (table.anonymous.has(primitiveId(d.request.instance))) d.request = { ...d.request, instance: primitiveId(d.request.instance) };
    const agent = this.agentFor(d.spec.class, d.spec.provider, d.spec.type);
    if (typeof agent === "string") return this.finish(a, table, d.request, null, { action: d.request.action, exec: "not-installed", rc: OCF_RC.ERR_INSTALLED, code: "not-installed", reason: agent, stdout: "", stderr: "", output_truncated: false });
    const instance = d.request.instance;
    this.remember(primitiveId(instance), table.prims.get(primitiveId(instance)));
    if (a.task === "stop" || a.task === "demote" || a.task === "promote" || a.task === "migrate_to") {
      // Monitors must not report a stop, or a role change, as a failure: a monitor of the old role
      // would read the new role as "unexpected". The graph starts the new role's monitor after.
      const cancelled = this.recurring.cancelResource(instance);
      for (const k of cancelled) this.recurringInfo.delete(k);
      if (a.task === "promote" || a.task === "demote") {
        // Their records go too, as Pacemaker deletes a cancelled monitor's entry: a record of the
        // old role's monitor would otherwise be judged against the new role.
        for (const k of cancelled) {
          const r = await this.record({ kind: "op-delete", node: this.deps.node, resource: instance, key: k.slice(instance.length + 1) });
          if (!r.ok) this.deps.log.warn("crm", `${k}: could not delete its record: ${r.reason}`);
        }
      }
    }
    if (RECORD_PENDING.has(a.task)) {
      // Pacemaker's record-pending: the CIB says "start pending here" before the agent runs, so a
      // DC elected while it runs sees the resource as (possibly) active here and starts it nowhere
      // else. A node that cannot commit this (no quorum) does not run the action at all.
      const prim = table.prims.get(primitiveId(a.resource ?? instance));
      const pending: Extract<Command, { kind: "op-result" }>["result"] = {
        op: a.task,
        interval_ms: 0,
        rc: PENDING_RC,
        expected_rc: expectedRc(a),
        call_id: ++this.callId,
        exec_time_ms: 0,
        at_ms: Date.now(),
        op_status: -1,
      };
      if (prim) pending.digest = recordDigest(prim, a.task, a.interval_ms, a.timeout_ms);
      const cmd: Command = { kind: "op-result", node: this.deps.node, resource: instance, result: pending };
      if (dcTerm !== undefined) cmd.dc_term = dcTerm;
      const r = await this.record(cmd);
      if (!r.ok) return { ok: false, reason: `${a.task} ${instance} not run: ${r.reason}`, index: r.index };
    }
    if (a.task === "start" || a.task === "migrate_from") this.activeSet.set(instance, { primitive: primitiveId(instance), since: ++this.startSeq });
    const result = await agent.run(d.request);
    return this.finish(a, table, d.request, agent, result);
  }

  private remember(id: string, def: PrimitiveDef | undefined): void {
    if (!def || JSON.stringify(this.known.get(id)) === JSON.stringify(def)) return;
    this.known.set(id, def);
    if (!this.deps.knownFile) return;
    try {
      const tmp = `${this.deps.knownFile}.tmp`;
      writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.known)), { mode: 0o600 });
      renameSync(tmp, this.deps.knownFile);
    } catch (e) {
      this.deps.log.warn("crm", `cannot keep resource definitions in ${this.deps.knownFile}: ${(e as Error).message}`);
    }
  }

  private async finish(a: GraphAction, table: PrimitiveTable, req: OpRequest, agent: Agent | null, result: OpResult): Promise<ExecOutcome> {
    const instance = req.instance;
    const verdict = judge(a, result);
    const expected = expectedRc(a);
    const probe = a.task === "monitor" && a.interval_ms === 0;
    // What this result says about where the resource runs.
    if (result.exec === "done") {
      if ((a.task === "stop" || a.task === "migrate_to") && (result.rc === 0 || result.rc === OCF_RC.NOT_RUNNING)) this.activeSet.delete(instance);
      else if (a.task === "monitor" && result.rc === OCF_RC.NOT_RUNNING) this.activeSet.delete(instance);
      else if (probe && (result.rc === 0 || result.rc === OCF_RC.RUNNING_PROMOTED)) {
        if (!this.activeSet.has(instance)) this.activeSet.set(instance, { primitive: primitiveId(instance), since: ++this.startSeq });
      }
    }
    let fail: "increment" | "infinity" | undefined;
    if (!verdict.ok) {
      const harmlessProbe = probe && result.exec === "done" && (result.rc === 0 || result.rc === OCF_RC.NOT_RUNNING || result.rc === OCF_RC.RUNNING_PROMOTED);
      if (!harmlessProbe) fail = a.task === "stop" || (a.task === "start" && table.startFailureFatal) ? "infinity" : "increment";
    }
    const prim = table.prims.get(primitiveId(a.resource ?? instance)) ?? this.known.get(primitiveId(a.resource ?? instance));
    const rec = this.opRecord(a.task, a.interval_ms, result, expected, prim ? recordDigest(prim, a.task, a.interval_ms, a.timeout_ms) : undefined, verdict.reason);
    const logged = `${a.task}${a.interval_ms > 0 ? `(${a.interval_ms / 1000}s)` : ""} ${instance} on ${this.deps.node}`;
    if (verdict.ok) this.deps.log.info("crm", `${logged}: ok${probe ? ` (rc ${result.rc})` : ""}`);
    else this.deps.log.warn("crm", `${logged}: ${verdict.reason}`);
    const cmd: Command = { kind: "op-result", node: this.deps.node, resource: instance, result: rec };
    if (fail) cmd.fail = fail;
    const recorded = await this.recordFinal(cmd);
    if (!recorded.ok) return { ok: false, reason: `${verdict.ok ? "done" : verdict.reason}; ${recorded.reason}`, index: recorded.index };
    if (verdict.ok && a.task === "monitor" && a.interval_ms > 0 && agent && prim) {
      const key = `${instance}_monitor_${a.interval_ms}`;
      this.recurring.add({ key, resource: instance, request: req }, result.rc, performance.now());
      this.recurringInfo.set(key, { expected, agent, prim, timeout_ms: a.timeout_ms });
      this.armRecurring();
    }
    return { ok: verdict.ok, reason: verdict.reason, index: recorded.index };
  }

  private opRecord(op: string, interval_ms: number, result: OpResult, expected: number, digest: string | undefined, reason: string): Extract<Command, { kind: "op-result" }>["result"] {
    const rec: Extract<Command, { kind: "op-result" }>["result"] = {
      op: op === "meta-data" || op === "validate-all" ? "monitor" : op,
      interval_ms,
      rc: Math.max(0, Math.min(255, result.rc)),
      expected_rc: expected,
      call_id: ++this.callId,
      exec_time_ms: 0,
      at_ms: Date.now(),
      op_status: EXEC_STATUS[result.exec],
    };
    if (digest !== undefined) rec.digest = digest;
    if (reason !== "") rec.exit_reason = reason.slice(0, 500);
    return rec;
  }

  /**
   * A result must reach the CIB: until it does, the pending record says the action may still be
   * running and the DC waits for it. Retry through leader changes for up to a minute (the same
   * command id, so it applies once); a node that cannot commit for that long has lost quorum and
   * is being fenced or self-fenced anyway.
   */
  private async recordFinal(command: Command): Promise<ExecOutcome> {
    const deadline = performance.now() + 60_000;
    const cmd: Command = this.deps.newId ? { ...command, id: this.deps.newId() } : command;
    for (;;) {
      const r = await this.record(cmd);
      // Refused by the state machine is final; only "not committed" is worth another try.
      if (r.ok || r.index > 0 || this.closed || !this.deps.newId || performance.now() > deadline) return r;
      this.deps.log.warn("crm", `recording ${cmd.kind} for ${"resource" in cmd ? cmd.resource : "?"} again: ${r.reason}`);
      await new Promise((res) => setTimeout(res, 500));
    }
  }

  private async record(cmd: Command): Promise<ExecOutcome> {
    try {
      const r = await this.deps.propose(cmd);
      return r.ok ? { ok: true, reason: "", index: r.index } : { ok: false, reason: `the CIB refused the result: ${r.reason}`, index: r.index };
    } catch (e) {
      return { ok: false, reason: `the result could not be recorded: ${(e as Error).message}`, index: 0 };
    }
  }

  private agentFor(cls: string, provider: string | undefined, type: string): Agent | string {
    const key = `${cls}:${provider ?? ""}:${type}`;
    let agent = this.agents.get(key);
    if (agent === undefined) {
      const r = resolveAgent(provider === undefined ? { class: cls, type } : { class: cls, provider, type }, this.deps.agents);
      agent = r.ok ? r.agent : r.reason;
      this.agents.set(key, agent);
    }
    return agent;
  }

  private async tableAtLeast(version: number): Promise<PrimitiveTable | null> {
    const deadline = performance.now() + CONFIG_WAIT_MS;
    for (;;) {
      const t = this.deps.primitives();
      if (t && t.version >= version) return t;
      if (performance.now() > deadline || this.closed) return null;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Arm the 100 ms clock while any recurring monitor exists; disarm it when none is left. */
  private armRecurring(): void {
    if (this.closed) return;
    if (this.recurring.size > 0 && this.timer === null) this.timer = setInterval(() => this.tickRecurring(), 100);
    if (this.recurring.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private tickRecurring(): void {
    this.armRecurring();
    for (const e of this.recurring.tick(performance.now())) {
      if (e.kind !== "run") continue;
      const info = this.recurringInfo.get(e.op.key);
      if (!info) {
        this.recurring.cancel(e.op.key);
        continue;
      }
      void info.agent.run(e.op.request).then((result) => {
        const rc = result.exec === "done" ? result.rc : OCF_RC.ERR_GENERIC;
        for (const fx of this.recurring.completed(e.op.key, rc, performance.now())) {
          if (fx.kind !== "report") continue;
          const failed = rc !== info.expected;
          if (rc === OCF_RC.NOT_RUNNING) this.activeSet.delete(e.op.resource);
          const why = failed ? (result.reason !== "" ? result.reason : `monitor returned rc ${rc}, expected ${info.expected}`) : "";
          const rec = this.opRecord("monitor", e.op.request.interval_ms, result, info.expected, recordDigest(info.prim, "monitor", e.op.request.interval_ms, info.timeout_ms), why);
          if (failed) this.deps.log.warn("crm", `monitor(${e.op.request.interval_ms / 1000}s) ${e.op.resource} on ${this.deps.node}: ${why}`);
          else this.deps.log.info("crm", `monitor(${e.op.request.interval_ms / 1000}s) ${e.op.resource} on ${this.deps.node}: ok again`);
          const cmd: Command = { kind: "op-result", node: this.deps.node, resource: e.op.resource, result: rec };
          if (failed) cmd.fail = "increment";
          void this.record(cmd);
        }
      });
    }
  }

  /**
   * Stop everything this node may run, newest first (the reverse of start order keeps group
   * members' dependencies). Used on a clean stop and before a self-fence. True when every stop
   * succeeded: only then may the node say it left cleanly.
   */
  async stopAll(timeout_ms: number): Promise<boolean> {
    const table = this.deps.primitives();
    const list = [...this.activeSet.entries()].sort((x, y) => y[1].since - x[1].since);
    let ok = true;
    for (const [instance, act] of list) {
      const prim = table?.prims.get(act.primitive);
      if (!prim) {
        this.deps.log.error("crm", `cannot stop ${instance}: it is not in the configuration any more`);
        ok = false;
        continue;
      }
      const stopOp = prim.ops.find((o) => o.name === "stop" && o.interval_ms === 0);
      const t = stopOp?.timeout !== undefined ? (parseDuration_ms(stopOp.timeout) ?? Number.NaN) : Number.NaN;
      const a: GraphAction = {
        id: 0,
        key: `${instance}_stop_0`,
        task: "stop",
        resource: instance,
        node: this.deps.node,
        pseudo: false,
        interval_ms: 0,
        timeout_ms: Math.min(timeout_ms, Number.isFinite(t) && t > 0 ? t : 20_000),
        meta: {},
        inputs: [],
      };
      const r = await this.run(a, table?.version ?? 0);
      if (!r.ok && this.activeSet.has(instance)) ok = false;
    }
    return ok && this.activeSet.size === 0;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
  }
}
