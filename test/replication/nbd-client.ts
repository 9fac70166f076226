// A minimal NBD client for tests and benchmarks that need to count acknowledgements or time
// single operations (qemu-io and nbdcopy cannot): exact-length reads, and the fixed-newstyle
// handshake with NBD_OPT_GO.
import { type Socket, connect } from "node:net";
import * as P from "../../services/replication/nbd/protocol.ts";

/** Reads exactly n bytes from a socket, in order; null once the socket has closed. */
export class SocketReader {
  private buf: Buffer = Buffer.alloc(0);
  private waiters: { n: number; resolve: (b: Buffer | null) => void }[] = [];
  closed = false;

  constructor(s: Socket) {
    s.on("data", (d: Buffer) => {
      this.buf = this.buf.byteLength ? Buffer.concat([this.buf, d]) : d;
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

  /** As read, but a closed connection is an error. */
  async readExact(n: number): Promise<Buffer> {
    const b = await this.read(n);
    if (!b) throw new Error("NBD server closed the connection");
    return b;
  }
}

/** Connect to a unix-socket export and negotiate it (fixed newstyle, NBD_OPT_GO). */
export async function nbdOpen(path: string, exportName: string): Promise<{ socket: Socket; reader: SocketReader }> {
  const socket = connect(path);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  socket.setNoDelay?.(true);
  const reader = new SocketReader(socket);
  await reader.readExact(18);
  socket.write(Buffer.from([0, 0, 0, 3])); // FIXED_NEWSTYLE | NO_ZEROES
  const name = Buffer.from(exportName);
  const data = Buffer.alloc(4 + name.byteLength + 2);
  data.writeUInt32BE(name.byteLength, 0);
  name.copy(data, 4);
  const head = Buffer.alloc(16);
  head.writeBigUInt64BE(P.IHAVEOPT, 0);
  head.writeUInt32BE(P.Opt.GO, 8);
  head.writeUInt32BE(data.byteLength, 12);
  socket.write(Buffer.concat([head, data]));
  for (;;) {
    const h = await reader.readExact(20);
    const type = h.readUInt32BE(12);
    await reader.readExact(h.readUInt32BE(16));
    if (type === P.Rep.ACK) return { socket, reader };
    if (type !== P.Rep.INFO) throw new Error(`NBD_OPT_GO failed: reply 0x${type.toString(16)}`);
  }
}
