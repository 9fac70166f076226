// The RMCP+ client session as a state machine without I/O (DESIGN.md rule 1).
//
//   Get Channel Auth Caps (IPMI 1.5 framing) -> Open Session -> RAKP1/2 -> RAKP3/4
//   -> Set Session Privilege Level -> commands, one at a time -> Close Session
//
// The caller feeds events (start, request, a datagram received, a tick with the current time,
// close) and gets effects back (datagrams to send, the next timer, results). No sockets, no
// timers, no clock inside; randomness comes from the config so tests can be deterministic.
//
// Ordering contract for drivers: perform the effects in the order given; a "timer" effect
// replaces any earlier one (at_ms null cancels it).

import { bytesEqual, hexByte, u8 } from "./bytes.ts";
import {
  CompletionCode,
  closeSessionRequest,
  completionCodeText,
  decodeChannelAuthCapabilities,
  decodeCipherSuitePage,
  getChannelAuthCapabilitiesRequest,
  getChannelCipherSuitesRequest,
  parseCipherSuiteRecords,
  privilegeName,
  setSessionPrivilegeRequest,
  type CommandRequest,
} from "./commands.ts";
import {
  CIPHER_SUITES,
  MAX_PASSWORD_BYTES,
  MAX_USERNAME_BYTES,
  decryptPayload,
  deriveSessionKeys,
  encryptPayload,
  integrityCode,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4Icv,
  userKey,
  type CipherSuite,
  type CipherSuiteId,
  type RakpContext,
  type SessionKeys,
} from "./crypto.ts";
import { IpmiError } from "./errors.ts";
import {
  ROLE_NAME_ONLY_LOOKUP,
  RmcpStatus,
  decodeOpenSessionResponse,
  decodeRakp2,
  decodeRakp4,
  encodeOpenSessionRequest,
  encodeRakp1,
  encodeRakp3,
  isCipherNotOffered,
  isPrivilegeRefused,
  rmcpStatusText,
} from "./rakp.ts";
import {
  ADDR_BMC,
  ADDR_REMOTE_CONSOLE,
  PayloadType,
  decodeIpmiResponse,
  decodePacket,
  encodeIpmiRequest,
  encodeV15,
  encodeV20,
  splitIntegrityTrailer,
  type IpmiResponse,
  type V20Packet,
} from "./rmcp.ts";

/** 17 and 3 are explicit choices; "auto" tries 17 and falls back to 3 when the BMC lacks 17. */
export type CipherPolicy = CipherSuiteId | "auto";
export type SessionPrivilege = "operator" | "administrator";

export type SessionConfig = {
  /** host:port, used in every error message. */
  bmc: string;
  username: string;
  /** Held only in memory; never logged. */
  password: Uint8Array;
  /** The BMC key (two-key login), or null for the usual one-key login. */
  kg: Uint8Array | null;
  cipher: CipherPolicy;
  privilege: SessionPrivilege;
  /** Wait this long for an answer before sending a request again. */
  request_timeout_ms: number;
  /** Sends per request, first one included. */
  max_attempts: number;
  random_bytes: (count: number) => Uint8Array;
};

export type SessionEffect =
  | { kind: "send"; bytes: Uint8Array }
  | { kind: "timer"; at_ms: number | null }
  | { kind: "established"; cipher_suite: CipherSuiteId; privilege: number }
  | { kind: "response"; request_id: number; completion_code: number; data: Uint8Array }
  | { kind: "request_failed"; request_id: number; error: IpmiError }
  | { kind: "failed"; error: IpmiError }
  | { kind: "closed" }
  /** A datagram was ignored; for debugging only (no secrets in the reason). */
  | { kind: "dropped"; reason: string };

export type SessionPhase =
  | "new"
  | "auth_caps"
  | "open_session"
  | "rakp2"
  | "rakp4"
  | "list_suites"
  | "set_privilege"
  | "active"
  | "closing"
  | "closed"
  | "failed";

const PRIVILEGE_LEVEL: Record<SessionPrivilege, number> = { operator: 3, administrator: 4 };
const MAX_QUEUED_REQUESTS = 16;
const MAX_CIPHER_SUITE_PAGES = 8;

/** Refuse, before anything is sent, what hapd will not do. Returns null when the config is usable. */
export function checkSessionConfig(cfg: SessionConfig): IpmiError | null {
  const cipher: unknown = cfg.cipher;
  if (cipher === 0 || cipher === "0") {
    return new IpmiError("config", cfg.bmc, "cipher suite 0 (no authentication, no integrity, no encryption) is refused: use 17 (default) or 3");
  }
  if (cipher !== 3 && cipher !== 17 && cipher !== "auto") {
    return new IpmiError("config", cfg.bmc, `cipher suite ${String(cipher)} is not supported: hapd speaks 17 (HMAC-SHA256, AES-CBC-128) and 3 (HMAC-SHA1, AES-CBC-128)`);
  }
  const privilege: unknown = cfg.privilege;
  if (privilege !== "operator" && privilege !== "administrator") {
    return new IpmiError("config", cfg.bmc, `privilege level ${String(privilege)} cannot control chassis power: use administrator (default) or operator`);
  }
  const nameBytes = new TextEncoder().encode(cfg.username).length;
  if (nameBytes === 0) return new IpmiError("config", cfg.bmc, "an IPMI user name is required (anonymous and null users are refused)");
  if (nameBytes > MAX_USERNAME_BYTES) return new IpmiError("config", cfg.bmc, `the IPMI user name is ${nameBytes} bytes; at most ${MAX_USERNAME_BYTES} are allowed`);
  if (cfg.password.length === 0) return new IpmiError("config", cfg.bmc, "an IPMI password is required (empty passwords are refused)");
  if (cfg.password.length > MAX_PASSWORD_BYTES) return new IpmiError("config", cfg.bmc, `the IPMI password is longer than ${MAX_PASSWORD_BYTES} bytes`);
  if (cfg.kg && cfg.kg.length > MAX_PASSWORD_BYTES) return new IpmiError("config", cfg.bmc, `the BMC key (Kg) is longer than ${MAX_PASSWORD_BYTES} bytes`);
  if (!(cfg.request_timeout_ms > 0)) return new IpmiError("config", cfg.bmc, "request_timeout_ms must be positive");
  if (!Number.isInteger(cfg.max_attempts) || cfg.max_attempts < 1 || cfg.max_attempts > 20) {
    return new IpmiError("config", cfg.bmc, "max_attempts must be an integer from 1 to 20");
  }
  return null;
}

/**
 * Inbound session sequence numbers: reject 0, replays, and numbers far outside the window around
 * the highest one seen (16 below, 32 above: the BMC's counter advances once per answer, and we
 * may have retransmitted a few times).
 */
export class ReplayWindow {
  private highest = 0;
  private readonly seen = new Set<number>();

  accept(seq: number): boolean {
    if (seq === 0) return false;
    const diff = (seq - this.highest) | 0;
    if (this.highest !== 0 && (diff <= -16 || diff > 32)) return false;
    if (this.seen.has(seq)) return false;
    this.seen.add(seq);
    if (this.highest === 0 || diff > 0) this.highest = seq;
    for (const old of this.seen) {
      if (((this.highest - old) | 0) >= 16) this.seen.delete(old);
    }
    return true;
  }
}

type Pending = {
  what: string;
  /** Re-encodes the datagram; in-session ones take a fresh sequence number each time. */
  build: () => Uint8Array;
  attempts: number;
  max_attempts: number;
  retry_at_ms: number;
  deadline_at_ms: number;
};

type Queued = { id: number; request: CommandRequest; deadline_at_ms: number; what: string };
type InFlight = Queued & { rq_seq: number; purpose: "user" | "set_privilege" | "close" };

export class IpmiSession {
  private readonly cfg: SessionConfig;
  private phase: SessionPhase = "new";
  private suite: CipherSuite;
  private readonly kuid: Uint8Array;
  private readonly username: Uint8Array;
  private readonly console_session_id: number;
  private readonly role: number;
  private bmc_session_id = 0;
  private console_random = new Uint8Array(16);
  private rakp: RakpContext | null = null;
  private keys: SessionKeys | null = null;
  private out_seq = 1;
  private readonly inbound = new ReplayWindow();
  private tag = 0;
  private rq_seq = 0;
  private pending: Pending | null = null;
  private expected_tag = -1;
  private inflight: InFlight | null = null;
  private queue: Queued[] = [];
  private establish_deadline_at_ms = Number.POSITIVE_INFINITY;
  private close_requested = false;
  private suite_pages = new Uint8Array(0);
  private suite_page_index = 0;
  private refusal: IpmiError | null = null;
  private effects: SessionEffect[] = [];
  private last_timer: number | null = null;

  constructor(cfg: SessionConfig) {
    const problem = checkSessionConfig(cfg);
    if (problem) throw problem;
    this.cfg = cfg;
    this.suite = CIPHER_SUITES[cfg.cipher === "auto" ? 17 : cfg.cipher];
    this.kuid = userKey(cfg.password);
    this.username = new TextEncoder().encode(cfg.username);
    this.role = PRIVILEGE_LEVEL[cfg.privilege] | ROLE_NAME_ONLY_LOOKUP;
    this.console_session_id = this.randomSessionId();
  }

  get state(): SessionPhase {
    return this.phase;
  }

  get cipherSuite(): CipherSuiteId {
    return this.suite.id;
  }

  /** Begin session setup; it must finish by deadline_at_ms or the session fails. */
  start(now_ms: number, deadline_at_ms = Number.POSITIVE_INFINITY): SessionEffect[] {
    return this.step(now_ms, () => {
      if (this.phase !== "new") return;
      this.establish_deadline_at_ms = deadline_at_ms;
      this.sendAuthCaps(now_ms);
    });
  }

  /** Queue a command; it runs once the session is established and the one before it is done. */
  request(id: number, request: CommandRequest, now_ms: number, deadline_at_ms = Number.POSITIVE_INFINITY, what = "request"): SessionEffect[] {
    return this.step(now_ms, () => {
      if (this.phase === "closed" || this.phase === "failed" || this.phase === "closing" || this.close_requested) {
        this.effects.push({ kind: "request_failed", request_id: id, error: new IpmiError("closed", this.cfg.bmc, `session with BMC ${this.cfg.bmc} is ${this.phase}; ${what} not sent`) });
        return;
      }
      if (this.queue.length >= MAX_QUEUED_REQUESTS) {
        this.effects.push({ kind: "request_failed", request_id: id, error: new IpmiError("protocol", this.cfg.bmc, `too many queued requests for BMC ${this.cfg.bmc}`) });
        return;
      }
      this.queue.push({ id, request, deadline_at_ms, what });
      this.pump(now_ms);
    });
  }

  /** Close the session politely (Close Session); queued requests fail. */
  close(now_ms: number): SessionEffect[] {
    return this.step(now_ms, () => {
      if (this.phase === "closed" || this.phase === "failed" || this.phase === "closing") return;
      this.failQueued("closed", "the session is closing");
      if (this.phase !== "active" && this.phase !== "set_privilege") {
        this.pending = null;
        this.phase = "closed";
        this.effects.push({ kind: "closed" });
        return;
      }
      this.close_requested = true;
      this.pump(now_ms);
    });
  }

  /** Give up without sending anything more (the driver's own deadline passed). */
  abort(error: IpmiError): SessionEffect[] {
    return this.step(0, () => this.failSession(error));
  }

  tick(now_ms: number): SessionEffect[] {
    return this.step(now_ms, () => this.onTick(now_ms));
  }

  receive(datagram: Uint8Array, now_ms: number): SessionEffect[] {
    return this.step(now_ms, () => this.onDatagram(datagram, now_ms));
  }

  // ---- plumbing ------------------------------------------------------------------------

  private step(now_ms: number, body: () => void): SessionEffect[] {
    this.effects = [];
    try {
      body();
    } catch (error) {
      // A bug in here must not escape to the socket loop: fail the session loudly instead.
      this.failSession(new IpmiError("protocol", this.cfg.bmc, `internal error in the IPMI session with ${this.cfg.bmc}: ${(error as Error).message}`));
    }
    const at = this.nextWake(now_ms);
    if (at !== this.last_timer) {
      this.last_timer = at;
      this.effects.push({ kind: "timer", at_ms: at });
    }
    return this.effects;
  }

  private nextWake(now_ms: number): number | null {
    if (this.phase === "closed" || this.phase === "failed") return null;
    let at = Number.POSITIVE_INFINITY;
    if (this.pending) at = Math.min(at, this.pending.retry_at_ms, this.pending.deadline_at_ms);
    if (this.phase !== "active" && this.phase !== "closing") at = Math.min(at, this.establish_deadline_at_ms);
    for (const queued of this.queue) at = Math.min(at, queued.deadline_at_ms);
    if (!Number.isFinite(at)) return null;
    return Math.max(at, now_ms);
  }

  private send(pending: Omit<Pending, "attempts" | "retry_at_ms">, now_ms: number): void {
    this.pending = { ...pending, attempts: 1, retry_at_ms: now_ms + this.cfg.request_timeout_ms };
    this.effects.push({ kind: "send", bytes: pending.build() });
  }

  private drop(reason: string): void {
    this.effects.push({ kind: "dropped", reason });
  }

  private randomSessionId(): number {
    const bytes = this.cfg.random_bytes(4);
    const id = (u8(bytes, 0) | (u8(bytes, 1) << 8) | (u8(bytes, 2) << 16) | (u8(bytes, 3) << 24)) >>> 0;
    return id === 0 ? 1 : id; // 0 means "no session" on the wire
  }

  private nextTag(): number {
    this.tag = (this.tag + 1) & 0xff;
    return this.tag;
  }

  private nextRqSeq(): number {
    this.rq_seq = (this.rq_seq + 1) & 0x3f;
    return this.rq_seq;
  }

  private nextOutSeq(): number {
    const seq = this.out_seq;
    this.out_seq = (this.out_seq + 1) >>> 0 || 1;
    return seq;
  }

  private error(code: IpmiError["code"], message: string, cc?: number): IpmiError {
    return new IpmiError(code, this.cfg.bmc, message, cc);
  }

  private failQueued(code: IpmiError["code"], why: string): void {
    for (const queued of this.queue) {
      this.effects.push({ kind: "request_failed", request_id: queued.id, error: this.error(code, `${queued.what} to BMC ${this.cfg.bmc} not sent: ${why}`) });
    }
    this.queue = [];
  }

  private failSession(error: IpmiError): void {
    if (this.phase === "failed" || this.phase === "closed") return;
    this.phase = "failed";
    this.pending = null;
    if (this.inflight) {
      if (this.inflight.purpose === "user") this.effects.push({ kind: "request_failed", request_id: this.inflight.id, error });
      this.inflight = null;
    }
    for (const queued of this.queue) this.effects.push({ kind: "request_failed", request_id: queued.id, error });
    this.queue = [];
    this.effects.push({ kind: "failed", error });
  }

  // ---- timers --------------------------------------------------------------------------

  private onTick(now_ms: number): void {
    if (this.phase === "closed" || this.phase === "failed" || this.phase === "new") return;
    const establishing = this.phase !== "active" && this.phase !== "closing";
    if (establishing && now_ms >= this.establish_deadline_at_ms) {
      const what = this.pending?.what ?? "session setup";
      this.finishRefusalOr(this.error("timeout", `BMC ${this.cfg.bmc} did not complete session setup within the login timeout (waiting for the answer to ${what})`));
      return;
    }
    const expired = this.queue.filter((queued) => now_ms >= queued.deadline_at_ms);
    this.queue = this.queue.filter((queued) => now_ms < queued.deadline_at_ms);
    for (const queued of expired) {
      this.effects.push({ kind: "request_failed", request_id: queued.id, error: this.error("timeout", `${queued.what} to BMC ${this.cfg.bmc} timed out before it could be sent`) });
    }
    const pending = this.pending;
    if (!pending) return;
    if (now_ms >= pending.deadline_at_ms) {
      this.onPendingTimeout(pending, `within its deadline`);
      return;
    }
    if (now_ms < pending.retry_at_ms) return;
    if (pending.attempts >= pending.max_attempts) {
      this.onPendingTimeout(pending, `after ${pending.attempts} attempt(s), ${this.cfg.request_timeout_ms} ms each`);
      return;
    }
    pending.attempts += 1;
    pending.retry_at_ms = now_ms + this.cfg.request_timeout_ms;
    this.effects.push({ kind: "send", bytes: pending.build() });
  }

  private onPendingTimeout(pending: Pending, how: string): void {
    this.pending = null;
    if (this.phase === "list_suites") {
      this.finishRefusalOr(null, "the BMC did not list its cipher suites");
      return;
    }
    if (this.phase === "closing") {
      // The BMC will expire the session by itself; closing is best effort.
      this.inflight = null;
      this.phase = "closed";
      this.effects.push({ kind: "closed" });
      return;
    }
    this.failSession(this.error("timeout", `no answer from BMC ${this.cfg.bmc} to ${pending.what} ${how}`));
  }

  /** While listing suites after a refusal, report the refusal (with what we learnt) instead. */
  private finishRefusalOr(fallback: IpmiError | null, note?: string): void {
    const refusal = this.refusal;
    if (this.phase === "list_suites" && refusal) {
      const offered = parseCipherSuiteRecords(this.suite_pages).map((record) => record.id);
      const detail = offered.length > 0 ? `the BMC offers cipher suites ${offered.join(", ")}` : (note ?? "the BMC did not list its cipher suites");
      this.failSession(this.error(refusal.code, `${refusal.message}; ${detail}; hapd speaks 17 and 3`));
      return;
    }
    if (fallback) this.failSession(fallback);
  }

  // ---- session setup -------------------------------------------------------------------

  private preSessionRequest(request: CommandRequest, rq_seq: number): Uint8Array {
    const message = encodeIpmiRequest({ rs_addr: ADDR_BMC, net_fn: request.net_fn, rs_lun: 0, rq_addr: ADDR_REMOTE_CONSOLE, rq_seq, rq_lun: 0, cmd: request.cmd, data: request.data });
    // ipmi_sim drops RMCP+-framed sessionless messages; IPMI 1.5 framing works everywhere.
    return encodeV15({ session_seq: 0, session_id: 0, message });
  }

  private sendAuthCaps(now_ms: number): void {
    this.phase = "auth_caps";
    const rq_seq = this.nextRqSeq();
    const bytes = this.preSessionRequest(getChannelAuthCapabilitiesRequest(PRIVILEGE_LEVEL[this.cfg.privilege]), rq_seq);
    this.send({ what: "Get Channel Authentication Capabilities", build: () => bytes, max_attempts: this.cfg.max_attempts, deadline_at_ms: this.establish_deadline_at_ms }, now_ms);
  }

  private sendOpenSession(now_ms: number): void {
    this.phase = "open_session";
    const tag = this.nextTag();
    this.expected_tag = tag;
    const payload = encodeOpenSessionRequest({
      tag,
      max_privilege: PRIVILEGE_LEVEL[this.cfg.privilege],
      console_session_id: this.console_session_id,
      algorithms: { auth: this.suite.auth_algorithm, integrity: this.suite.integrity_algorithm, confidentiality: this.suite.confidentiality_algorithm },
    });
    const bytes = encodeV20({ payload_type: PayloadType.OPEN_SESSION_REQUEST, encrypted: false, authenticated: false, session_id: 0, session_seq: 0, payload });
    this.send({ what: `Open Session (cipher suite ${this.suite.id})`, build: () => bytes, max_attempts: this.cfg.max_attempts, deadline_at_ms: this.establish_deadline_at_ms }, now_ms);
  }

  private sendRakp1(now_ms: number): void {
    this.phase = "rakp2";
    const tag = this.nextTag();
    this.expected_tag = tag;
    this.console_random = this.cfg.random_bytes(16).slice(0, 16);
    const payload = encodeRakp1({ tag, bmc_session_id: this.bmc_session_id, console_random: this.console_random, role: this.role, username: this.username });
    const bytes = encodeV20({ payload_type: PayloadType.RAKP1, encrypted: false, authenticated: false, session_id: 0, session_seq: 0, payload });
    this.send({ what: "RAKP message 1", build: () => bytes, max_attempts: this.cfg.max_attempts, deadline_at_ms: this.establish_deadline_at_ms }, now_ms);
  }

  private rakp3Datagram(tag: number, status: number, auth_code: Uint8Array): Uint8Array {
    const payload = encodeRakp3({ tag, status, bmc_session_id: this.bmc_session_id, auth_code });
    return encodeV20({ payload_type: PayloadType.RAKP3, encrypted: false, authenticated: false, session_id: 0, session_seq: 0, payload });
  }

  private startListingSuites(refusal: IpmiError, now_ms: number): void {
    this.phase = "list_suites";
    this.refusal = refusal;
    this.suite_pages = new Uint8Array(0);
    this.suite_page_index = 0;
    this.sendSuitePage(now_ms);
  }

  private sendSuitePage(now_ms: number): void {
    const rq_seq = this.nextRqSeq();
    const bytes = this.preSessionRequest(getChannelCipherSuitesRequest(this.suite_page_index), rq_seq);
    // One attempt: this only decorates an error message, it must not delay it much.
    this.send({ what: "Get Channel Cipher Suites", build: () => bytes, max_attempts: 1, deadline_at_ms: this.establish_deadline_at_ms }, now_ms);
  }

  // ---- inbound -------------------------------------------------------------------------

  private onDatagram(datagram: Uint8Array, now_ms: number): void {
    if (this.phase === "new" || this.phase === "closed" || this.phase === "failed") return this.drop(`datagram while ${this.phase}`);
    const decoded = decodePacket(datagram);
    if (!decoded.ok) return this.drop(decoded.error);
    const packet = decoded.value;
    if (packet.kind === "asf") return this.drop("ASF message");
    if (packet.kind === "v15") {
      if (packet.session_id !== 0) return this.drop("IPMI v1.5 datagram inside a session");
      return this.onPreSessionMessage(packet.message, now_ms);
    }
    const opened = this.openV20(datagram, packet);
    if (!opened.ok) return this.drop(opened.error);
    const payload = opened.payload;
    switch (packet.payload_type) {
      case PayloadType.IPMI:
        if (packet.session_id === 0) return this.onPreSessionMessage(payload, now_ms);
        return this.onSessionMessage(payload, now_ms);
      case PayloadType.OPEN_SESSION_RESPONSE:
        return this.onOpenSessionResponse(payload, now_ms);
      case PayloadType.RAKP2:
        return this.onRakp2(payload, now_ms);
      case PayloadType.RAKP4:
        return this.onRakp4(payload, now_ms);
      default:
        return this.drop(`payload type ${hexByte(packet.payload_type)} not expected`);
    }
  }

  /**
   * Check integrity, the sequence window and decrypt. Unauthenticated packets are accepted only
   * outside the session (session ID 0); inside it, everything must be authenticated and
   * encrypted as the suite says.
   */
  private openV20(datagram: Uint8Array, packet: V20Packet): { ok: true; payload: Uint8Array } | { ok: false; error: string } {
    if (packet.session_id === 0) {
      if (packet.authenticated || packet.encrypted) return { ok: false, error: "authenticated packet with session ID 0" };
      return { ok: true, payload: packet.payload };
    }
    if (packet.session_id !== this.console_session_id) return { ok: false, error: "packet for another session" };
    const keys = this.keys;
    if (!keys) return { ok: false, error: "session packet before the keys exist" };
    if (!packet.authenticated || !packet.encrypted) return { ok: false, error: "unauthenticated or unencrypted packet inside the session" };
    const trailer = splitIntegrityTrailer(datagram, packet, this.suite.integrity_bytes);
    if (!trailer.ok) return trailer;
    if (!bytesEqual(integrityCode(this.suite, keys.k1, trailer.value.covered), trailer.value.auth_code)) {
      return { ok: false, error: "integrity check failed" };
    }
    if (!this.inbound.accept(packet.session_seq)) return { ok: false, error: `session sequence ${packet.session_seq} outside the window or replayed` };
    const plain = decryptPayload(keys.aes_key, packet.payload);
    if (!plain.ok) return plain;
    return { ok: true, payload: plain.value };
  }

  private matchResponse(message: Uint8Array, request: CommandRequest, rq_seq: number): IpmiResponse | null {
    const decoded = decodeIpmiResponse(message);
    if (!decoded.ok) {
      this.drop(decoded.error);
      return null;
    }
    const r = decoded.value;
    if (r.net_fn !== request.net_fn + 1 || r.cmd !== request.cmd || r.rq_seq !== rq_seq) {
      this.drop(`response netFn ${hexByte(r.net_fn)} cmd ${hexByte(r.cmd)} seq ${r.rq_seq} does not match the request`);
      return null;
    }
    return r;
  }

  private onPreSessionMessage(message: Uint8Array, now_ms: number): void {
    if (this.phase === "auth_caps") {
      const request = getChannelAuthCapabilitiesRequest(PRIVILEGE_LEVEL[this.cfg.privilege]);
      const r = this.matchResponse(message, request, this.rq_seq);
      if (r) this.onAuthCaps(r, now_ms);
      return;
    }
    if (this.phase === "list_suites") {
      const r = this.matchResponse(message, getChannelCipherSuitesRequest(this.suite_page_index), this.rq_seq);
      if (r) this.onSuitePage(r, now_ms);
      return;
    }
    this.drop(`pre-session message while ${this.phase}`);
  }

  private onAuthCaps(r: IpmiResponse, now_ms: number): void {
    this.pending = null;
    const wanted = privilegeName(PRIVILEGE_LEVEL[this.cfg.privilege]);
    if (r.completion_code === CompletionCode.INVALID_DATA_FIELD) {
      return this.failSession(this.error("privilege", `BMC ${this.cfg.bmc} refused privilege level ${wanted} on its LAN channel (Get Channel Authentication Capabilities: ${completionCodeText(r.completion_code)}); the channel limit is lower, try operator`));
    }
    if (r.completion_code !== CompletionCode.OK) {
      return this.failSession(this.error("protocol", `BMC ${this.cfg.bmc} answered Get Channel Authentication Capabilities with ${completionCodeText(r.completion_code)}`, r.completion_code));
    }
    const caps = decodeChannelAuthCapabilities(r.data);
    if (!caps.ok) return this.failSession(this.error("protocol", `BMC ${this.cfg.bmc}: ${caps.error}`));
    if (!caps.value.supports_v20) {
      const offered = [caps.value.auth_none && "none", caps.value.auth_md2 && "MD2", caps.value.auth_md5 && "MD5", caps.value.auth_password && "straight password"].filter(Boolean).join(", ");
      return this.failSession(this.error("unsupported", `BMC ${this.cfg.bmc} does not offer IPMI v2.0 RMCP+ (lanplus); it offers IPMI v1.5 with ${offered || "no"} authentication, which hapd refuses`));
    }
    this.sendOpenSession(now_ms);
  }

  private onSuitePage(r: IpmiResponse, now_ms: number): void {
    this.pending = null;
    const page = r.completion_code === CompletionCode.OK ? decodeCipherSuitePage(r.data) : null;
    if (!page || !page.ok) return this.finishRefusalOr(null, "the BMC did not list its cipher suites");
    const merged = new Uint8Array(this.suite_pages.length + page.value.records.length);
    merged.set(this.suite_pages);
    merged.set(page.value.records, this.suite_pages.length);
    this.suite_pages = merged;
    this.suite_page_index += 1;
    if (page.value.records.length === 16 && this.suite_page_index < MAX_CIPHER_SUITE_PAGES) return this.sendSuitePage(now_ms);
    this.finishRefusalOr(null);
  }

  private onOpenSessionResponse(payload: Uint8Array, now_ms: number): void {
    if (this.phase !== "open_session") return this.drop(`Open Session response while ${this.phase}`);
    const decoded = decodeOpenSessionResponse(payload);
    if (!decoded.ok) return this.drop(decoded.error);
    const r = decoded.value;
    if (r.tag !== this.expected_tag) return this.drop("Open Session response with another message tag");
    this.pending = null;
    if (r.status !== RmcpStatus.OK) {
      const why = `Open Session: ${rmcpStatusText(r.status)}`;
      if (isCipherNotOffered(r.status)) {
        if (this.cfg.cipher === "auto" && this.suite.id === 17) {
          // ipmi_sim (and older BMCs) have no SHA-256: fall back to suite 3, as the policy allows.
          this.suite = CIPHER_SUITES[3];
          return this.sendOpenSession(now_ms);
        }
        const asked = this.cfg.cipher === "auto" ? "17 nor 3" : String(this.suite.id);
        return this.startListingSuites(this.error("cipher", `BMC ${this.cfg.bmc} does not offer cipher suite ${asked} (${why})`), now_ms);
      }
      if (isPrivilegeRefused(r.status)) {
        return this.failSession(this.error("privilege", `BMC ${this.cfg.bmc} refused privilege level ${this.cfg.privilege} (${why})${this.offeredPrivilege(r.max_privilege)}`));
      }
      return this.failSession(this.error("protocol", `BMC ${this.cfg.bmc} refused the session (${why})`));
    }
    if (r.console_session_id !== this.console_session_id) return this.failSession(this.error("protocol", `BMC ${this.cfg.bmc} answered Open Session for another console session`));
    const a = r.algorithms;
    if (!a || a.auth !== this.suite.auth_algorithm || a.integrity !== this.suite.integrity_algorithm || a.confidentiality !== this.suite.confidentiality_algorithm) {
      return this.failSession(this.error("cipher", `BMC ${this.cfg.bmc} answered Open Session with algorithms other than cipher suite ${this.suite.id}`));
    }
    if (r.bmc_session_id === 0) return this.failSession(this.error("protocol", `BMC ${this.cfg.bmc} assigned session ID 0`));
    this.bmc_session_id = r.bmc_session_id;
    this.sendRakp1(now_ms);
  }

  private offeredPrivilege(max_privilege: number): string {
    // ipmi_sim echoes the request here, so only a lower non-zero value tells us something.
    const asked = PRIVILEGE_LEVEL[this.cfg.privilege];
    if (max_privilege > 0 && max_privilege < asked) return `; the BMC offers at most ${privilegeName(max_privilege)}`;
    return asked === 4 ? "; the user or channel limit is lower: try --privlvl operator" : "";
  }

  private onRakp2(payload: Uint8Array, now_ms: number): void {
    if (this.phase !== "rakp2") return this.drop(`RAKP2 while ${this.phase}`);
    const decoded = decodeRakp2(payload);
    if (!decoded.ok) return this.drop(decoded.error);
    const r = decoded.value;
    if (r.tag !== this.expected_tag) return this.drop("RAKP2 with another message tag");
    this.pending = null;
    if (r.status !== RmcpStatus.OK) {
      const why = `RAKP2: ${rmcpStatusText(r.status)}`;
      if (isPrivilegeRefused(r.status)) {
        return this.failSession(this.error("privilege", `BMC ${this.cfg.bmc} refused privilege level ${this.cfg.privilege} for user "${this.cfg.username}" (${why})${this.offeredPrivilege(0)}`));
      }
      if (r.status === RmcpStatus.UNAUTHORIZED_NAME || r.status === RmcpStatus.ILLEGAL_PARAMETER || r.status === RmcpStatus.INVALID_NAME_LENGTH) {
        return this.failSession(this.error("auth_failed", `authentication failed at BMC ${this.cfg.bmc}: user "${this.cfg.username}" was not accepted (${why})`));
      }
      return this.failSession(this.error("protocol", `BMC ${this.cfg.bmc} refused RAKP1 (${why})`));
    }
    if (r.console_session_id !== this.console_session_id) return this.failSession(this.error("protocol", `BMC ${this.cfg.bmc} sent RAKP2 for another console session`));
    const ctx: RakpContext = {
      console_session_id: this.console_session_id,
      bmc_session_id: this.bmc_session_id,
      console_random: this.console_random,
      bmc_random: r.bmc_random,
      bmc_guid: r.bmc_guid,
      role: this.role,
      username: this.username,
    };
    const tag = this.nextTag();
    this.expected_tag = tag;
    if (!bytesEqual(rakp2AuthCode(this.suite, this.kuid, ctx), r.auth_code)) {
      // Tell the BMC once, so it frees the half-open session, then stop: no retry storm.
      this.effects.push({ kind: "send", bytes: this.rakp3Datagram(tag, RmcpStatus.INVALID_INTEGRITY_CHECK_VALUE, new Uint8Array(0)) });
      return this.failSession(this.error("auth_failed", `authentication failed at BMC ${this.cfg.bmc} for user "${this.cfg.username}": the RAKP2 key exchange code does not match (wrong password)`));
    }
    this.rakp = ctx;
    this.keys = deriveSessionKeys(this.suite, this.kuid, this.cfg.kg, ctx);
    this.phase = "rakp4";
    const bytes = this.rakp3Datagram(tag, RmcpStatus.OK, rakp3AuthCode(this.suite, this.kuid, ctx));
    this.send({ what: "RAKP message 3", build: () => bytes, max_attempts: this.cfg.max_attempts, deadline_at_ms: this.establish_deadline_at_ms }, now_ms);
  }

  private onRakp4(payload: Uint8Array, now_ms: number): void {
    if (this.phase !== "rakp4") return this.drop(`RAKP4 while ${this.phase}`);
    const decoded = decodeRakp4(payload);
    if (!decoded.ok) return this.drop(decoded.error);
    const r = decoded.value;
    if (r.tag !== this.expected_tag) return this.drop("RAKP4 with another message tag");
    this.pending = null;
    if (r.status !== RmcpStatus.OK) {
      const why = `RAKP4: ${rmcpStatusText(r.status)}`;
      if (r.status === RmcpStatus.INVALID_INTEGRITY_CHECK_VALUE || r.status === RmcpStatus.UNAUTHORIZED_NAME) {
        return this.failSession(this.error("auth_failed", `authentication failed at BMC ${this.cfg.bmc} for user "${this.cfg.username}" (${why})`));
      }
      return this.failSession(this.error("protocol", `BMC ${this.cfg.bmc} refused RAKP3 (${why})`));
    }
    const keys = this.keys;
    const ctx = this.rakp;
    if (!keys || !ctx) return this.failSession(this.error("protocol", "RAKP4 before the session keys exist"));
    if (!bytesEqual(rakp4Icv(this.suite, keys.sik, ctx), r.icv)) {
      return this.failSession(this.error("auth_failed", `authentication failed at BMC ${this.cfg.bmc}: the RAKP4 integrity check value does not match (wrong BMC key?)`));
    }
    this.phase = "set_privilege";
    const level = PRIVILEGE_LEVEL[this.cfg.privilege];
    this.startInFlight({ id: -1, request: setSessionPrivilegeRequest(level), deadline_at_ms: this.establish_deadline_at_ms, what: "Set Session Privilege Level" }, "set_privilege", now_ms);
  }

  // ---- in-session requests -------------------------------------------------------------

  private sessionDatagram(request: CommandRequest, rq_seq: number): Uint8Array {
    const keys = this.keys;
    if (!keys) throw new Error("session datagram before the keys exist");
    const message = encodeIpmiRequest({ rs_addr: ADDR_BMC, net_fn: request.net_fn, rs_lun: 0, rq_addr: ADDR_REMOTE_CONSOLE, rq_seq, rq_lun: 0, cmd: request.cmd, data: request.data });
    const payload = encryptPayload(keys.aes_key, message, this.cfg.random_bytes(16).slice(0, 16));
    return encodeV20(
      { payload_type: PayloadType.IPMI, encrypted: true, authenticated: true, session_id: this.bmc_session_id, session_seq: this.nextOutSeq(), payload },
      (covered) => integrityCode(this.suite, keys.k1, covered),
    );
  }

  private startInFlight(queued: Queued, purpose: InFlight["purpose"], now_ms: number): void {
    const rq_seq = this.nextRqSeq();
    this.inflight = { ...queued, rq_seq, purpose };
    const attempts = purpose === "close" ? Math.min(2, this.cfg.max_attempts) : this.cfg.max_attempts;
    this.send({ what: queued.what, build: () => this.sessionDatagram(queued.request, rq_seq), max_attempts: attempts, deadline_at_ms: queued.deadline_at_ms }, now_ms);
  }

  private pump(now_ms: number): void {
    if (this.phase !== "active" || this.inflight) return;
    const next = this.queue.shift();
    if (next) return this.startInFlight(next, "user", now_ms);
    if (this.close_requested) {
      this.phase = "closing";
      this.startInFlight({ id: -2, request: closeSessionRequest(this.bmc_session_id), deadline_at_ms: Number.POSITIVE_INFINITY, what: "Close Session" }, "close", now_ms);
    }
  }

  private onSessionMessage(message: Uint8Array, now_ms: number): void {
    const inflight = this.inflight;
    if (!inflight) return this.drop("session message with nothing in flight");
    const r = this.matchResponse(message, inflight.request, inflight.rq_seq);
    if (!r) return;
    this.pending = null;
    this.inflight = null;
    if (inflight.purpose === "close") {
      this.phase = "closed";
      this.effects.push({ kind: "closed" });
      return;
    }
    if (inflight.purpose === "set_privilege") return this.onSetPrivilege(r, now_ms);
    this.effects.push({ kind: "response", request_id: inflight.id, completion_code: r.completion_code, data: r.data });
    this.pump(now_ms);
  }

  private onSetPrivilege(r: IpmiResponse, now_ms: number): void {
    const cc = r.completion_code;
    if (cc === 0x80 || cc === 0x81 || cc === 0x82 || cc === CompletionCode.INSUFFICIENT_PRIVILEGE) {
      const reasons: Record<number, string> = {
        0x80: "the level is not available to this user",
        0x81: "the level exceeds the user's or the channel's limit",
        0x82: "cannot disable user-level authentication",
      };
      const why = reasons[cc] ?? completionCodeText(cc);
      return this.failSession(this.error("privilege", `BMC ${this.cfg.bmc} refused privilege level ${this.cfg.privilege} for user "${this.cfg.username}" (Set Session Privilege Level: ${hexByte(cc)}, ${why})${this.offeredPrivilege(0)}`, cc));
    }
    if (cc !== CompletionCode.OK) {
      return this.failSession(this.error("protocol", `BMC ${this.cfg.bmc} answered Set Session Privilege Level with ${completionCodeText(cc)}`, cc));
    }
    this.phase = "active";
    this.effects.push({ kind: "established", cipher_suite: this.suite.id, privilege: PRIVILEGE_LEVEL[this.cfg.privilege] });
    this.pump(now_ms);
  }
}

