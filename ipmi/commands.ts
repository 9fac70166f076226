// The IPMI commands hapd uses, both directions: request encoders and tolerant response decoders
// for the client, request decoders and response encoders for the responder. Tolerant means: we
// read what we need and ignore the rest (ipmi_sim's Set Watchdog reply carries ~35 garbage bytes,
// its Get Watchdog reply lacks the present countdown), but we never read past the end.

import { concat, fail, hexByte, ok, putU16le, putU32le, u16le, u32le, u8, type Decoded } from "./bytes.ts";

export const NetFn = { CHASSIS: 0x00, APP: 0x06 } as const;

export const Cmd = {
  // netFn App
  GET_DEVICE_ID: 0x01,
  RESET_WATCHDOG_TIMER: 0x22,
  SET_WATCHDOG_TIMER: 0x24,
  GET_WATCHDOG_TIMER: 0x25,
  GET_CHANNEL_AUTH_CAPABILITIES: 0x38,
  SET_SESSION_PRIVILEGE_LEVEL: 0x3b,
  CLOSE_SESSION: 0x3c,
  GET_CHANNEL_CIPHER_SUITES: 0x54,
  // netFn Chassis
  GET_CHASSIS_STATUS: 0x01,
  CHASSIS_CONTROL: 0x02,
} as const;

export const CompletionCode = {
  OK: 0x00,
  WATCHDOG_NOT_INITIALIZED: 0x80,
  NODE_BUSY: 0xc0,
  INVALID_COMMAND: 0xc1,
  REQUEST_DATA_LENGTH_INVALID: 0xc7,
  PARAMETER_OUT_OF_RANGE: 0xc9,
  INVALID_DATA_FIELD: 0xcc,
  INSUFFICIENT_PRIVILEGE: 0xd4,
  NOT_SUPPORTED_IN_PRESENT_STATE: 0xd5,
  UNSPECIFIED: 0xff,
} as const;

const CC_TEXT: Record<number, string> = {
  0x00: "command completed normally",
  0xc0: "node busy",
  0xc1: "invalid command",
  0xc2: "command invalid for given LUN",
  0xc3: "timeout while processing command",
  0xc4: "out of space",
  0xc5: "reservation canceled or invalid",
  0xc6: "request data truncated",
  0xc7: "request data length invalid",
  0xc8: "request data field length limit exceeded",
  0xc9: "parameter out of range",
  0xca: "cannot return number of requested data bytes",
  0xcb: "requested sensor, data, or record not present",
  0xcc: "invalid data field in request",
  0xcd: "command illegal for specified sensor or record type",
  0xce: "command response could not be provided",
  0xcf: "cannot execute duplicated request",
  0xd0: "SDR repository in update mode",
  0xd1: "device in firmware update mode",
  0xd2: "BMC initialization in progress",
  0xd3: "destination unavailable",
  0xd4: "insufficient privilege level",
  0xd5: "command not supported in present state",
  0xd6: "command sub-function disabled or unavailable",
  0xff: "unspecified error",
};

export function completionCodeText(cc: number): string {
  return `${hexByte(cc)} (${CC_TEXT[cc] ?? "command-specific completion code"})`;
}

// ---- privilege levels ------------------------------------------------------------------

export const Privilege = { CALLBACK: 1, USER: 2, OPERATOR: 3, ADMINISTRATOR: 4, OEM: 5 } as const;
export type PrivilegeName = "callback" | "user" | "operator" | "administrator";

export const PRIVILEGE_LEVEL: Readonly<Record<PrivilegeName, number>> = { callback: 1, user: 2, operator: 3, administrator: 4 };

export function privilegeName(level: number): string {
  return ["none", "callback", "user", "operator", "administrator", "OEM"][level] ?? `level ${level}`;
}

export type CommandRequest = { net_fn: number; cmd: number; data: Uint8Array };

// ---- Get Channel Authentication Capabilities (App 0x38), pre-session ----------------------

export type ChannelAuthCapabilities = {
  channel: number;
  v20_extended: boolean;
  auth_none: boolean;
  auth_md2: boolean;
  auth_md5: boolean;
  auth_password: boolean;
  auth_oem: boolean;
  kg_set: boolean;
  per_message_auth_disabled: boolean;
  user_level_auth_disabled: boolean;
  non_null_usernames: boolean;
  null_usernames: boolean;
  anonymous_login: boolean;
  supports_v15: boolean;
  supports_v20: boolean;
  oem_id: number;
};

export function getChannelAuthCapabilitiesRequest(privilege: number): CommandRequest {
  // 0x8E: bit 7 asks for the IPMI v2.0 extended data, channel 0xE means "this channel".
  return { net_fn: NetFn.APP, cmd: Cmd.GET_CHANNEL_AUTH_CAPABILITIES, data: Uint8Array.of(0x8e, privilege & 0x0f) };
}

export function decodeChannelAuthCapabilities(data: Uint8Array): Decoded<ChannelAuthCapabilities> {
  if (data.length < 4) return fail(`Get Channel Authentication Capabilities reply of ${data.length} bytes is shorter than 4`);
  const types = u8(data, 1);
  const caps = u8(data, 2);
  const ext = u8(data, 3);
  return ok({
    channel: u8(data, 0) & 0x0f,
    v20_extended: (types & 0x80) !== 0,
    auth_none: (types & 0x01) !== 0,
    auth_md2: (types & 0x02) !== 0,
    auth_md5: (types & 0x04) !== 0,
    auth_password: (types & 0x10) !== 0,
    auth_oem: (types & 0x20) !== 0,
    kg_set: (caps & 0x20) !== 0,
    per_message_auth_disabled: (caps & 0x10) !== 0,
    user_level_auth_disabled: (caps & 0x08) !== 0,
    non_null_usernames: (caps & 0x04) !== 0,
    null_usernames: (caps & 0x02) !== 0,
    anonymous_login: (caps & 0x01) !== 0,
    supports_v15: (types & 0x80) !== 0 && (ext & 0x01) !== 0,
    supports_v20: (types & 0x80) !== 0 && (ext & 0x02) !== 0,
    oem_id: data.length >= 7 ? u8(data, 4) | (u8(data, 5) << 8) | (u8(data, 6) << 16) : 0,
  });
}

export function encodeChannelAuthCapabilities(c: ChannelAuthCapabilities): Uint8Array {
  const types =
    (c.v20_extended ? 0x80 : 0) |
    (c.auth_oem ? 0x20 : 0) |
    (c.auth_password ? 0x10 : 0) |
    (c.auth_md5 ? 0x04 : 0) |
    (c.auth_md2 ? 0x02 : 0) |
    (c.auth_none ? 0x01 : 0);
  const caps =
    (c.kg_set ? 0x20 : 0) |
    (c.per_message_auth_disabled ? 0x10 : 0) |
    (c.user_level_auth_disabled ? 0x08 : 0) |
    (c.non_null_usernames ? 0x04 : 0) |
    (c.null_usernames ? 0x02 : 0) |
    (c.anonymous_login ? 0x01 : 0);
  const ext = (c.supports_v20 ? 0x02 : 0) | (c.supports_v15 ? 0x01 : 0);
  return Uint8Array.of(c.channel, types, caps, ext, c.oem_id & 0xff, (c.oem_id >> 8) & 0xff, (c.oem_id >> 16) & 0xff, 0);
}

// ---- Get Channel Cipher Suites (App 0x54), pre-session -----------------------------------

export type CipherSuiteRecord = { id: number; auth: number | null; integrity: number | null; confidentiality: number | null; oem_iana: number | null };

export function getChannelCipherSuitesRequest(list_index: number): CommandRequest {
  // Channel 0xE (this one), payload type IPMI, 0x80 = list by cipher suite.
  return { net_fn: NetFn.APP, cmd: Cmd.GET_CHANNEL_CIPHER_SUITES, data: Uint8Array.of(0x0e, 0x00, 0x80 | (list_index & 0x3f)) };
}

/** A reply is the channel byte then up to 16 bytes of records; a short page is the last. */
export function decodeCipherSuitePage(data: Uint8Array): Decoded<{ channel: number; records: Uint8Array }> {
  if (data.length < 1) return fail("Get Channel Cipher Suites reply is empty");
  return ok({ channel: u8(data, 0), records: data.slice(1, 17) });
}

export function parseCipherSuiteRecords(bytes: Uint8Array): CipherSuiteRecord[] {
  const records: CipherSuiteRecord[] = [];
  let i = 0;
  while (i < bytes.length) {
    const start = u8(bytes, i);
    if (start !== 0xc0 && start !== 0xc1) {
      i += 1; // skip a stray algorithm byte rather than give up on the rest
      continue;
    }
    if (i + 1 >= bytes.length) break;
    const record: CipherSuiteRecord = { id: u8(bytes, i + 1), auth: null, integrity: null, confidentiality: null, oem_iana: null };
    i += 2;
    if (start === 0xc1) {
      if (i + 3 > bytes.length) break;
      record.oem_iana = u8(bytes, i) | (u8(bytes, i + 1) << 8) | (u8(bytes, i + 2) << 16);
      i += 3;
    }
    while (i < bytes.length && u8(bytes, i) !== 0xc0 && u8(bytes, i) !== 0xc1) {
      const algorithm = u8(bytes, i);
      const tag = algorithm >> 6;
      if (tag === 0) record.auth ??= algorithm & 0x3f;
      else if (tag === 1) record.integrity ??= algorithm & 0x3f;
      else if (tag === 2) record.confidentiality ??= algorithm & 0x3f;
      i += 1;
    }
    records.push(record);
  }
  return records;
}

export function encodeCipherSuiteRecords(suites: { id: number; auth: number; integrity: number; confidentiality: number }[]): Uint8Array {
  const parts = suites.map((s) => Uint8Array.of(0xc0, s.id, s.auth & 0x3f, 0x40 | (s.integrity & 0x3f), 0x80 | (s.confidentiality & 0x3f)));
  return concat(...parts);
}

// ---- Set Session Privilege Level (App 0x3B) and Close Session (App 0x3C) ------------------

export function setSessionPrivilegeRequest(level: number): CommandRequest {
  return { net_fn: NetFn.APP, cmd: Cmd.SET_SESSION_PRIVILEGE_LEVEL, data: Uint8Array.of(level & 0x0f) };
}

export function decodeSessionPrivilege(data: Uint8Array): Decoded<number> {
  if (data.length < 1) return fail("Set Session Privilege Level reply is empty");
  return ok(u8(data, 0) & 0x0f);
}

export function closeSessionRequest(bmc_session_id: number): CommandRequest {
  const data = new Uint8Array(4);
  putU32le(data, 0, bmc_session_id);
  return { net_fn: NetFn.APP, cmd: Cmd.CLOSE_SESSION, data };
}

export function decodeCloseSessionRequest(data: Uint8Array): Decoded<number> {
  if (data.length < 4) return fail("Close Session request shorter than a session ID");
  return ok(u32le(data, 0));
}

// ---- Get Device ID (App 0x01) ------------------------------------------------------------

export type DeviceId = {
  device_id: number;
  device_revision: number;
  provides_sdrs: boolean;
  firmware_major: number;
  /** BCD-encoded minor revision as the BMC sent it (0x08 means ".08"). */
  firmware_minor_bcd: number;
  device_available: boolean;
  ipmi_version_major: number;
  ipmi_version_minor: number;
  additional_support: number;
  manufacturer_id: number;
  product_id: number;
  aux_firmware: Uint8Array | null;
};

export function getDeviceIdRequest(): CommandRequest {
  return { net_fn: NetFn.APP, cmd: Cmd.GET_DEVICE_ID, data: new Uint8Array(0) };
}

export function decodeDeviceId(data: Uint8Array): Decoded<DeviceId> {
  if (data.length < 11) return fail(`Get Device ID reply of ${data.length} bytes is shorter than 11`);
  return ok({
    device_id: u8(data, 0),
    device_revision: u8(data, 1) & 0x0f,
    provides_sdrs: (u8(data, 1) & 0x80) !== 0,
    firmware_major: u8(data, 2) & 0x7f,
    device_available: (u8(data, 2) & 0x80) === 0,
    firmware_minor_bcd: u8(data, 3),
    ipmi_version_major: u8(data, 4) & 0x0f,
    ipmi_version_minor: u8(data, 4) >> 4,
    additional_support: u8(data, 5),
    manufacturer_id: u8(data, 6) | (u8(data, 7) << 8) | ((u8(data, 8) & 0x0f) << 16),
    product_id: u16le(data, 9),
    aux_firmware: data.length >= 15 ? data.slice(11, 15) : null,
  });
}

export function encodeDeviceId(d: DeviceId): Uint8Array {
  const out = new Uint8Array(d.aux_firmware ? 15 : 11);
  out[0] = d.device_id;
  out[1] = (d.device_revision & 0x0f) | (d.provides_sdrs ? 0x80 : 0);
  out[2] = (d.firmware_major & 0x7f) | (d.device_available ? 0 : 0x80);
  out[3] = d.firmware_minor_bcd;
  out[4] = (d.ipmi_version_major & 0x0f) | ((d.ipmi_version_minor & 0x0f) << 4);
  out[5] = d.additional_support;
  out[6] = d.manufacturer_id & 0xff;
  out[7] = (d.manufacturer_id >> 8) & 0xff;
  out[8] = (d.manufacturer_id >> 16) & 0x0f;
  putU16le(out, 9, d.product_id);
  if (d.aux_firmware) out.set(d.aux_firmware.slice(0, 4), 11);
  return out;
}

// ---- Get Chassis Status (Chassis 0x01) and Chassis Control (Chassis 0x02) -----------------

export type ChassisStatus = {
  power_on: boolean;
  power_overload: boolean;
  interlock: boolean;
  power_fault: boolean;
  power_control_fault: boolean;
  /** 0 stays off, 1 restores previous state, 2 always powers up, 3 unknown. */
  restore_policy: number;
  last_power_event: number;
  misc_state: number;
};

export function getChassisStatusRequest(): CommandRequest {
  return { net_fn: NetFn.CHASSIS, cmd: Cmd.GET_CHASSIS_STATUS, data: new Uint8Array(0) };
}

export function decodeChassisStatus(data: Uint8Array): Decoded<ChassisStatus> {
  // The spec has 3 or 4 bytes; the power state is the first and the only one fencing needs.
  if (data.length < 1) return fail("Get Chassis Status reply is empty");
  const state = u8(data, 0);
  return ok({
    power_on: (state & 0x01) !== 0,
    power_overload: (state & 0x02) !== 0,
    interlock: (state & 0x04) !== 0,
    power_fault: (state & 0x08) !== 0,
    power_control_fault: (state & 0x10) !== 0,
    restore_policy: (state >> 5) & 0x03,
    last_power_event: u8(data, 1),
    misc_state: u8(data, 2),
  });
}

export function encodeChassisStatus(s: ChassisStatus): Uint8Array {
  const state =
    (s.power_on ? 0x01 : 0) |
    (s.power_overload ? 0x02 : 0) |
    (s.interlock ? 0x04 : 0) |
    (s.power_fault ? 0x08 : 0) |
    (s.power_control_fault ? 0x10 : 0) |
    ((s.restore_policy & 0x03) << 5);
  return Uint8Array.of(state, s.last_power_event, s.misc_state);
}

export type ChassisAction = "power_off" | "power_on" | "power_cycle" | "hard_reset" | "pulse_diagnostic" | "soft_shutdown";

export const CHASSIS_CONTROL_CODE: Readonly<Record<ChassisAction, number>> = {
  power_off: 0,
  power_on: 1,
  power_cycle: 2,
  hard_reset: 3,
  pulse_diagnostic: 4,
  soft_shutdown: 5,
};

export function chassisControlRequest(action: ChassisAction): CommandRequest {
  return { net_fn: NetFn.CHASSIS, cmd: Cmd.CHASSIS_CONTROL, data: Uint8Array.of(CHASSIS_CONTROL_CODE[action]) };
}

export function decodeChassisControlRequest(data: Uint8Array): Decoded<ChassisAction> {
  if (data.length < 1) return fail("Chassis Control request is empty");
  const code = u8(data, 0) & 0x0f;
  const entry = Object.entries(CHASSIS_CONTROL_CODE).find(([, value]) => value === code);
  if (!entry) return fail(`Chassis Control code ${code} is not defined`);
  return ok(entry[0] as ChassisAction);
}

// ---- Watchdog timer (App 0x22 / 0x24 / 0x25) ------------------------------------------------

export type WatchdogTimeoutAction = "none" | "hard_reset" | "power_down" | "power_cycle";
export type WatchdogPretimeoutInterrupt = "none" | "smi" | "nmi" | "messaging";

const TIMEOUT_ACTIONS: readonly WatchdogTimeoutAction[] = ["none", "hard_reset", "power_down", "power_cycle"];
const PRETIMEOUT_INTERRUPTS: readonly WatchdogPretimeoutInterrupt[] = ["none", "smi", "nmi", "messaging"];

/** Timer use 4 is "SMS/OS", the one an operating-system watchdog daemon uses. */
export const WATCHDOG_USE_SMS_OS = 4;

export type WatchdogSettings = {
  /** 1 BIOS FRB2, 2 BIOS/POST, 3 OS load, 4 SMS/OS, 5 OEM. */
  timer_use: number;
  dont_stop: boolean;
  dont_log: boolean;
  timeout_action: WatchdogTimeoutAction;
  pretimeout_interrupt: WatchdogPretimeoutInterrupt;
  pretimeout_interval_s: number;
  /** Bits of timer use expiration flags to clear (bit 1 FRB2 ... bit 5 OEM). */
  expiration_flags_clear: number;
  /** Sent in 100 ms units; rounded up. */
  initial_countdown_ms: number;
};

export type WatchdogState = {
  timer_use: number;
  /** Bit 6 of the timer-use byte. ipmi_sim 2.0.33 echoes "don't stop" here instead. */
  running: boolean;
  dont_log: boolean;
  timeout_action: WatchdogTimeoutAction;
  pretimeout_interrupt: WatchdogPretimeoutInterrupt;
  pretimeout_interval_s: number;
  expiration_flags: number;
  initial_countdown_ms: number;
  /** Null when the BMC leaves it out (ipmi_sim sends only 6 bytes). */
  present_countdown_ms: number | null;
};

export const MAX_WATCHDOG_COUNTDOWN_MS = 0xffff * 100;

export function setWatchdogRequest(s: WatchdogSettings): CommandRequest {
  const countdown = Math.min(0xffff, Math.max(0, Math.ceil(s.initial_countdown_ms / 100)));
  const data = new Uint8Array(6);
  data[0] = (s.timer_use & 0x07) | (s.dont_stop ? 0x40 : 0) | (s.dont_log ? 0x80 : 0);
  data[1] = TIMEOUT_ACTIONS.indexOf(s.timeout_action) | (PRETIMEOUT_INTERRUPTS.indexOf(s.pretimeout_interrupt) << 4);
  data[2] = Math.min(255, Math.max(0, Math.round(s.pretimeout_interval_s)));
  data[3] = s.expiration_flags_clear & 0x3e;
  putU16le(data, 4, countdown);
  return { net_fn: NetFn.APP, cmd: Cmd.SET_WATCHDOG_TIMER, data };
}

export function decodeSetWatchdogRequest(data: Uint8Array): Decoded<WatchdogSettings> {
  if (data.length < 6) return fail(`Set Watchdog Timer request of ${data.length} bytes is shorter than 6`);
  const action = TIMEOUT_ACTIONS[u8(data, 1) & 0x07];
  const interrupt = PRETIMEOUT_INTERRUPTS[(u8(data, 1) >> 4) & 0x07];
  if (!action) return fail(`watchdog timeout action ${u8(data, 1) & 0x07} is not defined`);
  if (!interrupt) return fail(`watchdog pre-timeout interrupt ${(u8(data, 1) >> 4) & 0x07} is not defined`);
  return ok({
    timer_use: u8(data, 0) & 0x07,
    dont_stop: (u8(data, 0) & 0x40) !== 0,
    dont_log: (u8(data, 0) & 0x80) !== 0,
    timeout_action: action,
    pretimeout_interrupt: interrupt,
    pretimeout_interval_s: u8(data, 2),
    expiration_flags_clear: u8(data, 3),
    initial_countdown_ms: u16le(data, 4) * 100,
  });
}

export function getWatchdogRequest(): CommandRequest {
  return { net_fn: NetFn.APP, cmd: Cmd.GET_WATCHDOG_TIMER, data: new Uint8Array(0) };
}

export function resetWatchdogRequest(): CommandRequest {
  return { net_fn: NetFn.APP, cmd: Cmd.RESET_WATCHDOG_TIMER, data: new Uint8Array(0) };
}

export function decodeWatchdogState(data: Uint8Array): Decoded<WatchdogState> {
  if (data.length < 6) return fail(`Get Watchdog Timer reply of ${data.length} bytes is shorter than 6`);
  return ok({
    timer_use: u8(data, 0) & 0x07,
    running: (u8(data, 0) & 0x40) !== 0,
    dont_log: (u8(data, 0) & 0x80) !== 0,
    timeout_action: TIMEOUT_ACTIONS[u8(data, 1) & 0x07] ?? "none",
    pretimeout_interrupt: PRETIMEOUT_INTERRUPTS[(u8(data, 1) >> 4) & 0x07] ?? "none",
    pretimeout_interval_s: u8(data, 2),
    expiration_flags: u8(data, 3),
    initial_countdown_ms: u16le(data, 4) * 100,
    present_countdown_ms: data.length >= 8 ? u16le(data, 6) * 100 : null,
  });
}

export function encodeWatchdogState(s: WatchdogState): Uint8Array {
  const out = new Uint8Array(s.present_countdown_ms === null ? 6 : 8);
  out[0] = (s.timer_use & 0x07) | (s.running ? 0x40 : 0) | (s.dont_log ? 0x80 : 0);
  out[1] = TIMEOUT_ACTIONS.indexOf(s.timeout_action) | (PRETIMEOUT_INTERRUPTS.indexOf(s.pretimeout_interrupt) << 4);
  out[2] = s.pretimeout_interval_s & 0xff;
  out[3] = s.expiration_flags & 0xff;
  putU16le(out, 4, Math.min(0xffff, Math.ceil(s.initial_countdown_ms / 100)));
  if (s.present_countdown_ms !== null) putU16le(out, 6, Math.min(0xffff, Math.ceil(s.present_countdown_ms / 100)));
  return out;
}
