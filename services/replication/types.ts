// Types shared by the replication core, its messages and its drivers.
import type { Hello, Protocol, Role, SplitBrainPolicy } from "./handshake.ts";
import { Flag, type VolumeMeta } from "./metadata.ts";

export type DiskState = "UpToDate" | "Outdated" | "Inconsistent" | "Diskless";
/** StandAlone: not trying; Connecting: waiting for the transport; Handshake: Hellos exchanged. */
export type ConnState = "StandAlone" | "Connecting" | "Handshake" | "Connected";
export type ReplState = "Off" | "Established" | "SyncSource" | "SyncTarget";

export interface CoreConfig {
  nodeId: number;
  volume: string;
  protocol: Protocol;
  splitBrain: SplitBrainPolicy;
  /** resource-only: a Primary that loses its peer suspends acknowledgements until the cluster outdates the peer. */
  fencing: "resource-only" | "none";
  /** Protocol A: bytes sent and not yet received by the peer before the congestion policy applies. */
  sendQueueMax_bytes: number;
  /** block: stop taking writes until the queue drains; disconnect: drop the peer and resync later. */
  congestion: "block" | "disconnect";
  resyncInFlightMax: number;
  /**
   * Dual-primary (DRBD's allow-two-primaries), for a live migration's window: the peer may be
   * promoted while this node is Primary, and a second promotion here is possible on explicit
   * request. Both hosts must say so. It does not arbitrate concurrent writes to the same blocks
   * from both sides: the one user (QEMU migrating) writes from one side at a time.
   */
  allowTwoPrimaries: boolean;
  /** A fresh random 64-bit generation id (crypto in production, seeded in the simulator). */
  newGeneration: () => bigint;
}

export const DEFAULT_CONFIG: Omit<CoreConfig, "nodeId" | "volume" | "newGeneration"> = {
  protocol: "C",
  splitBrain: "disconnect",
  fencing: "resource-only",
  sendQueueMax_bytes: 64 * 1024 * 1024,
  congestion: "block",
  resyncInFlightMax: 8,
  allowTwoPrimaries: false,
};

export type PeerMsg =
  | { t: "hello"; hello: Hello }
  | { t: "data"; seq: number; offset_bytes: number; data: Uint8Array; fua: boolean }
  | { t: "flush"; seq: number }
  | { t: "ack"; seq: number; kind: "recv" | "write" | "flush"; ok: boolean }
  | { t: "rs-data"; region: number; data: Uint8Array }
  | { t: "rs-ack"; region: number }
  | { t: "rs-done"; current: bigint }
  /** Online verify: the verifier's SHA-256 of a region; the peer compares with its own. */
  | { t: "ov-req"; region: number; digest: Uint8Array }
  | { t: "ov-rep"; region: number; equal: boolean }
  /** A role change while connected (the Hello carried the role at connect time). */
  | { t: "role"; role: Role };

export type Effect =
  | { kind: "send"; msg: PeerMsg }
  | { kind: "disk-write"; io: number; offset_bytes: number; data: Uint8Array; fua: boolean }
  /** `resync`: a resync source's read, which the edge may pace (resync rate limit). */
  | { kind: "disk-read"; io: number; offset_bytes: number; length_bytes: number; resync?: boolean }
  | { kind: "disk-flush"; io: number }
  /** Must be durable before any later effect runs (write-ahead activity log). */
  | { kind: "meta-commit"; meta: VolumeMeta }
  | { kind: "ack"; req: number; ok: boolean; error?: string }
  /** Fencing hook: ask the cluster to mark the peer Outdated; answer with fenceConfirmed(). */
  | { kind: "outdate-peer" }
  /** Close the transport to the peer. */
  | { kind: "disconnect"; reason: string }
  | { kind: "split-brain"; reason: string }
  /** Copy these regions aside before this node's data is overwritten (split-brain victim). */
  | { kind: "preserve-divergent"; regions: number[]; reason: string }
  | { kind: "log"; level: "info" | "warn" | "error"; message: string }
  /** Online verify finished (or stopped with the connection): regions found different, now marked out of sync. */
  | { kind: "verify-done"; checked: number; outOfSync: number[]; complete: boolean };

export type IoPurpose =
  | { kind: "app-write"; req: number }
  | { kind: "app-flush"; req: number }
  | { kind: "peer-write"; seq: number; resync: number | null; epoch: number }
  | { kind: "peer-flush"; seq: number; resync: null; epoch: number }
  | { kind: "rs-read"; region: number; epoch: number }
  | { kind: "ov-read"; region: number; epoch: number }
  | { kind: "ov-peer-read"; region: number; digest: Uint8Array; epoch: number };

export interface PromoteResult {
  ok: boolean;
  message: string;
  effects: Effect[];
}

export function handshakeHello(cfg: CoreConfig, meta: VolumeMeta, role: Role, discardMyData: boolean): Hello {
  return {
    nodeId: cfg.nodeId,
    uuid: meta.uuid,
    size_bytes: meta.size_bytes,
    protocol: cfg.protocol,
    role,
    consistent: (meta.flags & Flag.CONSISTENT) !== 0,
    outdated: (meta.flags & Flag.OUTDATED) !== 0,
    gen: { ...meta.gen, history: [meta.gen.history[0], meta.gen.history[1]] },
    bitmap: meta.bitmap.bits.slice(),
    discardMyData,
  };
}
