// The wire format: sealing, authentication, replay protection, and decoders that survive any input.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ClusterKey, HEADER_BYTES, MessageType, ReplayGuard, TAG_BYTES, open, seal } from "../../services/shared/wire.ts";

const key = new ClusterKey(new Uint8Array(32).fill(1));
const other = new ClusterKey(new Uint8Array(32).fill(2));
const base = { type: MessageType.Heartbeat, sender: 2, link: 0, incarnation: 1_700_000_000_000, seq: 5, payload: new Uint8Array([1, 2, 3, 4]) };

describe("wire format", () => {
  it("round-trips a sealed packet and hides the payload", () => {
    const p = seal(key, base);
    expect(p.byteLength).toBe(HEADER_BYTES + 4 + TAG_BYTES);
    expect(Buffer.from(p).includes(Buffer.from([1, 2, 3, 4]))).toBe(false);
    const r = open(key, p);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect([...r.payload]).toEqual([1, 2, 3, 4]);
      expect(r.header).toMatchObject({ sender: 2, link: 0, seq: 5, incarnation: base.incarnation, version: 1 });
    }
  });

  it("names a peer that uses another cluster key", () => {
    const r = open(key, seal(other, base));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe("wrong-key");
      expect(r.detail).toMatch(/sender uses cluster key [0-9a-f]{8}, ours is [0-9a-f]{8}/);
    }
  });

  it("rejects any single flipped bit", () => {
    const p = seal(key, base);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: p.byteLength * 8 - 1 }), (bitIndex) => {
        const q = p.slice();
        q[bitIndex >> 3]! ^= 1 << (bitIndex & 7);
        const r = open(key, q);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 400 },
    );
  });

  it("never throws on arbitrary bytes, and never accepts them", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = open(key, bytes);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on truncations and extensions of a valid packet", () => {
    const p = seal(key, base);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: p.byteLength + 8 }), fc.uint8Array({ maxLength: 8 }), (cut, tail) => {
        const q = new Uint8Array([...p.subarray(0, cut), ...(cut >= p.byteLength ? tail : [])]);
        const r = open(key, q);
        if (q.byteLength === p.byteLength) expect(r.ok).toBe(true);
        else expect(r.ok).toBe(false);
      }),
    );
  });

  it("refuses a wire version from the future", () => {
    const p = seal(key, base);
    p[2] = 9;
    const r = open(key, p);
    expect(r.ok ? "ok" : r.reason).toBe("version");
  });
});

describe("replay guard", () => {
  it("accepts each sequence number once, tolerates reordering within the window", () => {
    const g = new ReplayGuard();
    expect(g.accept(2, 0, 10, 5).ok).toBe(true);
    expect(g.accept(2, 0, 10, 5).ok).toBe(false);
    expect(g.accept(2, 0, 10, 3).ok).toBe(true);
    expect(g.accept(2, 0, 10, 3).ok).toBe(false);
    expect(g.accept(2, 0, 10, 100).ok).toBe(true);
    expect(g.accept(2, 0, 10, 20)).toEqual({ ok: false, reason: "replay" });
    // Another link is its own stream.
    expect(g.accept(2, 1, 10, 5).ok).toBe(true);
  });

  it("takes a newer incarnation and refuses an older one", () => {
    const g = new ReplayGuard();
    expect(g.accept(2, 0, 10, 50).ok).toBe(true);
    expect(g.accept(2, 0, 11, 1).ok).toBe(true);
    expect(g.accept(2, 0, 10, 51)).toEqual({ ok: false, reason: "stale-incarnation" });
  });

  it("matches a model of 'each (incarnation, seq) once' for any arrival order", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 200 }), (seqs) => {
        const g = new ReplayGuard();
        const seen = new Set<number>();
        let highest = 0;
        for (const s of seqs) {
          const ok = g.accept(1, 0, 1, s).ok;
          if (ok) {
            expect(seen.has(s)).toBe(false);
            seen.add(s);
          } else {
            // A refusal is either a duplicate or something older than the window.
            expect(seen.has(s) || highest - s >= ReplayGuard.WINDOW).toBe(true);
          }
          highest = Math.max(highest, ok ? s : highest);
        }
      }),
    );
  });
});
