// encodeMessageParts (the transport's copy-free path) must put the same bytes on the wire as
// encodeMessage, and a decoded payload is a view of its frame (no copy), equal to what was sent.
import { describe, expect, it } from "vitest";
import { DATA_HEADER_BYTES, RS_DATA_HEADER_BYTES, decodeMessage, encodeMessage, encodeMessageParts } from "../../services/replication/messages.ts";
import type { PeerMsg } from "../../services/replication/types.ts";

const join = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));

describe("message parts", () => {
  const data = new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff);
  const msgs: PeerMsg[] = [
    { t: "data", seq: 7, offset_bytes: 1 << 20, data, fua: true },
    { t: "data", seq: 2 ** 40, offset_bytes: 0, data: data.subarray(5, 4101), fua: false },
    { t: "rs-data", region: 3, data },
    { t: "ack", seq: 9, kind: "write", ok: true },
    { t: "flush", seq: 10 },
  ];
  it("encodes to the same bytes as encodeMessage, and decodes back", () => {
    for (const m of msgs) {
      const whole = encodeMessage(m);
      expect(Buffer.compare(join(encodeMessageParts(m)), Buffer.from(whole))).toBe(0);
      const d = decodeMessage(whole);
      expect(d.ok).toBe(true);
      if (d.ok) expect(d.msg).toEqual(m);
    }
  });
  it("puts a payload exactly DATA_HEADER_BYTES / RS_DATA_HEADER_BYTES into its message (the transport aligns it there)", () => {
    expect(encodeMessageParts(msgs[0]!)[0]!.byteLength).toBe(DATA_HEADER_BYTES);
    expect(encodeMessageParts(msgs[1]!)[0]!.byteLength).toBe(DATA_HEADER_BYTES);
    expect(encodeMessageParts(msgs[2]!)[0]!.byteLength).toBe(RS_DATA_HEADER_BYTES);
  });
  it("hands a data payload over as a view of the decoded frame", () => {
    const whole = encodeMessage(msgs[0]!);
    const d = decodeMessage(whole);
    if (!d.ok || d.msg.t !== "data") throw new Error("decode failed");
    expect(d.msg.data.buffer).toBe(whole.buffer);
  });
});
