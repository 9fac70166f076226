// The consensus messages between CIB voters, and their encoding as a wire `Service` payload.
//
// Encoding: JSON `{"svc":"cib","m":{...}}`, like the other service messages (the `svc` field lets
// the runtime route it); snapshot chunks travel as base64. The decoder is total: any input gives
// a value or an error naming the field, never an exception, and every array and string is bounded
// so a peer cannot make us allocate more than one payload's worth.
import * as z from "zod";
import { MAX_PAYLOAD_BYTES } from "../shared/wire.ts";
import type { SnapshotMeta } from "./storage.ts";

/** "No node": no leader known, no vote given. Node ids are 1..255 like the wire's sender byte. */
export const NONE = 0;
export const MAX_NODE_ID = 255;
export const MAX_VOTERS = 16;
export const MAX_ENTRIES_PER_MESSAGE = 4096;
/** Wire bytes an entry costs beyond its JSON-escaped data: `{"term":..,"index":..,"data":}` and a comma. */
export const ENTRY_OVERHEAD_BYTES = 64;

export interface Entry {
  term: number;
  index: number;
  /** Opaque to Raft (the CIB puts a JSON command here). The empty string is a leader's no-op. */
  data: string;
}

interface Base {
  from: number;
  to: number;
  /** The sender's term; 0 on `prop`, which is a local request forwarded to the leader. */
  term: number;
}

export type Message =
  /** RequestVote (§5.2) or its pre-vote probe (thesis §9.6); `term` is the term the sender would campaign in. */
  | (Base & { type: "prevote" | "vote"; lastIndex: number; lastTerm: number; transfer: boolean })
  | (Base & { type: "prevote-resp" | "vote-resp"; reject: boolean })
  /** AppendEntries (§5.3). */
  | (Base & { type: "append"; prevIndex: number; prevTerm: number; entries: Entry[]; commit: number })
  /**
   * Reply to append (and to a finished snapshot). On success `index` is the last index known to
   * match the leader; on reject it is the rejected `prevIndex`, and `rejectHint`/`logTerm` let the
   * leader skip a whole term of mismatching entries at once (fast backtracking).
   */
  | (Base & { type: "append-resp"; index: number; reject: boolean; rejectHint: number; logTerm: number })
  /** Leader liveness; `commit` is at most what this follower is known to hold. */
  | (Base & { type: "heartbeat"; commit: number })
  | (Base & { type: "heartbeat-resp" })
  /** InstallSnapshot (§7), one chunk at `offset`. */
  | (Base & { type: "snapshot"; meta: SnapshotMeta; offset: number; chunk: Uint8Array; done: boolean })
  /** A chunk arrived (or did not fit): send the one at `offset` next. */
  | (Base & { type: "snapshot-resp"; index: number; offset: number })
  /** Leadership transfer: campaign now, skipping pre-vote (thesis §3.10). */
  | (Base & { type: "timeout-now" })
  /** Proposals forwarded by a follower to the leader. */
  | (Base & { type: "prop"; entries: string[] });

export type MessageType = Message["type"];

/** Bytes of a string once JSON-escaped and UTF-8 encoded: what it costs on the wire. */
export function wireBytesOf(data: string): number {
  return Buffer.byteLength(JSON.stringify(data), "utf8");
}

// ---- encoding -------------------------------------------------------------------------------

export function encodeMessage(m: Message): Uint8Array {
  const wire = m.type === "snapshot" ? { ...m, chunk: Buffer.from(m.chunk).toString("base64") } : m;
  const bytes = new TextEncoder().encode(JSON.stringify({ svc: "cib", m: wire }));
  // The core sizes batches so this cannot happen; if it does, it is a bug to see, not a packet to lose quietly.
  if (bytes.byteLength > MAX_PAYLOAD_BYTES) throw new RangeError(`cib ${m.type} message of ${bytes.byteLength} bytes is over the ${MAX_PAYLOAD_BYTES}-byte payload limit`);
  return bytes;
}

const nodeId = z.number().int().min(1).max(MAX_NODE_ID);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const base = { from: nodeId, to: nodeId, term: count };
const entry = z.object({ term: count, index: count, data: z.string().max(MAX_PAYLOAD_BYTES) }).strict();
const meta = z.object({ index: count, term: count, voters: z.array(nodeId).max(MAX_VOTERS) }).strict();
// base64 of at most one payload; the regex keeps Buffer.from from silently skipping garbage.
const base64 = z.string().max(MAX_PAYLOAD_BYTES).regex(/^[A-Za-z0-9+/]*={0,2}$/, "not base64");

const schema = z.discriminatedUnion("type", [
  z.object({ ...base, type: z.enum(["prevote", "vote"]), lastIndex: count, lastTerm: count, transfer: z.boolean() }).strict(),
  z.object({ ...base, type: z.enum(["prevote-resp", "vote-resp"]), reject: z.boolean() }).strict(),
  z.object({ ...base, type: z.literal("append"), prevIndex: count, prevTerm: count, entries: z.array(entry).max(MAX_ENTRIES_PER_MESSAGE), commit: count }).strict(),
  z.object({ ...base, type: z.literal("append-resp"), index: count, reject: z.boolean(), rejectHint: count, logTerm: count }).strict(),
  z.object({ ...base, type: z.literal("heartbeat"), commit: count }).strict(),
  z.object({ ...base, type: z.literal("heartbeat-resp") }).strict(),
  z.object({ ...base, type: z.literal("snapshot"), meta, offset: count, chunk: base64, done: z.boolean() }).strict(),
  z.object({ ...base, type: z.literal("snapshot-resp"), index: count, offset: count }).strict(),
  z.object({ ...base, type: z.literal("timeout-now") }).strict(),
  z.object({ ...base, type: z.literal("prop"), entries: z.array(z.string().max(MAX_PAYLOAD_BYTES)).max(MAX_ENTRIES_PER_MESSAGE) }).strict(),
]);

const envelope = z.object({ svc: z.literal("cib"), m: z.unknown() }).strict();

export type DecodeResult = { ok: true; value: Message } | { ok: false; error: string };

/**
 * Decode a payload. With `sender` (the authenticated wire sender), a message whose `from` names
 * another node is refused: a voter cannot speak for another.
 */
export function decodeMessage(bytes: Uint8Array, sender?: number): DecodeResult {
  if (bytes.byteLength > MAX_PAYLOAD_BYTES) return { ok: false, error: `payload of ${bytes.byteLength} bytes is over the limit` };
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  const env = envelope.safeParse(raw);
  if (!env.success) return { ok: false, error: issue(env.error) };
  const r = schema.safeParse(env.data.m);
  if (!r.success) return { ok: false, error: `m.${issue(r.error)}` };
  const v = r.data;
  if (sender !== undefined && v.from !== sender) return { ok: false, error: `m.from: ${v.from} but the packet came from node ${sender}` };
  if (v.type === "append") {
    for (const [i, e] of v.entries.entries()) {
      if (e.index !== v.prevIndex + 1 + i) return { ok: false, error: `m.entries.${i}.index: ${e.index}, expected ${v.prevIndex + 1 + i}` };
    }
  }
  if (v.type === "snapshot") return { ok: true, value: { ...v, chunk: new Uint8Array(Buffer.from(v.chunk, "base64")) } };
  return { ok: true, value: v as Message };
}

function issue(error: z.ZodError): string {
  const i = error.issues[0];
  if (!i) return "invalid";
  return `${i.path.join(".") || "message"}: ${i.message}`;
}
