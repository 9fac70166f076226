// The CIB state machine: the cluster configuration and status that every voter derives from the
// committed log. `applyEntry` is a pure function of (state, entry): no clock, no randomness, no
// iteration over anything unordered, so every node that applies the same entries holds the same
// state, byte for byte (`encodeSnapshot` is canonical). A snapshot is the whole state.
//
// What it holds today:
// - config: an opaque, versioned document. A writer names the version it creates, which must be
//   the current one + 1, so two operators who edited the same version cannot overwrite each other.
// - status: per node flags (standby, maintenance) and attributes; per resource and node the last
//   result of each operation, the last failure, and the fail count.
//
// Commands are JSON validated with zod; a command that fails validation or a precondition is
// applied as "rejected" with a reason on every node alike, never skipped differently by one.
import * as z from "zod";
import type { Entry } from "./messages.ts";

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const RESOURCE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const OP_NAME = /^[a-z][a-z_-]{0,31}$/;
/** Fail counts saturate here, as Pacemaker's INFINITY does. */
export const FAIL_COUNT_MAX = 1_000_000;
const SESSION_RECENT_MAX = 64;
const SESSIONS_MAX = 256;

export interface OpRecord {
  op: string;
  interval_ms: number;
  rc: number;
  expected_rc: number;
  call_id: number;
  exec_time_ms: number;
  /** Wall-clock time the executor recorded; carried in the command, never read here. */
  at_ms: number;
  exit_reason?: string;
  /** How the execution went, as Pacemaker's op-status: 0 done, 2 timed out, 4 error, 7 not installed. */
  op_status?: number;
  /** The parameter digest the operation ran with (a changed definition means a restart). */
  digest?: string;
}

export interface ResourceOnNode {
  fail_count: number;
  last_failure_ms: number | null;
  /** The failed operation that set last_failure_ms, for `hapd status`. */
  last_failure: OpRecord | null;
  /** Last result per operation key `${op}_${interval_ms}` (Pacemaker's lrm_rsc_op ids). */
  ops: Record<string, OpRecord>;
}

export interface NodeStatus {
  standby: boolean;
  maintenance: boolean;
  attributes: Record<string, string>;
}

/** Recent command ids per origin, so a command retried after a lost forward applies once. */
export interface Session {
  /** Every seq at or below this is treated as applied. */
  floor: number;
  recent: number[];
  /** Log index of the origin's last command, for evicting the least recently used origin. */
  last_index: number;
}

export interface CibState {
  config: { version: number; doc: unknown };
  nodes: Record<string, NodeStatus>;
  resources: Record<string, Record<string, ResourceOnNode>>;
  sessions: Record<string, Session>;
}

export function emptyState(): CibState {
  return { config: { version: 0, doc: null }, nodes: {}, resources: {}, sessions: {} };
}

// ---- commands -------------------------------------------------------------------------------

const nodeName = z.string().regex(NODE_NAME, "not a node name");
const resourceId = z.string().regex(RESOURCE_ID, "not a resource id");
const ms = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const commandId = z.object({ origin: nodeName, seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER) }).strict();
const opRecord = z
  .object({
    op: z.string().regex(OP_NAME, "not an operation name"),
    interval_ms: ms,
    rc: z.number().int().min(0).max(255),
    expected_rc: z.number().int().min(0).max(255),
    call_id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    exec_time_ms: ms,
    at_ms: ms,
    exit_reason: z.string().max(500).optional(),
    op_status: z.number().int().min(-1).max(10).optional(),
    digest: z.string().regex(/^[0-9a-f]{32}$/, "not an md5 digest").optional(),
  })
  .strict();

const command = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("config"), id: commandId.optional(), version: z.number().int().min(1), doc: z.unknown() }).strict(),
  z
    .object({
      kind: z.literal("op-result"),
      id: commandId.optional(),
      node: nodeName,
      resource: resourceId,
      result: opRecord,
      /** A failure that counts: add one to the fail count, or set it to INFINITY (a failed stop, or start-failure-is-fatal). */
      fail: z.enum(["increment", "infinity"]).optional(),
      /**
       * The Raft term of the DC that asked for this action. A pending record carries it: if it
       * commits in a newer term, a newer DC may already have planned without it, so it is refused
       * and the action does not run.
       */
      dc_term: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    })
    .strict(),
  /** A recurring operation was cancelled: its record goes, as Pacemaker deletes a cancelled monitor's entry. */
  z.object({ kind: z.literal("op-delete"), id: commandId.optional(), node: nodeName, resource: resourceId, key: z.string().max(200) }).strict(),
  /**
   * Forget what a node ran: it was fenced (nothing of it runs any more), or it rejoined and will be
   * probed afresh. Fail counts go too unless kept (a rejoin keeps them; a fencing does not).
   */
  z.object({ kind: z.literal("forget-node"), id: commandId.optional(), node: nodeName, keep_fail_counts: z.boolean() }).strict(),
  z.object({ kind: z.literal("fail-count"), id: commandId.optional(), node: nodeName, resource: resourceId, action: z.enum(["increment", "reset"]), at_ms: ms }).strict(),
  z.object({ kind: z.literal("cleanup"), id: commandId.optional(), resource: resourceId, node: nodeName.optional() }).strict(),
  z.object({ kind: z.literal("node-attr"), id: commandId.optional(), node: nodeName, name: resourceId, value: z.string().max(1024).nullable() }).strict(),
  z
    .object({ kind: z.literal("node-flags"), id: commandId.optional(), node: nodeName, standby: z.boolean().optional(), maintenance: z.boolean().optional() })
    .strict()
    .refine((c) => c.standby !== undefined || c.maintenance !== undefined, "sets neither standby nor maintenance"),
]);

export type Command = z.infer<typeof command>;

export type ApplyResult =
  | { ok: true; index: number; id?: { origin: string; seq: number }; duplicate?: true }
  | { ok: false; index: number; id?: { origin: string; seq: number }; reason: string };

/** Validate and serialise a command for propose(). Throws with the field named when invalid. */
export function encodeCommand(cmd: Command): string {
  const r = command.safeParse(cmd);
  if (!r.success) throw new TypeError(`invalid CIB command: ${issue(r.error)}`);
  return JSON.stringify(cmd);
}

export function decodeCommand(data: string): { ok: true; value: Command } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  const r = command.safeParse(raw);
  return r.success ? { ok: true, value: r.data } : { ok: false, error: issue(r.error) };
}

// ---- apply ----------------------------------------------------------------------------------

/** Apply one committed entry. The leader's no-ops (empty data) change nothing. */
export function applyEntry(state: CibState, entry: Entry): { state: CibState; result: ApplyResult | null } {
  if (entry.data === "") return { state, result: null };
  const decoded = decodeCommand(entry.data);
  if (!decoded.ok) return { state, result: { ok: false, index: entry.index, reason: `invalid command: ${decoded.error}` } };
  const cmd = decoded.value;
  const id = cmd.id;
  if (id && isDuplicate(state.sessions[id.origin], id.seq)) return { state, result: { ok: true, index: entry.index, id, duplicate: true } };
  const out =
    cmd.kind === "op-result" && cmd.dc_term !== undefined && entry.term > cmd.dc_term
      ? { state, reason: `asked by the DC of term ${cmd.dc_term}, recorded in term ${entry.term}: a newer DC may have planned without it` }
      : applyCommand(state, cmd);
  const next = id ? { ...out.state, sessions: remember(out.state.sessions, id, entry.index) } : out.state;
  const result: ApplyResult = out.reason === null ? { ok: true, index: entry.index } : { ok: false, index: entry.index, reason: out.reason };
  if (id) result.id = id;
  return { state: next, result };
}

function applyCommand(s: CibState, cmd: Command): { state: CibState; reason: string | null } {
  switch (cmd.kind) {
    case "config":
      if (cmd.version !== s.config.version + 1) {
        return { state: s, reason: `config version ${cmd.version} does not follow the current version ${s.config.version}: it changed since it was read; reload and retry` };
      }
      return { state: { ...s, config: { version: cmd.version, doc: cmd.doc ?? null } }, reason: null };
    case "op-result": {
      const r = resourceOn(s, cmd.resource, cmd.node);
      const rec = cmd.result;
      // A probe that finds the resource running or stopped learned something; it did not fail.
      const probeFinding = rec.op === "monitor" && rec.interval_ms === 0 && (rec.rc === 0 || rec.rc === 7 || rec.rc === 8);
      // A pending record (op_status -1) has no result yet.
      const failed = cmd.fail !== undefined || (rec.op_status !== -1 && rec.rc !== rec.expected_rc && !probeFinding);
      const next: ResourceOnNode = {
        ...r,
        ops: { ...r.ops, [`${rec.op}_${rec.interval_ms}`]: rec },
        last_failure: failed ? rec : r.last_failure,
      };
      if (cmd.fail !== undefined) {
        next.fail_count = cmd.fail === "infinity" ? FAIL_COUNT_MAX : Math.min(FAIL_COUNT_MAX, r.fail_count + 1);
        next.last_failure_ms = rec.at_ms;
      }
      return { state: withResource(s, cmd.resource, cmd.node, next), reason: null };
    }
    case "op-delete": {
      const perNode = own(s.resources, cmd.resource);
      const r = perNode ? own(perNode, cmd.node) : undefined;
      if (!r || !Object.hasOwn(r.ops, cmd.key)) return { state: s, reason: null };
      const ops = { ...r.ops };
      delete ops[cmd.key];
      return { state: withResource(s, cmd.resource, cmd.node, { ...r, ops }), reason: null };
    }
    case "forget-node": {
      const resources: CibState["resources"] = {};
      for (const id of Object.keys(s.resources).sort()) {
        const perNode = { ...s.resources[id]! };
        const r = own(perNode, cmd.node);
        if (r) {
          if (cmd.keep_fail_counts && r.fail_count > 0) perNode[cmd.node] = { ...r, ops: {} };
          else delete perNode[cmd.node];
        }
        if (Object.keys(perNode).length > 0) resources[id] = perNode;
      }
      // A fenced node's promotion scores go with it (Pacemaker erases its transient attributes):
      // it must not be chosen for promotion from what it was before it was switched off.
      const n = own(s.nodes, cmd.node);
      if (!cmd.keep_fail_counts && n && Object.keys(n.attributes).some((k) => k.startsWith("master-"))) {
        const attributes = Object.fromEntries(Object.entries(n.attributes).filter(([k]) => !k.startsWith("master-")));
        return { state: withNode({ ...s, resources }, cmd.node, { ...n, attributes }), reason: null };
      }
      return { state: { ...s, resources }, reason: null };
    }
    case "fail-count": {
      const r = resourceOn(s, cmd.resource, cmd.node);
      const next: ResourceOnNode =
        cmd.action === "increment"
          ? { ...r, fail_count: Math.min(FAIL_COUNT_MAX, r.fail_count + 1), last_failure_ms: cmd.at_ms }
          : { ...r, fail_count: 0, last_failure_ms: null, last_failure: null };
      return { state: withResource(s, cmd.resource, cmd.node, next), reason: null };
    }
    case "cleanup": {
      const perNode = own(s.resources, cmd.resource);
      if (!perNode) return { state: s, reason: null };
      const resources = { ...s.resources };
      if (cmd.node === undefined) delete resources[cmd.resource];
      else {
        const rest = { ...perNode };
        delete rest[cmd.node];
        if (Object.keys(rest).length === 0) delete resources[cmd.resource];
        else resources[cmd.resource] = rest;
      }
      return { state: { ...s, resources }, reason: null };
    }
    case "node-attr": {
      const n = nodeOf(s, cmd.node);
      const attributes = { ...n.attributes };
      if (cmd.value === null) delete attributes[cmd.name];
      else attributes[cmd.name] = cmd.value;
      return { state: withNode(s, cmd.node, { ...n, attributes }), reason: null };
    }
    case "node-flags": {
      const n = nodeOf(s, cmd.node);
      return { state: withNode(s, cmd.node, { ...n, standby: cmd.standby ?? n.standby, maintenance: cmd.maintenance ?? n.maintenance }), reason: null };
    }
  }
}

/** Own properties only: a resource called "constructor" must not find Object's. */
function own<T>(o: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

function resourceOn(s: CibState, resource: string, node: string): ResourceOnNode {
  return own(own(s.resources, resource) ?? {}, node) ?? { fail_count: 0, last_failure_ms: null, last_failure: null, ops: {} };
}

function withResource(s: CibState, resource: string, node: string, r: ResourceOnNode): CibState {
  return { ...s, resources: { ...s.resources, [resource]: { ...(own(s.resources, resource) ?? {}), [node]: r } } };
}

function nodeOf(s: CibState, node: string): NodeStatus {
  return own(s.nodes, node) ?? { standby: false, maintenance: false, attributes: {} };
}

function withNode(s: CibState, node: string, n: NodeStatus): CibState {
  return { ...s, nodes: { ...s.nodes, [node]: n } };
}

function isDuplicate(session: Session | undefined, seq: number): boolean {
  return session !== undefined && (seq <= session.floor || session.recent.includes(seq));
}

function remember(sessions: Record<string, Session>, id: { origin: string; seq: number }, index: number): Record<string, Session> {
  const cur = own(sessions, id.origin) ?? { floor: 0, recent: [], last_index: 0 };
  const recent = [...cur.recent, id.seq].sort((a, b) => a - b);
  let floor = cur.floor;
  while (recent.length > SESSION_RECENT_MAX) floor = Math.max(floor, recent.shift()!);
  const next = { ...sessions, [id.origin]: { floor, recent, last_index: index } };
  const origins = Object.keys(next);
  if (origins.length > SESSIONS_MAX) {
    // Forget the origin that proposed least recently; ties cannot happen (one command per index).
    let oldest = origins[0]!;
    for (const o of origins) if (next[o]!.last_index < next[oldest]!.last_index) oldest = o;
    delete next[oldest];
  }
  return next;
}

// ---- snapshots ------------------------------------------------------------------------------

/** The whole state as canonical JSON (keys sorted): equal states give equal bytes on every node. */
export function encodeSnapshot(state: CibState): Uint8Array {
  return new TextEncoder().encode(canonicalJson({ format: 1, state }));
}

export class CibSnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CibSnapshotError";
  }
}

const session = z.object({ floor: z.number().int().min(0), recent: z.array(z.number().int().min(1)).max(SESSION_RECENT_MAX), last_index: z.number().int().min(0) }).strict();
const resourceOnNode = z.object({ fail_count: z.number().int().min(0).max(FAIL_COUNT_MAX), last_failure_ms: ms.nullable(), last_failure: opRecord.nullable(), ops: z.record(z.string(), opRecord) }).strict();
const snapshotSchema = z
  .object({
    format: z.literal(1),
    state: z
      .object({
        config: z.object({ version: z.number().int().min(0), doc: z.unknown() }).strict(),
        nodes: z.record(nodeName, z.object({ standby: z.boolean(), maintenance: z.boolean(), attributes: z.record(resourceId, z.string().max(1024)) }).strict()),
        resources: z.record(resourceId, z.record(nodeName, resourceOnNode)),
        sessions: z.record(nodeName, session),
      })
      .strict(),
  })
  .strict();

/** Decode a snapshot; throws CibSnapshotError naming the field when it is not one of ours. */
export function decodeSnapshot(bytes: Uint8Array): CibState {
  if (bytes.byteLength === 0) return emptyState();
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new CibSnapshotError(`CIB snapshot is not JSON: ${(e as Error).message}`);
  }
  const r = snapshotSchema.safeParse(raw);
  if (!r.success) throw new CibSnapshotError(`CIB snapshot: ${issue(r.error)}`);
  const st = r.data.state;
  return { ...st, config: { version: st.config.version, doc: st.config.doc ?? null } } as CibState;
}

export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
}

function issue(error: z.ZodError): string {
  const i = error.issues[0];
  if (!i) return "invalid";
  return `${i.path.join(".") || "command"}: ${i.message}`;
}
