// Membership and quorum of one node, as a state machine without I/O.
//
// Inputs: start(now), tick(now), receive(link, bytes, now), setLocalLink(...), setResources(...).
// Output of every call: a list of effects (packets to send, view and quorum changes, link
// changes, dropped packets to count and log). The real node (node/runtime.ts) and the simulator
// (test/sim) drive the same class; nothing here touches a socket, a timer or a file.
//
// How a view forms (see docs/architecture.md for the full argument):
//  1. Every node heartbeats on every link and gossips a row per node: whom it hears.
//  2. Every node computes the same split of the cluster into cliques (partition.ts) and takes the
//     one holding itself as its candidate view.
//  3. The lowest node id of a candidate coordinates: it proposes (id = highest id seen + 1).
//     Members whose own candidate is the same accept; when all have accepted, the coordinator
//     installs and the members install when they see it installed. Ids only grow.
//  4. Quorum needs the votes of the view's members, each counted only while its endorsement lease
//     is valid (quorum/quorum.ts). A node stops endorsing a peer before it accepts a view without
//     that peer, and waits until the lease it gave has run out.
import { ClusterKey, MessageType, ReplayGuard, type DropReason, open, seal } from "../shared/wire.ts";
import { DecodeError } from "../shared/codec.ts";
import { type Lease, type QuorumState, evaluateQuorum, neededVotes } from "../quorum/quorum.ts";
import { type Heartbeat, type Row, type ViewRef, bit, decodeHeartbeat, encodeHeartbeat, has, nodesOf, popcount } from "./heartbeat.ts";
import { candidateOf } from "./partition.ts";

export const LINK_NAMES = ["ring0", "ring1", "serial"] as const;
export type LinkName = (typeof LINK_NAMES)[number];
export const LINK_ID: Record<LinkName, number> = { ring0: 0, ring1: 1, serial: 2 };

export type Role = "host" | "arbitrator";

export interface NodeSpec {
  id: number;
  name: string;
  role: Role;
  votes: number;
}

export interface Timing {
  heartbeatInterval_ms: number;
  /** A peer silent on every link this long is lost; a link silent this long is down. */
  lostTimeout_ms: number;
  /** Endorsement lease; must not exceed lostTimeout_ms so a dead peer delays nothing. */
  lease_ms: number;
}

export interface CoreConfig {
  self: number;
  incarnation: number;
  nodes: readonly NodeSpec[];
  /** Link ids this node shares with each peer. */
  linksTo: ReadonlyMap<number, readonly number[]>;
  timing: Timing;
  waitForAll: boolean;
}

export interface View {
  id: number;
  members: number[];
}

export type Effect =
  | { kind: "send"; link: number; to: number[]; bytes: Uint8Array }
  | { kind: "view"; view: View; previous: View }
  | { kind: "quorum"; state: QuorumState }
  | { kind: "link"; peer: number; link: number; up: boolean }
  | { kind: "peer"; peer: number; reachable: boolean }
  | { kind: "drop"; link: number; reason: DropReason; detail: string; sender?: number }
  /** An authenticated, fresh service message for the node's services. */
  | { kind: "deliver"; sender: number; payload: Uint8Array }
  | { kind: "note"; message: string };

interface PeerState {
  incarnation: number;
  lastHeardOn: Map<number, number>;
  linkUp: Map<number, boolean>;
  reachable: boolean;
  everSeen: boolean;
  hb: Heartbeat | null;
  /** The newest send time seen from the peer and when we received it (our clock). */
  echoTime_ms: number | null;
  echoRecvAt_ms: number;
  lease: Lease | null;
  leaseEchoTime_ms: number;
  /** We must not accept a view without this peer before this time (the lease we gave it). */
  endorsedUntil_ms: number;
}

export interface CoreStatus {
  self: number;
  incarnation: number;
  view: View;
  quorum: QuorumState;
  established: boolean;
  candidate: number[];
  peers: Array<{ id: number; reachable: boolean; links: Record<number, boolean>; incarnation: number }>;
  localLinks: Record<number, { up: boolean; reason: string }>;
  drops: Record<string, number>;
  received: number;
  sent: number;
}

export class MembershipCore {
  private readonly key: ClusterKey;
  private readonly cfg: CoreConfig;
  private readonly nodeIds: number[];
  private readonly votes = new Map<number, number>();
  private readonly expectedVotes: number;
  private readonly peers = new Map<number, PeerState>();
  private readonly guard = new ReplayGuard();
  private readonly rows = new Map<number, Row>();
  /** Our clock when each node's row last advanced; a row that stops advancing is stale. */
  private readonly rowFreshAt = new Map<number, number>();
  private readonly seqOn = new Map<number, number>();
  private readonly localLinks = new Map<number, { up: boolean; reason: string }>();
  private readonly drops: Record<string, number> = {};
  private received = 0;
  private sent = 0;

  private installed: ViewRef;
  private accepted: ViewRef | null = null;
  private proposal: ViewRef | null = null;
  private maxViewId = 0;
  private established: boolean;
  private resources = 0;
  private rowVersion = 0;
  private quorum: QuorumState;
  private nextHeartbeat_ms = 0;
  private candidate: number;

  constructor(cfg: CoreConfig, key: ClusterKey) {
    if (cfg.timing.lease_ms > cfg.timing.lostTimeout_ms) throw new RangeError("lease_ms must not exceed lostTimeout_ms");
    this.cfg = cfg;
    this.key = key;
    this.nodeIds = cfg.nodes.map((n) => n.id).sort((a, b) => a - b);
    for (const n of cfg.nodes) this.votes.set(n.id, n.votes);
    this.expectedVotes = cfg.nodes.reduce((s, n) => s + n.votes, 0);
    for (const n of cfg.nodes) {
      if (n.id === cfg.self) continue;
      this.peers.set(n.id, {
        incarnation: 0,
        lastHeardOn: new Map(),
        linkUp: new Map((cfg.linksTo.get(n.id) ?? []).map((l) => [l, false])),
        reachable: false,
        everSeen: false,
        hb: null,
        echoTime_ms: null,
        echoRecvAt_ms: 0,
        lease: null,
        leaseEchoTime_ms: -Infinity,
        endorsedUntil_ms: -Infinity,
      });
    }
    for (const links of cfg.linksTo.values()) for (const l of links) this.localLinks.set(l, { up: true, reason: "" });
    this.installed = { id: 0, members: bit(cfg.self) };
    this.candidate = bit(cfg.self);
    this.established = !cfg.waitForAll || this.nodeIds.length === 1;
    this.quorum = this.evalQuorum(0);
  }

  // ---- inputs -------------------------------------------------------------------------------

  start(now_ms: number): Effect[] {
    const fx: Effect[] = [];
    this.reconcile(now_ms, fx);
    this.heartbeat(now_ms, fx);
    return fx;
  }

  tick(now_ms: number): Effect[] {
    const fx: Effect[] = [];
    this.expire(now_ms, fx);
    const urgent = this.reconcile(now_ms, fx);
    if (urgent || now_ms >= this.nextHeartbeat_ms) this.heartbeat(now_ms, fx);
    return fx;
  }

  receive(link: number, bytes: Uint8Array, now_ms: number): Effect[] {
    const fx: Effect[] = [];
    const hb = this.admit(link, bytes, now_ms, fx);
    if (!hb) return fx;
    this.expire(now_ms, fx);
    if (this.reconcile(now_ms, fx)) this.heartbeat(now_ms, fx);
    return fx;
  }

  /** A local link fault (serial device missing or busy, socket error): stop using the link. */
  setLocalLink(link: number, up: boolean, reason: string): Effect[] {
    this.localLinks.set(link, { up, reason: up ? "" : reason });
    return [{ kind: "note", message: `link ${linkName(link)} ${up ? "usable" : `unusable: ${reason}`}` }];
  }

  setResources(count: number): void {
    this.resources = Math.max(0, Math.min(0xffff, Math.floor(count)));
  }

  // ---- queries ------------------------------------------------------------------------------

  get view(): View {
    return { id: this.installed.id, members: nodesOf(this.installed.members) };
  }

  get quorumState(): QuorumState {
    return this.quorum;
  }

  status(): CoreStatus {
    const peers = [...this.peers.entries()].map(([id, p]) => ({
      id,
      reachable: p.reachable,
      links: Object.fromEntries([...p.linkUp.entries()]) as Record<number, boolean>,
      incarnation: p.incarnation,
    }));
    return {
      self: this.cfg.self,
      incarnation: this.cfg.incarnation,
      view: this.view,
      quorum: this.quorum,
      established: this.established,
      candidate: nodesOf(this.candidate),
      peers,
      localLinks: Object.fromEntries(this.localLinks.entries()),
      drops: { ...this.drops },
      received: this.received,
      sent: this.sent,
    };
  }

  // ---- receiving ----------------------------------------------------------------------------

  private drop(fx: Effect[], link: number, reason: DropReason, detail: string, sender?: number): null {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    fx.push(sender === undefined ? { kind: "drop", link, reason, detail } : { kind: "drop", link, reason, detail, sender });
    return null;
  }

  private admit(link: number, bytes: Uint8Array, now_ms: number, fx: Effect[]): Heartbeat | null {
    const opened = open(this.key, bytes);
    if (!opened.ok) return this.drop(fx, link, opened.reason, opened.detail, opened.header?.sender);
    const h = opened.header;
    const peer = this.peers.get(h.sender);
    if (!peer) return this.drop(fx, link, "unknown-sender", `node id ${h.sender} is not a peer in the configuration`, h.sender);
    if (h.link !== link || !(this.cfg.linksTo.get(h.sender) ?? []).includes(link)) {
      return this.drop(fx, link, "garbage", `packet for link ${h.link} arrived on link ${link}`, h.sender);
    }
    if (h.incarnation < peer.incarnation) return this.drop(fx, link, "stale-incarnation", `incarnation ${h.incarnation} < ${peer.incarnation}`, h.sender);
    const fresh = this.guard.accept(h.sender, link, h.incarnation, h.seq);
    if (!fresh.ok) return this.drop(fx, link, fresh.reason, `seq ${h.seq}`, h.sender);
    if (h.type === MessageType.Service) {
      // Only from a peer of the current incarnation; the service validates the content itself.
      if (h.incarnation < peer.incarnation) return this.drop(fx, link, "stale-incarnation", "service message from an old incarnation", h.sender);
      fx.push({ kind: "deliver", sender: h.sender, payload: opened.payload });
      return null;
    }
    if (h.type !== MessageType.Heartbeat) return this.drop(fx, link, "garbage", `unknown message type ${h.type}`, h.sender);
    let hb: Heartbeat;
    try {
      hb = decodeHeartbeat(opened.payload);
    } catch (e) {
      if (e instanceof DecodeError) return this.drop(fx, link, "garbage", e.message, h.sender);
      throw e;
    }
    this.received++;
    if (h.incarnation > peer.incarnation) {
      if (peer.incarnation !== 0) fx.push({ kind: "note", message: `node ${this.nameOf(h.sender)} restarted (incarnation ${h.incarnation})` });
      peer.incarnation = h.incarnation;
      peer.hb = null;
      peer.echoTime_ms = null;
      peer.lease = null;
      peer.leaseEchoTime_ms = -Infinity;
    }
    peer.everSeen = true;
    peer.lastHeardOn.set(link, now_ms);
    if (!peer.linkUp.get(link)) {
      peer.linkUp.set(link, true);
      fx.push({ kind: "link", peer: h.sender, link, up: true });
    }
    if (!peer.reachable) {
      peer.reachable = true;
      fx.push({ kind: "peer", peer: h.sender, reachable: true });
    }
    // The same heartbeat content travels on every link; only a newer one replaces what we hold.
    if (peer.hb && hb.sendTime_ms < peer.hb.sendTime_ms) return hb;
    peer.hb = hb;
    if (peer.echoTime_ms === null || hb.sendTime_ms > peer.echoTime_ms) {
      peer.echoTime_ms = hb.sendTime_ms;
      peer.echoRecvAt_ms = now_ms;
    }
    this.maxViewId = Math.max(this.maxViewId, hb.maxViewId, hb.installed.id, hb.accepted?.id ?? 0, hb.proposal?.id ?? 0);
    for (const row of hb.rows) this.mergeRow(row, h.sender, fx, now_ms);
    const echo = hb.echoes.find((e) => e.node === this.cfg.self);
    if (echo && echo.time_ms > peer.leaseEchoTime_ms) {
      peer.leaseEchoTime_ms = echo.time_ms;
      const viewIds = [hb.installed.id];
      if (hb.accepted) viewIds.push(hb.accepted.id);
      peer.lease = { until_ms: echo.time_ms + this.cfg.timing.lease_ms, viewIds };
    }
    return hb;
  }

  private mergeRow(row: Row, from: number, fx: Effect[], now_ms: number): void {
    if (!this.votes.has(row.node)) return;
    if (row.node === this.cfg.self) {
      if (row.incarnation > this.cfg.incarnation) {
        fx.push({ kind: "note", message: `node ${this.nameOf(from)} relays a row for our id with a newer incarnation: two nodes may share id ${row.node}` });
      }
      return;
    }
    const cur = this.rows.get(row.node);
    if (!cur || row.incarnation > cur.incarnation || (row.incarnation === cur.incarnation && row.version > cur.version)) {
      this.rows.set(row.node, row);
      this.rowFreshAt.set(row.node, now_ms);
    }
  }

  // ---- time ---------------------------------------------------------------------------------

  private expire(now_ms: number, fx: Effect[]): void {
    const timeout = this.cfg.timing.lostTimeout_ms;
    for (const [id, p] of this.peers) {
      let any = false;
      for (const [link, up] of p.linkUp) {
        const last = p.lastHeardOn.get(link);
        const alive = last !== undefined && now_ms - last < timeout;
        if (up && !alive) {
          p.linkUp.set(link, false);
          fx.push({ kind: "link", peer: id, link, up: false });
        }
        any ||= alive;
      }
      if (p.reachable && !any) {
        p.reachable = false;
        fx.push({ kind: "peer", peer: id, reachable: false });
      }
    }
  }

  // ---- the view protocol ----------------------------------------------------------------------

  private ownRow(): Row {
    let heard = bit(this.cfg.self);
    for (const [id, p] of this.peers) if (p.reachable) heard |= bit(id);
    return {
      node: this.cfg.self,
      incarnation: this.cfg.incarnation,
      version: this.rowVersion,
      heard,
      resources: this.resources,
      established: this.established,
      quorate: this.quorum.quorate,
    };
  }

  /**
   * The rows the partition may trust. A live node's row advances with each of its heartbeats,
   * directly or relayed; a row that has not advanced for the loss timeout belongs to a node that
   * is gone, and its last word ("I hear host-a") must not keep a phantom edge alive.
   */
  private freshRows(now_ms: number): Map<number, Row> {
    const out = new Map<number, Row>();
    for (const [n, row] of this.rows) {
      const at = this.rowFreshAt.get(n);
      const stale = n !== this.cfg.self && (at === undefined || now_ms - at >= this.cfg.timing.lostTimeout_ms);
      out.set(n, stale ? { ...row, heard: bit(n) } : row);
    }
    return out;
  }

  private votesIn(mask: number): number {
    let v = 0;
    for (const n of nodesOf(mask)) v += this.votes.get(n) ?? 0;
    return v;
  }

  /** May we take part in a view of `members`, given the leases we gave to nodes it leaves out? */
  private mayExclude(members: number, now_ms: number): boolean {
    if (this.votesIn(members) < neededVotes(this.expectedVotes)) return true; // cannot be quorate
    const before = this.installed.members | (this.accepted?.members ?? 0);
    for (const n of nodesOf(before & ~members)) {
      const p = this.peers.get(n);
      if (p && p.endorsedUntil_ms > now_ms) return false;
    }
    return true;
  }

  /** A member that restarted, or installed some other view, must be brought back in. */
  private memberOutOfStep(members: number): boolean {
    for (const n of nodesOf(members)) {
      if (n === this.cfg.self) continue;
      const hb = this.peers.get(n)?.hb;
      if (!hb) continue;
      if (hb.installed.id !== this.installed.id && hb.accepted?.id !== this.installed.id) return true;
    }
    return false;
  }

  /** Returns true when something changed that peers should hear about now, not at the next beat. */
  private reconcile(now_ms: number, fx: Effect[]): boolean {
    this.rows.set(this.cfg.self, this.ownRow());
    const cand = candidateOf(this.cfg.self, this.nodeIds, this.freshRows(now_ms));
    let urgent = cand !== this.candidate;
    this.candidate = cand;
    const coordinator = nodesOf(cand)[0] ?? this.cfg.self;

    if (coordinator === this.cfg.self) {
      if (this.proposal && this.proposal.members !== cand) this.proposal = null;
      const needChange = this.installed.members !== cand || this.memberOutOfStep(cand);
      if (needChange && !this.proposal && this.mayExclude(cand, now_ms)) {
        this.maxViewId += 1;
        this.proposal = { id: this.maxViewId, members: cand };
        this.accepted = this.proposal;
        urgent = true;
      }
      if (this.proposal && this.allAccepted(this.proposal)) {
        this.install(this.proposal, fx);
        this.proposal = null;
        urgent = true;
      }
    } else {
      this.proposal = null;
      const hb = this.peers.get(coordinator)?.hb;
      const offered = hb?.proposal;
      if (
        offered &&
        offered.members === cand &&
        offered.id > this.installed.id &&
        offered.id > (this.accepted?.id ?? 0) &&
        this.mayExclude(cand, now_ms)
      ) {
        this.accepted = offered;
        this.maxViewId = Math.max(this.maxViewId, offered.id);
        urgent = true;
      }
      const acc = this.accepted;
      if (acc && hb && acc.members === cand && hb.installed.id === acc.id && hb.installed.members === acc.members && this.installed.id !== acc.id) {
        this.install(acc, fx);
        urgent = true;
      }
    }

    const q = this.evalQuorum(now_ms);
    if (q.quorate !== this.quorum.quorate || q.votes !== this.quorum.votes || q.reason !== this.quorum.reason) {
      if (q.quorate !== this.quorum.quorate) urgent = true;
      this.quorum = q;
      fx.push({ kind: "quorum", state: q });
    }
    return urgent;
  }

  private allAccepted(p: ViewRef): boolean {
    for (const n of nodesOf(p.members)) {
      if (n === this.cfg.self) continue;
      const hb = this.peers.get(n)?.hb;
      if (!hb) return false;
      if (hb.accepted?.id !== p.id && hb.installed.id !== p.id) return false;
    }
    return true;
  }

  private install(v: ViewRef, fx: Effect[]): void {
    const previous = this.view;
    this.installed = v;
    this.maxViewId = Math.max(this.maxViewId, v.id);
    if (!this.established) {
      const all = popcount(v.members) === this.nodeIds.length;
      let joinedEstablished = false;
      for (const n of nodesOf(v.members)) if (n !== this.cfg.self && this.rows.get(n)?.established) joinedEstablished = true;
      if (all || (joinedEstablished && this.votesIn(v.members) >= neededVotes(this.expectedVotes))) this.established = true;
    }
    fx.push({ kind: "view", view: this.view, previous });
  }

  private evalQuorum(now_ms: number): QuorumState {
    const leases = new Map<number, Lease>();
    for (const [id, p] of this.peers) if (p.lease) leases.set(id, p.lease);
    return evaluateQuorum({
      self: this.cfg.self,
      view: this.installed,
      votesOf: (n) => this.votes.get(n) ?? 0,
      expectedVotes: this.expectedVotes,
      leases,
      now_ms,
      waitForAll: this.cfg.waitForAll,
      established: this.established,
    });
  }

  // ---- sending ------------------------------------------------------------------------------

  /**
   * Seal a service message for one peer on one link: the first of `candidates` that is up both
   * here and towards that peer (all candidates while none is known to be up). For services that
   * retransmit on their own (Raft): one copy instead of one per link halves their decode work.
   */
  sendOnce(payload: Uint8Array, peer: number, candidates: readonly number[]): Effect[] {
    const p = this.peers.get(peer);
    const shared = (this.cfg.linksTo.get(peer) ?? []).filter((l) => candidates.includes(l));
    const live = shared.find((l) => this.localLinks.get(l)?.up && p?.linkUp.get(l));
    return this.broadcast(payload, [peer], live === undefined ? shared : [live]);
  }

  /**
   * Seal a service message for the given peers on every link shared with them. Receivers take one
   * copy per link (each link has its own sequence numbers); services must treat messages as
   * idempotent.
   */
  broadcast(payload: Uint8Array, to?: readonly number[], onlyLinks?: readonly number[]): Effect[] {
    const fx: Effect[] = [];
    const byLink = new Map<number, number[]>();
    for (const [peer, links] of this.cfg.linksTo) {
      if (to && !to.includes(peer)) continue;
      for (const l of links) {
        if (onlyLinks && !onlyLinks.includes(l)) continue;
        if (!this.localLinks.get(l)?.up) continue;
        const list = byLink.get(l) ?? [];
        list.push(peer);
        byLink.set(l, list);
      }
    }
    for (const [link, dest] of byLink) {
      const seq = (this.seqOn.get(link) ?? 0) + 1;
      this.seqOn.set(link, seq);
      const bytes = seal(this.key, { type: MessageType.Service, sender: this.cfg.self, link, incarnation: this.cfg.incarnation, seq, payload });
      fx.push({ kind: "send", link, to: dest, bytes });
    }
    return fx;
  }

  private heartbeat(now_ms: number, fx: Effect[]): void {
    this.nextHeartbeat_ms = now_ms + this.cfg.timing.heartbeatInterval_ms;
    this.rowVersion += 1;
    this.rows.set(this.cfg.self, this.ownRow());
    const endorsable = this.candidate & (this.installed.members | (this.accepted?.members ?? 0));
    const echoes = [];
    for (const [id, p] of this.peers) {
      if (p.echoTime_ms === null || !has(endorsable, id) || !p.reachable) continue;
      echoes.push({ node: id, time_ms: p.echoTime_ms });
      p.endorsedUntil_ms = Math.max(p.endorsedUntil_ms, p.echoRecvAt_ms + this.cfg.timing.lease_ms);
    }
    const payload = encodeHeartbeat({
      sendTime_ms: now_ms,
      maxViewId: this.maxViewId,
      installed: this.installed,
      accepted: this.accepted,
      proposal: this.proposal,
      rows: [...this.rows.values()],
      echoes,
    });
    const byLink = new Map<number, number[]>();
    for (const [peer, links] of this.cfg.linksTo) {
      for (const l of links) {
        if (!this.localLinks.get(l)?.up) continue;
        const list = byLink.get(l) ?? [];
        list.push(peer);
        byLink.set(l, list);
      }
    }
    for (const [link, to] of byLink) {
      const seq = (this.seqOn.get(link) ?? 0) + 1;
      this.seqOn.set(link, seq);
      const bytes = seal(this.key, { type: MessageType.Heartbeat, sender: this.cfg.self, link, incarnation: this.cfg.incarnation, seq, payload });
      this.sent += 1;
      fx.push({ kind: "send", link, to, bytes });
    }
  }

  private nameOf(id: number): string {
    return this.cfg.nodes.find((n) => n.id === id)?.name ?? `#${id}`;
  }
}

export function linkName(id: number): string {
  return LINK_NAMES[id] ?? `link${id}`;
}


