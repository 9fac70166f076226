// The volume service's control socket (`run_dir/volume.sock`, mode 0600): one newline-terminated
// JSON request, one JSON reply, then the service closes the connection (like the node's
// hapd.sock). Used by `hapd volume`, the hapd:volume agent and the node's status.
//
// No zod and no replication code here: the node's status and the agent import this file, and
// must not pay for the volume stack they do not run.
import { requestLine } from "../shared/line-request.ts";
import { join } from "node:path";
import type { VolumeReport } from "../node/status.ts";

export const VOLUME_SOCKET = "volume.sock";

export const volumeSocketPath = (runDir: string): string => join(runDir, VOLUME_SOCKET);
export const nbdSocketPath = (runDir: string, volume: string): string => join(runDir, `nbd-${volume}.sock`);

export type VolumeCommand =
  | { cmd: "status" }
  | { cmd: "create"; volume: string; force?: boolean; assume_clean?: boolean }
  | { cmd: "up"; volume: string; promotion_attr?: string }
  | { cmd: "down" | "attach" | "secondary" | "connect" | "disconnect" | "verify" | "invalidate"; volume: string }
  | { cmd: "primary"; volume: string; force?: boolean; allow_two_primaries?: boolean }
  | { cmd: "resolve-split-brain"; volume: string; discard: "local" };

/** Everything `hapd volume status` shows; `VolumeReport` (the node status contract) is a subset. */
export interface VolumeDetail extends VolumeReport {
  /** Attached and serving (up), or down. */
  up: boolean;
  /** "Connected" | "Connecting" | "Handshake" | "StandAlone" and the replication state, or "down". */
  conn: string;
  repl: string;
  /** The peer's role as last told over the link (null when not connected). */
  peer_role: "Primary" | "Secondary" | null;
  out_of_sync_regions: number;
  region_bytes: number;
  /**
   * The current or last resync this node sourced: bytes sent, and bytes a checksum resync
   * (`csums: true`) found equal on the peer and did not send.
   */
  resync_sent_bytes: number;
  resync_skipped_bytes: number;
  generation: string;
  /** Writes and flushes held until the cluster records the peer Outdated. */
  io_frozen: boolean;
  /** Resource-level fencing: where the attempt to outdate the peer stands. */
  fencing: string;
  /** Why the connection stopped (split brain, refusal), or why the volume could not come up. */
  last_error: string;
  split_brain: string | null;
  last_verify: { checked: number; out_of_sync: number[]; complete: boolean; at_ms: number } | null;
  /** Copies of a split-brain victim's divergent regions. */
  preserved: string[];
  /** The Primary's NBD export (unix socket), or null. */
  nbd_socket: string | null;
  /** What the operator should do next, when something needs a decision. */
  hint: string;
}

export type VolumeReply = { ok: true; message?: string; volumes?: VolumeDetail[] } | { ok: false; error: string; invalid?: boolean };

export class VolumeServiceDown extends Error {}

/** One request to the volume service; rejects with VolumeServiceDown when none runs there. */
export async function requestVolume(runDir: string, request: VolumeCommand, timeout_ms = 30_000): Promise<VolumeReply> {
  return (await requestLine(volumeSocketPath(runDir), request, timeout_ms, (p) => new VolumeServiceDown(`no volume service is running (${p})`))) as VolumeReply;
}

/** The volumes of this node for `hapd status`; null when no volume service runs. */
export async function queryVolumes(runDir: string): Promise<VolumeReport[] | null> {
  let r: VolumeReply;
  try {
    r = await requestVolume(runDir, { cmd: "status" }, 3000);
  } catch (e) {
    if (e instanceof VolumeServiceDown) return null;
    throw e;
  }
  if (!r.ok) throw new Error(r.error);
  // Only the contract's fields: the node's status JSON must not grow by accident.
  return (r.volumes ?? []).map((v) => ({ name: v.name, role: v.role, disk: v.disk, peer_disk: v.peer_disk, connection: v.connection, sync_percent: v.sync_percent, eta_s: v.eta_s }));
}
