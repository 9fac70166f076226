// The consensus core of the CIB: Raft with pre-vote and check-quorum, log replication with fast
// backtracking, snapshots, and leadership transfer, as a state machine without I/O (the model is
// etcd's raft package). The caller drives it:
//
//   tick()        every tick interval (logical time: elections and heartbeats count ticks)
//   step(msg)     for every message received from a peer
//   propose(data) to add a command to the log
//   ready()       to collect what to persist, send and apply (see Ready for the order)
//   advance()     once all of that Ready is done
//
// Nothing here reads a clock, a socket or a file. Randomness (election timeouts) comes from a
// seeded generator, so the simulator replays a run exactly.
import { type Entry, ENTRY_OVERHEAD_BYTES, type Message, NONE, wireBytesOf } from "./messages.ts";
import { RaftLog } from "./log.ts";
import { majorityIndex, Progress, voteOutcome } from "./progress.ts";
import { invariant } from "./invariant.ts";
import type { HardState, PersistentState, Snapshot, SnapshotMeta } from "./storage.ts";

export type Role = "follower" | "pre-candidate" | "candidate" | "leader";

export interface RaftConfig {
  /** This node's id (1..255). */
  id: number;
  /** The voters: every one stores the log and votes, the arbitrator included. */
  voters: readonly number[];
  /** Ticks without a leader before campaigning; the timeout is random in [electionTicks, 2*electionTicks). Default 10. */
  electionTicks?: number;
  /** Ticks between a leader's heartbeats. Default 2. */
  heartbeatTicks?: number;
  /** Ask for votes without raising the term first, so a node that rejoins cannot depose a healthy leader. Default true. */
  preVote?: boolean;
  /** A leader that heard from no majority for electionTicks steps down; followers that hear a leader refuse votes. Default true. */
  checkQuorum?: boolean;
  /** Wire bytes of entries per append message (at least one entry goes out). Default 16,000. */
  maxMessageBytes?: number;
  /** Unacknowledged appends per follower while streaming. Default 16. */
  maxInflightMessages?: number;
  /** Wire bytes of one proposed entry; more is refused. Default 24,000 (an append must fit one 60 kB payload). */
  maxEntryBytes?: number;
  /** Wire bytes of proposals the leader holds uncommitted before refusing more. Default 1 MiB. */
  maxUncommittedBytes?: number;
  /** Committed entries handed out per Ready. Default 256. */
  maxApplyEntries?: number;
  /** Bytes of snapshot per InstallSnapshot chunk (base64 on the wire: 4/3 of this). Default 32 KiB. */
  snapshotChunkBytes?: number;
  /** Largest snapshot a follower assembles. Default 256 MiB. */
  maxSnapshotBytes?: number;
  /** Seed of the election-timeout randomness. Default derived from `id`. */
  randomSeed?: number;
}

export interface SoftState {
  leader: number;
  role: Role;
}

/**
 * What the caller must do, in this order, before calling advance():
 *
 *  1. Persist `snapshot` (if any), then `entries`, then `hardState`, and wait until they are
 *     durable (fsync returned). file-storage.ts does all three in one `save()`.
 *  2. Only then send `messages`. An answer to a vote or an append promises that the voter
 *     remembers it; sending it before the promise is on disk lets a crash break the promise
 *     (a node voting twice in one term, a "replicated" entry vanishing from a majority).
 *  3. If `snapshot` is set, restore the state machine from its data; then apply `committed` in
 *     order. They are already durable on a majority, so applying them may be done at any time
 *     after step 1, but always in order and each exactly once per state machine instance.
 *  4. Call advance().
 *
 * step(), tick(), propose() and compact() must not be called between ready() and advance(): the
 * runtime queues what arrives meanwhile. This keeps the contract single-threaded and simple.
 */
export interface Ready {
  /** Leader and role, when they changed since the last Ready. Observation only, never persisted. */
  softState: SoftState | null;
  /** Term, vote and commit to persist, when they changed. Durable BEFORE any message is sent. */
  hardState: HardState | null;
  /** A snapshot from the leader. It replaces the whole durable log; persist it BEFORE `entries`. */
  snapshot: Snapshot | null;
  /**
   * Entries to append to the durable log, BEFORE sending. When the first index is at or below the
   * stored last index, the stored entries from that index on are replaced (they were uncommitted
   * entries of a deposed leader).
   */
  entries: Entry[];
  /** To send AFTER everything above is durable. The network may lose, repeat or reorder them. */
  messages: Message[];
  /** Committed entries to apply, in order. Empty data is a leader's no-op: skip it, it still counts. */
  committed: Entry[];
  /** Things worth a log line: elections, step-downs and why, snapshots installed. */
  notes: string[];
}

export type ProposeResult =
  /** Appended on this node, the leader: it is committed iff the entry applied at `index` has `term`. */
  | { kind: "appended"; index: number; term: number }
  /** Sent to the leader; it may be lost. Learn the outcome from the applied entries (give commands an id). */
  | { kind: "forwarded"; to: number }
  | { kind: "refused"; reason: string };

/** A message before the core stamps its own id as the sender. */
type Outgoing = Message extends infer M ? (M extends Message ? Omit<M, "from"> : never) : never;

interface IncomingSnapshot {
  from: number;
  term: number;
  meta: SnapshotMeta;
  parts: Uint8Array[];
  size: number;
}

export class Raft {
  readonly id: number;
  private readonly voters: readonly number[];
  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxMessageBytes: number;
  private readonly maxInflight: number;
  private readonly maxEntryBytes: number;
  private readonly maxUncommittedBytes: number;
  private readonly maxApplyEntries: number;
  private readonly snapshotChunkBytes: number;
  private readonly maxSnapshotBytes: number;
  private randomState: number;

  private currentTerm = 0;
  private votedFor = NONE;
  private lead = NONE;
  private state: Role = "follower";
  private readonly log: RaftLog;
  private readonly prs = new Map<number, Progress>();
  private readonly votes = new Map<number, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Ticks counted while leader: the clock of check-quorum. */
  private leaderTicks = 0;
  private leadTransferee = NONE;
  /** Wire bytes of this leader's proposals not yet committed; bounds what a leader buffers. */
  private uncommittedBytes = 0;
  /** Index of this leader's no-op: committing it means every earlier committed entry is known. */
  private termStartIndex = 0;
  /** The newest snapshot this node holds (taken or received): what it sends to a follower that is too far behind. */
  private snap: Snapshot | null;
  private incoming: IncomingSnapshot | null = null;
  private pendingRestore: Snapshot | null = null;

  private msgs: Message[] = [];
  private notes: string[] = [];
  private prevHard: HardState;
  private prevSoft: SoftState = { leader: NONE, role: "follower" };
  private outstanding: Ready | null = null;

  constructor(config: RaftConfig, restored?: PersistentState) {
    this.id = config.id;
    this.voters = [...config.voters];
    this.electionTicks = config.electionTicks ?? 10;
    this.heartbeatTicks = config.heartbeatTicks ?? 2;
    this.preVote = config.preVote ?? true;
    this.checkQuorum = config.checkQuorum ?? true;
    this.maxMessageBytes = config.maxMessageBytes ?? 16_000;
    this.maxInflight = config.maxInflightMessages ?? 16;
    this.maxEntryBytes = config.maxEntryBytes ?? 24_000;
    this.maxUncommittedBytes = config.maxUncommittedBytes ?? 1 << 20;
    this.maxApplyEntries = config.maxApplyEntries ?? 256;
    this.snapshotChunkBytes = config.snapshotChunkBytes ?? 32 * 1024;
    this.maxSnapshotBytes = config.maxSnapshotBytes ?? 256 << 20;
    this.randomState = (config.randomSeed ?? this.id * 0x9e3779b1) >>> 0;
    invariant(new Set(this.voters).size === this.voters.length && this.voters.length > 0, "voters must be distinct and not empty");
    invariant(this.heartbeatTicks >= 1 && this.electionTicks > this.heartbeatTicks, "electionTicks must exceed heartbeatTicks");

    const hs = restored?.hardState ?? { term: 0, vote: NONE, commit: 0 };
    this.snap = restored?.snapshot ?? null;
    this.log = new RaftLog(this.snap?.meta ?? null, restored?.entries ?? [], hs.commit);
    invariant(this.log.lastTerm() <= hs.term, `restored log has term ${this.log.lastTerm()} above the hard state's ${hs.term}`);
    this.currentTerm = hs.term;
    this.votedFor = hs.vote;
    this.prevHard = { ...hs };
    this.becomeFollower(this.currentTerm, NONE);
  }

  // ---- observation ----------------------------------------------------------------------------

  get term(): number {
    return this.currentTerm;
  }

  get vote(): number {
    return this.votedFor;
  }

  get role(): Role {
    return this.state;
  }

  /** The leader this node knows of in its term (the DC), or 0. */
  leader(): number {
    return this.lead;
  }

  get commitIndex(): number {
    return this.log.committed;
  }

  get appliedIndex(): number {
    return this.log.applied;
  }

  get lastIndex(): number {
    return this.log.lastIndex();
  }

  get snapshotIndex(): number {
    return this.log.snapshotIndex;
  }

  /** Term of the entry at `index` in this node's log (null when absent or compacted). */
  termAt(index: number): number | null {
    return this.log.term(index);
  }

  /**
   * This node is the designated coordinator: the leader, and an entry of its own term is
   * committed, so every entry committed by earlier leaders is known to it (§5.4.2, §8).
   */
  isDc(): boolean {
    return this.state === "leader" && this.log.term(this.log.committed) === this.currentTerm;
  }

  /** Replication state per follower, for status output (leader only). */
  progress(): Array<{ id: number; match: number; next: number; state: string; active: boolean }> {
    if (this.state !== "leader") return [];
    return [...this.prs]
      .filter(([id]) => id !== this.id)
      .map(([id, p]) => ({ id, match: p.match, next: p.next, state: p.state, active: this.leaderTicks - p.lastHeard_tick < this.electionTicks }));
  }

  // ---- inputs ---------------------------------------------------------------------------------

  tick(): void {
    this.assertNotInReady("tick");
    if (this.state === "leader") this.tickLeader();
    else this.tickElection();
  }

  /**
   * The failure detector (membership) says the leader is gone: stop honouring its lease, so a
   * campaign by a peer is heard at once instead of after the election timeout. Safety does not
   * rest on the lease (it only keeps a cut-off node from disrupting a healthy leader), so a wrong
   * hint costs at most an election.
   */
  leaderLost(): void {
    this.assertNotInReady("leaderLost");
    if (this.state === "leader") return;
    this.lead = NONE;
    this.electionElapsed = Math.max(this.electionElapsed, this.electionTicks);
  }

  /** Start an election now (an operator's or a test's request); pre-vote still applies. */
  campaign(): void {
    this.assertNotInReady("campaign");
    this.hup(false);
  }

  propose(data: string): ProposeResult {
    this.assertNotInReady("propose");
    if (data === "") return { kind: "refused", reason: "empty data is reserved for the leader's no-op" };
    const bytes = wireBytesOf(data);
    if (bytes > this.maxEntryBytes) return { kind: "refused", reason: `entry of ${bytes} bytes is over the ${this.maxEntryBytes}-byte limit` };
    if (this.state === "leader") {
      const refused = this.admit(bytes + ENTRY_OVERHEAD_BYTES);
      if (refused) return { kind: "refused", reason: refused };
      const e = this.appendEntries([data])[0]!;
      this.bcastAppend();
      return { kind: "appended", index: e.index, term: e.term };
    }
    if (this.lead === NONE) return { kind: "refused", reason: "no leader known" };
    this.send({ type: "prop", to: this.lead, term: 0, entries: [data] });
    return { kind: "forwarded", to: this.lead };
  }

  /** Hand leadership to `to` once its log has caught up (thesis §3.10). Leader only. */
  transferLeadership(to: number): { ok: true } | { ok: false; reason: string } {
    this.assertNotInReady("transferLeadership");
    if (this.state !== "leader") return { ok: false, reason: "not the leader" };
    if (to === this.id) return { ok: false, reason: "already the leader" };
    const pr = this.prs.get(to);
    if (!pr) return { ok: false, reason: `node ${to} is not a voter` };
    if (this.leadTransferee === to) return { ok: true };
    this.leadTransferee = to;
    // The transfer must finish within an election timeout, or it is abandoned (tickLeader).
    this.electionElapsed = 0;
    this.note(`transferring leadership to ${to}`);
    if (pr.match === this.log.lastIndex()) this.send({ type: "timeout-now", to, term: this.currentTerm });
    else this.sendAppend(to);
    return { ok: true };
  }

  /**
   * The state machine has applied everything up to `index` and serialised its state as `data`:
   * keep that as the snapshot and drop the log entries it covers. The caller persists the returned
   * snapshot (file-storage.ts `compact()`).
   */
  compact(index: number, data: Uint8Array): Snapshot {
    this.assertNotInReady("compact");
    invariant(index <= this.log.applied, `compact(${index}) beyond applied ${this.log.applied}`);
    invariant(index > this.log.snapshotIndex, `compact(${index}) not beyond the snapshot at ${this.log.snapshotIndex}`);
    const snapshot: Snapshot = { meta: { index, term: this.log.term(index)!, voters: [...this.voters] }, data };
    this.log.compact(index);
    this.snap = snapshot;
    return snapshot;
  }

  step(m: Message): void {
    this.assertNotInReady("step");
    if (m.to !== this.id || !this.voters.includes(m.from) || m.from === this.id) return;
    if (m.type === "prop") {
      this.stepProp(m.entries);
      return;
    }
    if (m.term > this.currentTerm) {
      if (m.type === "vote" || m.type === "prevote") {
        // In a leader's lease (check-quorum), ignore campaigns: a node that only lost its own
        // connection must not depose a leader the rest can hear (thesis §4.2.3).
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTicks;
        if (!m.transfer && inLease) return;
      }
      if (m.type === "prevote") {
        // A pre-vote never changes our term.
      } else if (m.type === "prevote-resp" && !m.reject) {
        // Granted pre-votes carry the term we would campaign in; the term rises only if we win.
      } else {
        const leader = m.type === "append" || m.type === "heartbeat" || m.type === "snapshot" ? m.from : NONE;
        this.becomeFollower(m.term, leader);
      }
    } else if (m.term < this.currentTerm) {
      if ((this.checkQuorum || this.preVote) && (m.type === "append" || m.type === "heartbeat")) {
        // A deposed leader that was cut off may never hear a higher term otherwise (others ignore
        // its old term); this answer carries ours so it steps down.
        this.send({ type: "append-resp", to: m.from, term: this.currentTerm, index: 0, reject: false, rejectHint: 0, logTerm: 0 });
      } else if (m.type === "prevote") {
        this.send({ type: "prevote-resp", to: m.from, term: this.currentTerm, reject: true });
      }
      return;
    }

    if (m.type === "vote" || m.type === "prevote") {
      this.stepVote(m);
      return;
    }
    if (this.state === "leader") this.stepLeader(m);
    else if (this.state === "follower") this.stepFollower(m);
    else this.stepCandidate(m);
  }

  // ---- Ready ----------------------------------------------------------------------------------

  hasReady(): boolean {
    return (
      this.msgs.length > 0 ||
      this.notes.length > 0 ||
      this.pendingRestore !== null ||
      this.log.persisted < this.log.lastIndex() ||
      this.log.applied < this.log.committed ||
      !sameHard(this.hardState(), this.prevHard) ||
      !sameSoft(this.softState(), this.prevSoft)
    );
  }

  ready(): Ready {
    invariant(this.outstanding === null, "ready() called again before advance()");
    const hs = this.hardState();
    const ss = this.softState();
    const rd: Ready = {
      softState: sameSoft(ss, this.prevSoft) ? null : ss,
      hardState: sameHard(hs, this.prevHard) ? null : hs,
      snapshot: this.pendingRestore,
      entries: this.log.unstable(),
      messages: this.msgs,
      committed: this.log.nextCommitted(this.maxApplyEntries),
      notes: this.notes,
    };
    this.msgs = [];
    this.notes = [];
    this.outstanding = rd;
    return rd;
  }

  advance(): void {
    const rd = this.outstanding;
    invariant(rd !== null, "advance() without ready()");
    this.outstanding = null;
    if (rd.softState) this.prevSoft = rd.softState;
    if (rd.hardState) {
      invariant(rd.hardState.term >= this.prevHard.term, `persisted term going back from ${this.prevHard.term} to ${rd.hardState.term}`);
      invariant(rd.hardState.commit >= this.prevHard.commit, `persisted commit going back from ${this.prevHard.commit} to ${rd.hardState.commit}`);
      this.prevHard = rd.hardState;
    }
    if (rd.snapshot) this.pendingRestore = null;
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry) this.log.stableTo(lastEntry.index);
    const lastApplied = rd.committed[rd.committed.length - 1];
    if (lastApplied) this.log.appliedTo(lastApplied.index);
    if (this.state === "leader" && lastEntry) {
      // The leader counts itself only for what it has on disk, like any other voter.
      this.prs.get(this.id)!.maybeUpdate(this.log.persisted);
      if (this.maybeCommit()) this.bcastAppend();
    }
  }

  // ---- roles ----------------------------------------------------------------------------------

  private reset(term: number): void {
    invariant(term >= this.currentTerm, `term going back from ${this.currentTerm} to ${term}`);
    if (term !== this.currentTerm) {
      this.currentTerm = term;
      this.votedFor = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTicks + Math.floor(this.random() * this.electionTicks);
    this.leadTransferee = NONE;
    this.votes.clear();
    this.prs.clear();
    for (const id of this.voters) {
      const pr = new Progress(this.log.lastIndex() + 1, this.maxInflight);
      if (id === this.id) pr.match = this.log.persisted;
      this.prs.set(id, pr);
    }
  }

  private becomeFollower(term: number, leader: number): void {
    this.reset(term);
    this.lead = leader;
    this.state = "follower";
  }

  private becomePreCandidate(): void {
    invariant(this.state !== "leader", "a leader cannot become a pre-candidate");
    // Neither the term nor the vote changes: a failed pre-campaign leaves no trace.
    this.state = "pre-candidate";
    this.votes.clear();
    this.lead = NONE;
  }

  private becomeCandidate(): void {
    invariant(this.state !== "leader", "a leader cannot become a candidate");
    this.reset(this.currentTerm + 1);
    this.votedFor = this.id;
    this.state = "candidate";
  }

  private becomeLeader(): void {
    invariant(this.state === "candidate", `only a candidate becomes leader (was ${this.state})`);
    this.reset(this.currentTerm);
    this.lead = this.id;
    this.state = "leader";
    // Every follower gets a full election timeout to answer the new leader.
    for (const pr of this.prs.values()) pr.lastHeard_tick = this.leaderTicks;
    this.uncommittedBytes = 0;
    // A no-op of the new term: committing it commits every earlier entry (§5.4.2, §8).
    this.termStartIndex = this.appendEntries([""])[0]!.index;
    this.note(`became leader (DC) in term ${this.currentTerm}`);
    this.bcastAppend();
  }

  private hup(transfer: boolean): void {
    if (this.state === "leader" || !this.voters.includes(this.id)) return;
    if (this.preVote && !transfer) this.campaignPhase("prevote", false);
    else this.campaignPhase("vote", transfer);
  }

  private campaignPhase(kind: "prevote" | "vote", transfer: boolean): void {
    let voteTerm: number;
    if (kind === "prevote") {
      this.becomePreCandidate();
      voteTerm = this.currentTerm + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.currentTerm;
    }
    if (this.poll(this.id, true) === "won") {
      this.winPhase(kind);
      return;
    }
    for (const to of this.voters) {
      if (to === this.id) continue;
      this.send({ type: kind, to, term: voteTerm, lastIndex: this.log.lastIndex(), lastTerm: this.log.lastTerm(), transfer });
    }
  }

  private winPhase(kind: "prevote" | "vote"): void {
    if (kind === "prevote") this.campaignPhase("vote", false);
    else this.becomeLeader();
  }

  private poll(id: number, granted: boolean): "won" | "lost" | "pending" {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    let yes = 0;
    let no = 0;
    for (const v of this.votes.values()) v ? yes++ : no++;
    return voteOutcome(this.voters.length, yes, no);
  }

  // ---- ticks ----------------------------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    this.leaderTicks++;
    if (this.checkQuorum && !this.quorumHeard()) {
      this.note(`stepping down in term ${this.currentTerm}: heard from no majority for ${this.electionTicks} ticks`);
      this.becomeFollower(this.currentTerm, NONE);
      return;
    }
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.leadTransferee !== NONE) {
        this.note(`leadership transfer to ${this.leadTransferee} timed out`);
        this.leadTransferee = NONE;
      }
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  /** Whether a majority (this node included) answered within the last electionTicks ticks. */
  private quorumHeard(): boolean {
    let heard = 0;
    for (const [id, pr] of this.prs) if (id === this.id || this.leaderTicks - pr.lastHeard_tick < this.electionTicks) heard++;
    return voteOutcome(this.voters.length, heard, 0) === "won";
  }

  // ---- steps ----------------------------------------------------------------------------------

  private stepVote(m: Extract<Message, { type: "vote" | "prevote" }>): void {
    const respType = m.type === "vote" ? "vote-resp" : "prevote-resp";
    // §5.2: one vote per term, first come first served; a pre-vote for a later term promises nothing.
    const canVote = this.votedFor === m.from || (this.votedFor === NONE && this.lead === NONE) || (m.type === "prevote" && m.term > this.currentTerm);
    // §5.4.1: only for a candidate whose log is at least as up-to-date as ours.
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      this.send({ type: respType, to: m.from, term: m.term, reject: false });
      if (m.type === "vote") {
        this.electionElapsed = 0;
        this.votedFor = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, term: this.currentTerm, reject: true });
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.prs.get(m.from)!;
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        invariant(false, `two leaders in term ${this.currentTerm}: ${this.id} and ${m.from}`);
        break;
      case "append-resp":
        pr.lastHeard_tick = this.leaderTicks;
        if (m.reject) this.onAppendRejected(m.from, pr, m.index, m.rejectHint, m.logTerm);
        else this.onAppendAccepted(m.from, pr, m.index);
        break;
      case "heartbeat-resp":
        pr.lastHeard_tick = this.leaderTicks;
        pr.paused = false;
        if (pr.state === "replicate" && pr.isPaused()) pr.freeOneInflight();
        if (pr.match < this.log.lastIndex() || pr.state === "snapshot") this.sendAppend(m.from);
        break;
      case "snapshot-resp":
        pr.lastHeard_tick = this.leaderTicks;
        if (pr.state !== "snapshot" || pr.pendingSnapshot !== m.index) break;
        pr.snapshotOffset = m.offset;
        pr.paused = false;
        this.sendAppend(m.from);
        break;
      default:
        break;
    }
  }

  private onAppendRejected(from: number, pr: Progress, rejected: number, hint: number, hintTerm: number): void {
    // Fast backtracking: skip every entry of the leader's log whose term cannot match the
    // follower's at the hinted index, instead of one index per round trip.
    const next = hintTerm > 0 ? this.log.findConflictByTerm(hint, hintTerm) : hint;
    if (!pr.maybeDecrTo(rejected, next)) return;
    if (pr.state === "replicate") pr.becomeProbe();
    this.sendAppend(from);
  }

  private onAppendAccepted(from: number, pr: Progress, index: number): void {
    invariant(index <= this.log.lastIndex(), `follower ${from} acknowledged ${index}, beyond our last index ${this.log.lastIndex()}`);
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(index)) return;
    if (pr.state === "probe") pr.becomeReplicate();
    else if (pr.state === "snapshot" && (pr.match >= pr.pendingSnapshot || pr.match + 1 >= this.log.firstIndex())) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === "replicate") pr.freeInflightTo(index);

    if (this.maybeCommit()) this.bcastAppend();
    else if (wasPaused) this.sendAppend(from);
    // Keep streaming while the window has room.
    while (this.maybeSendAppend(from, false)) {
      /* each call sends one batch */
    }
    if (from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.note(`${from} caught up: telling it to campaign`);
      this.send({ type: "timeout-now", to: from, term: this.currentTerm });
    }
  }

  private stepCandidate(m: Message): void {
    const myResp = this.state === "pre-candidate" ? "prevote-resp" : "vote-resp";
    switch (m.type) {
      case "append":
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        break;
      case "heartbeat":
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        break;
      case "snapshot":
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        break;
      case "prevote-resp":
      case "vote-resp": {
        if (m.type !== myResp) break;
        const outcome = this.poll(m.from, !m.reject);
        if (outcome === "won") this.winPhase(this.state === "pre-candidate" ? "prevote" : "vote");
        else if (outcome === "lost") this.becomeFollower(this.currentTerm, NONE);
        break;
      }
      default:
        break;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        break;
      case "heartbeat":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        break;
      case "snapshot":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        break;
      case "timeout-now":
        this.note(`leader ${m.from} hands over leadership: campaigning in term ${this.currentTerm + 1}`);
        this.hup(true);
        break;
      default:
        break;
    }
  }

  private stepProp(entries: string[]): void {
    if (this.state !== "leader") return; // forwarded proposals are not forwarded again: no loops
    const admitted: string[] = [];
    for (const data of entries) {
      const bytes = wireBytesOf(data);
      if (data === "" || bytes > this.maxEntryBytes || this.admit(bytes + ENTRY_OVERHEAD_BYTES) !== null) continue;
      admitted.push(data);
    }
    if (admitted.length === 0) return;
    this.appendEntries(admitted);
    this.bcastAppend();
  }

  /** Admit a proposal of `bytes` on the leader, or say why not. */
  private admit(bytes: number): string | null {
    if (this.leadTransferee !== NONE) return `leadership is being transferred to ${this.leadTransferee}`;
    if (this.uncommittedBytes + bytes > this.maxUncommittedBytes) return `${this.uncommittedBytes} bytes uncommitted: the log is not keeping up`;
    this.uncommittedBytes += bytes;
    return null;
  }

  // ---- follower side of replication -----------------------------------------------------------

  private handleAppend(m: Extract<Message, { type: "append" }>): void {
    if (m.prevIndex < this.log.committed) {
      // Already committed here, so it matches the leader: say how far we are.
      this.send({ type: "append-resp", to: m.from, term: this.currentTerm, index: this.log.committed, reject: false, rejectHint: 0, logTerm: 0 });
      return;
    }
    const lastNew = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries);
    if (lastNew !== null) {
      this.send({ type: "append-resp", to: m.from, term: this.currentTerm, index: lastNew, reject: false, rejectHint: 0, logTerm: 0 });
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.send({ type: "append-resp", to: m.from, term: this.currentTerm, index: m.prevIndex, reject: true, rejectHint: hint, logTerm: this.log.term(hint) ?? 0 });
  }

  private handleHeartbeat(m: Extract<Message, { type: "heartbeat" }>): void {
    // The leader sends at most what it knows we hold, so this never points past our log.
    this.log.commitTo(m.commit);
    this.send({ type: "heartbeat-resp", to: m.from, term: this.currentTerm });
  }

  private handleSnapshot(m: Extract<Message, { type: "snapshot" }>): void {
    const meta = m.meta;
    if (meta.index <= this.log.committed || this.log.matchTerm(meta.index, meta.term)) {
      // We hold it already (or the entry it ends with, which implies the prefix): just commit.
      this.incoming = null;
      this.log.commitTo(meta.index);
      this.send({ type: "append-resp", to: m.from, term: this.currentTerm, index: this.log.committed, reject: false, rejectHint: 0, logTerm: 0 });
      return;
    }
    const a = this.incoming;
    const same = a !== null && a.from === m.from && a.term === m.term && a.meta.index === meta.index && a.meta.term === meta.term;
    if (m.offset === 0) {
      this.incoming = { from: m.from, term: m.term, meta, parts: [], size: 0 };
    } else if (!same || a.size !== m.offset) {
      this.send({ type: "snapshot-resp", to: m.from, term: this.currentTerm, index: meta.index, offset: same ? a.size : 0 });
      return;
    }
    const cur = this.incoming!;
    if (cur.size + m.chunk.byteLength > this.maxSnapshotBytes) {
      this.note(`snapshot at ${meta.index} from ${m.from} is over ${this.maxSnapshotBytes} bytes: refused`);
      this.incoming = null;
      return;
    }
    cur.parts.push(m.chunk);
    cur.size += m.chunk.byteLength;
    if (!m.done) {
      this.send({ type: "snapshot-resp", to: m.from, term: this.currentTerm, index: meta.index, offset: cur.size });
      return;
    }
    this.incoming = null;
    const snapshot: Snapshot = { meta, data: concat(cur.parts, cur.size) };
    this.log.restore(meta);
    this.snap = snapshot;
    this.pendingRestore = snapshot;
    this.note(`installed snapshot at ${meta.index} (term ${meta.term}, ${cur.size} bytes) from ${m.from}`);
    this.send({ type: "append-resp", to: m.from, term: this.currentTerm, index: this.log.lastIndex(), reject: false, rejectHint: 0, logTerm: 0 });
  }

  // ---- leader side of replication -------------------------------------------------------------

  private appendEntries(datas: string[]): Entry[] {
    const first = this.log.lastIndex() + 1;
    const entries = datas.map((data, k) => ({ term: this.currentTerm, index: first + k, data }));
    this.log.append(entries);
    return entries;
  }

  /** §5.3/§5.4.2: commit the highest index a majority holds, but only by counting entries of our own term. */
  private maybeCommit(): boolean {
    const index = majorityIndex([...this.prs.values()].map((p) => p.match));
    if (index <= this.log.committed || this.log.term(index) !== this.currentTerm) return false;
    const before = this.log.committed;
    this.log.commitTo(index);
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - this.log.bytesBetween(Math.max(before, this.termStartIndex), index));
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.voters) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      this.send({ type: "heartbeat", to: id, term: this.currentTerm, commit: Math.min(pr.match, this.log.committed) });
    }
  }

  private sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  /** Send the next batch to `to` if its pacing allows; with `sendIfEmpty`, also an empty append (it carries commit). */
  private maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to)!;
    if (pr.isPaused()) return false;
    if (pr.state === "snapshot") return this.sendSnapshotChunk(to, pr);
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const entries = this.log.entriesFrom(pr.next, this.maxMessageBytes, 4096);
    if (prevTerm === null || entries === null) {
      invariant(this.snap !== null, `entries before ${this.log.firstIndex()} are compacted but there is no snapshot`);
      pr.becomeSnapshot(this.snap.meta.index);
      return this.sendSnapshotChunk(to, pr);
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: "append", to, term: this.currentTerm, prevIndex, prevTerm, entries, commit: this.log.committed });
    pr.sent(entries.length > 0 ? entries[entries.length - 1]!.index : null);
    return true;
  }

  private sendSnapshotChunk(to: number, pr: Progress): boolean {
    const snap = this.snap!;
    // A newer snapshot replaced the one being sent: start over with it.
    if (pr.pendingSnapshot !== snap.meta.index) pr.becomeSnapshot(snap.meta.index);
    const offset = Math.min(pr.snapshotOffset, snap.data.byteLength);
    const chunk = snap.data.subarray(offset, offset + this.snapshotChunkBytes);
    const done = offset + chunk.byteLength >= snap.data.byteLength;
    this.send({ type: "snapshot", to, term: this.currentTerm, meta: snap.meta, offset, chunk, done });
    pr.paused = true;
    return true;
  }

  // ---- small helpers --------------------------------------------------------------------------

  private send(m: Outgoing): void {
    this.msgs.push({ ...m, from: this.id } as Message);
  }

  private note(message: string): void {
    this.notes.push(`${this.id}: ${message}`);
  }

  private hardState(): HardState {
    return { term: this.currentTerm, vote: this.votedFor, commit: this.log.committed };
  }

  private softState(): SoftState {
    return { leader: this.lead, role: this.state };
  }

  private assertNotInReady(what: string): void {
    invariant(this.outstanding === null, `${what}() between ready() and advance()`);
  }

  /** mulberry32: deterministic per seed, enough to spread election timeouts. */
  private random(): number {
    let t = (this.randomState = (this.randomState + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
