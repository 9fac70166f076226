// Asks a running node for its status over its local unix socket.
import { createConnection } from "node:net";
import type { StatusReport } from "./status.ts";

export class StatusError extends Error {}

export async function queryStatus(socketPath: string, timeout_ms = 3000): Promise<StatusReport> {
  return (await queryNode(socketPath, "status", timeout_ms)) as StatusReport;
}

/** One request to a node's status socket; resolves with the reply's payload. */
export async function queryNode(socketPath: string, cmd: "status" | "fence-history", timeout_ms = 3000): Promise<unknown> {
  const reply = await requestNode(socketPath, { cmd }, timeout_ms);
  const value = cmd === "status" ? reply.status : reply.history;
  if (!reply.ok || value === undefined) throw new StatusError(reply.error ?? "empty reply");
  return value;
}

/** Any command of the node's socket; resolves with the whole reply ({ok, ...}). */
export function requestNode(socketPath: string, request: Record<string, unknown>, timeout_ms = 15_000): Promise<{ ok: boolean; error?: string; invalid?: boolean; [k: string]: unknown }> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new StatusError(`${socketPath}: no answer within ${timeout_ms} ms`));
    }, timeout_ms);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(`${JSON.stringify(request)}\n`));
    sock.on("data", (d: string) => {
      buf += d;
    });
    sock.on("end", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as { ok: boolean });
      } catch {
        reject(new StatusError(`${socketPath}: malformed reply`));
      }
    });
    sock.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new StatusError(`${socketPath}: ${e.code === "ENOENT" || e.code === "ECONNREFUSED" ? "no node is running there" : e.message}`));
    });
  });
}
