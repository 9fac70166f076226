// The resource manager's two messages between nodes (membership wire type Service, authenticated
// and encrypted like every cluster packet): the DC asks a node to run one action, the node answers
// with the outcome and the CIB index where the result is recorded. JSON validated with zod: a
// malformed message is refused with a reason, never half-used.
import * as z from "zod";
import type { GraphAction } from "../crm/graph.ts";
import { type Decoded, decodeJsonMessage } from "../shared/json-message.ts";

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const uint = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const action = z
  .object({
    key: z.string().max(300),
    task: z.string().regex(/^[a-z][a-z_-]{0,31}$/),
    resource: z.string().max(200),
    interval_ms: uint,
    timeout_ms: uint,
    meta: z.record(z.string().max(100), z.string().max(1000)),
  })
  .strict();

const exec = z
  .object({
    svc: z.literal("crm-exec"),
    /** Request id: the DC's name, its Raft term and a transition-local action number. */
    dc: name,
    term: uint,
    tid: uint,
    aid: uint,
    node: name,
    config_version: uint,
    action,
  })
  .strict();

const result = z
  .object({
    svc: z.literal("crm-result"),
    dc: name,
    term: uint,
    tid: uint,
    aid: uint,
    node: name,
    ok: z.boolean(),
    reason: z.string().max(1000),
    index: uint,
  })
  .strict();

const message = z.discriminatedUnion("svc", [exec, result]);

export type CrmExec = z.infer<typeof exec>;
export type CrmResult = z.infer<typeof result>;
export type CrmMessage = CrmExec | CrmResult;

/** Does this service payload belong to the resource manager? (cheap prefix test, before JSON) */
export function isCrmMessage(payload: Uint8Array): boolean {
  return new TextDecoder().decode(payload.subarray(0, 16)).startsWith('{"svc":"crm-');
}

export function encodeCrmMessage(m: CrmMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m));
}

export function decodeCrmMessage(bytes: Uint8Array): Decoded<CrmMessage> {
  return decodeJsonMessage(bytes, message);
}

/** The part of a graph action a node needs to run it (the rest is the DC's bookkeeping). */
export function actionForWire(a: GraphAction): CrmExec["action"] {
  return { key: a.key, task: a.task, resource: a.resource ?? "", interval_ms: a.interval_ms, timeout_ms: a.timeout_ms, meta: a.meta };
}

export function actionFromWire(w: CrmExec["action"], node: string): GraphAction {
  return { id: 0, key: w.key, task: w.task, resource: w.resource, node, pseudo: false, interval_ms: w.interval_ms, timeout_ms: w.timeout_ms, meta: w.meta, inputs: [] };
}
