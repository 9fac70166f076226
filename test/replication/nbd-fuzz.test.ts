// The NBD connection core faces bytes from any process that can open the socket. Whatever they
// are — bad magic, out-of-range requests, truncated frames, garbage — the core answers with an
// error reply or closes the connection; it never throws and never issues I/O outside the export.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NbdConnection, type Effect } from "../../services/replication/nbd/connection.ts";
import * as P from "../../services/replication/nbd/protocol.ts";

const SIZE_BYTES = 1024 * 1024;
const MAX_BYTES = 64 * 1024;

function newConn(): NbdConnection {
  return new NbdConnection({ name: "vol0", size_bytes: SIZE_BYTES, readOnly: false, multiConn: true }, { maxRequest_bytes: MAX_BYTES, maxInFlight: 4, maxInFlight_bytes: 4 * MAX_BYTES });
}

function option(opt: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(16 + data.byteLength);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, P.IHAVEOPT);
  v.setUint32(8, opt);
  v.setUint32(12, data.byteLength);
  b.set(data, 16);
  return b;
}

function goData(name: string, infos: number[] = []): Uint8Array {
  const n = new TextEncoder().encode(name);
  const b = new Uint8Array(4 + n.byteLength + 2 + infos.length * 2);
  const v = new DataView(b.buffer);
  v.setUint32(0, n.byteLength);
  b.set(n, 4);
  v.setUint16(4 + n.byteLength, infos.length);
  infos.forEach((t, i) => v.setUint16(6 + n.byteLength + i * 2, t));
  return b;
}

const clientFlags = new Uint8Array([0, 0, 0, 3]);
const handshake = () => concat([clientFlags, option(P.Opt.GO, goData("vol0", [P.Info.BLOCK_SIZE]))]);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Feeds bytes in the given chunk sizes; completes every io at once; checks every effect. */
interface Driven {
  sent: Uint8Array;
  closed: string | null;
  ios: Effect[];
  /** Transmission replies: each send after NBD_OPT_GO succeeded starts with a simple reply. */
  replies: { cookie: bigint; error: number }[];
}

function drive(conn: NbdConnection, bytes: Uint8Array, cuts: number[]): Driven {
  const sent: Uint8Array[] = [];
  const replies: { cookie: bigint; error: number }[] = [];
  let transmitting = false;
  const ios: Effect[] = [];
  let closed: string | null = null;
  const handle = (effects: Effect[]) => {
    const queue = [...effects];
    while (queue.length > 0) {
      const e = queue.shift()!;
      expect(closed).toBeNull(); // nothing after a close
      if (e.kind === "send") {
        sent.push(...e.chunks);
        if (transmitting) {
          const h = new DataView(e.chunks[0]!.buffer, e.chunks[0]!.byteOffset, 16);
          expect(h.getUint32(0)).toBe(P.SIMPLE_REPLY_MAGIC);
          replies.push({ cookie: h.getBigUint64(8), error: h.getUint32(4) });
        }
      } else if (e.kind === "transmission") transmitting = true;
      else if (e.kind === "close") closed = e.reason;
      else if (e.kind === "io") {
        ios.push(e);
        const io = e.io;
        if (io.op !== "flush") {
          const len = io.op === "write" ? io.data.byteLength : io.length_bytes;
          expect(io.offset_bytes).toBeGreaterThanOrEqual(0);
          expect(io.offset_bytes + len).toBeLessThanOrEqual(SIZE_BYTES);
          expect(len).toBeGreaterThan(0);
          if (io.op !== "trim" && io.op !== "zero") expect(len).toBeLessThanOrEqual(MAX_BYTES);
        }
        queue.push(...conn.complete(e.id, 0, io.op === "read" ? new Uint8Array(io.length_bytes) : undefined));
      }
    }
  };
  handle(conn.start());
  let at = 0;
  // Chunks arrive as Buffers at odd offsets of larger allocations, as socket data does.
  const asSocketChunk = (x: Uint8Array) => {
    const v = Buffer.from(new ArrayBuffer(x.byteLength + 11), 3, x.byteLength);
    v.set(x);
    return v;
  };
  for (const c of cuts) {
    if (at >= bytes.byteLength) break;
    handle(conn.receive(asSocketChunk(bytes.subarray(at, at + c))));
    at += c;
  }
  if (at < bytes.byteLength) handle(conn.receive(asSocketChunk(bytes.subarray(at))));
  return { sent: concat(sent), closed, ios, replies };
}

const arbRequest = fc.record({
  magic: fc.oneof(fc.constant(P.REQUEST_MAGIC), fc.constant(P.REQUEST_MAGIC), fc.constant(P.REQUEST_MAGIC), fc.integer({ min: 0, max: 0xffffffff })),
  flags: fc.oneof(fc.constant(0), fc.constant(P.CmdFlag.FUA), fc.integer({ min: 0, max: 0xffff })),
  type: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 0xffff })),
  cookie: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  offset: fc.oneof(fc.bigInt({ min: 0n, max: BigInt(SIZE_BYTES) }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  length: fc.oneof(fc.integer({ min: 0, max: 8192 }), fc.integer({ min: 0, max: 0xffffffff })),
});

function encodeWithPayload(r: P.Request, payloadCap: number): Uint8Array {
  const head = P.encodeRequest(r);
  // Only well-formed writes within our cap carry a payload; others show what a broken client sends.
  const payload = r.magic === P.REQUEST_MAGIC && r.type === P.Cmd.WRITE && r.length <= payloadCap ? new Uint8Array(r.length) : new Uint8Array(0);
  return concat([head, payload]);
}

describe("NBD connection core, hostile input", () => {
  it("survives arbitrary bytes at every phase, in arbitrary chunks", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.uint8Array({ maxLength: 600 }), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 20 }), (afterGo, garbage, cuts) => {
        const conn = newConn();
        const bytes = afterGo ? concat([handshake(), garbage]) : garbage;
        expect(() => drive(conn, bytes, cuts)).not.toThrow();
      }),
      { numRuns: 400 },
    );
  });

  it("answers every understood request with its own cookie or closes; never I/O out of range", () => {
    fc.assert(
      fc.property(fc.array(arbRequest, { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 100 }), { maxLength: 10 }), (raw, cuts) => {
        // Unique cookies, so replies (which may come out of order, as NBD allows) can be matched.
        const reqs = raw.map((r, i) => ({ ...r, cookie: BigInt(i) }));
        const conn = newConn();
        const body = concat(reqs.map((r) => encodeWithPayload(r, MAX_BYTES)));
        const { replies, closed } = drive(conn, concat([handshake(), body]), cuts);
        let expected = 0;
        for (const r of reqs) {
          if (r.magic !== P.REQUEST_MAGIC) break;
          if (r.type === P.Cmd.WRITE && r.length > MAX_BYTES) break;
          if (r.type === P.Cmd.DISC) break;
          expected++;
        }
        const got = replies.map((x) => x.cookie).sort((a, b) => Number(a - b));
        // A close for a broken frame drops replies of requests still in flight; nothing else may go missing.
        if (closed === null) expect(got).toEqual(reqs.slice(0, expected).map((r) => r.cookie));
        else for (const c of got) expect(c).toBeLessThan(BigInt(expected));
        for (let i = 0; i < expected; i++) {
          const r = reqs[i]!;
          const end = r.offset + BigInt(r.length);
          const rep = replies.find((x) => x.cookie === r.cookie);
          if (rep === undefined) continue;
          if ((r.type === P.Cmd.READ || r.type === P.Cmd.TRIM) && end > BigInt(SIZE_BYTES)) expect(rep.error).toBe(P.NbdErr.EINVAL);
          if ((r.type === P.Cmd.WRITE || r.type === P.Cmd.WRITE_ZEROES) && r.length > 0 && end > BigInt(SIZE_BYTES) && (r.flags & ~0x3) === 0)
            expect(rep.error).toBe(P.NbdErr.ENOSPC);
          if (r.type > P.Cmd.WRITE_ZEROES || r.type === P.Cmd.CACHE) expect(rep.error).toBe(P.NbdErr.EINVAL);
        }
        if (expected < reqs.length) expect(closed).not.toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it("refuses structured replies, unknown options and unknown exports but keeps negotiating", () => {
    const conn = newConn();
    const bytes = concat([
      clientFlags,
      option(P.Opt.STRUCTURED_REPLY, new Uint8Array(0)),
      option(P.Opt.EXTENDED_HEADERS, new Uint8Array(0)),
      option(999, new Uint8Array(3)),
      option(P.Opt.GO, goData("other")),
      option(P.Opt.GO, new Uint8Array([0, 0, 0, 200, 1])),
      option(P.Opt.LIST, new Uint8Array(0)),
      option(P.Opt.INFO, goData("")),
      option(P.Opt.GO, goData("vol0")),
    ]);
    const { sent, closed } = drive(conn, bytes, []);
    expect(closed).toBeNull();
    const types = parseOptionReplies(sent.subarray(18));
    expect(types).toEqual([P.Rep.ERR_UNSUP, P.Rep.ERR_UNSUP, P.Rep.ERR_UNSUP, P.Rep.ERR_UNKNOWN, P.Rep.ERR_INVALID, P.Rep.SERVER, P.Rep.ACK, P.Rep.INFO, P.Rep.INFO, P.Rep.ACK, P.Rep.INFO, P.Rep.INFO, P.Rep.ACK]);
  });

  it("closes on a client without fixed newstyle, an oversized option and an unknown EXPORT_NAME", () => {
    expect(drive(newConn(), new Uint8Array([0, 0, 0, 0]), []).closed).toMatch(/fixed newstyle/);
    const big = concat([clientFlags, option(P.Opt.GO, new Uint8Array(0)).subarray(0, 12), new Uint8Array([0, 1, 0, 0])]);
    expect(drive(newConn(), big, []).closed).toMatch(/more than/);
    expect(drive(newConn(), concat([clientFlags, option(P.Opt.EXPORT_NAME, new TextEncoder().encode("nope"))]), []).closed).toMatch(/unknown export/);
  });

  it("replies to requests in flight before honouring NBD_CMD_DISC", () => {
    const conn = newConn();
    const sends: Effect[] = [];
    conn.start();
    conn.receive(handshake());
    const effects = conn.receive(concat([P.encodeRequest({ flags: 0, type: P.Cmd.FLUSH, cookie: 7n, offset: 0n, length: 0 }), P.encodeRequest({ flags: 0, type: P.Cmd.DISC, cookie: 8n, offset: 0n, length: 0 })]));
    const io = effects.find((e) => e.kind === "io");
    expect(effects.some((e) => e.kind === "close")).toBe(false);
    if (io?.kind === "io") sends.push(...conn.complete(io.id, 0));
    expect(sends.map((e) => e.kind)).toEqual(["send", "close"]);
  });
});

function parseOptionReplies(b: Uint8Array): number[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const types: number[] = [];
  let at = 0;
  while (at + 20 <= b.byteLength && v.getBigUint64(at) === P.OPT_REPLY_MAGIC) {
    types.push(v.getUint32(at + 12));
    at += 20 + v.getUint32(at + 16);
  }
  return types;
}

