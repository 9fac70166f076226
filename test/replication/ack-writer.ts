// A small NBD client that streams stamped 4 KiB writes (16 in flight) and records which stamp
// of each block the server acknowledged, to check later that every acknowledged write survived.
import type { Socket } from "node:net";
import * as P from "../../services/replication/nbd/protocol.ts";
import { type SocketReader, nbdOpen } from "./nbd-client.ts";

const BLOCK_BYTES = 4096;

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
    const { socket, reader } = await nbdOpen(path, this.exportName);
    this.socket = socket;
    this.done = this.pump(socket, reader);
  }

  private async pump(socket: Socket, reader: SocketReader): Promise<void> {
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
