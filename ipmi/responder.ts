// hapd's own BMC responder, as a core without I/O: RMCP+ session setup for cipher suites 3 and
// 17, Get Channel Authentication Capabilities / Cipher Suites, Get Device ID, chassis status and
// control, watchdog Set/Get/Reset over a ChassisModel. It exists to prove suite 17 (no
// simulator here has SHA-256) and to drive the client's state machine in memory. Validated
// against ipmitool -I lanplus -C 17 / -C 3 (test/ipmi/responder-ipmitool.test.ts).
//
// Events: receive(datagram, from, now_ms) and tick(now_ms). Effects: datagrams to send to an
// opaque peer key (`from`), plus the next time tick() is needed (nextWakeMs()).

import { bytesEqual, concat, hexByte } from "./bytes.ts";
import { ChassisModel } from "./chassis-model.ts";
import {
  Cmd,
  CompletionCode,
  NetFn,
  Privilege,
  decodeChassisControlRequest,
  decodeCloseSessionRequest,
  decodeSetWatchdogRequest,
  encodeChannelAuthCapabilities,
  encodeChassisStatus,
  encodeCipherSuiteRecords,
  encodeDeviceId,
  encodeWatchdogState,
  type DeviceId,
} from "./commands.ts";
import {
  CIPHER_SUITES,
  decryptPayload,
  deriveSessionKeys,
  encryptPayload,
  integrityCode,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4Icv,
  suiteForAlgorithms,
  userKey,
  AuthAlgorithm,
  IntegrityAlgorithm,
  ConfidentialityAlgorithm,
  type CipherSuite,
  type CipherSuiteId,
  type RakpContext,
  type SessionKeys,
} from "./crypto.ts";
import {
  ROLE_NAME_ONLY_LOOKUP,
  RmcpStatus,
  decodeOpenSessionRequest,
  decodeRakp1,
  decodeRakp3,
  encodeOpenSessionResponse,
  encodeRakp2,
  encodeRakp4,
} from "./rakp.ts";
import {
  PayloadType,
  decodeIpmiRequest,
  decodePacket,
  encodeIpmiResponse,
  encodeV15,
  encodeV20,
  splitIntegrityTrailer,
  type IpmiRequest,
  type V20Packet,
} from "./rmcp.ts";

export type ResponderUser = { name: string; password: string; max_privilege: number };

export type ResponderConfig = {
  users: ResponderUser[];
  /** 16 bytes, used in RAKP2/RAKP4 exactly as given. */
  guid: Uint8Array;
  cipher_suites: CipherSuiteId[];
  /** Highest privilege the LAN channel allows (4 = administrator). */
  channel_privilege_limit: number;
  random_bytes: (count: number) => Uint8Array;
  /** A session idle this long is forgotten (the spec's minimum is 60 s; ipmi_sim uses 30 s). */
  session_timeout_ms: number;
  max_sessions: number;
  device: DeviceId;
  chassis: ChassisModel;
};

export type ResponderEffect = { kind: "send"; to: string; bytes: Uint8Array } | { kind: "log"; text: string };

type ResponderSession = {
  bmc_session_id: number;
  console_session_id: number;
  from: string;
  suite: CipherSuite;
  phase: "opened" | "rakp2_sent" | "active";
  /** From Open Session: the most this session may ever reach. */
  open_max_privilege: number;
  role: number;
  privilege: number;
  user: ResponderUser | null;
  username: Uint8Array;
  console_random: Uint8Array;
  bmc_random: Uint8Array;
  keys: SessionKeys | null;
  recv_highest_seq: number;
  xmit_seq: number;
  last_activity_ms: number;
};

/** Commands and the privilege each needs (spec appendix G). */
const REQUIRED_PRIVILEGE: Record<string, number> = {
  [`${NetFn.APP}:${Cmd.GET_DEVICE_ID}`]: Privilege.USER,
  [`${NetFn.APP}:${Cmd.RESET_WATCHDOG_TIMER}`]: Privilege.OPERATOR,
  [`${NetFn.APP}:${Cmd.SET_WATCHDOG_TIMER}`]: Privilege.OPERATOR,
  [`${NetFn.APP}:${Cmd.GET_WATCHDOG_TIMER}`]: Privilege.USER,
  [`${NetFn.APP}:${Cmd.GET_CHANNEL_AUTH_CAPABILITIES}`]: Privilege.CALLBACK,
  [`${NetFn.APP}:${Cmd.SET_SESSION_PRIVILEGE_LEVEL}`]: Privilege.CALLBACK,
  [`${NetFn.APP}:${Cmd.CLOSE_SESSION}`]: Privilege.CALLBACK,
  [`${NetFn.APP}:${Cmd.GET_CHANNEL_CIPHER_SUITES}`]: Privilege.CALLBACK,
  [`${NetFn.CHASSIS}:${Cmd.GET_CHASSIS_STATUS}`]: Privilege.USER,
  [`${NetFn.CHASSIS}:${Cmd.CHASSIS_CONTROL}`]: Privilege.OPERATOR,
};

const GET_SYSTEM_GUID = 0x37;

type Reply = { cc: number; data?: Uint8Array; after?: () => void };

export class BmcResponder {
  private readonly cfg: ResponderConfig;
  private readonly sessions = new Map<number, ResponderSession>();
  private next_session_number = 1;
  private effects: ResponderEffect[] = [];

  constructor(cfg: ResponderConfig) {
    if (cfg.guid.length !== 16) throw new RangeError("the BMC GUID must be 16 bytes");
    for (const user of cfg.users) userKey(new TextEncoder().encode(user.password));
    this.cfg = cfg;
  }

  get chassis(): ChassisModel {
    return this.cfg.chassis;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  nextWakeMs(): number | null {
    const times: number[] = [];
    const chassis = this.cfg.chassis.nextWakeMs();
    if (chassis !== null) times.push(chassis);
    for (const s of this.sessions.values()) times.push(s.last_activity_ms + this.cfg.session_timeout_ms);
    return times.length === 0 ? null : Math.min(...times);
  }

  tick(now_ms: number): ResponderEffect[] {
    this.effects = [];
    this.cfg.chassis.tick(now_ms);
    for (const [id, s] of this.sessions) {
      if (now_ms - s.last_activity_ms >= this.cfg.session_timeout_ms) {
        this.sessions.delete(id);
        this.log(`session ${hexByte(id)} expired`);
      }
    }
    return this.effects;
  }

  receive(datagram: Uint8Array, from: string, now_ms: number): ResponderEffect[] {
    this.effects = [];
    try {
      this.cfg.chassis.tick(now_ms);
      this.onDatagram(datagram, from, now_ms);
    } catch (error) {
      // Never let a hostile datagram take the responder down.
      this.log(`internal error on a datagram from ${from}: ${(error as Error).message}`);
    }
    return this.effects;
  }

  private log(text: string): void {
    this.effects.push({ kind: "log", text });
  }

  private sendTo(to: string, bytes: Uint8Array): void {
    this.effects.push({ kind: "send", to, bytes });
  }

  private onDatagram(datagram: Uint8Array, from: string, now_ms: number): void {
    const decoded = decodePacket(datagram);
    if (!decoded.ok) return this.log(`dropped from ${from}: ${decoded.error}`);
    const packet = decoded.value;
    if (packet.kind === "asf") return this.log(`dropped ASF message from ${from}`);
    if (packet.kind === "v15") {
      if (packet.session_id !== 0 || packet.auth_type !== 0) return this.log(`dropped IPMI v1.5 session message from ${from}`);
      return this.onPreSession(packet.message, from, now_ms, "v15");
    }
    if (packet.session_id === 0) {
      if (packet.authenticated || packet.encrypted) return this.log(`dropped authenticated session-0 packet from ${from}`);
      switch (packet.payload_type) {
        case PayloadType.IPMI:
          return this.onPreSession(packet.payload, from, now_ms, "v20");
        case PayloadType.OPEN_SESSION_REQUEST:
          return this.onOpenSession(packet.payload, from, now_ms);
        case PayloadType.RAKP1:
          return this.onRakp1(packet.payload, from, now_ms);
        case PayloadType.RAKP3:
          return this.onRakp3(packet.payload, from, now_ms);
        default:
          return this.log(`dropped payload type ${hexByte(packet.payload_type)} from ${from}`);
      }
    }
    return this.onSessionPacket(datagram, packet, from, now_ms);
  }

  // ---- pre-session -------------------------------------------------------------------

  private onPreSession(message: Uint8Array, from: string, now_ms: number, framing: "v15" | "v20"): void {
    const decoded = decodeIpmiRequest(message);
    if (!decoded.ok) return this.log(`dropped pre-session message from ${from}: ${decoded.error}`);
    const request = decoded.value;
    let reply: Reply;
    if (request.net_fn === NetFn.APP && request.cmd === Cmd.GET_CHANNEL_AUTH_CAPABILITIES) reply = this.authCaps(request.data);
    else if (request.net_fn === NetFn.APP && request.cmd === Cmd.GET_CHANNEL_CIPHER_SUITES) reply = this.cipherSuites(request.data);
    else if (request.net_fn === NetFn.APP && request.cmd === GET_SYSTEM_GUID) reply = { cc: 0, data: this.cfg.guid };
    else reply = { cc: CompletionCode.NOT_SUPPORTED_IN_PRESENT_STATE };
    const response = this.responseMessage(request, reply);
    void now_ms;
    if (framing === "v15") this.sendTo(from, encodeV15({ session_seq: 0, session_id: 0, message: response }));
    else this.sendTo(from, encodeV20({ payload_type: PayloadType.IPMI, encrypted: false, authenticated: false, session_id: 0, session_seq: 0, payload: response }));
  }

  private responseMessage(request: IpmiRequest, reply: Reply): Uint8Array {
    return encodeIpmiResponse({
      rq_addr: request.rq_addr,
      net_fn: request.net_fn + 1,
      rq_lun: request.rq_lun,
      rs_addr: request.rs_addr,
      rq_seq: request.rq_seq,
      rs_lun: request.rs_lun,
      cmd: request.cmd,
      completion_code: reply.cc,
      data: reply.data ?? new Uint8Array(0),
    });
  }

  private authCaps(data: Uint8Array): Reply {
    if (data.length < 2) return { cc: CompletionCode.REQUEST_DATA_LENGTH_INVALID };
    const channel = (data[0] ?? 0) & 0x0f;
    const privilege = (data[1] ?? 0) & 0x0f;
    if ((channel !== 0x0e && channel !== 1) || privilege === 0 || privilege > this.cfg.channel_privilege_limit) {
      return { cc: CompletionCode.INVALID_DATA_FIELD };
    }
    return {
      cc: 0,
      data: encodeChannelAuthCapabilities({
        channel: 1,
        // RMCP+ only: no IPMI v1.5 authentication type is offered at all.
        v20_extended: true,
        auth_none: false,
        auth_md2: false,
        auth_md5: false,
        auth_password: false,
        auth_oem: false,
        kg_set: false,
        per_message_auth_disabled: false,
        user_level_auth_disabled: false,
        non_null_usernames: true,
        null_usernames: false,
        anonymous_login: false,
        supports_v15: false,
        supports_v20: true,
        oem_id: 0,
      }),
    };
  }

  private cipherSuites(data: Uint8Array): Reply {
    if (data.length < 3) return { cc: CompletionCode.REQUEST_DATA_LENGTH_INVALID };
    const all = encodeCipherSuiteRecords(
      this.cfg.cipher_suites.map((id) => {
        const s = CIPHER_SUITES[id];
        return { id, auth: s.auth_algorithm, integrity: s.integrity_algorithm, confidentiality: s.confidentiality_algorithm };
      }),
    );
    const start = ((data[2] ?? 0) & 0x3f) * 16;
    return { cc: 0, data: concat(Uint8Array.of(1), all.slice(start, start + 16)) };
  }

  // ---- session setup -----------------------------------------------------------------

  private sendSetup(to: string, payload_type: number, payload: Uint8Array): void {
    this.sendTo(to, encodeV20({ payload_type, encrypted: false, authenticated: false, session_id: 0, session_seq: 0, payload }));
  }

  private onOpenSession(payload: Uint8Array, from: string, now_ms: number): void {
    const decoded = decodeOpenSessionRequest(payload);
    if (!decoded.ok) {
      const tag = payload[0] ?? 0;
      this.sendSetup(from, PayloadType.OPEN_SESSION_RESPONSE, encodeOpenSessionResponse({ tag, status: RmcpStatus.ILLEGAL_PARAMETER, max_privilege: 0, console_session_id: 0, bmc_session_id: 0, algorithms: null }));
      return;
    }
    const r = decoded.value;
    const refuse = (status: number) =>
      this.sendSetup(from, PayloadType.OPEN_SESSION_RESPONSE, encodeOpenSessionResponse({ tag: r.tag, status, max_privilege: 0, console_session_id: r.console_session_id, bmc_session_id: 0, algorithms: null }));
    if (r.console_session_id === 0) return refuse(RmcpStatus.INVALID_SESSION_ID);
    const offered = this.cfg.cipher_suites.map((id) => CIPHER_SUITES[id]);
    const a = r.algorithms;
    // Suite 0 ("RAKP-none") is never accepted: without it there is no authentication at all.
    if (a.auth === AuthAlgorithm.RAKP_NONE || !offered.some((s) => s.auth_algorithm === a.auth)) return refuse(RmcpStatus.INVALID_AUTHENTICATION_ALGORITHM);
    if (a.integrity === IntegrityAlgorithm.NONE || !offered.some((s) => s.integrity_algorithm === a.integrity)) return refuse(RmcpStatus.INVALID_INTEGRITY_ALGORITHM);
    if (a.confidentiality === ConfidentialityAlgorithm.NONE || !offered.some((s) => s.confidentiality_algorithm === a.confidentiality)) {
      return refuse(RmcpStatus.INVALID_CONFIDENTIALITY_ALGORITHM);
    }
    const suite = suiteForAlgorithms(a.auth, a.integrity, a.confidentiality);
    if (!suite || !this.cfg.cipher_suites.includes(suite.id)) return refuse(RmcpStatus.NO_CIPHER_SUITE_MATCH);
    const maxPrivilege = r.max_privilege === 0 ? this.cfg.channel_privilege_limit : r.max_privilege;
    if (maxPrivilege > 5) return refuse(RmcpStatus.INVALID_ROLE);
    if (maxPrivilege > this.cfg.channel_privilege_limit) return refuse(RmcpStatus.UNAUTHORIZED_ROLE);
    if (this.sessions.size >= this.cfg.max_sessions) return refuse(RmcpStatus.INSUFFICIENT_RESOURCES);
    const id = this.newSessionId();
    this.sessions.set(id, {
      bmc_session_id: id,
      console_session_id: r.console_session_id,
      from,
      suite,
      phase: "opened",
      open_max_privilege: maxPrivilege,
      role: 0,
      privilege: Privilege.USER,
      user: null,
      username: new Uint8Array(0),
      console_random: new Uint8Array(16),
      bmc_random: this.cfg.random_bytes(16).slice(0, 16),
      keys: null,
      recv_highest_seq: 0,
      xmit_seq: 1,
      last_activity_ms: now_ms,
    });
    this.log(`session ${hexByte(id)} opened by ${from}, cipher suite ${suite.id}`);
    this.sendSetup(
      from,
      PayloadType.OPEN_SESSION_RESPONSE,
      encodeOpenSessionResponse({ tag: r.tag, status: 0, max_privilege: maxPrivilege, console_session_id: r.console_session_id, bmc_session_id: id, algorithms: a }),
    );
  }

  private newSessionId(): number {
    // Even, non-zero, never reused while live (ipmi_sim's shape, minus its predictability).
    for (let i = 0; i < 1000; i++) {
      const bytes = this.cfg.random_bytes(2);
      const id = (((this.next_session_number++ & 0xffff) << 16) | ((bytes[0] ?? 0) << 8) | ((bytes[1] ?? 0) & 0xfe)) >>> 0;
      if (id !== 0 && !this.sessions.has(id)) return id;
    }
    throw new Error("cannot allocate a session ID");
  }

  private setupSession(bmc_session_id: number, from: string): ResponderSession | null {
    const s = this.sessions.get(bmc_session_id);
    if (!s || s.from !== from) return null;
    return s;
  }

  private onRakp1(payload: Uint8Array, from: string, now_ms: number): void {
    const decoded = decodeRakp1(payload);
    if (!decoded.ok) return this.log(`dropped RAKP1 from ${from}: ${decoded.error}`);
    const r = decoded.value;
    const s = this.setupSession(r.bmc_session_id, from);
    if (!s || s.phase === "active") return this.log(`dropped RAKP1 for an unknown session from ${from}`);
    s.last_activity_ms = now_ms;
    const refuse = (status: number) => {
      this.sessions.delete(s.bmc_session_id);
      this.log(`session ${hexByte(s.bmc_session_id)} refused at RAKP1: status ${hexByte(status)}`);
      this.sendSetup(from, PayloadType.RAKP2, encodeRakp2({ tag: r.tag, status, console_session_id: s.console_session_id, bmc_random: new Uint8Array(0), bmc_guid: new Uint8Array(0), auth_code: new Uint8Array(0) }));
    };
    const privilege = r.role & 0x0f;
    if (privilege === 0 || privilege > 5) return refuse(RmcpStatus.INVALID_ROLE);
    const name = new TextDecoder().decode(r.username);
    const nameOnly = (r.role & ROLE_NAME_ONLY_LOOKUP) !== 0;
    const user = this.cfg.users.find((u) => u.name === name && (nameOnly || u.max_privilege === privilege));
    if (!user) return refuse(RmcpStatus.UNAUTHORIZED_NAME);
    if (privilege > user.max_privilege || privilege > s.open_max_privilege) return refuse(RmcpStatus.UNAUTHORIZED_ROLE);
    s.user = user;
    s.role = r.role;
    s.username = r.username;
    s.console_random = r.console_random;
    s.phase = "rakp2_sent";
    const ctx = this.rakpContext(s);
    // Keyed with the real password: a console with the wrong one sees the mismatch itself.
    const auth_code = rakp2AuthCode(s.suite, userKey(new TextEncoder().encode(user.password)), ctx);
    this.sendSetup(from, PayloadType.RAKP2, encodeRakp2({ tag: r.tag, status: 0, console_session_id: s.console_session_id, bmc_random: s.bmc_random, bmc_guid: this.cfg.guid, auth_code }));
  }

  private rakpContext(s: ResponderSession): RakpContext {
    return {
      console_session_id: s.console_session_id,
      bmc_session_id: s.bmc_session_id,
      console_random: s.console_random,
      bmc_random: s.bmc_random,
      bmc_guid: this.cfg.guid,
      role: s.role,
      username: s.username,
    };
  }

  private onRakp3(payload: Uint8Array, from: string, now_ms: number): void {
    const decoded = decodeRakp3(payload);
    if (!decoded.ok) return this.log(`dropped RAKP3 from ${from}: ${decoded.error}`);
    const r = decoded.value;
    const s = this.setupSession(r.bmc_session_id, from);
    if (!s || !s.user || s.phase === "opened") return this.log(`dropped RAKP3 for an unknown session from ${from}`);
    s.last_activity_ms = now_ms;
    if (r.status !== 0) {
      // The console found our RAKP2 wrong (e.g. its password differs): forget the session.
      this.sessions.delete(s.bmc_session_id);
      return this.log(`session ${hexByte(s.bmc_session_id)} abandoned by the console: RAKP3 status ${hexByte(r.status)}`);
    }
    const ctx = this.rakpContext(s);
    const kuid = userKey(new TextEncoder().encode(s.user.password));
    if (!bytesEqual(rakp3AuthCode(s.suite, kuid, ctx), r.auth_code)) {
      this.sessions.delete(s.bmc_session_id);
      this.log(`session ${hexByte(s.bmc_session_id)}: RAKP3 auth code mismatch (wrong password)`);
      this.sendSetup(from, PayloadType.RAKP4, encodeRakp4({ tag: r.tag, status: RmcpStatus.INVALID_INTEGRITY_CHECK_VALUE, console_session_id: s.console_session_id, icv: new Uint8Array(0) }));
      return;
    }
    s.keys = deriveSessionKeys(s.suite, kuid, null, ctx);
    s.phase = "active";
    this.log(`session ${hexByte(s.bmc_session_id)} active for user ${s.user.name}`);
    this.sendSetup(from, PayloadType.RAKP4, encodeRakp4({ tag: r.tag, status: 0, console_session_id: s.console_session_id, icv: rakp4Icv(s.suite, s.keys.sik, ctx) }));
  }

  // ---- in-session --------------------------------------------------------------------

  private onSessionPacket(datagram: Uint8Array, packet: V20Packet, from: string, now_ms: number): void {
    const s = this.sessions.get(packet.session_id);
    if (!s || s.from !== from || s.phase !== "active" || !s.keys) return this.log(`dropped packet for unknown session ${hexByte(packet.session_id)} from ${from}`);
    if (packet.payload_type !== PayloadType.IPMI) return this.log(`dropped payload type ${hexByte(packet.payload_type)} in session`);
    if (!packet.authenticated || !packet.encrypted) return this.log("dropped unauthenticated or unencrypted packet in session");
    const trailer = splitIntegrityTrailer(datagram, packet, s.suite.integrity_bytes);
    if (!trailer.ok) return this.log(`dropped: ${trailer.error}`);
    if (!bytesEqual(integrityCode(s.suite, s.keys.k1, trailer.value.covered), trailer.value.auth_code)) return this.log("dropped: integrity check failed");
    // The same window as ipmi_sim: 16 below to 15 above the highest sequence seen. A
    // retransmission with the same number is accepted (ipmitool retries that way).
    const diff = (packet.session_seq - s.recv_highest_seq) | 0;
    if (packet.session_seq === 0 || (s.recv_highest_seq !== 0 && (diff < -16 || diff > 15))) return this.log(`dropped: session sequence ${packet.session_seq} outside the window`);
    if (diff > 0) s.recv_highest_seq = packet.session_seq;
    const plain = decryptPayload(s.keys.aes_key, packet.payload);
    if (!plain.ok) return this.log(`dropped: ${plain.error}`);
    const decoded = decodeIpmiRequest(plain.value);
    if (!decoded.ok) return this.log(`dropped: ${decoded.error}`);
    s.last_activity_ms = now_ms;
    const request = decoded.value;
    const reply = this.dispatch(s, request, now_ms);
    this.sendInSession(s, this.responseMessage(request, reply));
    reply.after?.();
  }

  private sendInSession(s: ResponderSession, message: Uint8Array): void {
    const keys = s.keys;
    if (!keys) return;
    const payload = encryptPayload(keys.aes_key, message, this.cfg.random_bytes(16).slice(0, 16));
    const seq = s.xmit_seq;
    s.xmit_seq = (s.xmit_seq + 1) >>> 0 || 1;
    this.sendTo(
      s.from,
      encodeV20({ payload_type: PayloadType.IPMI, encrypted: true, authenticated: true, session_id: s.console_session_id, session_seq: seq, payload }, (covered) =>
        integrityCode(s.suite, keys.k1, covered),
      ),
    );
  }

  private dispatch(s: ResponderSession, request: IpmiRequest, now_ms: number): Reply {
    const needed = REQUIRED_PRIVILEGE[`${request.net_fn}:${request.cmd}`];
    if (needed === undefined) {
      if (request.net_fn === NetFn.APP && request.cmd === GET_SYSTEM_GUID) return { cc: 0, data: this.cfg.guid };
      return { cc: CompletionCode.INVALID_COMMAND };
    }
    if (s.privilege < needed) return { cc: CompletionCode.INSUFFICIENT_PRIVILEGE };
    const chassis = this.cfg.chassis;
    if (request.net_fn === NetFn.CHASSIS) {
      if (request.cmd === Cmd.GET_CHASSIS_STATUS) {
        return {
          cc: 0,
          data: encodeChassisStatus({
            power_on: chassis.power_on,
            power_overload: false,
            interlock: false,
            power_fault: false,
            power_control_fault: false,
            restore_policy: 2,
            last_power_event: chassis.last_power_event,
            misc_state: 0,
          }),
        };
      }
      const action = decodeChassisControlRequest(request.data);
      if (!action.ok) return { cc: CompletionCode.INVALID_DATA_FIELD };
      this.log(`chassis control ${action.value} by ${s.user?.name ?? "?"}`);
      return { cc: chassis.control(action.value, now_ms) };
    }
    switch (request.cmd) {
      case Cmd.GET_DEVICE_ID:
        return { cc: 0, data: encodeDeviceId(this.cfg.device) };
      case Cmd.SET_WATCHDOG_TIMER: {
        const settings = decodeSetWatchdogRequest(request.data);
        if (!settings.ok) return { cc: request.data.length < 6 ? CompletionCode.REQUEST_DATA_LENGTH_INVALID : CompletionCode.INVALID_DATA_FIELD };
        return { cc: chassis.setWatchdog(settings.value, now_ms) };
      }
      case Cmd.GET_WATCHDOG_TIMER:
        return { cc: 0, data: encodeWatchdogState(chassis.getWatchdog(now_ms)) };
      case Cmd.RESET_WATCHDOG_TIMER:
        return { cc: chassis.resetWatchdog(now_ms) };
      case Cmd.GET_CHANNEL_AUTH_CAPABILITIES:
        return this.authCaps(request.data);
      case Cmd.GET_CHANNEL_CIPHER_SUITES:
        return this.cipherSuites(request.data);
      case Cmd.SET_SESSION_PRIVILEGE_LEVEL:
        return this.setPrivilege(s, request.data);
      case Cmd.CLOSE_SESSION: {
        const target = decodeCloseSessionRequest(request.data);
        if (!target.ok) return { cc: CompletionCode.REQUEST_DATA_LENGTH_INVALID };
        if (target.value !== s.bmc_session_id && target.value !== 0) return { cc: 0x87 }; // invalid session ID
        return { cc: 0, after: () => this.sessions.delete(s.bmc_session_id) };
      }
      default:
        return { cc: CompletionCode.INVALID_COMMAND };
    }
  }

  private setPrivilege(s: ResponderSession, data: Uint8Array): Reply {
    const requested = (data[0] ?? 0) & 0x0f;
    if (requested === 0) return { cc: 0, data: Uint8Array.of(s.privilege) };
    if (requested === Privilege.CALLBACK || requested > 5) return { cc: CompletionCode.INVALID_DATA_FIELD };
    const limit = Math.min(s.user?.max_privilege ?? Privilege.USER, s.role & 0x0f, this.cfg.channel_privilege_limit);
    if (requested > limit) return { cc: 0x81 }; // exceeds the user's or the channel's limit
    s.privilege = requested;
    return { cc: 0, data: Uint8Array.of(requested) };
  }
}
