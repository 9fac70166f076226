// The real node: drives the membership core with a monotonic clock, UDP ring links, the serial
// line and a local status socket. All decisions are in the core; this file only moves bytes and
// time in and effects out.
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { type Server, createServer } from "node:net";
import { join } from "node:path";
import { type CoreConfig, type Effect, type LinkName, LINK_ID, MembershipCore, linkName } from "../membership/core.ts";
import { SerialLink } from "../membership/serial-link.ts";
import { type Endpoint, UdpLink } from "../membership/udp-link.ts";
import type { Config } from "../shared/config.ts";
import { loadKeyFile } from "../shared/keyfile.ts";
import { type Logger, RateLimiter, createLogger } from "../shared/log.ts";
import { VERSION } from "../shared/version.ts";
import { nextIncarnation } from "./incarnation.ts";
import { type StatusReport, type VolumeReport, buildStatus } from "./status.ts";
import { queryVolumes } from "../replication/status-client.ts";
import type { FenceEvent } from "../fencing/core.ts";
import { FencingService } from "../fencing/service.ts";
import { type NodeInfo, decodeServiceMessage, encodeServiceMessage } from "../fencing/gossip.ts";
import { SupervisorLink } from "../supervisor/client.ts";
import { SelfFenceCore, type SelfFenceEffect, selfFenceWait_ms } from "./self-fence.ts";
import { randomInt } from "node:crypto";
import { CibReplica } from "../cib/replica.ts";
import { FileStorage, StorageError } from "../cib/file-storage.ts";
import { nodeFs } from "../cib/fs.ts";
import { encodeMessage } from "../cib/messages.ts";
import { CibClient } from "./cib-client.ts";
import type { SupervisorReport } from "../supervisor/protocol.ts";
import { decodeCommand } from "../cib/cib.ts";
import { type World, hasRecords, nodeCondition } from "../crm/cib-input.ts";
import { CrmController } from "./crm-controller.ts";
import { decodeCrmMessage, encodeCrmMessage, isCrmMessage } from "./crm-messages.ts";
import { LocalExecutor } from "./local-executor.ts";
import { DEFAULT_BUILTINS } from "../executor/agents/index.ts";
import { VolumeAgent } from "../executor/agents/volume.ts";
import { handleResourceCommand } from "./resource-commands.ts";

export const STATUS_SOCKET = "hapd.sock";

export function statusSocketPath(cfg: Config): string {
  return join(cfg.run_dir, STATUS_SOCKET);
}

/** Which links this node shares with each peer, by name. */
export function linksBetween(cfg: Config): Map<number, LinkName[]> {
  const self = cfg.nodes.find((n) => n.name === cfg.node)!;
  const out = new Map<number, LinkName[]>();
  for (const n of cfg.nodes) {
    if (n.name === self.name) continue;
    const ls: LinkName[] = ["ring0"];
    if (self.ring1 && n.ring1) ls.push("ring1");
    if (cfg.serial && cfg.serial.peer === n.name) ls.push("serial");
    out.set(n.id, ls);
  }
  return out;
}

export class NodeRuntime {
  private core!: MembershipCore;
  private readonly udp = new Map<number, UdpLink>();
  private serial: SerialLink | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private server: Server | null = null;
  private readonly log: Logger;
  private readonly dropLog = new RateLimiter(10_000);
  private readonly started_ms = performance.now();
  private readonly linksTo: Map<number, LinkName[]>;
  private readonly selfId: number;
  private fencing: FencingService | null = null;
  private viewDirty = false;
  private supervisor: SupervisorLink | null = null;
  private supervisorReport: SupervisorReport | null = null;
  private readonly peerInfo = new Map<string, NodeInfo & { at_ms: number }>();
  private infoTimer: ReturnType<typeof setInterval> | null = null;
  private selfFence: SelfFenceCore;
  private cib: CibReplica | null = null;
  private cibClient!: CibClient;
  private cibTimer: ReturnType<typeof setInterval> | null = null;
  private local: LocalExecutor | null = null;
  private crm: CrmController | null = null;
  /** The volume service's last report (refreshed every second), on hosts with volumes. */
  private volumes: VolumeReport[] | null = null;
  /** Nodes that announced a clean stop and have not come back since. */
  private readonly leftCleanly = new Set<string>();

  constructor(private readonly cfg: Config) {
    this.log = createLogger(cfg.node, cfg.log_file ? { file: cfg.log_file, stderr: true } : {});
    this.linksTo = linksBetween(cfg);
    this.selfId = cfg.nodes.find((n) => n.name === cfg.node)!.id;
    this.selfFence = new SelfFenceCore({ stopTimeout_ms: cfg.fencing.self_fence_stop_timeout_ms });
  }

  private applySelfFence(effects: SelfFenceEffect[]): void {
    for (const e of effects) {
      if (e.kind === "log") this.log.warn("self-fence", e.message);
      if (e.kind === "stop-resources") {
        // Quorum is lost: stop what runs here before the peers may start it elsewhere. Results
        // cannot reach the CIB (no quorum); the peers count on the self-fence timing instead.
        const local = this.local;
        if (!local) this.applySelfFence(this.selfFence.onStopped(true, "no resource manager", this.now()));
        else
          void local.stopAll(this.cfg.fencing.self_fence_stop_timeout_ms).then((ok) => {
            this.applySelfFence(this.selfFence.onStopped(ok, ok ? "every resource stopped" : `could not stop: ${local.active().join(", ")}`, this.now()));
          });
      }
      if (e.kind === "self-fence") {
        if (this.supervisor) this.supervisor.selfFence(e.reason);
        else this.log.error("self-fence", `no supervisor to stop feeding the watchdog: ${e.reason}`);
      }
    }
  }

  private now(): number {
    return performance.now();
  }

  async start(): Promise<void> {
    const key = loadKeyFile(this.cfg.cluster.key_file);
    const incarnation = nextIncarnation(this.cfg.state_dir);
    const interval = this.cfg.cluster.heartbeat_interval_ms;
    const lost = this.cfg.cluster.lost_timeout_ms;
    const coreCfg: CoreConfig = {
      self: this.selfId,
      incarnation,
      nodes: this.cfg.nodes.map((n) => ({ id: n.id, name: n.name, role: n.role, votes: n.votes })),
      linksTo: new Map([...this.linksTo].map(([id, ls]) => [id, ls.map((l) => LINK_ID[l])])),
      // The lease stays below the loss timeout so a dead peer never delays a new view (see quorum.ts).
      timing: { heartbeatInterval_ms: interval, lostTimeout_ms: lost, lease_ms: Math.floor(lost * 0.75) },
      waitForAll: this.cfg.cluster.wait_for_all,
    };
    this.core = new MembershipCore(coreCfg, key);
    this.log.info("node", `hapd ${VERSION} starting: cluster ${this.cfg.cluster.name}, node ${this.cfg.node} (id ${this.selfId}), incarnation ${incarnation}`);

    const self = this.cfg.nodes.find((n) => n.id === this.selfId)!;
    for (const ring of ["ring0", "ring1"] as const) {
      const local = self[ring];
      if (!local) continue;
      const peers = new Map<number, Endpoint>();
      for (const n of this.cfg.nodes) {
        const ep = n[ring];
        if (n.id !== this.selfId && ep) peers.set(n.id, ep);
      }
      const id = LINK_ID[ring];
      const link = new UdpLink(ring, local, peers, (b) => this.apply(this.core.receive(id, b, this.now())), (reason) => this.log.warn("link", `${ring}: ${reason}`));
      await link.open();
      this.udp.set(id, link);
    }
    if (this.cfg.serial) {
      const s = this.cfg.serial;
      this.serial = new SerialLink(
        s.device,
        s.baud,
        (b) => this.apply(this.core.receive(LINK_ID.serial, b, this.now())),
        (up, reason) => {
          if (up) this.log.info("link", `serial ${s.device} open at ${s.baud} 8N1`);
          else this.log.warn("link", `serial link down: ${reason}; running on the other links`);
          this.apply(this.core.setLocalLink(LINK_ID.serial, up, reason));
        },
      );
      // Until the device opens, the link is unusable; say so from the first status.
      this.core.setLocalLink(LINK_ID.serial, false, `opening ${s.device}`);
      this.serial.open();
    }
    this.fencing = this.cfg.nodes.some((n) => n.role === "host") ? new FencingService(this.cfg, this.log, (payload) => this.apply(this.core.broadcast(payload))) : null;
    this.cib = this.openCib();
    this.cibClient = new CibClient(() => this.cib, this.cfg.node, incarnation, (what) => this.cibStep(what));
    this.startResourceManager(incarnation);
    this.supervisor = await SupervisorLink.attach("cluster", this.cfg.supervisor.heartbeat_interval_ms, (why) => {
      // A service never outlives its supervisor: without it nothing watches us or feeds the watchdog.
      this.log.error("node", `${why}: stopping`);
      process.exit(1);
    });
    if (!this.supervisor) this.log.warn("node", "running without a supervisor (no watchdog, no restarts): use `hapd node` in production");
    this.infoTimer = setInterval(() => void this.shareNodeInfo(), 1000);
    // 100 ms ticks: heartbeats every 300 ms, elections after 1–2 s of silence. Failover does not
    // wait for that timeout: membership detects a lost leader first (cibLeaderCheck), and an idle
    // node wakes less.
    this.cibTimer = setInterval(() => this.cibStep(() => this.cib?.tick()), 100);
    await this.startStatusServer();
    this.apply(this.core.start(this.now()));
    // Half a heartbeat interval: failure detection is late by at most this much, and an idle node
    // wakes 20 times a second instead of 50 (idle CPU is part of what an operator compares).
    const tick_ms = Math.max(5, Math.min(50, Math.floor(interval / 2)));
    this.timer = setInterval(() => {
      this.apply(this.core.tick(this.now()));
      this.applySelfFence(this.selfFence.tick(this.now()));
      this.fencing?.tick();
    }, tick_ms);
  }

  /** Resources this node may be running (started and not known stopped). */
  private resourcesRunning(): number {
    return this.local?.active().length ?? 0;
  }

  private startResourceManager(incarnation: number): void {
    const hosts = this.cfg.nodes.filter((n) => n.role === "host").map((n) => n.name);
    const arbitrators = this.cfg.nodes.filter((n) => n.role === "arbitrator").map((n) => n.name);
    const rings = [LINK_ID.ring0, LINK_ID.ring1];
    // Agents keep their state under HA_RSCTMP: this node's own run directory, so two nodes of a
    // loopback lab (one filesystem) never see each other's state files.
    const rsctmp = join(this.cfg.run_dir, "resource-agents");
    mkdirSync(rsctmp, { recursive: true, mode: 0o755 });
    const local = new LocalExecutor({
      node: this.cfg.node,
      incarnation,
      knownFile: join(this.cfg.run_dir, "resource-definitions.json"),
      primitives: () => this.crm?.primitives() ?? null,
      propose: (cmd) => this.cibClient.propose(cmd),
      newId: () => this.cibClient.newId(),
      log: this.log,
      agents: { env_extra: { HA_RSCTMP: rsctmp }, builtins: new Map([...DEFAULT_BUILTINS, ["volume", () => new VolumeAgent({ runDir: this.cfg.run_dir })]]) },
    });
    this.local = local;
    this.crm = new CrmController({
      self: this.cfg.node,
      hosts,
      arbitrators,
      cib: () => this.cib?.state ?? null,
      appliedIndex: () => this.cib?.raft.appliedIndex ?? 0,
      isLeader: () => this.cib !== null && this.cib.raft.leader() === this.selfId && this.core.quorumState.quorate,
      canPlan: () => this.cib !== null && this.cib.raft.isDc() && this.cib.raft.appliedIndex >= this.cib.raft.commitIndex,
      term: () => this.cib?.raft.term ?? 0,
      world: () => this.world(),
      propose: (cmd) => this.cibClient.propose(cmd),
      local,
      send: (node, m) => {
        const id = this.cfg.nodes.find((n) => n.name === node)?.id;
        if (id !== undefined) this.apply(this.core.sendOnce(encodeCrmMessage(m), id, rings));
      },
      fencing: this.fencing,
      selfFence: (reason) => {
        this.log.error("crm", `fencing this node: ${reason}`);
        if (this.supervisor) this.supervisor.selfFence(reason);
        else process.exit(1);
      },
      log: this.log,
    });
  }

  /** Membership, quorum and fencing as the scheduler needs them (services/crm/cib-input.ts). */
  private world(): World {
    const members = new Set(this.core.view.members.map((m) => this.nameOf(m)));
    const st = this.cib?.state;
    const leader = this.cib?.raft.leader();
    const cs = this.core.status();
    return {
      quorate: this.core.quorumState.quorate,
      dc: leader ? this.nameOf(leader) : null,
      nodes: this.cfg.nodes.map((n) => {
        const condition = nodeCondition({ member: members.has(n.name), fenced: this.fencing?.isFenced(n.name) ?? false, leftCleanly: this.leftCleanly.has(n.name), hasRecords: st ? hasRecords(st, n.name) : false });
        const incarnation = n.id === this.selfId ? cs.incarnation : cs.peers.find((p) => p.id === n.id)?.incarnation;
        return condition === "member" && incarnation ? { name: n.name, condition, incarnation } : { name: n.name, condition };
      }),
    };
  }

  /**
   * The replicated configuration and status (docs/cib.md). Its leader is the designated
   * coordinator (DC). Storage problems end the process: after a failed fsync nothing on disk can
   * be trusted, and the supervisor must not loop on a broken disk (exit 2 = bad input/state).
   */
  private openCib(): CibReplica {
    let opened: ReturnType<typeof FileStorage.open>;
    try {
      opened = FileStorage.open(nodeFs, join(this.cfg.state_dir, "cib"));
    } catch (e) {
      if (e instanceof StorageError) {
        this.log.error("cib", `cannot open the CIB: ${e.message}`);
        process.exit(2);
      }
      throw e;
    }
    for (const line of opened.report) this.log.warn("cib", line);
    const rings = [LINK_ID.ring0, LINK_ID.ring1];
    return new CibReplica({
      raft: { id: this.selfId, voters: this.cfg.nodes.filter((n) => n.votes > 0).map((n) => n.id), randomSeed: randomInt(1, 2 ** 31), electionTicks: 10, heartbeatTicks: 3 },
      storage: opened.storage,
      restored: opened.state,
      // On one ring, the first that is up (Raft retransmits by itself), never on the serial line:
      // a snapshot chunk would hold the 115200-baud line for seconds.
      send: (m) => this.apply(this.core.sendOnce(encodeMessage(m), m.to, rings)),
      log: (line) => this.log.info("cib", line),
      onApply: (entry, result) => {
        this.cibClient?.applied(result);
        if (this.crm && entry.data !== "") {
          const d = decodeCommand(entry.data);
          this.crm.cibApplied(d.ok ? d.value : null, result);
        }
        this.crm?.committed();
      },
    });
  }

  /**
   * Membership detects a dead node faster than Raft's election timeout: when the CIB's leader
   * leaves our view, drop its lease, and the lowest-id voter left campaigns at once (the DC is
   * back within a round trip, not 0.5–1 s later).
   */
  private cibLeaderCheck(members: readonly number[]): void {
    const raft = this.cib?.raft;
    if (!raft) return;
    const leader = raft.leader();
    if (leader === 0 || leader === this.selfId || members.includes(leader)) return;
    const voters = this.cfg.nodes.filter((n) => n.votes > 0 && members.includes(n.id)).map((n) => n.id);
    this.cibStep(() => {
      raft.leaderLost();
      if (Math.min(...voters) === this.selfId) raft.campaign();
    });
  }

  private cibStep(what: () => void): void {
    if (!this.cib) return;
    try {
      what();
      this.cib.drain();
    } catch (e) {
      // A storage error or a broken invariant: stop; the supervisor restarts us on a consistent disk.
      this.log.error("cib", `stopping: ${(e as Error).message}`);
      process.exit(1);
    }
  }

  /** Every second: refresh what the supervisor says, and tell peers (watchdog, services) for their status. */
  private async shareNodeInfo(): Promise<void> {
    if (this.supervisor) this.supervisorReport = await this.supervisor.status();
    if ((this.cfg.volumes?.length ?? 0) > 0) this.volumes = await queryVolumes(this.cfg.run_dir).catch(() => null);
    const r = this.supervisorReport;
    const info: NodeInfo = {
      node: this.cfg.node,
      watchdog: r ? { driver: r.watchdog.driver, timeout_s: r.watchdog.timeout_s, armed: r.watchdog.armed, resources_allowed: r.watchdog.resources_allowed } : { driver: "none", timeout_s: 0, armed: false, resources_allowed: false },
      services: r ? r.services.map((x) => ({ name: x.name, pid: x.pid ?? 0, restarts: x.restarts })) : [{ name: "cluster", pid: process.pid, restarts: 0 }],
      stop_timeout_ms: this.cfg.fencing.self_fence_stop_timeout_ms,
    };
    this.apply(this.core.broadcast(encodeServiceMessage({ svc: "node-info", info })));
  }

  fenceHistory(): FenceEvent[] {
    return this.fencing ? this.fencing.history() : FencingService.persistedHistory(this.cfg.state_dir);
  }

  private apply(effects: Effect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case "deliver": {
          if (isCrmMessage(e.payload)) {
            const m = decodeCrmMessage(e.payload);
            if (!m.ok) this.log.warn("wire", `resource manager message from ${this.nameOf(e.sender)} refused: ${m.error}`);
            else if (m.value.node !== this.nameOf(e.sender) && m.value.svc === "crm-result") this.log.warn("wire", `crm-result from ${this.nameOf(e.sender)} claims to come from ${m.value.node}: refused`);
            else if (m.value.svc === "crm-exec" && m.value.dc !== this.nameOf(e.sender)) this.log.warn("wire", `crm-exec from ${this.nameOf(e.sender)} claims DC ${m.value.dc}: refused`);
            else if (m.value.svc === "crm-exec") this.crm?.onExec(m.value);
            else this.crm?.onResult(m.value);
            break;
          }
          if (isCibMessage(e.payload)) {
            this.cibStep(() => {
              const why = this.cib?.receive(e.payload, e.sender);
              if (why) this.log.warn("cib", `message from ${this.nameOf(e.sender)} refused: ${why}`);
            });
            break;
          }
          const msg = decodeServiceMessage(e.payload);
          if (!msg.ok) {
            this.log.warn("wire", `service message from ${this.nameOf(e.sender)} refused: ${msg.error}`);
            break;
          }
          if (msg.value.svc === "fence") this.fencing?.onRemote(msg.value.events);
          if (msg.value.svc === "node-info") {
            const info = msg.value.info;
            this.peerInfo.set(info.node, { ...info, at_ms: this.now() });
            // A peer with an armed watchdog can be declared self-fenced after the SBD wait, when
            // no device can confirm it off; one without can only be fenced by a device.
            const lease_ms = Math.floor(this.cfg.cluster.lost_timeout_ms * 0.75);
            this.fencing?.setWatchdog(info.node, info.watchdog.armed ? selfFenceWait_ms({ lease_ms, stopTimeout_ms: info.stop_timeout_ms, watchdogTimeout_s: info.watchdog.timeout_s }) : null);
          }
          if (msg.value.svc === "leave") {
            this.log.info("membership", `${msg.value.node} announces a clean stop`);
            this.fencing?.onLeave(msg.value.node);
            this.leftCleanly.add(msg.value.node);
          }
          break;
        }
        case "send":
          if (e.link === LINK_ID.serial) this.serial?.send(e.bytes);
          else this.udp.get(e.link)?.send(e.to, e.bytes);
          break;
        case "view": {
          const names = e.view.members.map((m) => this.nameOf(m));
          const gone = e.previous.members.filter((m) => !e.view.members.includes(m)).map((m) => this.nameOf(m));
          const joined = e.view.members.filter((m) => !e.previous.members.includes(m)).map((m) => this.nameOf(m));
          const delta = [joined.length ? `joined ${joined.join(",")}` : "", gone.length ? `left ${gone.join(",")}` : ""].filter(Boolean).join("; ");
          this.log.info("membership", `view ${e.view.id}: [${names.join(" ")}]${delta ? ` (${delta})` : ""}`);
          for (const n of joined) this.leftCleanly.delete(n);
          this.viewDirty = true;
          this.cibLeaderCheck(e.view.members);
          this.crm?.worldChanged(`view ${e.view.id}${delta ? ` (${delta})` : ""}`);
          break;
        }
        case "quorum":
          this.log.info("quorum", e.state.quorate ? `quorate: ${e.state.votes}/${e.state.expected} votes` : `NOT quorate: ${e.state.reason}`);
          this.viewDirty = true;
          this.crm?.worldChanged(e.state.quorate ? "quorum gained" : "quorum lost");
          break;
        case "link":
          this.log.info("link", `${linkName(e.link)} to ${this.nameOf(e.peer)} ${e.up ? "up" : "down"}`);
          break;
        case "peer":
          this.log.info("membership", `${this.nameOf(e.peer)} ${e.reachable ? "reachable" : "unreachable on every link"}`);
          break;
        case "drop": {
          if (e.reason === "replay") break; // the same heartbeat on a second path; not worth a line
          const who = e.sender !== undefined ? `from ${this.nameOf(e.sender)} ` : "";
          const folded = this.dropLog.allow(`${e.reason}:${e.sender ?? "?"}:${e.link}`, this.now());
          if (folded === null) break;
          const more = folded > 0 ? ` (${folded} more since last report)` : "";
          const hint = e.reason === "wrong-key" ? ": that node has a different cluster key and stays out until it has ours" : "";
          this.log.warn("wire", `dropped ${e.reason} packet ${who}on ${linkName(e.link)}: ${e.detail}${hint}${more}`);
          break;
        }
        case "note":
          this.log.info("membership", e.message);
          break;
      }
    }
    if (this.viewDirty) this.applySelfFence(this.selfFence.onQuorum(this.core.quorumState.quorate, this.resourcesRunning(), this.now()));
    if (this.viewDirty && this.fencing) {
      this.viewDirty = false;
      const v = this.core.view;
      this.fencing.onView({ id: v.id, members: v.members.map((m) => this.nameOf(m)) }, this.core.quorumState.quorate);
    }
  }

  private nameOf(id: number): string {
    return this.cfg.nodes.find((n) => n.id === id)?.name ?? `#${id}`;
  }

  status(): StatusReport {
    const report = buildStatus(this.core.status(), {
      cluster: this.cfg.cluster.name,
      version: VERSION,
      selfName: this.cfg.node,
      uptime_s: (this.now() - this.started_ms) / 1000,
      waitForAll: this.cfg.cluster.wait_for_all,
      nodes: this.cfg.nodes.map((n) => ({ id: n.id, name: n.name, role: n.role })),
      linksTo: this.linksTo,
    });
    for (const n of report.nodes) {
      const bmc = this.cfg.nodes.find((x) => x.name === n.name)?.bmc;
      if (bmc) n.fencing = { device: "ipmi", ip: bmc.address, port: bmc.port, cipher: bmc.cipher };
      if (n.self) {
        const r = this.supervisorReport;
        if (r) {
          n.watchdog = { driver: r.watchdog.driver, timeout_s: r.watchdog.timeout_s, armed: r.watchdog.armed, resources_allowed: r.watchdog.resources_allowed };
          n.services = r.services.map((x) => ({ name: x.name, pid: x.pid ?? 0, restarts: x.restarts }));
          report.supervisor = r;
        } else {
          n.watchdog = { driver: "none", timeout_s: 0, armed: false, resources_allowed: false };
          n.services = [{ name: "cluster", pid: process.pid, restarts: 0 }];
        }
      } else {
        const info = this.peerInfo.get(n.name);
        // Only what the peer said recently: a stale report would claim a watchdog that may be gone.
        if (info && this.now() - info.at_ms < 5000) {
          n.watchdog = info.watchdog;
          n.services = info.services;
        }
      }
    }
    if (this.fencing) report.fencing = this.fencing.status();
    if (this.cib) {
      const r = this.cib.raft;
      const leader = r.leader();
      report.cib = { dc: leader ? this.nameOf(leader) : null, term: r.term, commit_index: r.commitIndex, applied_index: r.appliedIndex };
    }
    if (this.crm) {
      const node_flags: Record<string, { standby: boolean; maintenance: boolean }> = {};
      for (const [n, f] of Object.entries(this.cib?.state.nodes ?? {})) node_flags[n] = { standby: f.standby, maintenance: f.maintenance };
      report.crm = { ...this.crm.report(), resources: this.crm.resources(), node_flags };
    }
    if (this.volumes) report.volumes = this.volumes;
    return report;
  }

  /** The local socket's commands: status for everyone on the box (root), changes through the CIB. */
  private async handle(req: { cmd?: unknown; [k: string]: unknown }): Promise<unknown> {
    switch (req.cmd) {
      case "status":
        return { ok: true, status: this.status() };
      case "fence-history":
        return { ok: true, history: this.fenceHistory() };
      case "crm-show": {
        const st = this.cibClient.state();
        const doc = st?.config.doc as { yaml?: unknown; moves?: unknown; target_roles?: unknown } | null | undefined;
        return { ok: true, version: st?.config.version ?? 0, yaml: typeof doc?.yaml === "string" ? doc.yaml : null, moves: doc?.moves ?? {}, target_roles: doc?.target_roles ?? {}, nodes: st?.nodes ?? {} };
      }
      case "crm-configure": {
        if (typeof req.yaml !== "string") return { ok: false, error: "crm-configure needs yaml" };
        const source = typeof req.source === "string" ? req.source : "configuration";
        // Validate before anything is proposed: a bad file leaves the running configuration untouched.
        const { parseCrmYaml, CrmConfigError } = await import("../crm/yaml-config.ts");
        const { validateConfig, ModelError } = await import("../crm/model.ts");
        try {
          validateConfig(parseCrmYaml(req.yaml, source, this.cfg.nodes.map((n) => n.name)));
        } catch (e) {
          if (e instanceof CrmConfigError || e instanceof ModelError) return { ok: false, invalid: true, error: e.message };
          throw e;
        }
        const version = (this.cibClient.state()?.config.version ?? 0) + 1;
        // Moves and temporary target roles stay when the YAML is replaced (crm_resource's
        // cli-prefer constraints survive a configuration load the same way).
        const prev = this.crm?.configDoc();
        const doc = { ...(prev ?? {}), yaml: req.yaml };
        const r = await this.cibClient.propose({ kind: "config", version, doc });
        return r.ok ? { ok: true, version } : { ok: false, error: r.reason };
      }
      case "node-attr": {
        const node = typeof req.node === "string" ? req.node : "";
        if (!this.cfg.nodes.some((n) => n.name === node)) return { ok: false, invalid: true, error: `no node named "${node}"` };
        if (typeof req.name !== "string" || !(typeof req.value === "string" || req.value === null)) return { ok: false, invalid: true, error: "node-attr needs name and value (a string, or null to remove)" };
        const r = await this.cibClient.propose({ kind: "node-attr", node, name: req.name, value: req.value });
        return r.ok ? { ok: true } : { ok: false, error: r.reason };
      }
      case "node-attr-get": {
        const node = typeof req.node === "string" ? req.node : "";
        const st = this.cibClient.state();
        if (!st) return { ok: false, error: "the CIB is not running on this node" };
        const attrs = Object.hasOwn(st.nodes, node) ? st.nodes[node]!.attributes : {};
        return { ok: true, value: typeof req.name === "string" && Object.hasOwn(attrs, req.name) ? attrs[req.name] : null };
      }
      case "resource":
        if (!this.crm) return { ok: false, error: "the resource manager is not running" };
        return handleResourceCommand(req, { crm: this.crm, cib: this.cibClient, hosts: this.cfg.nodes.filter((n) => n.role === "host").map((n) => n.name) });
      case "node-flags": {
        const node = typeof req.node === "string" ? req.node : "";
        if (!this.cfg.nodes.some((n) => n.name === node)) return { ok: false, invalid: true, error: `no node named "${node}"` };
        const flags: { standby?: boolean; maintenance?: boolean } = {};
        if (typeof req.standby === "boolean") flags.standby = req.standby;
        if (typeof req.maintenance === "boolean") flags.maintenance = req.maintenance;
        const r = await this.cibClient.propose({ kind: "node-flags", node, ...flags });
        return r.ok ? { ok: true } : { ok: false, error: r.reason };
      }
      default:
        return { ok: false, error: `unknown command ${String(req.cmd)}` };
    }
  }

  private startStatusServer(): Promise<void> {
    mkdirSync(this.cfg.run_dir, { recursive: true, mode: 0o700 });
    const path = statusSocketPath(this.cfg);
    rmSync(path, { force: true });
    return new Promise((resolve, reject) => {
      const server = createServer((sock) => {
        let buf = "";
        sock.setEncoding("utf8");
        sock.on("data", (d: string) => {
          buf += d;
          // Room for a resource configuration; the CIB itself refuses entries over ~24 kB.
          if (buf.length > 1 << 20) return sock.destroy();
          const nl = buf.indexOf("\n");
          if (nl < 0) return;
          let req: { cmd?: unknown; [k: string]: unknown };
          try {
            req = JSON.parse(buf.slice(0, nl)) as typeof req;
          } catch {
            sock.end(`${JSON.stringify({ ok: false, error: "request is not JSON" })}\n`);
            return;
          }
          void this.handle(req).then(
            (reply) => sock.end(`${JSON.stringify(reply)}\n`),
            (e: Error) => sock.end(`${JSON.stringify({ ok: false, error: e.message })}\n`),
          );
        });
        sock.on("error", () => undefined);
      });
      server.on("error", reject);
      server.listen(path, () => {
        // Status names the cluster's nodes and links: root only.
        chmodSync(path, 0o600);
        this.server = server;
        resolve();
      });
    });
  }

  /** A clean stop: tell the peers first (on every link, twice against loss), then close. */
  async stop(): Promise<void> {
    // Stop what runs here first; only a node that stopped everything may leave without fencing.
    if (this.local && this.local.active().length > 0) {
      const ok = await this.local.stopAll(this.cfg.fencing.self_fence_stop_timeout_ms);
      if (!ok) {
        this.log.error("node", `could not stop ${this.local.active().join(", ")}: leaving without a clean-stop announcement, so the peers fence this node`);
        this.crm?.close();
        this.local.close();
        if (this.timer) clearInterval(this.timer);
        return;
      }
    }
    this.crm?.close();
    this.local?.close();
    const leave = encodeServiceMessage({ svc: "leave", node: this.cfg.node });
    this.apply(this.core.broadcast(leave));
    await new Promise((r) => setTimeout(r, 30));
    this.apply(this.core.broadcast(leave));
    await new Promise((r) => setTimeout(r, 30));
    if (this.timer) clearInterval(this.timer);
    if (this.infoTimer) clearInterval(this.infoTimer);
    if (this.cibTimer) clearInterval(this.cibTimer);
    for (const l of this.udp.values()) l.close();
    this.serial?.close();
    this.server?.close();
    rmSync(statusSocketPath(this.cfg), { force: true });
    this.log.info("node", "stopped");
  }
}

/** Service messages are JSON objects whose first key is "svc"; the CIB's go to its own decoder. */
function isCibMessage(payload: Uint8Array): boolean {
  const head = new TextDecoder().decode(payload.subarray(0, 16));
  return head.startsWith('{"svc":"cib"');
}
