// Quorum: does this node's view hold a majority of the configured votes right now?
//
// A pure function. A member's vote counts only while its endorsement lease is valid: the member
// echoed one of our heartbeats (send time t, our clock) while it had our view installed or
// accepted, and now < t + lease_ms. A member stops endorsing us before it accepts any view without
// us and then waits out the lease it gave (see membership/core.ts), so two nodes that exclude each
// other can never both count a shared member's vote at the same instant. This is what makes "at
// most one quorate partition" hold even while views change, and the simulator checks it.
import { type ViewRef, nodesOf } from "../membership/heartbeat.ts";

export interface Lease {
  /** Our clock: the send time of our heartbeat the member echoed, plus the lease length. */
  until_ms: number;
  /** View ids the member had installed or accepted when it echoed. */
  viewIds: readonly number[];
}

export interface QuorumInput {
  self: number;
  view: ViewRef;
  votesOf: (node: number) => number;
  expectedVotes: number;
  leases: ReadonlyMap<number, Lease>;
  now_ms: number;
  waitForAll: boolean;
  established: boolean;
}

export interface QuorumState {
  quorate: boolean;
  /** Votes present in the view and currently endorsing it (our own included). */
  votes: number;
  expected: number;
  needed: number;
  /** Why not quorate, for status and logs; empty when quorate. */
  reason: string;
}

export function neededVotes(expected: number): number {
  return Math.floor(expected / 2) + 1;
}

export function evaluateQuorum(q: QuorumInput): QuorumState {
  const needed = neededVotes(q.expectedVotes);
  let votes = 0;
  for (const n of nodesOf(q.view.members)) {
    if (n === q.self) {
      votes += q.votesOf(n);
      continue;
    }
    const lease = q.leases.get(n);
    if (lease && lease.until_ms > q.now_ms && lease.viewIds.includes(q.view.id)) votes += q.votesOf(n);
  }
  let reason = "";
  if (votes < needed) reason = `${votes} of ${q.expectedVotes} votes, ${needed} needed`;
  else if (q.waitForAll && !q.established) reason = "wait-for-all: not every node has been seen since cold start";
  return { quorate: reason === "", votes, expected: q.expectedVotes, needed, reason };
}
