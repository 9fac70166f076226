// One request to a local service's unix socket: a JSON line out, the whole reply (JSON) back when
// the service closes the connection. Used for the node's hapd.sock and the volume service's
// volume.sock; both answer once and close.
import { createConnection } from "node:net";

/**
 * Resolves with the parsed reply. `notRunning` builds the error for a socket nobody listens on
 * (ENOENT, ECONNREFUSED); every other failure is an Error naming the socket.
 */
export function requestLine(path: string, request: unknown, timeout_ms: number, notRunning: (path: string) => Error): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${path}: no answer within ${timeout_ms} ms`));
    }, timeout_ms);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(`${JSON.stringify(request)}\n`));
    sock.on("data", (d: string) => {
      buf += d;
    });
    sock.on("end", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as unknown);
      } catch {
        reject(new Error(`${path}: malformed reply`));
      }
    });
    sock.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(e.code === "ENOENT" || e.code === "ECONNREFUSED" ? notRunning(path) : new Error(`${path}: ${e.message}`));
    });
  });
}
