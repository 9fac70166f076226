// The service side of supervision: register, heartbeat from the service's own event loop (so a
// hung loop is a missed heartbeat), ask for the supervisor's status, request a self-fence.
// A service never outlives its supervisor: when the socket closes, the service exits, so a
// killed supervisor can never leave an unsupervised (and unwatched) node behind.
import { type Socket, createConnection } from "node:net";
import type { SupervisorReport } from "./protocol.ts";

export const SUPERVISOR_ENV = "HAPD_SUPERVISOR_SOCKET";

export class SupervisorLink {
  private timer: ReturnType<typeof setInterval> | null = null;
  private buf = "";
  private waiting: Array<(r: SupervisorReport | null) => void> = [];

  private constructor(private readonly sock: Socket) {}

  static attach(service: string, interval_ms: number, onLost: (why: string) => void): Promise<SupervisorLink | null> {
    const path = process.env[SUPERVISOR_ENV];
    if (!path) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const sock = createConnection(path);
      const link = new SupervisorLink(sock);
      sock.setEncoding("utf8");
      sock.once("connect", () => {
        link.send({ t: "register", service, pid: process.pid, interval_ms });
        link.timer = setInterval(() => link.send({ t: "hb" }), interval_ms);
        resolve(link);
      });
      sock.on("data", (d: string) => link.onData(d));
      sock.once("error", (e) => reject(new Error(`supervisor socket ${path}: ${e.message}`)));
      sock.once("close", () => {
        if (link.timer) clearInterval(link.timer);
        for (const w of link.waiting.splice(0)) w(null);
        onLost("the supervisor went away");
      });
    });
  }

  private send(msg: object): void {
    if (!this.sock.destroyed) this.sock.write(`${JSON.stringify(msg)}\n`);
  }

  private onData(d: string): void {
    this.buf += d;
    for (let nl = this.buf.indexOf("\n"); nl >= 0; nl = this.buf.indexOf("\n")) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      const w = this.waiting.shift();
      try {
        w?.(JSON.parse(line) as SupervisorReport);
      } catch {
        w?.(null);
      }
    }
    if (this.buf.length > 1 << 20) this.buf = "";
  }

  status(): Promise<SupervisorReport | null> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.send({ t: "status" });
    });
  }

  selfFence(reason: string): void {
    this.send({ t: "self-fence", reason });
  }
}

/** One request to a supervisor from outside (the console): restart every service. */
export function requestRestart(socketPath: string, timeout_ms = 5000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${socketPath}: no answer within ${timeout_ms} ms`));
    }, timeout_ms);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(`${JSON.stringify({ t: "restart" })}\n`));
    sock.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      sock.destroy();
      try {
        const r = JSON.parse(buf.slice(0, nl)) as { ok?: boolean; restarting?: string[]; error?: string };
        if (r.ok && r.restarting) resolve(r.restarting);
        else reject(new Error(r.error ?? "the supervisor refused"));
      } catch {
        reject(new Error("malformed answer from the supervisor"));
      }
    });
    sock.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(e.code === "ENOENT" || e.code === "ECONNREFUSED" ? `no hapd node is running (${socketPath})` : e.message));
    });
  });
}
