// The peer link between the hosts: TCP, authenticated and encrypted with the cluster key.
//
// On connect each side sends a plaintext preface: magic "HAPR", version, node id, cluster key id,
// a fresh 16-byte nonce and the volume name. Each direction then gets its own AES-256-GCM key,
// HMAC(cluster key, "hapd repl v1" | initiator nonce | responder nonce | sender id | volume), so a
// key is never used on two connections. Frames are `length u32 | ciphertext | tag[16]`; the nonce
// is a per-direction counter and the length is the associated data, so a replayed, reordered,
// cut or altered frame fails authentication and closes the connection.
//
// PeerSession is the codec (no I/O); PeerLink is the edge (node:net) with reconnect.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import type { ClusterKey } from "../shared/wire.ts";
import { ByteQueue } from "./nbd/byte-queue.ts";
import { readU32 } from "./nbd/protocol.ts";
import { DATA_HEADER_BYTES, decodeMessage, decodeSplitMessage, encodeMessageParts, MSG_DATA_MAX_BYTES, MSG_TYPE_DATA, MSG_TYPE_RS_DATA, RS_DATA_HEADER_BYTES } from "./messages.ts";
import type { PeerMsg } from "./types.ts";

const MAGIC = 0x48415052; // "HAPR"
const VERSION = 1;
const NONCE_BYTES = 16;
const TAG_BYTES = 16;
const PREFACE_FIXED_BYTES = 4 + 1 + 1 + 4 + NONCE_BYTES + 2;
export const FRAME_MAX_BYTES = MSG_DATA_MAX_BYTES + 4096;
/** Encrypted frames at least this large are decrypted in two parts (header, payload). */
const SPLIT_DECRYPT_MIN_BYTES = 64 * 1024;
/** PeerLink writes to its socket only while the socket holds less than this unsent. */
const SOCKET_LOW_WATER_BYTES = 256 * 1024;
/** Frames and queued pieces smaller than this together are copied into one write. */
const JOIN_BELOW_BYTES = 64 * 1024;

export type SessionEvent = { kind: "message"; msg: PeerMsg } | { kind: "keepalive" } | { kind: "ready"; peerId: number } | { kind: "error"; reason: string };

export class PeerSession {
  private readonly input = new ByteQueue();
  private readonly nonce: Uint8Array;
  private sendKey: Buffer | null = null;
  private recvKey: Buffer | null = null;
  private sendCounter = 0n;
  private recvCounter = 0n;
  private failed = false;
  peerId = 0;

  constructor(
    private readonly key: ClusterKey,
    private readonly selfId: number,
    private readonly volume: string,
    private readonly initiator: boolean,
    nonce?: Uint8Array,
    /**
     * false: frames are authenticated (AES-GCM's tag over the whole frame, i.e. GMAC) but not
     * encrypted — DRBD's default, for a private backplane. Three times cheaper than encrypting
     * (4.7 vs 1.6 GB/s per core here) and the payload goes to the socket without a copy.
     */
    private readonly encrypt = true,
  ) {
    this.nonce = nonce ?? new Uint8Array(randomBytes(NONCE_BYTES));
  }

  get ready(): boolean {
    return this.sendKey !== null;
  }

  preface(): Uint8Array {
    const name = new TextEncoder().encode(this.volume);
    const b = new Uint8Array(PREFACE_FIXED_BYTES + name.byteLength);
    const v = new DataView(b.buffer);
    v.setUint32(0, MAGIC);
    v.setUint8(4, VERSION);
    v.setUint8(5, this.selfId);
    v.setUint32(6, this.key.keyId);
    b.set(this.nonce, 10);
    v.setUint16(26, name.byteLength);
    b.set(name, 28);
    return b;
  }

  /** An empty authenticated frame: proves liveness to a peer that has nothing else to hear. */
  keepalive(): Uint8Array {
    return this.sealBytes(new Uint8Array(0));
  }

  seal(msg: PeerMsg): Uint8Array {
    return Buffer.concat(this.sealPieces(msg));
  }

  /**
   * The frame of one message as pieces to put on the socket in order: the length header, the
   * ciphertext of each part as the cipher returned it, then the tag. Nothing is copied into a
   * frame buffer: for a 1 MiB write that copy (into freshly allocated, page-faulting memory) cost
   * the Primary more CPU than the encryption itself (bench/replication/profile.ts).
   */
  sealPieces(msg: PeerMsg): Uint8Array[] {
    return this.sealParts(encodeMessageParts(msg));
  }

  private sealBytes(plain: Uint8Array): Uint8Array {
    return Buffer.concat(this.sealParts([plain]));
  }

  /** Each piece is encrypted straight from where it lies (a write's payload is never copied into a plaintext message first). */
  private sealParts(parts: Uint8Array[]): Uint8Array[] {
    if (!this.sendKey) throw new Error("session not ready");
    let plain_bytes = 0;
    for (const p of parts) plain_bytes += p.byteLength;
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(plain_bytes + TAG_BYTES, 0);
    const c = createCipheriv("aes-256-gcm", this.sendKey, counterNonce(this.sendCounter++));
    c.setAAD(head);
    const out: Uint8Array[] = [head];
    for (const p of parts) {
      if (p.byteLength === 0) continue;
      if (this.encrypt) out.push(c.update(p));
      else {
        // Authenticated only: the piece is part of the tag's input and goes out as it lies.
        c.setAAD(p);
        out.push(p);
      }
    }
    const fin = c.final();
    if (fin.byteLength > 0) out.push(fin);
    out.push(c.getAuthTag());
    return out;
  }

  /** Total: any bytes give events; after an error the session is dead and yields nothing more. */
  receive(bytes: Uint8Array): SessionEvent[] {
    if (this.failed) return [];
    this.input.push(bytes);
    const out: SessionEvent[] = [];
    while (!this.failed) {
      const ev = this.recvKey ? this.nextFrame() : this.nextPreface();
      if (ev === null) break;
      out.push(ev);
      if (ev.kind === "error") this.failed = true;
    }
    return out;
  }

  private nextPreface(): SessionEvent | null {
    if (this.input.length < PREFACE_FIXED_BYTES) return null;
    // A copy, so the DataView reads a small plain array (see readU32 in nbd/protocol.ts for why).
    const v = new DataView(new Uint8Array(this.input.peek(PREFACE_FIXED_BYTES)).buffer);
    if (v.getUint32(0) !== MAGIC) return { kind: "error", reason: "peer did not send the replication preface (wrong port or protocol)" };
    if (v.getUint8(4) !== VERSION) return { kind: "error", reason: `peer speaks replication transport version ${v.getUint8(4)}, we speak ${VERSION}` };
    const nameLen = v.getUint16(26);
    if (this.input.length < PREFACE_FIXED_BYTES + nameLen) return null;
    const p = this.input.take(PREFACE_FIXED_BYTES + nameLen);
    const peerId = v.getUint8(5);
    const keyId = v.getUint32(6);
    const peerNonce = p.slice(10, 10 + NONCE_BYTES);
    const name = new TextDecoder().decode(p.subarray(PREFACE_FIXED_BYTES));
    if (keyId !== this.key.keyId) return { kind: "error", reason: `node ${peerId} uses another cluster key (id ${keyId.toString(16)}, ours ${this.key.keyId.toString(16)})` };
    if (name !== this.volume) return { kind: "error", reason: `node ${peerId} offers volume ${JSON.stringify(name)}, this link serves ${JSON.stringify(this.volume)}` };
    if (peerId === this.selfId) return { kind: "error", reason: `peer claims our own node id ${peerId}` };
    const [ni, nr] = this.initiator ? [this.nonce, peerNonce] : [peerNonce, this.nonce];
    this.sendKey = this.derive(ni, nr, this.selfId);
    this.recvKey = this.derive(ni, nr, peerId);
    this.peerId = peerId;
    return { kind: "ready", peerId };
  }

  private derive(ni: Uint8Array, nr: Uint8Array, sender: number): Buffer {
    // The mode is part of the key: peers that disagree fail the first frame's authentication
    // instead of one reading the other's ciphertext as plaintext.
    return this.key.mac(this.encrypt ? "hapd repl v1" : "hapd repl v1 mac-only", Buffer.concat([ni, nr, Buffer.from([sender]), Buffer.from(this.volume)]));
  }

  private nextFrame(): SessionEvent | null {
    if (this.input.length < 4) return null;
    const head = new Uint8Array(this.input.peek(4));
    const len = readU32(head, 0);
    if (len < TAG_BYTES || len > FRAME_MAX_BYTES) return { kind: "error", reason: `frame of ${len} bytes is out of bounds` };
    if (this.input.length < 4 + len) return null;
    this.input.skip(4);
    // Authenticated-only frames carry the plaintext: line a write's payload up on a page
    // boundary so the Secondary can write it with O_DIRECT straight from the frame.
    const body = this.input.take(len, this.encrypt ? 0 : payloadOffset(this.input, len));
    const d = createDecipheriv("aes-256-gcm", this.recvKey!, counterNonce(this.recvCounter++));
    d.setAAD(head);
    d.setAuthTag(body.subarray(len - TAG_BYTES));
    let plain: Uint8Array;
    let split: { head: Uint8Array; payload: Uint8Array } | null = null;
    try {
      const ct = body.subarray(0, len - TAG_BYTES);
      if (this.encrypt && ct.byteLength >= SPLIT_DECRYPT_MIN_BYTES) {
        // A large write: decrypt its header apart so the payload gets a fresh (page-aligned)
        // buffer of its own, which the Secondary writes with O_DIRECT. GCM is a stream cipher
        // underneath, so any split gives the same bytes; nothing is used before final() below.
        const first = d.update(ct.subarray(0, 2));
        const hdr = first[1] === MSG_TYPE_DATA ? DATA_HEADER_BYTES : first[1] === MSG_TYPE_RS_DATA ? RS_DATA_HEADER_BYTES : 0;
        if (hdr > 2 && ct.byteLength > hdr) {
          split = { head: Buffer.concat([first, d.update(ct.subarray(2, hdr))]), payload: d.update(ct.subarray(hdr)) };
          plain = split.payload;
        } else {
          plain = Buffer.concat([first, d.update(ct.subarray(2))]);
        }
      } else if (this.encrypt) {
        // GCM's final() yields no bytes; it only checks the tag. Skipping a concat saves a copy.
        plain = d.update(ct);
      } else {
        plain = body.subarray(0, len - TAG_BYTES);
        d.setAAD(plain);
      }
      d.final();
    } catch {
      return { kind: "error", reason: "frame failed authentication (altered, replayed or out of order, or the hosts disagree on link_encryption)" };
    }
    if (plain.byteLength === 0) return { kind: "keepalive" };
    const r = split ? decodeSplitMessage(split.head, split.payload) : decodeMessage(plain);
    if (!r.ok) return { kind: "error", reason: `undecodable message from node ${this.peerId}: ${r.reason}` };
    return { kind: "message", msg: r.msg };
  }
}

/** Where a data-carrying message's payload starts in its (plaintext) body; 0 for the others. */
function payloadOffset(input: ByteQueue, len: number): number {
  if (len < 2) return 0;
  const type = input.peek(2)[1];
  return type === MSG_TYPE_DATA ? DATA_HEADER_BYTES : type === MSG_TYPE_RS_DATA ? RS_DATA_HEADER_BYTES : 0;
}

function counterNonce(n: bigint): Buffer {
  const b = Buffer.alloc(12);
  b.writeBigUInt64BE(n, 4);
  return b;
}

export interface PeerLinkOptions {
  key: ClusterKey;
  selfId: number;
  peerId: number;
  volume: string;
  /** The lower node id listens, the higher connects: one connection, no tie to break. */
  listen: { host: string; port: number };
  reconnectMin_ms?: number;
  reconnectMax_ms?: number;
  /** A keepalive frame goes out this often; a peer silent for deadAfter_ms is dropped. */
  keepalive_ms?: number;
  deadAfter_ms?: number;
  /** Encrypt frames (default) or only authenticate them (PeerSession). */
  encrypt?: boolean;
  onUp: () => void;
  onMessage: (msg: PeerMsg) => void;
  onDown: (reason: string) => void;
}

export class PeerLink {
  private server: Server | null = null;
  private socket: Socket | null = null;
  /** The socket the core was told is up; onDown is reported for it only. */
  private upSocket: Socket | null = null;
  private session: PeerSession | null = null;
  /** Sealed pieces waiting for the socket (see enqueue); they belong to `socket`'s session. */
  private outQueue: Uint8Array[] = [];
  private stopped = false;
  private backoff_ms: number;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly o: PeerLinkOptions) {
    this.backoff_ms = o.reconnectMin_ms ?? 100;
  }

  private get listens(): boolean {
    return this.o.selfId < this.o.peerId;
  }

  async start(): Promise<void> {
    if (this.listens) {
      const server = createServer((s) => {
        // The peer dials only when it believes it is disconnected, so a new connection means the
        // old one is dead (a crashed host sends no FIN): the newcomer wins.
        this.socket?.destroy(new Error("replaced by a new connection from the peer"));
        this.attach(s, false);
      });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(this.o.listen.port, this.o.listen.host, () => resolve());
      });
      this.server = server;
    } else this.dial();
  }

  get connected(): boolean {
    return this.session?.ready ?? false;
  }

  send(msg: PeerMsg): boolean {
    if (!this.socket || !this.session?.ready) return false;
    this.enqueue(this.socket, this.session.sealPieces(msg));
    return true;
  }

  /**
   * Frames go out in sealing order (their nonces are a counter), through one queue per
   * connection. The socket is written only while its own buffer is nearly empty: Bun copies
   * whatever a write cannot hand to the kernel at once into a growing buffer of its own, and
   * with megabytes of replicated writes in flight that copying (into fresh, page-faulting
   * memory) cost the Primary more than the kernel's send (bench/replication/profile.ts). Here
   * the waiting pieces stay where they lie, referenced, until the socket drains.
   */
  private enqueue(s: Socket, pieces: Uint8Array[]): void {
    if (s !== this.socket) return;
    let total = 0;
    for (const p of pieces) total += p.byteLength;
    if (total < JOIN_BELOW_BYTES) {
      // A small frame (an ack, a flush, a 4 KiB write) is one piece: one send, one wake-up of the peer.
      this.outQueue.push(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces));
    } else {
      // A large frame's payload goes as it lies, without a copy; its small neighbours (length,
      // message header, tag) are joined.
      let small: Uint8Array[] = [];
      for (const p of pieces) {
        if (p.byteLength === 0) continue;
        if (p.byteLength < 4096) {
          small.push(p);
          continue;
        }
        if (small.length > 0) this.outQueue.push(small.length === 1 ? small[0]! : Buffer.concat(small));
        small = [];
        this.outQueue.push(p);
      }
      if (small.length > 0) this.outQueue.push(small.length === 1 ? small[0]! : Buffer.concat(small));
    }
    this.pump(s);
  }

  private pump(s: Socket): void {
    while (this.outQueue.length > 0 && s.writableLength < SOCKET_LOW_WATER_BYTES && !s.destroyed) {
      // Small pieces queued behind each other (acks while the socket was full) go out as one write.
      let n = 1;
      let bytes = this.outQueue[0]!.byteLength;
      while (n < this.outQueue.length && bytes + this.outQueue[n]!.byteLength < JOIN_BELOW_BYTES) bytes += this.outQueue[n++]!.byteLength;
      const chunk = n === 1 ? this.outQueue[0]! : Buffer.concat(this.outQueue.slice(0, n));
      this.outQueue.splice(0, n);
      s.write(chunk);
    }
  }

  /** Drop the current connection (the core asked to disconnect); reconnecting continues. */
  drop(reason: string): void {
    this.socket?.destroy(new Error(reason));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.destroy();
    const s = this.server;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private dial(): void {
    if (this.stopped) return;
    const s = connect(this.o.listen.port, this.o.listen.host);
    s.once("connect", () => {
      this.backoff_ms = this.o.reconnectMin_ms ?? 100;
    });
    this.attach(s, true);
  }

  private attach(s: Socket, initiator: boolean): void {
    this.socket = s;
    // Frames sealed for an earlier connection's session mean nothing on this one.
    this.outQueue = [];
    s.on("drain", () => this.pump(s));
    s.setNoDelay(true);
    const session = new PeerSession(this.o.key, this.o.selfId, this.o.volume, initiator, undefined, this.o.encrypt ?? true);
    this.session = session;
    let up = false;
    let reason = "connection closed";
    let heard_ms = Date.now();
    const dead_ms = this.o.deadAfter_ms ?? 3000;
    const beat = setInterval(() => {
      if (Date.now() - heard_ms > dead_ms) {
        reason = `peer silent for more than ${dead_ms} ms`;
        s.destroy();
      } else if (session.ready) this.enqueue(s, [session.keepalive()]);
    }, this.o.keepalive_ms ?? 500);
    s.on("connect", () => s.write(session.preface()));
    if (!initiator) s.write(session.preface());
    s.on("data", (b: Buffer) => {
      heard_ms = Date.now();
      for (const ev of session.receive(b)) {
        if (ev.kind === "error") {
          reason = ev.reason;
          s.destroy();
        } else if (ev.kind === "ready") {
          if (ev.peerId !== this.o.peerId) {
            reason = `expected node ${this.o.peerId}, node ${ev.peerId} connected`;
            s.destroy();
            return;
          }
          up = true;
          if (this.upSocket !== null && this.upSocket !== s) this.o.onDown("replaced by a new connection from the peer");
          this.upSocket = s;
          this.o.onUp();
        } else if (ev.kind === "message") this.o.onMessage(ev.msg);
      }
    });
    s.on("error", (e) => {
      reason = e.message;
    });
    s.on("close", () => {
      clearInterval(beat);
      if (this.socket === s) {
        this.socket = null;
        this.session = null;
        this.outQueue = [];
      }
      if (up && this.upSocket === s) {
        this.upSocket = null;
        this.o.onDown(reason);
      }
      if (initiator && !this.stopped) {
        this.timer = setTimeout(() => this.dial(), this.backoff_ms);
        this.backoff_ms = Math.min(this.backoff_ms * 2, this.o.reconnectMax_ms ?? 2000);
      }
    });
  }
}
