// IpmiClient: the UDP edge around the session state machine (session.ts). It owns one connected
// node:dgram socket per session, turns "timer" effects into a single setTimeout, and exposes a
// small promise API for chassis and watchdog control. Passwords stay in memory and are never
// logged; the optional `log` sees only protocol events.

import dgram from "node:dgram";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import {
  chassisControlRequest,
  completionCodeText,
  decodeChassisStatus,
  decodeDeviceId,
  decodeWatchdogState,
  getChassisStatusRequest,
  getDeviceIdRequest,
  getWatchdogRequest,
  resetWatchdogRequest,
  setWatchdogRequest,
  type ChassisAction,
  type ChassisStatus,
  type CommandRequest,
  type DeviceId,
  type WatchdogSettings,
  type WatchdogState,
} from "./commands.ts";
import type { CipherSuiteId } from "./crypto.ts";
import { IpmiError } from "./errors.ts";
import type { Decoded } from "./bytes.ts";
import { IpmiSession, checkSessionConfig, type CipherPolicy, type SessionConfig, type SessionEffect, type SessionPrivilege } from "./session.ts";

export const DEFAULT_IPMI_PORT = 623;

export type IpmiClientOptions = {
  host: string;
  /** UDP port of the BMC; 623 by default. */
  port?: number;
  username: string;
  password: string | Uint8Array;
  /** BMC key for two-key logins; usually absent. */
  kg?: Uint8Array | null;
  /** 17, 3, or "auto" (17, falling back to 3 when the BMC lacks it). Default "auto". */
  cipher?: CipherPolicy;
  /** Default "administrator". */
  privilege?: SessionPrivilege;
  /** Per attempt: resend after this long without an answer. Default 1000 ms. */
  request_timeout_ms?: number;
  /** Sends per request, the first included. Default 3. */
  max_attempts?: number;
  /** Overall deadline for session setup. Default 10000 ms. */
  login_timeout_ms?: number;
  /** Overall deadline for each command. Default 5000 ms. */
  command_timeout_ms?: number;
  /** Protocol trace (no secrets). */
  log?: (line: string) => void;
};

export type CommandResult = { completion_code: number; data: Uint8Array };

type Waiter = { resolve: (result: CommandResult) => void; reject: (error: IpmiError) => void; what: string };

function now_ms(): number {
  return performance.now();
}

export class IpmiClient {
  readonly bmc: string;
  private readonly session: IpmiSession;
  private readonly socket: dgram.Socket;
  private readonly command_timeout_ms: number;
  private readonly log: (line: string) => void;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly waiters = new Map<number, Waiter>();
  private next_id = 1;
  private failure: IpmiError | null = null;
  private last_socket_error: string | null = null;
  private socket_closed = false;
  private on_established: ((suite: CipherSuiteId) => void) | null = null;
  private on_closed: (() => void) | null = null;
  private suite: CipherSuiteId | null = null;

  private constructor(bmc: string, session: IpmiSession, socket: dgram.Socket, command_timeout_ms: number, log: (line: string) => void) {
    this.bmc = bmc;
    this.session = session;
    this.socket = socket;
    this.command_timeout_ms = command_timeout_ms;
    this.log = log;
  }

  /** Open an authenticated, encrypted RMCP+ session. Rejects with an IpmiError. */
  static async open(options: IpmiClientOptions): Promise<IpmiClient> {
    const port = options.port ?? DEFAULT_IPMI_PORT;
    const bmc = `${options.host}:${port}`;
    const cfg: SessionConfig = {
      bmc,
      username: options.username,
      password: typeof options.password === "string" ? new TextEncoder().encode(options.password) : options.password,
      kg: options.kg ?? null,
      cipher: options.cipher ?? "auto",
      privilege: options.privilege ?? "administrator",
      request_timeout_ms: options.request_timeout_ms ?? 1000,
      max_attempts: options.max_attempts ?? 3,
      random_bytes: (count) => new Uint8Array(randomBytes(count)),
    };
    const problem = checkSessionConfig(cfg);
    if (problem) throw problem;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new IpmiError("config", bmc, `BMC port ${port} is not a UDP port`);
    const login_timeout_ms = options.login_timeout_ms ?? 10_000;
    const deadline_at_ms = now_ms() + login_timeout_ms;

    let address = options.host;
    let family: number = ipFamily(options.host);
    if (family === 0) {
      try {
        // Loaded only for host names: node:dns costs start-up time a fence agent should not pay.
        const { lookup } = await import("node:dns/promises");
        const found = await withTimeout(lookup(options.host), login_timeout_ms);
        address = found.address;
        family = found.family;
      } catch (error) {
        throw new IpmiError("timeout", bmc, `cannot resolve BMC host ${options.host}: ${(error as Error).message}`);
      }
    }
    const socket = dgram.createSocket(family === 6 ? "udp6" : "udp4");
    const client = new IpmiClient(bmc, new IpmiSession(cfg), socket, options.command_timeout_ms ?? 5000, options.log ?? (() => {}));
    try {
      await client.connect(address, port);
    } catch (error) {
      client.closeSocket();
      throw error;
    }
    return client.establish(deadline_at_ms);
  }

  /** The cipher suite the session uses (after a fallback, 3). */
  get cipherSuite(): CipherSuiteId | null {
    return this.suite;
  }

  private connect(address: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(new IpmiError("timeout", this.bmc, `cannot open a UDP socket to BMC ${this.bmc}: ${error.message}`));
      this.socket.once("error", onError);
      this.socket.connect(port, address, () => {
        this.socket.off("error", onError);
        // With a connected socket an ICMP "port unreachable" arrives as ECONNREFUSED: note it for the
        // timeout message, but keep retrying (a BMC that is rebooting refuses for a moment).
        this.socket.on("error", (error) => {
          this.last_socket_error = (error as NodeJS.ErrnoException).code ?? error.message;
        });
        this.socket.on("message", (message) => this.apply(this.session.receive(new Uint8Array(message), now_ms())));
        resolve();
      });
    });
  }

  private establish(deadline_at_ms: number): Promise<IpmiClient> {
    return new Promise((resolve, reject) => {
      this.on_established = (suite) => {
        this.suite = suite;
        this.log(`session established with ${this.bmc}, cipher suite ${suite}`);
        resolve(this);
      };
      this.on_closed = () => {
        this.closeSocket();
        reject(this.failure ?? new IpmiError("closed", this.bmc, `session with BMC ${this.bmc} closed during setup`));
      };
      this.apply(this.session.start(now_ms(), deadline_at_ms));
    });
  }

  private apply(effects: SessionEffect[]): void {
    for (const effect of effects) {
      switch (effect.kind) {
        case "send":
          this.send(effect.bytes);
          break;
        case "timer":
          this.setTimer(effect.at_ms);
          break;
        case "established":
          this.on_established?.(effect.cipher_suite);
          this.on_established = null;
          break;
        case "response": {
          const waiter = this.waiters.get(effect.request_id);
          this.waiters.delete(effect.request_id);
          waiter?.resolve({ completion_code: effect.completion_code, data: effect.data });
          break;
        }
        case "request_failed": {
          const waiter = this.waiters.get(effect.request_id);
          this.waiters.delete(effect.request_id);
          waiter?.reject(this.explain(effect.error));
          break;
        }
        case "failed":
          this.failure = this.explain(effect.error);
          this.log(`session with ${this.bmc} failed: ${this.failure.message}`);
          this.finish();
          break;
        case "closed":
          this.log(`session with ${this.bmc} closed`);
          this.finish();
          break;
        case "dropped":
          this.log(`dropped datagram from ${this.bmc}: ${effect.reason}`);
          break;
      }
    }
  }

  private send(bytes: Uint8Array): void {
    if (this.socket_closed) return;
    try {
      this.socket.send(bytes);
    } catch (error) {
      // Treated like a lost datagram: the session retransmits and times out if this persists.
      this.last_socket_error = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    }
  }

  /** Add what the socket saw to a timeout, e.g. ECONNREFUSED when nothing listens. */
  private explain(error: IpmiError): IpmiError {
    if (error.code !== "timeout" || !this.last_socket_error) return error;
    return new IpmiError(error.code, error.bmc, `${error.message} (socket error ${this.last_socket_error}: is a BMC listening on ${this.bmc}?)`);
  }

  private finish(): void {
    const failure = this.failure ?? new IpmiError("closed", this.bmc, `session with BMC ${this.bmc} is closed`);
    for (const waiter of this.waiters.values()) waiter.reject(failure);
    this.waiters.clear();
    this.setTimer(null);
    const closed = this.on_closed;
    this.on_closed = null;
    this.on_established = null;
    this.closeSocket();
    closed?.();
  }

  private closeSocket(): void {
    if (this.socket_closed) return;
    this.socket_closed = true;
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  private setTimer(at_ms: number | null): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (at_ms === null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.apply(this.session.tick(now_ms()));
    }, Math.max(0, Math.ceil(at_ms - now_ms())));
  }

  /** Send any command; resolves with its completion code and data (no check of the code). */
  raw(request: CommandRequest, what = "request", timeout_ms = this.command_timeout_ms): Promise<CommandResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.socket_closed) return Promise.reject(new IpmiError("closed", this.bmc, `session with BMC ${this.bmc} is closed`));
    const id = this.next_id++;
    return new Promise((resolve, reject) => {
      this.waiters.set(id, { resolve, reject, what });
      const t = now_ms();
      this.apply(this.session.request(id, request, t, t + timeout_ms, what));
    });
  }

  /** Send a command and insist on completion code 0. */
  private async command<T>(request: CommandRequest, what: string, decode?: (data: Uint8Array) => Decoded<T>): Promise<T> {
    const result = await this.raw(request, what);
    if (result.completion_code !== 0) {
      throw new IpmiError("completion_code", this.bmc, `BMC ${this.bmc} answered ${what} with ${completionCodeText(result.completion_code)}`, result.completion_code);
    }
    if (!decode) return undefined as T;
    const decoded = decode(result.data);
    if (!decoded.ok) throw new IpmiError("protocol", this.bmc, `BMC ${this.bmc} answered ${what} with an unreadable reply: ${decoded.error}`);
    return decoded.value;
  }

  chassisStatus(): Promise<ChassisStatus> {
    return this.command(getChassisStatusRequest(), "Get Chassis Status", decodeChassisStatus);
  }

  async powerStatus(): Promise<"on" | "off"> {
    return (await this.chassisStatus()).power_on ? "on" : "off";
  }

  private control(action: ChassisAction): Promise<void> {
    return this.command(chassisControlRequest(action), `Chassis Control (${action.replace("_", " ")})`);
  }

  powerOff(): Promise<void> {
    return this.control("power_off");
  }

  powerOn(): Promise<void> {
    return this.control("power_on");
  }

  powerCycle(): Promise<void> {
    return this.control("power_cycle");
  }

  hardReset(): Promise<void> {
    return this.control("hard_reset");
  }

  softShutdown(): Promise<void> {
    return this.control("soft_shutdown");
  }

  deviceId(): Promise<DeviceId> {
    return this.command(getDeviceIdRequest(), "Get Device ID", decodeDeviceId);
  }

  /** Set Watchdog Timer. Trailing bytes in the reply (ipmi_sim) are ignored. */
  watchdogSet(settings: WatchdogSettings): Promise<void> {
    return this.command(setWatchdogRequest(settings), "Set Watchdog Timer");
  }

  watchdogGet(): Promise<WatchdogState> {
    return this.command(getWatchdogRequest(), "Get Watchdog Timer", decodeWatchdogState);
  }

  /** Reset (pet, or start) the watchdog. 0x80 means it was never set: an IpmiError says so. */
  watchdogReset(): Promise<void> {
    return this.command(resetWatchdogRequest(), "Reset Watchdog Timer");
  }

  /** Close the session (Close Session, best effort) and the socket. Never rejects. */
  close(): Promise<void> {
    if (this.socket_closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.on_closed = resolve;
      this.apply(this.session.close(now_ms()));
      if (this.socket_closed) {
        this.on_closed = null;
        resolve();
      }
    });
  }
}

/** 4 or 6 for an IP literal, 0 for a host name (node:net's isIP costs ~25 ms of start-up in Bun). */
export function ipFamily(host: string): 0 | 4 | 6 {
  const v4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
  if (v4.test(host)) return 4;
  if (host.includes(":") && /^[0-9a-fA-F:.]+(%[\w.-]+)?$/.test(host)) return 6;
  return 0;
}

function withTimeout<T>(promise: Promise<T>, timeout_ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${timeout_ms} ms`)), timeout_ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
