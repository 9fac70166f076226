// The NBD edge: a unix socket per export, one NbdConnection core per client, I/O on a BlockBackend.
import { chmodSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import type { BlockBackend } from "../backend.ts";
import { DEFAULT_LIMITS, NbdConnection, type ConnectionLimits, type Effect, type IoOp } from "./connection.ts";
import { NbdErr } from "./protocol.ts";

export interface NbdServerOptions {
  socketPath: string;
  exportName: string;
  backend: BlockBackend;
  readOnly?: boolean;
  limits?: ConnectionLimits;
  log?: (line: string) => void;
}

export class NbdServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  readonly stats = { connections: 0, requests: 0, errors: 0 };

  constructor(private readonly opts: NbdServerOptions) {}

  async listen(): Promise<void> {
    // A killed server leaves its socket file behind; binding would then fail with EADDRINUSE.
    rmSync(this.opts.socketPath, { force: true });
    const server = createServer((s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.socketPath, () => resolve());
    });
    chmodSync(this.opts.socketPath, 0o600);
    this.server = server;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    rmSync(this.opts.socketPath, { force: true });
  }

  private accept(socket: Socket): void {
    this.stats.connections++;
    this.sockets.add(socket);
    const limits = this.opts.limits ?? DEFAULT_LIMITS;
    const conn = new NbdConnection(
      { name: this.opts.exportName, size_bytes: this.opts.backend.size_bytes, readOnly: this.opts.readOnly ?? false, multiConn: true },
      limits,
    );
    // Pause reading while a whole maximal write plus slack is buffered, or while replies back up.
    const highWater_bytes = limits.maxRequest_bytes + 1024 * 1024;
    let blockedOnWrite = false;
    const flow = () => {
      if (conn.closed) return;
      const wantPause = blockedOnWrite || conn.bufferedBytes > highWater_bytes || conn.saturated;
      if (wantPause && !socket.isPaused()) socket.pause();
      else if (!wantPause && socket.isPaused()) socket.resume();
    };
    const run = (effects: Effect[]) => {
      for (const e of effects) {
        switch (e.kind) {
          case "send":
            for (const c of e.chunks) if (!socket.write(c)) blockedOnWrite = true;
            break;
          case "io":
            this.stats.requests++;
            void this.perform(e.io).then(
              (data) => run(conn.complete(e.id, 0, data)),
              (err) => {
                this.stats.errors++;
                this.opts.log?.(`nbd ${this.opts.exportName}: ${e.io.op} failed: ${String(err)}`);
                run(conn.complete(e.id, errnoOf(err)));
              },
            );
            break;
          case "transmission":
            break;
          case "close":
            if (!e.clean) this.opts.log?.(`nbd ${this.opts.exportName}: closing connection: ${e.reason}`);
            socket.end();
            break;
        }
      }
      flow();
    };
    socket.on("drain", () => {
      blockedOnWrite = false;
      flow();
    });
    // A Buffer is a Uint8Array; re-wrapping it through .buffer costs time in Bun.
    socket.on("data", (b: Buffer) => run(conn.receive(b)));
    socket.on("error", () => {});
    socket.on("close", () => {
      conn.abort();
      this.sockets.delete(socket);
    });
    run(conn.start());
  }

  private async perform(io: IoOp): Promise<Uint8Array | undefined> {
    const b = this.opts.backend;
    switch (io.op) {
      case "read":
        return b.read(io.offset_bytes, io.length_bytes);
      case "write":
        return void (await b.write(io.offset_bytes, io.data, io.fua));
      case "flush":
        return void (await b.flush());
      case "trim":
        await b.trim(io.offset_bytes, io.length_bytes);
        if (io.fua) await b.flush();
        return undefined;
      case "zero":
        return void (await b.writeZeroes(io.offset_bytes, io.length_bytes, io.mayTrim, io.fua));
    }
  }
}

function errnoOf(err: unknown): number {
  const code = (err as { code?: string } | null)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") return NbdErr.ENOSPC;
  if (code === "EPERM" || code === "EACCES" || code === "EROFS") return NbdErr.EPERM;
  return NbdErr.EIO;
}
