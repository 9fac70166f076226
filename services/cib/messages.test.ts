// The consensus messages on the wire: every type round-trips, and the decoder is total — any
// bytes give a message or an error naming the field, never an exception.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_PAYLOAD_BYTES } from "../shared/wire.ts";
import { decodeMessage, encodeMessage, type Message } from "./messages.ts";

const samples: Message[] = [
  { type: "prevote", from: 1, to: 2, term: 5, lastIndex: 10, lastTerm: 4, transfer: false },
  { type: "vote", from: 3, to: 1, term: 5, lastIndex: 10, lastTerm: 4, transfer: true },
  { type: "prevote-resp", from: 2, to: 1, term: 5, reject: false },
  { type: "vote-resp", from: 2, to: 1, term: 5, reject: true },
  { type: "append", from: 1, to: 2, term: 5, prevIndex: 9, prevTerm: 4, entries: [{ index: 10, term: 5, data: '{"kind":"config"} ✓' }, { index: 11, term: 5, data: "" }], commit: 9 },
  { type: "append-resp", from: 2, to: 1, term: 5, index: 9, reject: true, rejectHint: 7, logTerm: 3 },
  { type: "heartbeat", from: 1, to: 3, term: 5, commit: 8 },
  { type: "heartbeat-resp", from: 3, to: 1, term: 5 },
  { type: "snapshot", from: 1, to: 3, term: 5, meta: { index: 100, term: 4, voters: [1, 2, 3] }, offset: 32768, chunk: new Uint8Array([0, 1, 2, 255]), done: false },
  { type: "snapshot-resp", from: 3, to: 1, term: 5, index: 100, offset: 32772 },
  { type: "timeout-now", from: 1, to: 2, term: 5 },
  { type: "prop", from: 2, to: 1, term: 0, entries: ["a", "b"] },
];

describe("cib messages", () => {
  it("round-trips every message type", () => {
    for (const m of samples) {
      const d = decodeMessage(encodeMessage(m), m.from);
      expect(d, m.type).toEqual({ ok: true, value: m });
    }
  });

  it("travels as a service message the runtime can route by its svc field", () => {
    const text = new TextDecoder().decode(encodeMessage(samples[0]!));
    expect(JSON.parse(text)).toMatchObject({ svc: "cib", m: { type: "prevote" } });
  });

  it("refuses a message whose sender is not the authenticated one", () => {
    expect(decodeMessage(encodeMessage(samples[0]!), 3)).toEqual({ ok: false, error: "m.from: 1 but the packet came from node 3" });
  });

  it("names the field that is wrong", () => {
    const bad = (m: unknown) => decodeMessage(new TextEncoder().encode(JSON.stringify({ svc: "cib", m })));
    expect(bad({ ...samples[6], term: -1 })).toMatchObject({ ok: false, error: expect.stringMatching(/^m\.term: /) });
    expect(bad({ ...samples[4], entries: [{ index: 12, term: 5, data: "x" }] })).toEqual({ ok: false, error: "m.entries.0.index: 12, expected 10" });
    expect(bad({ ...samples[8], chunk: "not base64!" })).toMatchObject({ ok: false, error: expect.stringMatching(/chunk/) });
    expect(bad({ ...samples[0], extra: 1 })).toMatchObject({ ok: false });
    expect(decodeMessage(new TextEncoder().encode('{"svc":"fence","events":[]}'))).toMatchObject({ ok: false, error: expect.stringMatching(/^svc/) });
  });

  it("refuses to encode a message over one payload (a sizing bug must be loud)", () => {
    const big: Message = { type: "prop", from: 2, to: 1, term: 0, entries: ["x".repeat(MAX_PAYLOAD_BYTES)] };
    expect(() => encodeMessage(big)).toThrow(RangeError);
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const d = decodeMessage(bytes);
        expect(typeof d.ok).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on mutated valid messages, and what it accepts re-encodes", () => {
    const encoded = samples.map((m) => encodeMessage(m));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: encoded.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (which, flips) => {
        const bytes = encoded[which]!.slice();
        for (const [at, v] of flips) bytes[at % bytes.length] = v;
        const d = decodeMessage(bytes);
        if (d.ok) expect(decodeMessage(encodeMessage(d.value))).toEqual(d);
      }),
      { numRuns: 3000 },
    );
  });

  it("never throws on arbitrary JSON in the envelope", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (m) => {
        const d = decodeMessage(new TextEncoder().encode(JSON.stringify({ svc: "cib", m })));
        expect(typeof d.ok).toBe("boolean");
      }),
      { numRuns: 1500 },
    );
  });
});
