// The replication peer messages on the wire (inside the authenticated frames of transport.ts).
// decodeMessage is total: any bytes give a message or a reason, never an exception.
import { ByteReader, ByteWriter, DecodeError } from "../shared/codec.ts";
import type { Hello, Protocol, Role } from "./handshake.ts";
import type { PeerMsg } from "./types.ts";

export const MSG_VERSION = 1;
/** Largest data payload: the NBD maximum request (32 MiB) or one resync region. */
export const MSG_DATA_MAX_BYTES = 32 * 1024 * 1024;
/** A bitmap of 1 MiB regions for a 64 TiB volume. */
export const MSG_BITMAP_MAX_BYTES = 8 * 1024 * 1024;

const T = { hello: 1, data: 2, flush: 3, ack: 4, "rs-data": 5, "rs-ack": 6, "rs-done": 7, "ov-req": 8, "ov-rep": 9, role: 10, "cs-req": 11, "cs-rep": 12, "rs-blocks": 13, "rd-req": 14, "rd-rep": 15, outdate: 16, "outdate-ack": 17 } as const;
const DIGEST_BYTES = 32;
export const MSG_TYPE_DATA = T.data;
export const MSG_TYPE_RS_DATA = T["rs-data"];
/** Bytes before the payload of a data message (version, type, seq, offset, fua, length) and of rs-data. */
export const DATA_HEADER_BYTES = 1 + 1 + 8 + 8 + 1 + 4;
export const RS_DATA_HEADER_BYTES = 1 + 1 + 4 + 4;
/** Checksum resync: digests of at most 64 Ki blocks per region, a mask of as many bits. */
const CSUM_BLOCKS_MAX = 64 * 1024;
export const CSUM_DIGEST_BYTES = DIGEST_BYTES;
const PROTOCOLS: Protocol[] = ["A", "B", "C"];
const ROLES: Role[] = ["Primary", "Secondary"];
const ACK_KINDS = ["recv", "write", "flush"] as const;

function u64(w: ByteWriter, v: bigint): void {
  w.u32(Number(v >> 32n) >>> 0).u32(Number(v & 0xffffffffn) >>> 0);
}

function readU64(r: ByteReader, what: string): bigint {
  return (BigInt(r.u32(what)) << 32n) | BigInt(r.u32(what));
}

export function encodeMessage(m: PeerMsg): Uint8Array {
  const w = new ByteWriter(64 + ("data" in m ? m.data.byteLength : m.t === "hello" ? m.hello.bitmap.byteLength : 0));
  w.u8(MSG_VERSION).u8(T[m.t]);
  switch (m.t) {
    case "hello": {
      const h = m.hello;
      w.u8(h.nodeId).bytes(uuidToBytes(h.uuid)).u53(h.size_bytes).u8(PROTOCOLS.indexOf(h.protocol)).u8(ROLES.indexOf(h.role));
      w.u8((h.consistent ? 1 : 0) | (h.outdated ? 2 : 0) | (h.discardMyData ? 4 : 0));
      for (const g of [h.gen.current, h.gen.bitmap, h.gen.history[0], h.gen.history[1]]) u64(w, g);
      w.u32(h.bitmap.byteLength).bytes(h.bitmap);
      break;
    }
    case "data":
      w.u53(m.seq).u53(m.offset_bytes).u8(m.fua ? 1 : 0).u32(m.data.byteLength).bytes(m.data);
      break;
    case "flush":
      w.u53(m.seq);
      break;
    case "ack":
      w.u53(m.seq).u8(ACK_KINDS.indexOf(m.kind)).u8(m.ok ? 1 : 0);
      break;
    case "rs-data":
      w.u32(m.region).u32(m.data.byteLength).bytes(m.data);
      break;
    case "rs-ack":
      w.u32(m.region);
      break;
    case "rs-done":
      u64(w, m.current);
      break;
    case "ov-req":
      if (m.digest.byteLength !== DIGEST_BYTES) throw new RangeError(`verify digest must be ${DIGEST_BYTES} bytes`);
      w.u32(m.region).bytes(m.digest);
      break;
    case "ov-rep":
      w.u32(m.region).u8(m.equal ? 1 : 0);
      break;
    case "role":
      w.u8(ROLES.indexOf(m.role));
      break;
    case "cs-req":
      w.u32(m.region).u32(m.block_bytes).u32(m.digests.byteLength).bytes(m.digests);
      break;
    case "cs-rep":
      w.u32(m.region).u32(m.differ.byteLength).bytes(m.differ);
      break;
    case "rs-blocks":
      w.u32(m.region).u32(m.block_bytes).u32(m.mask.byteLength).bytes(m.mask).u32(m.data.byteLength).bytes(m.data);
      break;
    case "outdate":
    case "outdate-ack":
      break;
    case "rd-req":
      w.u53(m.seq).u53(m.offset_bytes).u32(m.length_bytes);
      break;
    case "rd-rep":
      w.u53(m.seq).u8(m.ok ? 1 : 0).u32(m.data.byteLength).bytes(m.data);
      break;
  }
  return w.finish();
}

/**
 * The same bytes as encodeMessage, as a list of pieces: a data-carrying message is its small
 * header plus the caller's data itself, so the hot path (the transport encrypts the pieces one
 * after the other) never copies a write's payload to build the message.
 */
export function encodeMessageParts(m: PeerMsg): Uint8Array[] {
  if (m.t === "data") {
    const w = new ByteWriter(32);
    w.u8(MSG_VERSION).u8(T.data).u53(m.seq).u53(m.offset_bytes).u8(m.fua ? 1 : 0).u32(m.data.byteLength);
    return [w.finish(), m.data];
  }
  if (m.t === "rs-data") {
    const w = new ByteWriter(16);
    w.u8(MSG_VERSION).u8(T["rs-data"]).u32(m.region).u32(m.data.byteLength);
    return [w.finish(), m.data];
  }
  if (m.t === "rd-rep") {
    const w = new ByteWriter(24);
    w.u8(MSG_VERSION).u8(T["rd-rep"]).u53(m.seq).u8(m.ok ? 1 : 0).u32(m.data.byteLength);
    return [w.finish(), m.data];
  }
  if (m.t === "rs-blocks") {
    // Like rs-data: the blocks go to the cipher as they are, never copied into the message.
    const w = new ByteWriter(32 + m.mask.byteLength);
    w.u8(MSG_VERSION).u8(T["rs-blocks"]).u32(m.region).u32(m.block_bytes).u32(m.mask.byteLength).bytes(m.mask).u32(m.data.byteLength);
    return [w.finish(), m.data];
  }
  return [encodeMessage(m)];
}

export type DecodeResult = { ok: true; msg: PeerMsg } | { ok: false; reason: string };

export function decodeMessage(b: Uint8Array): DecodeResult {
  try {
    return { ok: true, msg: decode(new ByteReader(b)) };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, reason: e.message };
    throw e;
  }
}

/**
 * A data or rs-data message given as its header and its payload in two buffers: the encrypted
 * transport decrypts a large frame's payload on its own so it lands in a fresh, page-aligned
 * buffer the Secondary can write with O_DIRECT (one page-cache copy and its writeback less).
 * Other types are joined and decoded as usual.
 */
export function decodeSplitMessage(head: Uint8Array, payload: Uint8Array): DecodeResult {
  const p = Buffer.isBuffer(payload) ? new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength) : payload;
  try {
    const r = new ByteReader(head);
    const version = r.u8("version");
    if (version !== MSG_VERSION) throw new DecodeError(`message version ${version}, this build speaks ${MSG_VERSION}`);
    const type = r.u8("type");
    let m: PeerMsg;
    if (type === T.data) {
      const seq = r.u53("seq");
      const offset_bytes = r.u53("offset");
      const fua = r.u8("fua");
      if (fua > 1) throw new DecodeError("fua must be 0 or 1");
      const n = r.u32("data length");
      if (n !== p.byteLength || n > MSG_DATA_MAX_BYTES) throw new DecodeError(`data: length ${n} but ${p.byteLength} bytes follow`);
      m = { t: "data", seq, offset_bytes, fua: fua === 1, data: p };
    } else if (type === T["rs-data"]) {
      const region = r.u32("region");
      const n = r.u32("resync data length");
      if (n !== p.byteLength || n > MSG_DATA_MAX_BYTES) throw new DecodeError(`resync data: length ${n} but ${p.byteLength} bytes follow`);
      m = { t: "rs-data", region, data: p };
    } else {
      return decodeMessage(Buffer.concat([head, payload]));
    }
    r.end("message header");
    return { ok: true, msg: m };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, reason: e.message };
    throw e;
  }
}

function pick<X>(xs: readonly X[], i: number, what: string): X {
  const x = xs[i];
  if (x === undefined) throw new DecodeError(`${what}: unknown value ${i}`);
  return x;
}

function sized(r: ByteReader, max: number, what: string): Uint8Array {
  const n = r.u32(`${what} length`);
  if (n > max) throw new DecodeError(`${what}: ${n} bytes exceeds ${max}`);
  // A view, not a copy (the copy cost a sixth of the Secondary's CPU at full write speed): the
  // transport hands each decrypted frame over as its own buffer, so nothing else shares it.
  // Callers of decodeMessage that reuse their input must copy what they keep. A Buffer input
  // gives a plain Uint8Array view (through .buffer: ~16 µs per 256 KiB, far below a copy).
  const v = r.bytesOf(n, what);
  return Buffer.isBuffer(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : v;
}

function decode(r: ByteReader): PeerMsg {
  const version = r.u8("version");
  if (version !== MSG_VERSION) throw new DecodeError(`message version ${version}, this build speaks ${MSG_VERSION}`);
  const type = r.u8("type");
  let m: PeerMsg;
  switch (type) {
    case T.hello: {
      const nodeId = r.u8("node id");
      const uuid = bytesToUuid(r.bytesOf(16, "uuid"));
      const size_bytes = r.u53("size");
      const protocol = pick(PROTOCOLS, r.u8("protocol"), "protocol");
      const role = pick(ROLES, r.u8("role"), "role");
      const flags = r.u8("flags");
      if (flags > 7) throw new DecodeError(`hello flags 0x${flags.toString(16)} carry unknown bits`);
      const gens = [0, 1, 2, 3].map(() => readU64(r, "generation"));
      const bitmap = sized(r, MSG_BITMAP_MAX_BYTES, "bitmap");
      const hello: Hello = {
        nodeId, uuid, size_bytes, protocol, role,
        consistent: (flags & 1) !== 0, outdated: (flags & 2) !== 0, discardMyData: (flags & 4) !== 0,
        gen: { current: gens[0]!, bitmap: gens[1]!, history: [gens[2]!, gens[3]!] },
        bitmap,
      };
      m = { t: "hello", hello };
      break;
    }
    case T.data: {
      const seq = r.u53("seq");
      const offset_bytes = r.u53("offset");
      const fua = r.u8("fua");
      if (fua > 1) throw new DecodeError("fua must be 0 or 1");
      m = { t: "data", seq, offset_bytes, fua: fua === 1, data: sized(r, MSG_DATA_MAX_BYTES, "data") };
      break;
    }
    case T.flush:
      m = { t: "flush", seq: r.u53("seq") };
      break;
    case T.ack: {
      const seq = r.u53("seq");
      const kind = pick(ACK_KINDS, r.u8("ack kind"), "ack kind");
      const ok = r.u8("ok");
      if (ok > 1) throw new DecodeError("ok must be 0 or 1");
      m = { t: "ack", seq, kind, ok: ok === 1 };
      break;
    }
    case T["rs-data"]:
      m = { t: "rs-data", region: r.u32("region"), data: sized(r, MSG_DATA_MAX_BYTES, "resync data") };
      break;
    case T["rs-ack"]:
      m = { t: "rs-ack", region: r.u32("region") };
      break;
    case T["rs-done"]:
      m = { t: "rs-done", current: readU64(r, "generation") };
      break;
    case T["ov-req"]:
      m = { t: "ov-req", region: r.u32("region"), digest: new Uint8Array(r.bytesOf(DIGEST_BYTES, "digest")) };
      break;
    case T["ov-rep"]: {
      const region = r.u32("region");
      const equal = r.u8("equal");
      if (equal > 1) throw new DecodeError("equal must be 0 or 1");
      m = { t: "ov-rep", region, equal: equal === 1 };
      break;
    }
    case T.role:
      m = { t: "role", role: pick(ROLES, r.u8("role"), "role") };
      break;
    case T["cs-req"]: {
      const region = r.u32("region");
      const block_bytes = r.u32("block size");
      m = { t: "cs-req", region, block_bytes, digests: new Uint8Array(sized(r, CSUM_BLOCKS_MAX * DIGEST_BYTES, "digests")) };
      if (m.digests.byteLength % DIGEST_BYTES !== 0) throw new DecodeError(`digests: ${m.digests.byteLength} bytes is not a multiple of ${DIGEST_BYTES}`);
      break;
    }
    case T["cs-rep"]:
      m = { t: "cs-rep", region: r.u32("region"), differ: new Uint8Array(sized(r, CSUM_BLOCKS_MAX / 8, "block mask")) };
      break;
    case T["rs-blocks"]: {
      const region = r.u32("region");
      const block_bytes = r.u32("block size");
      const mask = new Uint8Array(sized(r, CSUM_BLOCKS_MAX / 8, "block mask"));
      m = { t: "rs-blocks", region, block_bytes, mask, data: sized(r, MSG_DATA_MAX_BYTES, "resync blocks") };
      break;
    }
    case T.outdate:
      m = { t: "outdate" };
      break;
    case T["outdate-ack"]:
      m = { t: "outdate-ack" };
      break;
    case T["rd-req"]:
      m = { t: "rd-req", seq: r.u53("seq"), offset_bytes: r.u53("offset"), length_bytes: r.u32("length") };
      break;
    case T["rd-rep"]: {
      const seq = r.u53("seq");
      const ok = r.u8("ok");
      if (ok > 1) throw new DecodeError("ok must be 0 or 1");
      m = { t: "rd-rep", seq, ok: ok === 1, data: sized(r, MSG_DATA_MAX_BYTES, "read data") };
      break;
    }
    default:
      throw new DecodeError(`unknown message type ${type}`);
  }
  r.end("message");
  return m;
}

function uuidToBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, "");
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16) || 0;
  return b;
}

function bytesToUuid(b: Uint8Array): string {
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
