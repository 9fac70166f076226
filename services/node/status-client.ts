// Asks a running node for its status over its local unix socket.
import { requestLine } from "../shared/line-request.ts";
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
export async function requestNode(socketPath: string, request: Record<string, unknown>, timeout_ms = 15_000): Promise<{ ok: boolean; error?: string; invalid?: boolean; [k: string]: unknown }> {
  try {
    return (await requestLine(socketPath, request, timeout_ms, (p) => new StatusError(`${p}: no node is running there`))) as { ok: boolean };
  } catch (e) {
    throw e instanceof StatusError ? e : new StatusError((e as Error).message);
  }
}
