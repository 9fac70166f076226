// The replication core facing an authenticated but broken peer: any sequence of well-typed
// messages with wild values, in any state, gives effects or a disconnect, never an exception,
// and never a disk write outside the volume.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ReplicationCore } from "../../services/replication/core.ts";
import { handshakeHello, DEFAULT_CONFIG, type Effect, type PeerMsg } from "../../services/replication/types.ts";
import { Flag, MetaStore, metadataBytes } from "../../services/replication/metadata.ts";
import { FakeDisk } from "./fake-disk.ts";

const SIZE_BYTES = 1024 * 1024;
const REGION_BYTES = 64 * 1024;
const UUID = "11111111-2222-4333-8444-555555555555";

function core(nodeId: number, current: bigint) {
  const store = MetaStore.create(new FakeDisk(metadataBytes(SIZE_BYTES, REGION_BYTES)), "vol0", { uuid: UUID, size_bytes: SIZE_BYTES, region_bytes: REGION_BYTES, current });
  store.commit({ ...store.meta, flags: Flag.CONSISTENT });
  let g = 100n;
  return new ReplicationCore({ ...DEFAULT_CONFIG, nodeId, volume: "vol0", newGeneration: () => g++ }, store.meta);
}

const big = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
const bytes = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constant(new Uint8Array(REGION_BYTES)));
const arbMsg: fc.Arbitrary<PeerMsg> = fc.oneof(
  fc.record({ t: fc.constant("data" as const), seq: big, offset_bytes: fc.oneof(fc.integer({ min: 0, max: SIZE_BYTES }), big), fua: fc.boolean(), data: bytes }),
  fc.record({ t: fc.constant("flush" as const), seq: big }),
  fc.record({ t: fc.constant("ack" as const), seq: big, kind: fc.constantFrom("recv" as const, "write" as const, "flush" as const), ok: fc.boolean() }),
  fc.record({ t: fc.constant("rs-data" as const), region: big, data: bytes }),
  fc.record({ t: fc.constant("rs-ack" as const), region: big }),
  fc.record({ t: fc.constant("rs-done" as const), current: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
  fc.record({ t: fc.constant("ov-req" as const), region: big, digest: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
  fc.record({ t: fc.constant("ov-rep" as const), region: big, equal: fc.boolean() }),
  fc.record({ t: fc.constant("role" as const), role: fc.constantFrom("Primary" as const, "Secondary" as const) }),
  fc.record({ t: fc.constant("cs-req" as const), region: big, block_bytes: fc.constantFrom(0, 511, 4096, 16384, REGION_BYTES, REGION_BYTES * 2), digests: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constant(new Uint8Array(16 * 32)), fc.constant(new Uint8Array(4 * 32))) }),
  fc.record({ t: fc.constant("rd-req" as const), seq: big, offset_bytes: fc.oneof(fc.integer({ min: 0, max: SIZE_BYTES }), big), length_bytes: fc.oneof(fc.integer({ min: 0, max: SIZE_BYTES }), big) }),
  fc.record({ t: fc.constant("rd-rep" as const), seq: big, ok: fc.boolean(), data: bytes }),
  fc.record({ t: fc.constant("cs-rep" as const), region: big, differ: fc.uint8Array({ maxLength: 8 }) }),
  fc.record({ t: fc.constant("rs-blocks" as const), region: big, block_bytes: fc.constantFrom(0, 4096, 16384, REGION_BYTES), mask: fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.constant(new Uint8Array([0xff, 0xff])), fc.constant(new Uint8Array([1, 0]))), data: fc.oneof(bytes, fc.constant(new Uint8Array(4096)), fc.constant(new Uint8Array(REGION_BYTES))) }),
);

describe("replication core, hostile peer", () => {
  it("never throws and never writes outside the volume", () => {
    fc.assert(
      fc.property(fc.constantFrom("handshake", "secondary", "primary", "target"), fc.array(arbMsg, { maxLength: 30 }), (state, msgs) => {
        const me = core(2, 7n);
        const peer = core(1, state === "target" ? 9n : 7n);
        me.connect();
        me.transportUp();
        const check = (effects: Effect[]) => {
          for (const e of effects) {
            if (e.kind === "disk-write") {
              expect(e.offset_bytes).toBeGreaterThanOrEqual(0);
              expect(e.offset_bytes + e.data.byteLength).toBeLessThanOrEqual(SIZE_BYTES);
              check(me.diskDone(e.io, true));
            }
          }
        };
        if (state === "primary") check(me.promote().effects);
        if (state !== "handshake") {
          const h = handshakeHello({ ...DEFAULT_CONFIG, nodeId: 1, volume: "vol0", newGeneration: () => 1n }, peer.snapshot(), "Secondary", false);
          // "target": the peer's bitmap generation is our current, so we become its sync target.
          if (state === "target") h.gen = { current: 9n, bitmap: 7n, history: [0n, 0n] };
          check(me.receive({ t: "hello", hello: h }));
        }
        for (const m of msgs) check(me.receive(m));
      }),
      { numRuns: 400 },
    );
  });

  it("disconnects with a reason on a write outside the volume", () => {
    const me = core(2, 7n);
    const peer = core(1, 7n);
    me.connect();
    me.transportUp();
    me.receive({ t: "hello", hello: handshakeHello({ ...DEFAULT_CONFIG, nodeId: 1, volume: "vol0", newGeneration: () => 1n }, peer.snapshot(), "Primary", false) });
    expect(me.repl).toBe("Established");
    const fx = me.receive({ t: "data", seq: 1, offset_bytes: SIZE_BYTES - 10, fua: false, data: new Uint8Array(20) });
    expect(fx.find((e) => e.kind === "disconnect")).toMatchObject({ reason: expect.stringMatching(/protocol error from the peer: write of 20 bytes at 1048566 is outside the volume/) });
    expect(fx.some((e) => e.kind === "disk-write")).toBe(false);
  });
});
