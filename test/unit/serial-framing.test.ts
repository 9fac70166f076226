import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FrameDecoder, MAX_FRAME_BYTES, cobsDecode, cobsEncode, encodeFrame } from "../../services/membership/serial-framing.ts";

describe("serial framing", () => {
  it("COBS round-trips and never emits a zero", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), (b) => {
        const e = cobsEncode(b);
        expect(e.includes(0)).toBe(false);
        expect([...(cobsDecode(e) ?? [])]).toEqual([...b]);
      }),
    );
  });

  it("delivers every frame whatever the chunking", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 10 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1 }), (packets, cuts) => {
        const stream = Buffer.concat(packets.map((p) => encodeFrame(p)));
        const d = new FrameDecoder();
        const got: Uint8Array[] = [];
        let i = 0;
        let k = 0;
        while (i < stream.byteLength) {
          const n = cuts[k++ % cuts.length]!;
          got.push(...d.push(stream.subarray(i, i + n)));
          i += n;
        }
        expect(got.map((g) => [...g])).toEqual(packets.map((p) => [...p]));
      }),
    );
  });

  it("resynchronises after line noise and counts what it dropped", () => {
    const d = new FrameDecoder();
    const good = new Uint8Array([9, 0, 8, 7]);
    const noise = new Uint8Array([1, 2, 3, 0, 5, 6]);
    const out = [...d.push(noise), ...d.push(encodeFrame(good))];
    expect(out.map((o) => [...o])).toEqual([[9, 0, 8, 7]]);
    expect(d.stats.badEncoding + d.stats.badCrc).toBeGreaterThan(0);
  });

  it("detects a corrupted frame by its checksum", () => {
    const f = encodeFrame(new Uint8Array([1, 2, 3, 4, 5, 6]));
    f[3] = (f[3] ?? 0) ^ 0x40;
    if (f[3] === 0) f[3] = 1;
    const d = new FrameDecoder();
    expect(d.push(f)).toEqual([]);
    expect(d.stats.badCrc + d.stats.badEncoding).toBe(1);
  });

  it("bounds a stream that never ends a frame", () => {
    const d = new FrameDecoder();
    expect(d.push(new Uint8Array(MAX_FRAME_BYTES * 3).fill(7))).toEqual([]);
    expect(d.push(new Uint8Array([0]))).toEqual([]);
    expect(d.stats.oversized).toBe(1);
    expect(d.push(encodeFrame(new Uint8Array([1]))).length).toBe(1);
  });
});
