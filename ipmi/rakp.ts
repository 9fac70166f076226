// Session-setup payloads of RMCP+ (IPMI v2.0 spec 13.17-13.23): Open Session request/response and
// RAKP messages 1-4, in both directions (the client sends 1 and 3, the responder 2 and 4).
// Decoders are total and tolerate what real BMCs do (ipmi_sim answers a refused Open Session
// with only the tag and the status byte).

import { concat, fail, ok, putU32le, u32le, u8, type Decoded } from "./bytes.ts";

export const RmcpStatus = {
  OK: 0x00,
  INSUFFICIENT_RESOURCES: 0x01,
  INVALID_SESSION_ID: 0x02,
  INVALID_PAYLOAD_TYPE: 0x03,
  INVALID_AUTHENTICATION_ALGORITHM: 0x04,
  INVALID_INTEGRITY_ALGORITHM: 0x05,
  NO_MATCHING_AUTHENTICATION_PAYLOAD: 0x06,
  NO_MATCHING_INTEGRITY_PAYLOAD: 0x07,
  INACTIVE_SESSION_ID: 0x08,
  INVALID_ROLE: 0x09,
  UNAUTHORIZED_ROLE: 0x0a,
  INSUFFICIENT_RESOURCES_AT_ROLE: 0x0b,
  INVALID_NAME_LENGTH: 0x0c,
  UNAUTHORIZED_NAME: 0x0d,
  UNAUTHORIZED_GUID: 0x0e,
  INVALID_INTEGRITY_CHECK_VALUE: 0x0f,
  INVALID_CONFIDENTIALITY_ALGORITHM: 0x10,
  NO_CIPHER_SUITE_MATCH: 0x11,
  ILLEGAL_PARAMETER: 0x12,
} as const;

const STATUS_TEXT: Record<number, string> = {
  0x00: "no errors",
  0x01: "insufficient resources to create a session",
  0x02: "invalid session ID",
  0x03: "invalid payload type",
  0x04: "invalid authentication algorithm",
  0x05: "invalid integrity algorithm",
  0x06: "no matching authentication payload",
  0x07: "no matching integrity payload",
  0x08: "inactive session ID",
  0x09: "invalid role",
  0x0a: "unauthorized role or privilege level requested",
  0x0b: "insufficient resources to create a session at the requested role",
  0x0c: "invalid name length",
  0x0d: "unauthorized name",
  0x0e: "unauthorized GUID",
  0x0f: "invalid integrity check value",
  0x10: "invalid confidentiality algorithm",
  0x11: "no cipher suite match with proposed security algorithms",
  0x12: "illegal or unrecognized parameter",
};

export function rmcpStatusText(status: number): string {
  const hexCode = "0x" + status.toString(16).padStart(2, "0");
  return `${hexCode} (${STATUS_TEXT[status] ?? "unknown status"})`;
}

/** Statuses a BMC uses when it does not implement the proposed algorithms. */
export function isCipherNotOffered(status: number): boolean {
  return (
    status === RmcpStatus.INVALID_AUTHENTICATION_ALGORITHM ||
    status === RmcpStatus.INVALID_INTEGRITY_ALGORITHM ||
    status === RmcpStatus.INVALID_CONFIDENTIALITY_ALGORITHM ||
    status === RmcpStatus.NO_CIPHER_SUITE_MATCH ||
    status === RmcpStatus.NO_MATCHING_AUTHENTICATION_PAYLOAD ||
    status === RmcpStatus.NO_MATCHING_INTEGRITY_PAYLOAD
  );
}

export function isPrivilegeRefused(status: number): boolean {
  return status === RmcpStatus.INVALID_ROLE || status === RmcpStatus.UNAUTHORIZED_ROLE || status === RmcpStatus.INSUFFICIENT_RESOURCES_AT_ROLE;
}

export type Algorithms = { auth: number; integrity: number; confidentiality: number };

export type OpenSessionRequest = {
  tag: number;
  /** 0 = highest the BMC allows, else a privilege level (2 user, 3 operator, 4 administrator). */
  max_privilege: number;
  console_session_id: number;
  algorithms: Algorithms;
};

export type OpenSessionResponse = {
  tag: number;
  status: number;
  max_privilege: number;
  console_session_id: number;
  /** Present only when status is 0. */
  bmc_session_id: number;
  algorithms: Algorithms | null;
};

function algorithmRecord(type: number, algorithm: number): Uint8Array {
  return Uint8Array.of(type, 0, 0, 8, algorithm & 0x3f, 0, 0, 0);
}

export function encodeOpenSessionRequest(r: OpenSessionRequest): Uint8Array {
  const head = new Uint8Array(8);
  head[0] = r.tag;
  head[1] = r.max_privilege & 0x0f;
  putU32le(head, 4, r.console_session_id);
  return concat(head, algorithmRecord(0, r.algorithms.auth), algorithmRecord(1, r.algorithms.integrity), algorithmRecord(2, r.algorithms.confidentiality));
}

function decodeAlgorithms(bytes: Uint8Array, offset: number): Decoded<Algorithms> {
  const values: number[] = [];
  for (let type = 0; type < 3; type++) {
    const at = offset + type * 8;
    if (u8(bytes, at) !== type) return fail(`algorithm record ${type} has type ${u8(bytes, at)}`);
    if (u8(bytes, at + 3) !== 8) return fail(`algorithm record ${type} has length ${u8(bytes, at + 3)}, not 8`);
    values.push(u8(bytes, at + 4) & 0x3f);
  }
  return ok({ auth: values[0] ?? 0, integrity: values[1] ?? 0, confidentiality: values[2] ?? 0 });
}

export function decodeOpenSessionRequest(bytes: Uint8Array): Decoded<OpenSessionRequest> {
  if (bytes.length < 32) return fail(`Open Session request of ${bytes.length} bytes is shorter than 32`);
  const algorithms = decodeAlgorithms(bytes, 8);
  if (!algorithms.ok) return algorithms;
  return ok({ tag: u8(bytes, 0), max_privilege: u8(bytes, 1) & 0x0f, console_session_id: u32le(bytes, 4), algorithms: algorithms.value });
}

export function encodeOpenSessionResponse(r: OpenSessionResponse): Uint8Array {
  if (r.status !== 0 || !r.algorithms) {
    const short = new Uint8Array(8);
    short[0] = r.tag;
    short[1] = r.status;
    short[2] = r.max_privilege;
    putU32le(short, 4, r.console_session_id);
    return short;
  }
  const head = new Uint8Array(12);
  head[0] = r.tag;
  head[1] = r.status;
  head[2] = r.max_privilege;
  putU32le(head, 4, r.console_session_id);
  putU32le(head, 8, r.bmc_session_id);
  return concat(head, algorithmRecord(0, r.algorithms.auth), algorithmRecord(1, r.algorithms.integrity), algorithmRecord(2, r.algorithms.confidentiality));
}

export function decodeOpenSessionResponse(bytes: Uint8Array): Decoded<OpenSessionResponse> {
  if (bytes.length < 2) return fail("Open Session response shorter than its status");
  const tag = u8(bytes, 0);
  const status = u8(bytes, 1);
  if (status !== 0) {
    // A refusal may carry only the tag and the status (ipmi_sim) or the first 8 bytes (spec).
    const consoleId = bytes.length >= 8 ? u32le(bytes, 4) : 0;
    return ok({ tag, status, max_privilege: u8(bytes, 2) & 0x0f, console_session_id: consoleId, bmc_session_id: 0, algorithms: null });
  }
  if (bytes.length < 36) return fail(`Open Session response of ${bytes.length} bytes is shorter than 36`);
  const algorithms = decodeAlgorithms(bytes, 12);
  if (!algorithms.ok) return algorithms;
  return ok({
    tag,
    status,
    max_privilege: u8(bytes, 2) & 0x0f,
    console_session_id: u32le(bytes, 4),
    bmc_session_id: u32le(bytes, 8),
    algorithms: algorithms.value,
  });
}

/** RAKP1 role byte bit 4: look the user up by name only, then check the privilege. */
export const ROLE_NAME_ONLY_LOOKUP = 0x10;

export type Rakp1 = { tag: number; bmc_session_id: number; console_random: Uint8Array; role: number; username: Uint8Array };

export function encodeRakp1(r: Rakp1): Uint8Array {
  if (r.console_random.length !== 16) throw new RangeError("RAKP1 random number must be 16 bytes");
  if (r.username.length > 16) throw new RangeError("RAKP1 user name longer than 16 bytes");
  const out = new Uint8Array(28 + r.username.length);
  out[0] = r.tag;
  putU32le(out, 4, r.bmc_session_id);
  out.set(r.console_random, 8);
  out[24] = r.role;
  out[27] = r.username.length;
  out.set(r.username, 28);
  return out;
}

export function decodeRakp1(bytes: Uint8Array): Decoded<Rakp1> {
  if (bytes.length < 28) return fail(`RAKP1 of ${bytes.length} bytes is shorter than 28`);
  const nameLength = u8(bytes, 27);
  if (nameLength > 16) return fail(`RAKP1 user name length ${nameLength} exceeds 16`);
  if (bytes.length < 28 + nameLength) return fail("RAKP1 user name exceeds the payload");
  return ok({
    tag: u8(bytes, 0),
    bmc_session_id: u32le(bytes, 4),
    console_random: bytes.slice(8, 24),
    role: u8(bytes, 24),
    username: bytes.slice(28, 28 + nameLength),
  });
}

export type Rakp2 = {
  tag: number;
  status: number;
  console_session_id: number;
  bmc_random: Uint8Array;
  bmc_guid: Uint8Array;
  auth_code: Uint8Array;
};

export function encodeRakp2(r: Rakp2): Uint8Array {
  if (r.status !== 0) {
    const short = new Uint8Array(8);
    short[0] = r.tag;
    short[1] = r.status;
    putU32le(short, 4, r.console_session_id);
    return short;
  }
  const head = new Uint8Array(8);
  head[0] = r.tag;
  head[1] = r.status;
  putU32le(head, 4, r.console_session_id);
  return concat(head, r.bmc_random, r.bmc_guid, r.auth_code);
}

export function decodeRakp2(bytes: Uint8Array): Decoded<Rakp2> {
  if (bytes.length < 2) return fail("RAKP2 shorter than its status");
  const tag = u8(bytes, 0);
  const status = u8(bytes, 1);
  const consoleId = bytes.length >= 8 ? u32le(bytes, 4) : 0;
  if (status !== 0) {
    return ok({ tag, status, console_session_id: consoleId, bmc_random: new Uint8Array(0), bmc_guid: new Uint8Array(0), auth_code: new Uint8Array(0) });
  }
  if (bytes.length < 40) return fail(`RAKP2 of ${bytes.length} bytes is shorter than 40`);
  return ok({ tag, status, console_session_id: consoleId, bmc_random: bytes.slice(8, 24), bmc_guid: bytes.slice(24, 40), auth_code: bytes.slice(40) });
}

export type Rakp3 = { tag: number; status: number; bmc_session_id: number; auth_code: Uint8Array };

export function encodeRakp3(r: Rakp3): Uint8Array {
  const head = new Uint8Array(8);
  head[0] = r.tag;
  head[1] = r.status;
  putU32le(head, 4, r.bmc_session_id);
  return concat(head, r.auth_code);
}

export function decodeRakp3(bytes: Uint8Array): Decoded<Rakp3> {
  if (bytes.length < 8) return fail(`RAKP3 of ${bytes.length} bytes is shorter than 8`);
  return ok({ tag: u8(bytes, 0), status: u8(bytes, 1), bmc_session_id: u32le(bytes, 4), auth_code: bytes.slice(8) });
}

export type Rakp4 = { tag: number; status: number; console_session_id: number; icv: Uint8Array };

export function encodeRakp4(r: Rakp4): Uint8Array {
  const head = new Uint8Array(8);
  head[0] = r.tag;
  head[1] = r.status;
  putU32le(head, 4, r.console_session_id);
  return concat(head, r.icv);
}

export function decodeRakp4(bytes: Uint8Array): Decoded<Rakp4> {
  if (bytes.length < 2) return fail("RAKP4 shorter than its status");
  const consoleId = bytes.length >= 8 ? u32le(bytes, 4) : 0;
  return ok({ tag: u8(bytes, 0), status: u8(bytes, 1), console_session_id: consoleId, icv: bytes.length > 8 ? bytes.slice(8) : new Uint8Array(0) });
}
