// The generation-identifier handshake (pure). Both peers exchange a Hello on connect and run
// decide() on the same pair; it orders the pair by node id first, so both reach the same answer.
//
// Generations (DRBD's UUIDs): `current` names the data lineage a disk holds. A Primary that writes
// without its peer starts a new lineage: the old current becomes `bitmap` (the base the bitmap
// counts from) or moves into `history`. So on reconnect:
//   equal currents            → nothing diverged (sync only regions left dirty by a crash)
//   my bitmap = your current  → I wrote since we parted, you did not: bitmap resync, I am source
//   my history ∋ your current → you are too far behind for the bitmap: full sync, I am source
//   same ancestor, both moved → both wrote independently: split brain
//   nothing in common         → unrelated data: refuse
import { Bitmap, type Generations } from "./metadata.ts";

export type Protocol = "A" | "B" | "C";
export type Role = "Primary" | "Secondary";
export type SplitBrainPolicy = "disconnect" | "discard-zero-changes";

export interface Hello {
  nodeId: number;
  uuid: string;
  size_bytes: number;
  protocol: Protocol;
  role: Role;
  consistent: boolean;
  outdated: boolean;
  gen: Generations;
  /** Out-of-sync regions as this node knows them (bitmap bits). */
  bitmap: Uint8Array;
  /** The operator chose this node as the split-brain victim. */
  discardMyData: boolean;
}

export type Decision =
  | { kind: "refuse"; reason: string }
  | { kind: "split-brain"; reason: string }
  | { kind: "none" }
  | { kind: "sync"; source: number; target: number; full: boolean; why: string; victim: boolean };

const countBits = (b: Uint8Array) => b.reduce((n, x) => n + popcount(x), 0);
function popcount(x: number): number {
  let n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}

export function decide(a: Hello, b: Hello, policy: SplitBrainPolicy): Decision {
  const [x, y] = a.nodeId < b.nodeId ? [a, b] : [b, a];
  if (x.uuid !== y.uuid) return { kind: "refuse", reason: `peer holds another volume (uuid ${y.nodeId === a.nodeId ? x.uuid : y.uuid}), not ours` };
  if (x.size_bytes !== y.size_bytes) return { kind: "refuse", reason: `size mismatch: node ${x.nodeId} has ${x.size_bytes} bytes, node ${y.nodeId} has ${y.size_bytes}` };
  if (x.protocol !== y.protocol) return { kind: "refuse", reason: `protocol mismatch: node ${x.nodeId} uses ${x.protocol}, node ${y.nodeId} uses ${y.protocol}` };
  const d = decideData(x, y, policy);
  if (d.kind === "sync") {
    const target = d.target === x.nodeId ? x : y;
    if (target.role === "Primary") return { kind: "refuse", reason: `node ${target.nodeId} is Primary but holds the older data (${d.why}); demote it before reconnecting` };
  }
  return d;
}

function sync(source: Hello, target: Hello, full: boolean, why: string, victim = false): Decision {
  return { kind: "sync", source: source.nodeId, target: target.nodeId, full, why, victim };
}

function decideData(x: Hello, y: Hello, policy: SplitBrainPolicy): Decision {
  if (x.discardMyData && y.discardMyData) return { kind: "refuse", reason: "both sides were told to discard their data; choose one" };
  if (x.discardMyData || y.discardMyData) {
    const [victim, survivor] = x.discardMyData ? [x, y] : [y, x];
    const related = shareAncestor(victim.gen, survivor.gen) || victim.gen.current === survivor.gen.current;
    return sync(survivor, victim, !related, `operator chose node ${victim.nodeId} as the split-brain victim`, true);
  }
  if (!x.consistent && !y.consistent) return { kind: "refuse", reason: "neither side has consistent data; promote one with force to start the initial full sync" };
  const xb = x.gen.bitmap;
  const yb = y.gen.bitmap;
  if (x.gen.current === y.gen.current) {
    if (!x.consistent) return sync(y, x, false, "resuming an interrupted resync");
    if (!y.consistent) return sync(x, y, false, "resuming an interrupted resync");
    const xDirty = countBits(x.bitmap);
    const yDirty = countBits(y.bitmap);
    if (xDirty + yDirty === 0) return { kind: "none" };
    // Same lineage, some regions possibly different (a crashed Primary's activity log): either
    // direction preserves every acknowledged write; prefer the Primary, then the side with marks.
    if (x.role === "Primary" && y.role !== "Primary") return sync(x, y, false, "regions left dirty by a crash; the Primary is source");
    if (y.role === "Primary" && x.role !== "Primary") return sync(y, x, false, "regions left dirty by a crash; the Primary is source");
    if (yDirty > 0 && xDirty === 0) return sync(y, x, false, "regions left dirty by a crash");
    return sync(x, y, false, "regions left dirty by a crash");
  }
  if (xb !== 0n && xb === y.gen.current) return sync(x, y, false, `node ${x.nodeId} wrote since the peers parted`);
  if (yb !== 0n && yb === x.gen.current) return sync(y, x, false, `node ${y.nodeId} wrote since the peers parted`);
  if (inHistory(x.gen, y.gen.current)) return sync(x, y, true, `node ${y.nodeId} is too far behind for a bitmap resync`);
  if (inHistory(y.gen, x.gen.current)) return sync(y, x, true, `node ${x.nodeId} is too far behind for a bitmap resync`);
  // A disk that never completed a sync takes everything from a consistent peer.
  if (!y.consistent) return sync(x, y, true, `node ${y.nodeId} has never been in sync`);
  if (!x.consistent) return sync(y, x, true, `node ${x.nodeId} has never been in sync`);
  if (shareAncestor(x.gen, y.gen)) {
    const xChanged = countBits(x.bitmap) > 0;
    const yChanged = countBits(y.bitmap) > 0;
    const what = `split brain: both nodes wrote independently since generation ${hex(commonAncestor(x.gen, y.gen))} (node ${x.nodeId}: ${countBits(x.bitmap)} regions changed, node ${y.nodeId}: ${countBits(y.bitmap)})`;
    if (policy === "discard-zero-changes" && xChanged !== yChanged) {
      const [survivor, victim] = xChanged ? [x, y] : [y, x];
      if (victim.role !== "Primary") return sync(survivor, victim, false, `${what}; policy discard-zero-changes: node ${victim.nodeId} has no changes`, true);
    }
    return { kind: "split-brain", reason: `${what}; nothing was discarded. Choose the victim: run resolve-split-brain on the node whose changes must go (its divergent regions are saved first)` };
  }
  return { kind: "refuse", reason: "unrelated data: no common generation; to replace one side, run resolve-split-brain (discard) on it" };
}

function inHistory(g: Generations, id: bigint): boolean {
  return id !== 0n && (g.history[0] === id || g.history[1] === id);
}

function ancestors(g: Generations): bigint[] {
  return [g.bitmap, g.history[0], g.history[1]].filter((v) => v !== 0n);
}

function shareAncestor(a: Generations, b: Generations): boolean {
  return commonAncestor(a, b) !== 0n;
}

function commonAncestor(a: Generations, b: Generations): bigint {
  const bs = new Set(ancestors(b));
  return ancestors(a).find((v) => bs.has(v)) ?? 0n;
}

export function hex(g: bigint): string {
  return g.toString(16).padStart(16, "0");
}

export function syncSet(d: Decision & { kind: "sync" }, mine: Uint8Array, theirs: Uint8Array, regions: number): Bitmap {
  const bm = new Bitmap(regions, mine.slice());
  if (d.full) bm.setAll();
  else bm.or(new Bitmap(regions, theirs));
  return bm;
}
