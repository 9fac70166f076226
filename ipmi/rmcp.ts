// Wire framing of IPMI over LAN (IPMI v2.0 spec, section 13): the RMCP header, the ASF class,
// the IPMI v1.5 session wrapper (used here only for pre-session messages, auth type none), the
// IPMI v2.0 / RMCP+ session wrapper with its integrity trailer, and the IPMI LAN message with its
// two checksums. Pure functions; decoders are total (a Decoded<T>, never a throw).

import { checksum, concat, fail, ok, putU16le, putU32le, u16le, u32le, u8, type Decoded } from "./bytes.ts";

export const RMCP_VERSION = 0x06;
export const RMCP_SEQ_NO_ACK = 0xff;
export const RMCP_CLASS_ASF = 0x06;
export const RMCP_CLASS_IPMI = 0x07;

export const AUTH_TYPE_NONE = 0x00;
export const AUTH_TYPE_RMCP_PLUS = 0x06;

/** The IPMI v2.0 "next header" byte that ends every integrity trailer. */
export const NEXT_HEADER_RMCP = 0x07;

/** A datagram larger than this is not IPMI: refuse it before looking inside. */
export const MAX_DATAGRAM_BYTES = 2048;

export const PayloadType = {
  IPMI: 0x00,
  OEM_EXPLICIT: 0x02,
  OPEN_SESSION_REQUEST: 0x10,
  OPEN_SESSION_RESPONSE: 0x11,
  RAKP1: 0x12,
  RAKP2: 0x13,
  RAKP3: 0x14,
  RAKP4: 0x15,
} as const;

/** Software ID of a remote console (0x81) and the BMC's slave address (0x20). */
export const ADDR_REMOTE_CONSOLE = 0x81;
export const ADDR_BMC = 0x20;

export type AsfPacket = { kind: "asf"; message_type: number; message_tag: number; data: Uint8Array };

export type V15Packet = {
  kind: "v15";
  auth_type: number;
  session_seq: number;
  session_id: number;
  auth_code: Uint8Array | null;
  message: Uint8Array;
};

export type V20Packet = {
  kind: "v20";
  payload_type: number;
  encrypted: boolean;
  authenticated: boolean;
  oem: { iana: number; payload_id: number } | null;
  session_id: number;
  session_seq: number;
  payload: Uint8Array;
  /** Bytes after the payload: integrity pad, pad length, next header, auth code (if any). */
  trailer: Uint8Array;
};

export type Packet = AsfPacket | V15Packet | V20Packet;

function rmcpHeader(): Uint8Array {
  return Uint8Array.of(RMCP_VERSION, 0x00, RMCP_SEQ_NO_ACK, RMCP_CLASS_IPMI);
}

/** Decode any datagram a BMC or console may send. */
export function decodePacket(bytes: Uint8Array): Decoded<Packet> {
  if (bytes.length > MAX_DATAGRAM_BYTES) return fail(`datagram of ${bytes.length} bytes is too large`);
  if (bytes.length < 4) return fail("datagram shorter than an RMCP header");
  if (u8(bytes, 0) !== RMCP_VERSION) return fail(`RMCP version ${u8(bytes, 0)} is not 6`);
  const rmcpClass = u8(bytes, 3) & 0x1f;
  if (rmcpClass === RMCP_CLASS_ASF) return decodeAsf(bytes);
  if (rmcpClass !== RMCP_CLASS_IPMI) return fail(`RMCP class ${rmcpClass} is not IPMI`);
  if (bytes.length < 5) return fail("datagram ends before the auth type");
  return u8(bytes, 4) === AUTH_TYPE_RMCP_PLUS ? decodeV20(bytes) : decodeV15(bytes);
}

function decodeAsf(bytes: Uint8Array): Decoded<AsfPacket> {
  // IANA (4), message type, message tag, reserved, data length, data.
  if (bytes.length < 12) return fail("ASF message shorter than its header");
  const length = u8(bytes, 11);
  if (bytes.length < 12 + length) return fail("ASF data length exceeds the datagram");
  return ok({ kind: "asf", message_type: u8(bytes, 8), message_tag: u8(bytes, 9), data: bytes.slice(12, 12 + length) });
}

function decodeV15(bytes: Uint8Array): Decoded<V15Packet> {
  const authType = u8(bytes, 4);
  let offset = 5;
  if (bytes.length < offset + 8) return fail("IPMI v1.5 session header truncated");
  const sessionSeq = u32le(bytes, offset);
  const sessionId = u32le(bytes, offset + 4);
  offset += 8;
  let authCode: Uint8Array | null = null;
  if (authType !== AUTH_TYPE_NONE) {
    if (bytes.length < offset + 16) return fail("IPMI v1.5 auth code truncated");
    authCode = bytes.slice(offset, offset + 16);
    offset += 16;
  }
  if (bytes.length < offset + 1) return fail("IPMI v1.5 message length missing");
  const length = u8(bytes, offset);
  offset += 1;
  // Like most BMCs we accept trailing bytes (some pad to a legacy minimum) but never too few.
  if (bytes.length < offset + length) return fail("IPMI v1.5 message length exceeds the datagram");
  return ok({
    kind: "v15",
    auth_type: authType,
    session_seq: sessionSeq,
    session_id: sessionId,
    auth_code: authCode,
    message: bytes.slice(offset, offset + length),
  });
}

function decodeV20(bytes: Uint8Array): Decoded<V20Packet> {
  let offset = 5;
  if (bytes.length < offset + 1) return fail("RMCP+ payload type missing");
  const typeByte = u8(bytes, offset);
  offset += 1;
  const payloadType = typeByte & 0x3f;
  let oem: V20Packet["oem"] = null;
  if (payloadType === PayloadType.OEM_EXPLICIT) {
    if (bytes.length < offset + 6) return fail("RMCP+ OEM payload header truncated");
    oem = { iana: u32le(bytes, offset) & 0xffffff, payload_id: u16le(bytes, offset + 4) };
    offset += 6;
  }
  if (bytes.length < offset + 10) return fail("RMCP+ session header truncated");
  const sessionId = u32le(bytes, offset);
  const sessionSeq = u32le(bytes, offset + 4);
  const length = u16le(bytes, offset + 8);
  offset += 10;
  if (bytes.length < offset + length) return fail("RMCP+ payload length exceeds the datagram");
  return ok({
    kind: "v20",
    payload_type: payloadType,
    encrypted: (typeByte & 0x80) !== 0,
    authenticated: (typeByte & 0x40) !== 0,
    oem,
    session_id: sessionId,
    session_seq: sessionSeq,
    payload: bytes.slice(offset, offset + length),
    trailer: bytes.slice(offset + length),
  });
}

/** A pre-session (session 0, sequence 0) or any auth-type-none IPMI v1.5 datagram. */
export function encodeV15(fields: { session_seq: number; session_id: number; message: Uint8Array }): Uint8Array {
  if (fields.message.length > 255) throw new RangeError("IPMI v1.5 message longer than 255 bytes");
  const header = new Uint8Array(10);
  header[0] = AUTH_TYPE_NONE;
  putU32le(header, 1, fields.session_seq);
  putU32le(header, 5, fields.session_id);
  header[9] = fields.message.length;
  return concat(rmcpHeader(), header, fields.message);
}

export type V20Fields = {
  payload_type: number;
  encrypted: boolean;
  authenticated: boolean;
  session_id: number;
  session_seq: number;
  /** Already encrypted when `encrypted` is set. */
  payload: Uint8Array;
};

/**
 * Frame an RMCP+ datagram. With `authenticated`, `authCode` computes the integrity code over the
 * covered range (auth type through next header); the pad makes that range a multiple of 4 bytes.
 */
export function encodeV20(fields: V20Fields, authCode?: (covered: Uint8Array) => Uint8Array): Uint8Array {
  if (fields.payload.length > 0xffff) throw new RangeError("RMCP+ payload longer than 65535 bytes");
  if (fields.authenticated && !authCode) throw new Error("an authenticated RMCP+ packet needs an auth code function");
  const header = new Uint8Array(12);
  header[0] = AUTH_TYPE_RMCP_PLUS;
  header[1] = (fields.payload_type & 0x3f) | (fields.encrypted ? 0x80 : 0) | (fields.authenticated ? 0x40 : 0);
  putU32le(header, 2, fields.session_id);
  putU32le(header, 6, fields.session_seq);
  putU16le(header, 10, fields.payload.length);
  if (!fields.authenticated || !authCode) return concat(rmcpHeader(), header, fields.payload);
  const padLength = (4 - ((header.length + fields.payload.length + 2) % 4)) % 4;
  const pad = new Uint8Array(padLength).fill(0xff);
  const covered = concat(header, fields.payload, pad, Uint8Array.of(padLength, NEXT_HEADER_RMCP));
  return concat(rmcpHeader(), covered, authCode(covered));
}

/**
 * Split the integrity trailer of an authenticated RMCP+ datagram. Returns the covered range (for
 * the MAC) and the received auth code; checks the pad length and next header on the way.
 */
export function splitIntegrityTrailer(
  datagram: Uint8Array,
  packet: V20Packet,
  authcode_bytes: number,
): Decoded<{ covered: Uint8Array; auth_code: Uint8Array }> {
  const trailer = packet.trailer;
  if (trailer.length < authcode_bytes + 2) return fail("integrity trailer shorter than its auth code");
  const padLength = u8(trailer, trailer.length - authcode_bytes - 2);
  const nextHeader = u8(trailer, trailer.length - authcode_bytes - 1);
  if (nextHeader !== NEXT_HEADER_RMCP) return fail(`integrity trailer next header ${nextHeader} is not 7`);
  if (padLength > 3 || padLength !== trailer.length - authcode_bytes - 2) {
    return fail("integrity pad length does not match the trailer");
  }
  const coveredEnd = datagram.length - authcode_bytes;
  if (coveredEnd < 4 || (coveredEnd - 4) % 4 !== 0) return fail("integrity range is not a multiple of 4 bytes");
  return ok({ covered: datagram.slice(4, coveredEnd), auth_code: datagram.slice(coveredEnd) });
}

// ---- IPMI LAN messages (spec 13.8) -------------------------------------------------------

export type IpmiRequest = {
  rs_addr: number;
  net_fn: number;
  rs_lun: number;
  rq_addr: number;
  rq_seq: number;
  rq_lun: number;
  cmd: number;
  data: Uint8Array;
};

export type IpmiResponse = {
  rq_addr: number;
  /** The response netFn (request netFn + 1). */
  net_fn: number;
  rq_lun: number;
  rs_addr: number;
  rq_seq: number;
  rs_lun: number;
  cmd: number;
  completion_code: number;
  data: Uint8Array;
};

function encodeLanMessage(a: number, netFnLun: number, b: number, seqLun: number, cmd: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(7 + body.length);
  out[0] = a;
  out[1] = netFnLun;
  out[2] = checksum(out, 0, 2);
  out[3] = b;
  out[4] = seqLun;
  out[5] = cmd;
  out.set(body, 6);
  out[out.length - 1] = checksum(out, 3, out.length - 1);
  return out;
}

export function encodeIpmiRequest(r: IpmiRequest): Uint8Array {
  return encodeLanMessage(r.rs_addr, ((r.net_fn & 0x3f) << 2) | (r.rs_lun & 3), r.rq_addr, ((r.rq_seq & 0x3f) << 2) | (r.rq_lun & 3), r.cmd, r.data);
}

export function encodeIpmiResponse(r: IpmiResponse): Uint8Array {
  return encodeLanMessage(
    r.rq_addr,
    ((r.net_fn & 0x3f) << 2) | (r.rq_lun & 3),
    r.rs_addr,
    ((r.rq_seq & 0x3f) << 2) | (r.rs_lun & 3),
    r.cmd,
    concat(Uint8Array.of(r.completion_code & 0xff), r.data),
  );
}

function checkLanMessage(bytes: Uint8Array, minimum: number): string | null {
  if (bytes.length < minimum) return `IPMI message of ${bytes.length} bytes is shorter than ${minimum}`;
  if (checksum(bytes, 0, 3) !== 0) return "IPMI header checksum mismatch";
  if (checksum(bytes, 3, bytes.length) !== 0) return "IPMI data checksum mismatch";
  return null;
}

export function decodeIpmiRequest(bytes: Uint8Array): Decoded<IpmiRequest> {
  const error = checkLanMessage(bytes, 7);
  if (error) return fail(error);
  return ok({
    rs_addr: u8(bytes, 0),
    net_fn: u8(bytes, 1) >> 2,
    rs_lun: u8(bytes, 1) & 3,
    rq_addr: u8(bytes, 3),
    rq_seq: u8(bytes, 4) >> 2,
    rq_lun: u8(bytes, 4) & 3,
    cmd: u8(bytes, 5),
    data: bytes.slice(6, bytes.length - 1),
  });
}

export function decodeIpmiResponse(bytes: Uint8Array): Decoded<IpmiResponse> {
  const error = checkLanMessage(bytes, 8);
  if (error) return fail(error);
  return ok({
    rq_addr: u8(bytes, 0),
    net_fn: u8(bytes, 1) >> 2,
    rq_lun: u8(bytes, 1) & 3,
    rs_addr: u8(bytes, 3),
    rq_seq: u8(bytes, 4) >> 2,
    rs_lun: u8(bytes, 4) & 3,
    cmd: u8(bytes, 5),
    completion_code: u8(bytes, 6),
    data: bytes.slice(7, bytes.length - 1),
  });
}
