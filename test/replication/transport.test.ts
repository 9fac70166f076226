// Peer messages and the authenticated transport: round trips, total decoders under fuzzing, and
// a real TCP link over loopback that reconnects by itself.
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { DIRECT_ALIGN, addressOf } from "../../services/replication/aligned.ts";
import { describe, expect, it } from "vitest";
import { decodeMessage, encodeMessage } from "../../services/replication/messages.ts";
import { PeerLink, PeerSession } from "../../services/replication/transport.ts";
import type { PeerMsg } from "../../services/replication/types.ts";
import { ClusterKey } from "../../services/shared/wire.ts";

const key = new ClusterKey(new Uint8Array(32).fill(7));
const otherKey = new ClusterKey(new Uint8Array(32).fill(8));
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const seq = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

const arbMsg: fc.Arbitrary<PeerMsg> = fc.oneof(
  fc.record({
    t: fc.constant("hello" as const),
    hello: fc.record({
      nodeId: fc.integer({ min: 0, max: 255 }),
      uuid: fc.uuid(),
      size_bytes: seq,
      protocol: fc.constantFrom("A" as const, "B" as const, "C" as const),
      role: fc.constantFrom("Primary" as const, "Secondary" as const),
      consistent: fc.boolean(),
      outdated: fc.boolean(),
      discardMyData: fc.boolean(),
      gen: fc.record({ current: u64, bitmap: u64, history: fc.tuple(u64, u64) }),
      bitmap: fc.uint8Array({ maxLength: 64 }),
    }),
  }),
  fc.record({ t: fc.constant("data" as const), seq, offset_bytes: seq, fua: fc.boolean(), data: fc.uint8Array({ maxLength: 256 }) }),
  fc.record({ t: fc.constant("flush" as const), seq }),
  fc.record({ t: fc.constant("ack" as const), seq, kind: fc.constantFrom("recv" as const, "write" as const, "flush" as const), ok: fc.boolean() }),
  fc.record({ t: fc.constant("rs-data" as const), region: fc.integer({ min: 0, max: 2 ** 32 - 1 }), data: fc.uint8Array({ maxLength: 256 }) }),
  fc.record({ t: fc.constant("rs-ack" as const), region: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
  fc.record({ t: fc.constant("rs-done" as const), current: u64 }),
  fc.record({ t: fc.constant("ov-req" as const), region: fc.integer({ min: 0, max: 2 ** 32 - 1 }), digest: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
  fc.record({ t: fc.constant("ov-rep" as const), region: fc.integer({ min: 0, max: 2 ** 32 - 1 }), equal: fc.boolean() }),
  fc.record({ t: fc.constant("role" as const), role: fc.constantFrom("Primary" as const, "Secondary" as const) }),
  fc.record({ t: fc.constant("cs-req" as const), region: fc.integer({ min: 0, max: 2 ** 32 - 1 }), block_bytes: fc.integer({ min: 0, max: 2 ** 32 - 1 }), digests: fc.integer({ min: 0, max: 4 }).map((n) => new Uint8Array(n * 32).fill(n)) }),
  fc.record({ t: fc.constant("rd-req" as const), seq, offset_bytes: seq, length_bytes: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
  fc.record({ t: fc.constant("rd-rep" as const), seq, ok: fc.boolean(), data: fc.uint8Array({ maxLength: 256 }) }),
  fc.record({ t: fc.constant("cs-rep" as const), region: fc.integer({ min: 0, max: 2 ** 32 - 1 }), differ: fc.uint8Array({ maxLength: 16 }) }),
  fc.record({ t: fc.constant("rs-blocks" as const), region: fc.integer({ min: 0, max: 2 ** 32 - 1 }), block_bytes: fc.integer({ min: 0, max: 2 ** 32 - 1 }), mask: fc.uint8Array({ maxLength: 16 }), data: fc.uint8Array({ maxLength: 256 }) }),
);

function pair(k2 = key, encrypt: [boolean, boolean] = [true, true]) {
  const a = new PeerSession(key, 1, "vol0", true, undefined, encrypt[0]);
  const b = new PeerSession(k2, 2, "vol0", false, undefined, encrypt[1]);
  const offset = (x: Uint8Array) => {
    const v = Buffer.from(new ArrayBuffer(x.byteLength + 7), 5, x.byteLength);
    v.set(x);
    return v;
  };
  const ea = a.receive(offset(b.preface()));
  const eb = b.receive(offset(a.preface()));
  return { a, b, ea, eb };
}

describe("replication messages", () => {
  it("round-trip every message", () => {
    fc.assert(
      fc.property(arbMsg, (m) => {
        const r = decodeMessage(encodeMessage(m));
        expect(r.ok).toBe(true);
        if (r.ok) expect(r.msg).toEqual(m);
      }),
      { numRuns: 500 },
    );
  });

  it("decode garbage, truncations and mutations to a reason, never an exception", () => {
    fc.assert(
      fc.property(arbMsg, fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300 }), (m, cut, flip, junk) => {
        const enc = encodeMessage(m);
        expect(() => decodeMessage(enc.subarray(0, cut % (enc.byteLength + 1)))).not.toThrow();
        const mutated = enc.slice();
        if (mutated.byteLength > 0) mutated[cut % mutated.byteLength]! ^= flip;
        expect(() => decodeMessage(mutated)).not.toThrow();
        expect(() => decodeMessage(junk)).not.toThrow();
        if (cut % (enc.byteLength + 1) < enc.byteLength) expect(decodeMessage(enc.subarray(0, cut % (enc.byteLength + 1))).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

describe("peer session", () => {
  it("decrypts large data frames with the payload in a buffer of its own (O_DIRECT-able), equal to what was sent", () => {
    const { a, b } = pair();
    const big = new Uint8Array(randomBytes(256 * 1024));
    const msgs: PeerMsg[] = [
      { t: "data", seq: 9, offset_bytes: 4096 * 3, fua: true, data: big },
      { t: "rs-data", region: 4, data: big.subarray(0, 128 * 1024) },
      { t: "rs-blocks", region: 2, block_bytes: 16384, mask: new Uint8Array([0xff, 0xff]), data: big },
      { t: "hello", hello: { nodeId: 1, uuid: "11111111-2222-4333-8444-555555555555", size_bytes: 1 << 30, protocol: "C", role: "Primary", consistent: true, outdated: false, discardMyData: false, gen: { current: 1n, bitmap: 0n, history: [0n, 0n] }, bitmap: big.subarray(0, 100_000) } },
    ];
    const stream = Buffer.concat(msgs.map((m) => a.seal(m)));
    const got: PeerMsg[] = [];
    for (let i = 0; i < stream.byteLength; i += 65_536) for (const ev of b.receive(stream.subarray(i, i + 65_536))) if (ev.kind === "message") got.push(ev.msg);
    // Deep equality of large typed arrays is slow in expect: compare payloads as bytes.
    const payload = (m: PeerMsg) => (m.t === "hello" ? m.hello.bitmap : "data" in m ? m.data : new Uint8Array(0));
    expect(got.map((m) => m.t)).toEqual(msgs.map((m) => m.t));
    got.forEach((m, i) => expect(Buffer.from(payload(m)).equals(Buffer.from(payload(msgs[i]!)))).toBe(true));
    expect({ ...got[0]!, data: null }).toEqual({ ...msgs[0]!, data: null });
    expect({ ...got[1]!, data: null }).toEqual({ ...msgs[1]!, data: null });
    const data = got[0]!.t === "data" ? got[0]!.data : new Uint8Array(0);
    expect(data.byteOffset).toBe(0);
    // What this is for: Bun's cipher output for a large update is page-aligned (checked with Bun 1.4.5).
    expect(addressOf(data) % DIRECT_ALIGN).toBe(0);
    expect(data.buffer.byteLength).toBeGreaterThanOrEqual(data.byteLength);
    // A truncated payload length inside an authentic frame is still refused, not trusted.
    const { a: a2, b: b2 } = pair();
    const bad = a2.seal({ t: "data", seq: 1, offset_bytes: 0, fua: false, data: big });
    expect(b2.receive(bad.subarray(0, bad.byteLength - 1))).toEqual([]);
  });

  it("seals and opens messages in both directions, split at any byte", () => {
    fc.assert(
      fc.property(fc.array(arbMsg, { maxLength: 8 }), fc.integer({ min: 1, max: 50 }), (msgs, chunk) => {
        const { a, b, ea, eb } = pair();
        expect(ea).toEqual([{ kind: "ready", peerId: 2 }]);
        expect(eb).toEqual([{ kind: "ready", peerId: 1 }]);
        const stream = Buffer.concat(msgs.map((m) => a.seal(m)));
        const got: PeerMsg[] = [];
        for (let i = 0; i < stream.byteLength; i += chunk) {
          // Socket chunks are Buffers at arbitrary offsets of a larger allocation.
          const part = stream.subarray(i, i + chunk);
          const pool = new ArrayBuffer(part.byteLength + 29);
          const view = Buffer.from(pool, 13, part.byteLength);
          view.set(part);
          for (const ev of b.receive(view)) {
            expect(ev.kind).toBe("message");
            if (ev.kind === "message") got.push(ev.msg);
          }
        }
        expect(got).toEqual(msgs);
      }),
      { numRuns: 100 },
    );
  });

  it("link_encryption off: frames carry the plaintext, authenticated; any altered byte is refused", () => {
    const { a, b } = pair(key, [false, false]);
    const data = new Uint8Array(70_000).fill(0x5c);
    const msg: PeerMsg = { t: "data", seq: 1, offset_bytes: 4096, data, fua: false };
    const frame = a.seal(msg);
    // Not encrypted: the payload is there as it was written.
    expect(Buffer.from(frame).indexOf(Buffer.from(data.subarray(0, 64)))).toBeGreaterThan(0);
    // As from a socket: the frame in several chunks, joined once when complete.
    const got = [...b.receive(frame.subarray(0, 30_000)), ...b.receive(frame.subarray(30_000))];
    expect(got).toEqual([{ kind: "message", msg }]);
    // The joined payload is a view of the frame, lined up on a page for O_DIRECT.
    const m = got[0]?.kind === "message" ? got[0].msg : null;
    expect(m?.t === "data" && addressOf(m.data) % DIRECT_ALIGN).toBe(0);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: frame.byteLength - 1 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const { a: a2, b: b2 } = pair(key, [false, false]);
        const f = Buffer.from(a2.seal(msg));
        f[at]! ^= flip;
        const ev = b2.receive(f);
        // A flipped length byte may leave the frame incomplete (nothing yet) or out of bounds.
        expect(ev.every((e) => e.kind === "error")).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("peers that disagree on link_encryption do not talk, and the error says why", () => {
    const { a, b } = pair(key, [true, false]);
    const ev = b.receive(a.seal({ t: "flush", seq: 1 }));
    expect(ev[0]?.kind === "error" && ev[0].reason).toMatch(/disagree on link_encryption/);
  });

  it("names a peer with another cluster key", () => {
    const { eb } = pair(otherKey);
    expect(eb[0]?.kind).toBe("error");
    expect(eb[0]?.kind === "error" && eb[0].reason).toMatch(/node 1 uses another cluster key/);
  });

  it("refuses a replayed, altered or garbage frame and then stays silent", () => {
    const { a, b } = pair();
    const f1 = a.seal({ t: "flush", seq: 1 });
    expect(b.receive(f1)[0]?.kind).toBe("message");
    const replay = b.receive(f1);
    expect(replay[0]?.kind === "error" && replay[0].reason).toMatch(/authentication/);
    expect(b.receive(a.seal({ t: "flush", seq: 2 }))).toEqual([]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (junk, afterPreface) => {
        const s = new PeerSession(key, 2, "vol0", false);
        if (afterPreface) s.receive(new PeerSession(key, 1, "vol0", true).preface());
        expect(() => s.receive(junk)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});

describe("peer link over TCP", () => {
  it("connects, carries messages, and reconnects after the connection drops", async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const got: PeerMsg[] = [];
    let ups = 0;
    let downs = 0;
    const common = { key, volume: "vol0", listen: { host: "127.0.0.1", port }, reconnectMin_ms: 20, reconnectMax_ms: 100 };
    const a = new PeerLink({ ...common, selfId: 1, peerId: 2, onUp: () => ups++, onMessage: (m) => got.push(m), onDown: () => downs++ });
    const b = new PeerLink({ ...common, selfId: 2, peerId: 1, onUp: () => ups++, onMessage: (m) => got.push(m), onDown: () => downs++ });
    await a.start();
    await b.start();
    const until = async (p: () => boolean) => {
      for (let i = 0; i < 200 && !p(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(p()).toBe(true);
    };
    await until(() => a.connected && b.connected);
    const big = new Uint8Array(4 * 1024 * 1024).fill(0x5a);
    b.send({ t: "data", seq: 1, offset_bytes: 0, fua: true, data: big });
    a.send({ t: "ack", seq: 1, kind: "write", ok: true });
    await until(() => got.length === 2);
    const data = got.find((m) => m.t === "data");
    // Buffer.compare: toEqual on 4 MiB walks every element and takes half a minute.
    expect(data?.t === "data" && data.fua && Buffer.compare(data.data, big)).toBe(0);
    a.drop("test");
    await until(() => downs === 2 && a.connected && b.connected);
    expect(ups).toBe(4);
    await a.stop();
    await b.stop();
  });

  it("drops a peer that goes silent, and lets a new connection replace a dead one", async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const events: string[] = [];
    const a = new PeerLink({ key, volume: "vol0", listen: { host: "127.0.0.1", port }, selfId: 1, peerId: 2, keepalive_ms: 50, deadAfter_ms: 300, onUp: () => events.push("up"), onMessage: () => {}, onDown: (r) => events.push(`down ${r}`) });
    await a.start();
    // A peer that completes the preface and then never says anything again (a hung host).
    const { connect } = await import("node:net");
    const mute = (): Promise<import("node:net").Socket> =>
      new Promise((resolve) => {
        const s = connect(port, "127.0.0.1", () => {
          s.write(new PeerSession(key, 2, "vol0", true).preface());
          resolve(s);
        });
        s.on("error", () => {});
        s.on("data", () => {});
      });
    const first = await mute();
    const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
    for (let i = 0; i < 100 && !events.includes("up"); i++) await wait(10);
    const second = await mute(); // replaces the first at once
    for (let i = 0; i < 100 && events.filter((e) => e === "up").length < 2; i++) await wait(10);
    expect(events.slice(0, 3)).toEqual(["up", "down replaced by a new connection from the peer", "up"]);
    for (let i = 0; i < 100 && !events.some((e) => /silent/.test(e)); i++) await wait(10);
    expect(events).toContain("down peer silent for more than 300 ms");
    first.destroy();
    second.destroy();
    await a.stop();
  });

  for (const encrypt of [true, false]) {
    it(`keeps frames in order under backpressure, keepalives between them, without piling them into the socket (${encrypt ? "encrypted" : "authenticated only"})`, async () => {
      const port = 20000 + Math.floor(Math.random() * 20000);
      const got: PeerMsg[] = [];
      const common = { key, volume: "vol0", listen: { host: "127.0.0.1", port }, encrypt, keepalive_ms: 2, onDown: () => {} };
      const a = new PeerLink({ ...common, selfId: 1, peerId: 2, onUp: () => {}, onMessage: (m) => got.push(m) });
      const b = new PeerLink({ ...common, selfId: 2, peerId: 1, onUp: () => {}, onMessage: () => {} });
      await a.start();
      await b.start();
      for (let i = 0; i < 300 && !(a.connected && b.connected); i++) await new Promise((r) => setTimeout(r, 10));
      expect(a.connected && b.connected).toBe(true);
      // 64 MiB in frames from 1 byte to 4 MiB, sent at once: far more than the socket takes.
      const sizes = Array.from({ length: 64 }, (_, i) => [1, 4096, 65_536 - 60, 65_536, 1 << 20, 4 << 20][i % 6]!);
      let unsentMax = 0;
      sizes.forEach((n, i) => {
        b.send({ t: "data", seq: i + 1, offset_bytes: i * 4096, fua: false, data: new Uint8Array(n).fill(i + 1) });
        unsentMax = Math.max(unsentMax, (b as unknown as { socket: { writableLength: number } }).socket.writableLength);
      });
      for (let i = 0; i < 1000 && got.length < sizes.length; i++) await new Promise((r) => setTimeout(r, 10));
      expect(got.map((m) => (m.t === "data" ? m.seq : -1))).toEqual(sizes.map((_, i) => i + 1));
      got.forEach((m, i) => {
        const d = m.t === "data" ? m.data : new Uint8Array(0);
        expect(d.byteLength).toBe(sizes[i]);
        expect(d.every((x) => x === i + 1)).toBe(true);
      });
      // What the socket buffers itself stays near one frame; the rest waits in the link's queue.
      expect(unsentMax).toBeLessThanOrEqual((4 << 20) + 256 * 1024);
      expect(a.connected && b.connected).toBe(true);
      await a.stop();
      await b.stop();
    });
  }
});
