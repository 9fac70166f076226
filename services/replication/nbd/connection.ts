// One NBD connection as a core without I/O: bytes in, effects out. The edge (server.ts) feeds
// socket bytes to receive(), performs the `io` effects against a BlockBackend and reports each
// result with complete(). Nothing here throws on peer input: a frame that cannot be understood
// closes the connection with a reason; a request that is understood but wrong gets an error reply.
import { ByteQueue } from "./byte-queue.ts";
import * as P from "./protocol.ts";

export interface ExportInfo {
  name: string;
  size_bytes: number;
  readOnly: boolean;
  /** Advertise CAN_MULTI_CONN only when a flush on one connection covers writes of all (one fd, fdatasync). */
  multiConn: boolean;
}

export interface ConnectionLimits {
  /** Largest READ/WRITE payload; larger reads get EINVAL, larger writes close the connection. */
  maxRequest_bytes: number;
  /** Requests handed to the backend and not yet completed; beyond it, parsing pauses. */
  maxInFlight: number;
  /** Payload bytes of those requests (write data held, read data to come); bounds memory per client. */
  maxInFlight_bytes: number;
}

// 64 requests: a replicated write waits for the peer, so latency-bound clients need a deep queue.
export const DEFAULT_LIMITS: ConnectionLimits = { maxRequest_bytes: 32 * 1024 * 1024, maxInFlight: 64, maxInFlight_bytes: 64 * 1024 * 1024 };
export const PREFERRED_BLOCK_BYTES = 4096;

export type IoOp =
  | { op: "read"; offset_bytes: number; length_bytes: number }
  | { op: "write"; offset_bytes: number; data: Uint8Array; fua: boolean }
  | { op: "flush" }
  | { op: "trim"; offset_bytes: number; length_bytes: number; fua: boolean }
  | { op: "zero"; offset_bytes: number; length_bytes: number; fua: boolean; mayTrim: boolean };

export type Effect =
  | { kind: "send"; chunks: Uint8Array[] }
  | { kind: "io"; id: number; io: IoOp }
  | { kind: "transmission"; export: string }
  | { kind: "close"; reason: string; clean: boolean };

type Phase = "greeting" | "flags" | "options" | "transmission" | "draining" | "closed";

interface Pending {
  cookie: bigint;
  op: IoOp["op"];
  payload_bytes: number;
}

export class NbdConnection {
  private phase: Phase = "greeting";
  private readonly input = new ByteQueue();
  private readonly inFlight = new Map<number, Pending>();
  private nextId = 1;
  private inFlight_bytes = 0;
  private noZeroes = false;
  readonly counters = { requests: 0, errors: 0 };

  constructor(
    private readonly exp: ExportInfo,
    private readonly limits: ConnectionLimits = DEFAULT_LIMITS,
  ) {}

  get closed(): boolean {
    return this.phase === "closed";
  }

  get bufferedBytes(): number {
    return this.input.length;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** True while parsing is paused for requests in flight (the edge pauses the socket too). */
  get saturated(): boolean {
    return this.inFlight.size >= this.limits.maxInFlight || this.inFlight_bytes >= this.limits.maxInFlight_bytes;
  }

  transmissionFlags(): number {
    let f = P.TF.HAS_FLAGS | P.TF.SEND_FLUSH | P.TF.SEND_FUA | P.TF.SEND_TRIM | P.TF.SEND_WRITE_ZEROES;
    if (this.exp.readOnly) f |= P.TF.READ_ONLY;
    if (this.exp.multiConn) f |= P.TF.CAN_MULTI_CONN;
    return f;
  }

  start(): Effect[] {
    if (this.phase !== "greeting") return [];
    this.phase = "flags";
    return [{ kind: "send", chunks: [P.greeting()] }];
  }

  receive(bytes: Uint8Array): Effect[] {
    if (this.phase === "closed") return [];
    this.input.push(bytes);
    return this.pump();
  }

  /** The edge finished an io effect. errno 0 = success; data only for a successful read. */
  complete(id: number, errno: number, data?: Uint8Array): Effect[] {
    const p = this.inFlight.get(id);
    if (p === undefined || this.phase === "closed") return [];
    this.inFlight.delete(id);
    this.inFlight_bytes -= p.payload_bytes;
    const out: Effect[] = [];
    if (errno !== 0) this.counters.errors++;
    if (p.op === "read" && errno === 0) {
      out.push({ kind: "send", chunks: [P.simpleReply(p.cookie, 0), data ?? new Uint8Array(0)] });
    } else {
      // A failed read sends the header only: QEMU's and libnbd's clients read no payload then.
      out.push({ kind: "send", chunks: [P.simpleReply(p.cookie, errno)] });
    }
    if (this.phase === "draining" && this.inFlight.size === 0) out.push(this.close("client disconnected (NBD_CMD_DISC)", true));
    else out.push(...this.pump());
    return out;
  }

  /** The socket went away: forget everything. */
  abort(): void {
    this.phase = "closed";
    this.inFlight.clear();
  }

  private close(reason: string, clean: boolean): Effect {
    this.phase = "closed";
    return { kind: "close", reason, clean };
  }

  private pump(): Effect[] {
    const out: Effect[] = [];
    // Each step consumes a frame, so the loop is bounded by the buffered bytes.
    while (this.phase !== "closed" && this.step(out)) {}
    return out;
  }

  /** One frame; false when more bytes (or fewer requests in flight) are needed. */
  private step(out: Effect[]): boolean {
    switch (this.phase) {
      case "flags":
        return this.stepFlags(out);
      case "options":
        return this.stepOption(out);
      case "transmission":
        return this.stepRequest(out);
      default:
        return false;
    }
  }

  private stepFlags(out: Effect[]): boolean {
    if (this.input.length < 4) return false;
    const b = this.input.take(4);
    const flags = P.readU32(b, 0);
    if ((flags & P.FLAG_FIXED_NEWSTYLE) === 0) {
      out.push(this.close("client does not support fixed newstyle negotiation", false));
      return true;
    }
    if ((flags & ~(P.FLAG_FIXED_NEWSTYLE | P.FLAG_NO_ZEROES)) !== 0) {
      out.push(this.close(`client flags 0x${flags.toString(16)} carry unknown bits`, false));
      return true;
    }
    this.noZeroes = (flags & P.FLAG_NO_ZEROES) !== 0;
    this.phase = "options";
    return true;
  }

  private stepOption(out: Effect[]): boolean {
    if (this.input.length < P.OPTION_HEADER_BYTES) return false;
    const h = P.decodeOptionHeader(this.input.peek(P.OPTION_HEADER_BYTES));
    if (h.magic !== P.IHAVEOPT) {
      out.push(this.close("option without IHAVEOPT magic", false));
      return true;
    }
    if (h.length > P.OPTION_DATA_MAX_BYTES) {
      out.push(this.close(`option ${h.option} carries ${h.length} bytes, more than ${P.OPTION_DATA_MAX_BYTES}`, false));
      return true;
    }
    if (this.input.length < P.OPTION_HEADER_BYTES + h.length) return false;
    this.input.skip(P.OPTION_HEADER_BYTES);
    const data = this.input.take(h.length);
    this.handleOption(h.option, data, out);
    return true;
  }

  private nameMatches(name: string): boolean {
    return name === "" || name === this.exp.name;
  }

  private handleOption(option: number, data: Uint8Array, out: Effect[]): void {
    const send = (b: Uint8Array) => out.push({ kind: "send", chunks: [b] });
    switch (option) {
      case P.Opt.EXPORT_NAME: {
        const name = P.decodeName(data);
        if (name === null || !this.nameMatches(name)) {
          // EXPORT_NAME has no error reply: the protocol says close.
          out.push(this.close(`client asked for unknown export ${JSON.stringify(name ?? "<invalid utf-8>")}`, false));
          return;
        }
        send(P.exportNameReply(this.exp.size_bytes, this.transmissionFlags(), this.noZeroes));
        this.enterTransmission(out);
        return;
      }
      case P.Opt.ABORT:
        send(P.optionReply(option, P.Rep.ACK));
        out.push(this.close("client aborted negotiation", true));
        return;
      case P.Opt.LIST:
        if (data.byteLength !== 0) return void send(P.errorReply(option, P.Rep.ERR_INVALID, "NBD_OPT_LIST takes no data"));
        send(P.optionReply(option, P.Rep.SERVER, P.serverEntry(this.exp.name)));
        send(P.optionReply(option, P.Rep.ACK));
        return;
      case P.Opt.INFO:
      case P.Opt.GO: {
        const req = P.decodeInfoRequest(data);
        if (!req.ok) return void send(P.errorReply(option, P.Rep.ERR_INVALID, req.reason));
        if (!this.nameMatches(req.name)) return void send(P.errorReply(option, P.Rep.ERR_UNKNOWN, `no export named ${JSON.stringify(req.name)}`));
        send(P.optionReply(option, P.Rep.INFO, P.infoExport(this.exp.size_bytes, this.transmissionFlags())));
        // Always sent: it tells the client our maximum, which it must respect.
        send(P.optionReply(option, P.Rep.INFO, P.infoBlockSize(1, PREFERRED_BLOCK_BYTES, this.limits.maxRequest_bytes)));
        send(P.optionReply(option, P.Rep.ACK));
        if (option === P.Opt.GO) this.enterTransmission(out);
        return;
      }
      default:
        // Structured replies, meta contexts, extended headers and TLS are not offered; clients fall
        // back to simple replies.
        send(P.errorReply(option, P.Rep.ERR_UNSUP, `option ${option} is not supported`));
    }
  }

  private enterTransmission(out: Effect[]): void {
    this.phase = "transmission";
    out.push({ kind: "transmission", export: this.exp.name });
  }

  private stepRequest(out: Effect[]): boolean {
    if (this.inFlight.size >= this.limits.maxInFlight || this.inFlight_bytes >= this.limits.maxInFlight_bytes) return false;
    if (this.input.length < P.REQUEST_BYTES) return false;
    const r = P.decodeRequest(this.input.peek(P.REQUEST_BYTES));
    if (r.magic !== P.REQUEST_MAGIC) {
      out.push(this.close(`request magic 0x${r.magic.toString(16)} is wrong; the stream cannot be resynchronised`, false));
      return true;
    }
    let data: Uint8Array | undefined;
    if (r.type === P.Cmd.WRITE) {
      if (r.length > this.limits.maxRequest_bytes) {
        out.push(this.close(`write of ${r.length} bytes exceeds the maximum of ${this.limits.maxRequest_bytes}`, false));
        return true;
      }
      if (this.input.length < P.REQUEST_BYTES + r.length) return false;
      this.input.skip(P.REQUEST_BYTES);
      data = this.input.take(r.length);
    } else {
      this.input.skip(P.REQUEST_BYTES);
    }
    this.counters.requests++;
    this.handleRequest(r, data, out);
    return true;
  }

  private reply(cookie: bigint, errno: number, out: Effect[]): void {
    if (errno !== 0) this.counters.errors++;
    out.push({ kind: "send", chunks: [P.simpleReply(cookie, errno)] });
  }

  private issue(cookie: bigint, io: IoOp, out: Effect[]): void {
    const id = this.nextId++;
    const payload_bytes = io.op === "write" ? io.data.byteLength : io.op === "read" ? io.length_bytes : 0;
    this.inFlight_bytes += payload_bytes;
    this.inFlight.set(id, { cookie, op: io.op, payload_bytes });
    out.push({ kind: "io", id, io });
  }

  private handleRequest(r: P.Request, data: Uint8Array | undefined, out: Effect[]): void {
    const size = BigInt(this.exp.size_bytes);
    const inRange = r.offset + BigInt(r.length) <= size;
    const offset_bytes = Number(r.offset);
    const fua = (r.flags & P.CmdFlag.FUA) !== 0;
    const allowedFlags: Record<number, number> = {
      [P.Cmd.READ]: P.CmdFlag.DF | P.CmdFlag.FUA,
      [P.Cmd.WRITE]: P.CmdFlag.FUA,
      [P.Cmd.FLUSH]: 0,
      [P.Cmd.TRIM]: P.CmdFlag.FUA,
      [P.Cmd.WRITE_ZEROES]: P.CmdFlag.FUA | P.CmdFlag.NO_HOLE,
    };
    if (r.type === P.Cmd.DISC) {
      // Honoured whatever its flags; requests already in flight still get their replies.
      if (this.inFlight.size === 0) out.push(this.close("client disconnected (NBD_CMD_DISC)", true));
      else this.phase = "draining";
      return;
    }
    const allowed = allowedFlags[r.type];
    if (allowed === undefined) return this.reply(r.cookie, P.NbdErr.EINVAL, out);
    if ((r.flags & ~allowed) !== 0) return this.reply(r.cookie, P.NbdErr.EINVAL, out);
    const writes = r.type === P.Cmd.WRITE || r.type === P.Cmd.TRIM || r.type === P.Cmd.WRITE_ZEROES;
    if (writes && this.exp.readOnly) return this.reply(r.cookie, P.NbdErr.EPERM, out);
    switch (r.type) {
      case P.Cmd.READ:
        if (r.length === 0 || r.length > this.limits.maxRequest_bytes || !inRange) return this.reply(r.cookie, P.NbdErr.EINVAL, out);
        return this.issue(r.cookie, { op: "read", offset_bytes, length_bytes: r.length }, out);
      case P.Cmd.WRITE:
        if (r.length === 0) return this.reply(r.cookie, P.NbdErr.EINVAL, out);
        if (!inRange) return this.reply(r.cookie, P.NbdErr.ENOSPC, out);
        return this.issue(r.cookie, { op: "write", offset_bytes, data: data!, fua }, out);
      case P.Cmd.FLUSH:
        return this.issue(r.cookie, { op: "flush" }, out);
      case P.Cmd.TRIM:
        if (r.length === 0 || !inRange) return this.reply(r.cookie, P.NbdErr.EINVAL, out);
        return this.issue(r.cookie, { op: "trim", offset_bytes, length_bytes: r.length, fua }, out);
      case P.Cmd.WRITE_ZEROES:
        if (r.length === 0) return this.reply(r.cookie, P.NbdErr.EINVAL, out);
        if (!inRange) return this.reply(r.cookie, P.NbdErr.ENOSPC, out);
        return this.issue(r.cookie, { op: "zero", offset_bytes, length_bytes: r.length, fua, mayTrim: (r.flags & P.CmdFlag.NO_HOLE) === 0 }, out);
    }
  }
}
