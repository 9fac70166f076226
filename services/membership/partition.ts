// Which nodes belong together: a pure function of the gossiped connectivity rows.
//
// Two nodes are connected only when each hears the other (a one-way link does not count), and a
// view must be a clique: every member hears every other. With full connectivity that is the whole
// cluster. When connectivity is partial (host-a and host-b lost each other but both still reach
// the arbitrator) there are two overlapping cliques and the arbitrator can only be in one; every
// node runs this same function on the same gossiped rows and so reaches the same split without
// any extra message. Tie-break, in order: more nodes; more members already quorate (sticky: the
// side that holds quorum keeps it, so the choice cannot flap while the cut lasts); more resources
// held (when the cut first happens every node is still quorate, so the side that runs the guests
// keeps them); lowest node ids (deterministic).
import { type Row, bit, has, nodesOf, popcount } from "./heartbeat.ts";

export function mutualEdges(nodes: readonly number[], rows: ReadonlyMap<number, Row>): Map<number, number> {
  const adj = new Map<number, number>();
  for (const u of nodes) {
    let m = bit(u);
    const ru = rows.get(u);
    for (const v of nodes) {
      if (u === v || !ru) continue;
      const rv = rows.get(v);
      if (rv && has(ru.heard, v) && has(rv.heard, u)) m |= bit(v);
    }
    adj.set(u, m);
  }
  return adj;
}

function isClique(mask: number, adj: ReadonlyMap<number, number>): boolean {
  for (const n of nodesOf(mask)) {
    if (((adj.get(n) ?? 0) & mask) !== mask) return false;
  }
  return true;
}

interface Scored {
  mask: number;
  size: number;
  resources: number;
  quorate: number;
}

function better(a: Scored, b: Scored): boolean {
  if (a.size !== b.size) return a.size > b.size;
  if (a.quorate !== b.quorate) return a.quorate > b.quorate;
  if (a.resources !== b.resources) return a.resources > b.resources;
  // Lowest ids first: compare the masks bit by bit from the lowest node id.
  for (let n = 1; n <= 16; n++) {
    const ia = has(a.mask, n);
    const ib = has(b.mask, n);
    if (ia !== ib) return ia;
  }
  return false;
}

/**
 * Splits the configured nodes into disjoint cliques, best first. Nodes are at most MAX_NODES (8),
 * so enumerating subsets of the remaining nodes is bounded (256 per round).
 */
export function partition(nodes: readonly number[], rows: ReadonlyMap<number, Row>): number[] {
  const adj = mutualEdges(nodes, rows);
  let remaining = 0;
  for (const n of nodes) remaining |= bit(n);
  const parts: number[] = [];
  while (remaining !== 0) {
    let best: Scored | null = null;
    // Enumerate non-empty subsets of `remaining`.
    for (let sub = remaining; sub > 0; sub = (sub - 1) & remaining) {
      if (!isClique(sub, adj)) continue;
      let resources = 0;
      let quorate = 0;
      for (const n of nodesOf(sub)) {
        const r = rows.get(n);
        resources += r?.resources ?? 0;
        quorate += r?.quorate ? 1 : 0;
      }
      const cand: Scored = { mask: sub, size: popcount(sub), resources, quorate };
      if (!best || better(cand, best)) best = cand;
    }
    if (!best) break; // unreachable: a singleton is always a clique
    parts.push(best.mask);
    remaining &= ~best.mask;
  }
  return parts;
}

/** The part of the partition that contains `self`. */
export function candidateOf(self: number, nodes: readonly number[], rows: ReadonlyMap<number, Row>): number {
  for (const p of partition(nodes, rows)) if (has(p, self)) return p;
  return bit(self);
}
