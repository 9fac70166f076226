import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError } from "../../services/shared/codec.ts";
import { type Heartbeat, decodeHeartbeat, encodeHeartbeat } from "../../services/membership/heartbeat.ts";

const mask = fc.integer({ min: 0, max: 0xff });
const view = fc.record({ id: fc.integer({ min: 1, max: 0xffffffff }), members: fc.integer({ min: 1, max: 0xff }) });
const heartbeat: fc.Arbitrary<Heartbeat> = fc.record({
  sendTime_ms: fc.double({ min: 0, max: 1e12, noNaN: true }),
  maxViewId: fc.integer({ min: 0, max: 0xffffffff }),
  installed: view,
  accepted: fc.option(view, { nil: null }),
  proposal: fc.option(view, { nil: null }),
  rows: fc.array(
    fc.record({
      node: fc.integer({ min: 1, max: 8 }),
      incarnation: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      version: fc.integer({ min: 0, max: 0xffffffff }),
      heard: mask,
      resources: fc.integer({ min: 0, max: 0xffff }),
      established: fc.boolean(),
      quorate: fc.boolean(),
    }),
    { maxLength: 8 },
  ),
  echoes: fc.array(fc.record({ node: fc.integer({ min: 1, max: 8 }), time_ms: fc.double({ min: 0, max: 1e12, noNaN: true }) }), { maxLength: 8 }),
});

describe("heartbeat codec", () => {
  it("round-trips every heartbeat", () => {
    fc.assert(
      fc.property(heartbeat, (h) => {
        expect(decodeHeartbeat(encodeHeartbeat(h))).toEqual(h);
      }),
    );
  });

  it("rejects arbitrary bytes with a DecodeError only", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        try {
          decodeHeartbeat(b);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("rejects mutated encodings with a DecodeError only", () => {
    fc.assert(
      fc.property(heartbeat, fc.nat(), fc.integer({ min: 0, max: 255 }), (h, at, byte) => {
        const b = encodeHeartbeat(h);
        b[at % b.byteLength] = byte;
        try {
          decodeHeartbeat(b.subarray(0, (at * 7) % (b.byteLength + 1)));
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
