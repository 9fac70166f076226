// Service messages carried by membership (wire type Service): JSON validated with zod, so a
// malformed or hostile message is refused with a reason and never reaches a core.
import * as z from "zod";
import type { FenceEvent } from "./core.ts";
import { type Decoded, decodeJsonMessage } from "../shared/json-message.ts";

const MAX_EVENTS = 64;

const fenceEvent = z
  .object({
    id: z.string().max(200),
    request: z.string().max(200),
    target: z.string().max(64),
    action: z.literal("off"),
    reason: z.string().max(500),
    requester: z.string().max(64),
    executor: z.string().max(64),
    phase: z.enum(["requested", "attempt", "done", "gave-up-level", "cancelled"]),
    device: z.string().max(200).optional(),
    level: z.number().int().min(1).max(16).optional(),
    result: z.enum(["ok", "failed"]).optional(),
    detail: z.string().max(1000).optional(),
    at_wall_ms: z.number().finite(),
    duration_ms: z.number().finite().optional(),
  })
  .strict();

const nodeInfo = z
  .object({
    node: z.string().max(64),
    watchdog: z.object({ driver: z.string().max(32), timeout_s: z.number().finite(), armed: z.boolean(), resources_allowed: z.boolean() }).strict(),
    /** The node's self-fence stop timeout: peers add it to their SBD wait. */
    stop_timeout_ms: z.number().int().min(0).max(600_000),
    services: z.array(z.object({ name: z.string().max(32), pid: z.number().int().min(0), restarts: z.number().int().min(0) }).strict()).max(16),
  })
  .strict();

export type NodeInfo = z.infer<typeof nodeInfo>;

const message = z.discriminatedUnion("svc", [
  z.object({ svc: z.literal("fence"), events: z.array(fenceEvent).max(MAX_EVENTS) }).strict(),
  z.object({ svc: z.literal("node-info"), info: nodeInfo }).strict(),
  /** A clean stop: the node has stopped its resources and leaves; it must not be fenced for it. */
  z.object({ svc: z.literal("leave"), node: z.string().max(64) }).strict(),
]);

export type ServiceMessage = { svc: "fence"; events: FenceEvent[] } | { svc: "node-info"; info: NodeInfo } | { svc: "leave"; node: string };

export function encodeServiceMessage(m: ServiceMessage): Uint8Array {
  const bounded = m.svc === "fence" ? { ...m, events: m.events.slice(-MAX_EVENTS) } : m;
  return new TextEncoder().encode(JSON.stringify(bounded));
}

export function decodeServiceMessage(bytes: Uint8Array): Decoded<ServiceMessage> {
  const r = decodeJsonMessage(bytes, message);
  return r.ok ? { ok: true, value: r.value as ServiceMessage } : r;
}
