// A small NBD client that streams stamped 4 KiB writes (16 in flight) and records which stamp
// of each block the server acknowledged, to check later that every acknowledged write survived.
import { type Socket, connect } from "node:net";
import * as P from "../../services/replication/nbd/protocol.ts";

const BLOCK_BYTES = 4096;

/** Reads exactly n bytes from a socket, in order; null when the socket closed first. */
class Reader {
  private buf = Buffer.alloc(0);
  private waiters: { n: number; resolve: (b: Buffer | null) => void }[] = [];
  private closed = false;
  constructor(s: Socket) {
    s.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.drain();
    });
    s.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w.resolve(null);
    });
    s.on("error", () => undefined);
  }
  private drain(): void {
    while (this.waiters.length > 0 && this.buf.byteLength >= this.waiters[0]!.n) {
      const w = this.waiters.shift()!;
      const out = Buffer.from(this.buf.subarray(0, w.n));
      this.buf = this.buf.subarray(w.n);
      w.resolve(out);
    }
  }
  read(n: number): Promise<Buffer | null> {
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiters.push({ n, resolve });
      this.drain();
    });
  }
}

export class AckWriter {
  /** block → the last stamp acknowledged for it. */
  readonly lastAcked = new Map<number, number>();
  /** block → every stamp issued to it, in order. */
  readonly issued = new Map<number, number[]>();
  acks = 0;
  private stopped = false;
  private done: Promise<void> = Promise.resolve();
  private socket: Socket | null = null;

  constructor(
    private readonly blocks: number,
    private readonly exportName: string,
  ) {}

  async start(path: string): Promise<void> {
    const socket = connect(path);
    this.socket = socket;
    await new Promise<void>((r, j) => {
      socket.once("connect", () => r());
      socket.once("error", j);
    });
    const reader = new Reader(socket);
    await reader.read(18);
    socket.write(Buffer.from([0, 0, 0, 3]));
    const name = Buffer.from(this.exportName);
    const data = Buffer.alloc(4 + name.byteLength + 2);
    data.writeUInt32BE(name.byteLength, 0);
    name.copy(data, 4);
    const head = Buffer.alloc(16);
    head.writeBigUInt64BE(P.IHAVEOPT, 0);
    head.writeUInt32BE(P.Opt.GO, 8);
    head.writeUInt32BE(data.byteLength, 12);
    socket.write(Buffer.concat([head, data]));
    for (;;) {
      const h = await reader.read(20);
      if (!h) throw new Error("NBD server closed during negotiation");
      const type = h.readUInt32BE(12);
      await reader.read(h.readUInt32BE(16));
      if (type === P.Rep.ACK) break;
      if (type !== P.Rep.INFO) throw new Error(`NBD_OPT_GO failed: reply 0x${type.toString(16)}`);
    }
    this.done = this.pump(socket, reader);
  }

  private async pump(socket: Socket, reader: Reader): Promise<void> {
    const inflight = new Map<bigint, { block: number; stamp: number }>();
    let stamp = 0;
    let next = 0;
    while (!this.stopped) {
      while (inflight.size < 16 && !socket.destroyed) {
        // Deterministic walk over the blocks (a stride coprime to the count), never two in flight on one block.
        const block = (next++ * 7919) % this.blocks;
        if ([...inflight.values()].some((w) => w.block === block)) continue;
        stamp++;
        const data = Buffer.alloc(BLOCK_BYTES, stamp & 0xff);
        data.writeUInt32BE(stamp, 0);
        inflight.set(BigInt(stamp), { block, stamp });
        this.issued.set(block, [...(this.issued.get(block) ?? []), stamp]);
        socket.write(Buffer.concat([P.encodeRequest({ flags: 0, type: P.Cmd.WRITE, cookie: BigInt(stamp), offset: BigInt(block * BLOCK_BYTES), length: BLOCK_BYTES }), data]));
      }
      const r = await reader.read(16);
      if (r === null) return; // the server is gone
      const cookie = r.readBigUInt64BE(8);
      const w = inflight.get(cookie);
      if (!w) continue;
      inflight.delete(cookie);
      if (r.readUInt32BE(4) === 0) {
        this.lastAcked.set(w.block, w.stamp);
        this.acks++;
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.socket?.destroy();
    await this.done;
  }

  /** Blocks whose acknowledged stamp (or a later one issued to it) is not on `disk`. */
  missing(disk: Buffer): string[] {
    const bad: string[] = [];
    for (const [block, acked] of this.lastAcked) {
      const got = disk.readUInt32BE(block * BLOCK_BYTES);
      const list = this.issued.get(block)!;
      if (!list.slice(list.indexOf(acked)).includes(got)) bad.push(`block ${block}: has ${got}, acknowledged ${acked}`);
    }
    return bad;
  }
}
