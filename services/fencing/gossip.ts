// Service messages carried by membership (wire type Service): JSON validated with zod, so a
// malformed or hostile message is refused with a reason and never reaches a core.
import * as z from "zod";
import type { FenceEvent } from "./core.ts";

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

const message = z.discriminatedUnion("svc", [z.object({ svc: z.literal("fence"), events: z.array(fenceEvent).max(MAX_EVENTS) }).strict()]);

export type ServiceMessage = { svc: "fence"; events: FenceEvent[] };

export function encodeServiceMessage(m: ServiceMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ ...m, events: m.events.slice(-MAX_EVENTS) }));
}

export function decodeServiceMessage(bytes: Uint8Array): { ok: true; value: ServiceMessage } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  const r = message.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    return { ok: false, error: `${i.path.join(".") || "message"}: ${i.message}` };
  }
  return { ok: true, value: r.data as ServiceMessage };
}
