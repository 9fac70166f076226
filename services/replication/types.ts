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
  /**
   * Checksum-based resync (DRBD's csums-alg): the resync source sends a SHA-256 per block of each
   * out-of-sync region first and transfers only the blocks whose digest the target does not
   * share. Pays a round trip and a read on the target per region; worth it when regions marked
   * out of sync are mostly equal (a full sync of disks already nearly identical, a bitmap that
   * over-marks 1 MiB regions for scattered small writes). Only the source's setting matters.
   */
  csums: boolean;
  /** Block size of those digests (a divisor of nothing in particular: the last block of a region may be short). */
  csumBlock_bytes: number;
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
  csums: false,
  csumBlock_bytes: 16 * 1024,
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
  /** Checksum resync: the source's SHA-256 of each `block_bytes` block of a region (the last may be short). */
  | { t: "cs-req"; region: number; block_bytes: number; digests: Uint8Array }
  /** The target's answer: bit i (LSB first) set = block i differs and must be sent. */
  | { t: "cs-rep"; region: number; differ: Uint8Array }
  /** Resync data of the blocks set in `mask` only, concatenated in block order; an empty mask = the region is in sync. */
  | { t: "rs-blocks"; region: number; block_bytes: number; mask: Uint8Array; data: Uint8Array }
  /** A Diskless Primary reads through its UpToDate peer (in the stream's order, after earlier writes). */
  | { t: "rd-req"; seq: number; offset_bytes: number; length_bytes: number }
  | { t: "rd-rep"; seq: number; ok: boolean; data: Uint8Array }
  /**
   * The Primary outdates a reachable peer over the link (DRBD does so too), in addition to the
   * cluster's mark: the peer marks its disk Outdated if it is consistent (a sync target is
   * Inconsistent already), makes that durable, then answers `outdate-ack`.
   */
  | { t: "outdate" }
  | { t: "outdate-ack" }
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
  /** `data`: the bytes of a read served by the peer (readFromPeer). */
  | { kind: "ack"; req: number; ok: boolean; error?: string; data?: Uint8Array }
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
  | { kind: "ov-peer-read"; region: number; digest: Uint8Array; epoch: number }
  | { kind: "cs-peer-read"; region: number; block_bytes: number; digests: Uint8Array; epoch: number }
  | { kind: "peer-read"; seq: number; epoch: number };

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
