// Asks a running node for its status over its local unix socket.
import { createConnection } from "node:net";
import type { StatusReport } from "./status.ts";

export class StatusError extends Error {}

export function queryStatus(socketPath: string, timeout_ms = 3000): Promise<StatusReport> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new StatusError(`${socketPath}: no answer within ${timeout_ms} ms`));
    }, timeout_ms);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(`${JSON.stringify({ cmd: "status" })}\n`));
    sock.on("data", (d: string) => {
      buf += d;
    });
    sock.on("end", () => {
      clearTimeout(timer);
      try {
        const reply = JSON.parse(buf) as { ok: boolean; status?: StatusReport; error?: string };
        if (reply.ok && reply.status) resolve(reply.status);
        else reject(new StatusError(reply.error ?? "empty reply"));
      } catch {
        reject(new StatusError(`${socketPath}: malformed reply`));
      }
    });
    sock.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = e.code === "ENOENT" || e.code === "ECONNREFUSED" ? "no node is running there" : e.message;
      reject(new StatusError(`${socketPath}: ${why}`));
    });
  });
}
