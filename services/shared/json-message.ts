// Decoding of the JSON service messages peers send (fencing gossip, the resource manager's
// requests): UTF-8 strictly, JSON, then the zod schema; the first problem is named, nothing throws.
import type * as z from "zod";

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

export function decodeJsonMessage<S extends z.ZodType>(bytes: Uint8Array, schema: S): Decoded<z.infer<S>> {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    return { ok: false, error: `${i.path.join(".") || "message"}: ${i.message}` };
  }
  return { ok: true, value: r.data };
}
