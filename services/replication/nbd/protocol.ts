// NBD protocol constants and the frame codecs (fixed newstyle negotiation, simple replies).
// Source: NetworkBlockDevice/nbd doc/proto.md. Every decoder here is total: it returns a result
// or a reason, and never throws on any input.

export const NBDMAGIC = 0x4e42444d41474943n; // "NBDMAGIC"
export const IHAVEOPT = 0x49484156454f5054n; // "IHAVEOPT"
export const OPT_REPLY_MAGIC = 0x3e889045565a9n;
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;

/** Handshake flags (server) and client flags. */
export const FLAG_FIXED_NEWSTYLE = 1 << 0;
export const FLAG_NO_ZEROES = 1 << 1;

export const Opt = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
  EXTENDED_HEADERS: 11,
} as const;

export const Rep = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  ERR_UNSUP: 0x80000001,
  ERR_POLICY: 0x80000002,
  ERR_INVALID: 0x80000003,
  ERR_PLATFORM: 0x80000004,
  ERR_TLS_REQD: 0x80000005,
  ERR_UNKNOWN: 0x80000006,
  ERR_SHUTDOWN: 0x80000007,
  ERR_BLOCK_SIZE_REQD: 0x80000008,
  ERR_TOO_BIG: 0x80000009,
} as const;

export const Info = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;

/** Transmission flags advertised per export. */
export const TF = {
  HAS_FLAGS: 1 << 0,
  READ_ONLY: 1 << 1,
  SEND_FLUSH: 1 << 2,
  SEND_FUA: 1 << 3,
  ROTATIONAL: 1 << 4,
  SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6,
  SEND_DF: 1 << 7,
  CAN_MULTI_CONN: 1 << 8,
} as const;

export const Cmd = { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3, TRIM: 4, CACHE: 5, WRITE_ZEROES: 6, BLOCK_STATUS: 7 } as const;
export const CmdFlag = { FUA: 1 << 0, NO_HOLE: 1 << 1, DF: 1 << 2, REQ_ONE: 1 << 3, FAST_ZERO: 1 << 4 } as const;

/** Error values on the wire (they are Linux errno numbers, fixed by the protocol). */
export const NbdErr = { EPERM: 1, EIO: 5, ENOMEM: 12, EINVAL: 22, ENOSPC: 28, EOVERFLOW: 75, ENOTSUP: 95, ESHUTDOWN: 108 } as const;

export const OPTION_HEADER_BYTES = 16;
export const REQUEST_BYTES = 28;
export const SIMPLE_REPLY_BYTES = 16;
/** Bigger option payloads are refused: the longest legitimate one is a 4 KiB name plus info list. */
export const OPTION_DATA_MAX_BYTES = 8192;
/** NBD names and strings are limited to 4096 bytes by the protocol. */
export const NAME_MAX_BYTES = 4096;

// Readers over received bytes. Received bytes are views into socket Buffers; in Bun, reading
// `.buffer` of such a view to build a DataView costs time proportional to the chunk, so frames are
// decoded byte by byte instead.
export function readU16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

export function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

export function readU64(b: Uint8Array, at: number): bigint {
  return (BigInt(readU32(b, at)) << 32n) | BigInt(readU32(b, at + 4));
}

export function greeting(): Uint8Array {
  const b = new Uint8Array(18);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, NBDMAGIC);
  v.setBigUint64(8, IHAVEOPT);
  v.setUint16(16, FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
  return b;
}

export interface OptionHeader {
  magic: bigint;
  option: number;
  length: number;
}

export function decodeOptionHeader(b: Uint8Array): OptionHeader {
  return { magic: readU64(b, 0), option: readU32(b, 8), length: readU32(b, 12) };
}

export function optionReply(option: number, type: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const b = new Uint8Array(20 + data.byteLength);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, OPT_REPLY_MAGIC);
  v.setUint32(8, option);
  v.setUint32(12, type >>> 0);
  v.setUint32(16, data.byteLength);
  b.set(data, 20);
  return b;
}

export function errorReply(option: number, type: number, message: string): Uint8Array {
  return optionReply(option, type, new TextEncoder().encode(message));
}

export function infoExport(size_bytes: number, flags: number): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint16(0, Info.EXPORT);
  v.setBigUint64(2, BigInt(size_bytes));
  v.setUint16(10, flags);
  return b;
}

export function infoBlockSize(min_bytes: number, preferred_bytes: number, max_bytes: number): Uint8Array {
  const b = new Uint8Array(14);
  const v = new DataView(b.buffer);
  v.setUint16(0, Info.BLOCK_SIZE);
  v.setUint32(2, min_bytes);
  v.setUint32(6, preferred_bytes);
  v.setUint32(10, max_bytes);
  return b;
}

export function serverEntry(name: string): Uint8Array {
  const n = new TextEncoder().encode(name);
  const b = new Uint8Array(4 + n.byteLength);
  new DataView(b.buffer).setUint32(0, n.byteLength);
  b.set(n, 4);
  return b;
}

/** The reply to NBD_OPT_EXPORT_NAME: size, flags and (unless NO_ZEROES) 124 zero bytes. */
export function exportNameReply(size_bytes: number, flags: number, noZeroes: boolean): Uint8Array {
  const b = new Uint8Array(noZeroes ? 10 : 134);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(size_bytes));
  v.setUint16(8, flags);
  return b;
}

export type InfoRequest = { ok: true; name: string; infos: number[] } | { ok: false; reason: string };

/** Data of NBD_OPT_INFO / NBD_OPT_GO: u32 name length, name, u16 count, u16 info types. */
export function decodeInfoRequest(data: Uint8Array): InfoRequest {
  if (data.byteLength < 6) return { ok: false, reason: `option data of ${data.byteLength} bytes is shorter than 6` };
  const nameLen = readU32(data, 0);
  if (nameLen > NAME_MAX_BYTES) return { ok: false, reason: `export name of ${nameLen} bytes exceeds ${NAME_MAX_BYTES}` };
  if (4 + nameLen + 2 > data.byteLength) return { ok: false, reason: "export name runs past the option data" };
  const count = readU16(data, 4 + nameLen);
  if (4 + nameLen + 2 + count * 2 !== data.byteLength) return { ok: false, reason: `info request count ${count} does not match the option length` };
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(readU16(data, 4 + nameLen + 2 + i * 2));
  const name = decodeName(data.subarray(4, 4 + nameLen));
  if (name === null) return { ok: false, reason: "export name is not valid UTF-8" };
  return { ok: true, name, infos };
}

export function decodeName(b: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(b);
  } catch {
    return null;
  }
}

export interface Request {
  magic: number;
  flags: number;
  type: number;
  cookie: bigint;
  offset: bigint;
  length: number;
}

export function decodeRequest(b: Uint8Array): Request {
  return {
    magic: readU32(b, 0),
    flags: readU16(b, 4),
    type: readU16(b, 6),
    cookie: readU64(b, 8),
    offset: readU64(b, 16),
    length: readU32(b, 24),
  };
}

export function encodeRequest(r: Omit<Request, "magic"> & { magic?: number }): Uint8Array {
  const b = new Uint8Array(REQUEST_BYTES);
  const v = new DataView(b.buffer);
  v.setUint32(0, r.magic ?? REQUEST_MAGIC);
  v.setUint16(4, r.flags);
  v.setUint16(6, r.type);
  v.setBigUint64(8, r.cookie);
  v.setBigUint64(16, r.offset);
  v.setUint32(24, r.length);
  return b;
}

export function simpleReply(cookie: bigint, error: number): Uint8Array {
  const b = new Uint8Array(SIMPLE_REPLY_BYTES);
  const v = new DataView(b.buffer);
  v.setUint32(0, SIMPLE_REPLY_MAGIC);
  v.setUint32(4, error);
  v.setBigUint64(8, cookie);
  return b;
}
