// The status contract of `hapd status --json`, and its 80-column rendering for a person.
import type { CoreStatus, LinkName, Role } from "../membership/core.ts";
import { LINK_ID } from "../membership/core.ts";
import type { FenceEvent, TargetStatus } from "../fencing/core.ts";
import type { SupervisorReport } from "../supervisor/protocol.ts";

export type LinkState = "up" | "down";

export interface NodeReport {
  name: string;
  id: number;
  role: Role;
  state: "online" | "offline";
  /** Heard on at least one link (a node can be reachable and still outside our view). */
  reachable: boolean;
  links: Partial<Record<LinkName, LinkState>>;
  /** Why a link of this node is down, where we know (local device errors). */
  link_reasons?: Partial<Record<LinkName, string>>;
  self?: boolean;
  /** How this node is fenced (hosts with a BMC). */
  fencing?: { device: "ipmi"; ip: string; port: number; cipher: number };
  watchdog?: { driver: string; timeout_s: number; armed: boolean; resources_allowed: boolean };
  services?: Array<{ name: string; pid: number; restarts: number }>;
}

export interface StatusReport {
  node: string;
  cluster: string;
  version: string;
  incarnation: number;
  uptime_s: number;
  view: { id: number; members: string[] };
  quorum: { quorate: boolean; votes: number; expected: number; needed: number; reason: string; wait_for_all: boolean; established: boolean };
  nodes: NodeReport[];
  counters: { sent: number; received: number; dropped: Record<string, number> };
  fencing?: { targets: TargetStatus[]; recent: FenceEvent[] };
  /** The local supervisor's full report (services, watchdog details). */
  supervisor?: SupervisorReport;
  /** The replicated CIB as this node sees it: its leader is the designated coordinator (DC). */
  cib?: { dc: string | null; term: number; commit_index: number; applied_index: number };
  /** The resource manager: where each resource runs (from the CIB's recorded results). */
  crm?: CrmReport;
  /** Replicated volumes on this node (the volume service's report; absent when none is configured). */
  volumes?: VolumeReport[];
}

export interface ResourceReport {
  /** Resource id; a clone instance is reported under its clone's primitive id with one entry per node. */
  id: string;
  /** class:provider:type, e.g. ocf:heartbeat:anything, or hapd:volume. */
  agent: string;
  /** The group or clone it belongs to, if any. */
  parent: string | null;
  /** Where it is active and in which role; empty when stopped everywhere. */
  active: Array<{ node: string; role: "Started" | "Promoted" | "Unpromoted" }>;
  /** Failed here and not cleaned up: node → count. */
  fail_counts: Record<string, number>;
  last_failure: { node: string; op: string; rc: number; reason: string; at_ms: number } | null;
  managed: boolean;
  /** target-role meta when set (Stopped, Started, Unpromoted, Promoted). */
  target_role: string | null;
  /** Location preference set by `hapd resource move` (cleared by `clear`). */
  moved_to: string | null;
}

export interface CrmReport {
  config_version: number;
  /** Is this node the DC (it runs the scheduler)? */
  dc: boolean;
  /** What the DC is doing: idle, or running a transition of N actions (only known on the DC). */
  transition: { state: "idle" | "running"; actions: number; last_outcome: string } | null;
  resources: ResourceReport[];
  /** Per node: standby / maintenance as recorded in the CIB. */
  node_flags: Record<string, { standby: boolean; maintenance: boolean }>;
  /** Configuration problems the scheduler reported (not errors). */
  warnings: string[];
}

export interface VolumeReport {
  name: string;
  role: "Primary" | "Secondary";
  disk: "UpToDate" | "Inconsistent" | "Outdated" | "Diskless" | "Failed";
  peer_disk: "UpToDate" | "Inconsistent" | "Outdated" | "Diskless" | "DUnknown";
  connection: string;
  /** Resync progress 0..100 while syncing, else null. */
  sync_percent: number | null;
  /** Estimated seconds to finish the resync, else null. */
  eta_s: number | null;
}

export interface StatusContext {
  cluster: string;
  version: string;
  selfName: string;
  uptime_s: number;
  waitForAll: boolean;
  nodes: ReadonlyArray<{ id: number; name: string; role: Role }>;
  /** Link names configured between this node and each peer. */
  linksTo: ReadonlyMap<number, readonly LinkName[]>;
}

export function buildStatus(core: CoreStatus, ctx: StatusContext): StatusReport {
  const nameOf = (id: number) => ctx.nodes.find((n) => n.id === id)?.name ?? `#${id}`;
  const members = new Set(core.view.members);
  const nodes: NodeReport[] = ctx.nodes.map((n) => {
    if (n.id === core.self) {
      const links: Partial<Record<LinkName, LinkState>> = {};
      const reasons: Partial<Record<LinkName, string>> = {};
      const mine = new Set<LinkName>();
      for (const ls of ctx.linksTo.values()) for (const l of ls) mine.add(l);
      for (const l of mine) {
        const s = core.localLinks[LINK_ID[l]];
        links[l] = s?.up === false ? "down" : "up";
        if (s && !s.up && s.reason) reasons[l] = s.reason;
      }
      return { name: n.name, id: n.id, role: n.role, state: "online", reachable: true, links, ...(Object.keys(reasons).length ? { link_reasons: reasons } : {}), self: true };
    }
    const peer = core.peers.find((p) => p.id === n.id);
    const links: Partial<Record<LinkName, LinkState>> = {};
    for (const l of ctx.linksTo.get(n.id) ?? []) links[l] = peer?.links[LINK_ID[l]] ? "up" : "down";
    return { name: n.name, id: n.id, role: n.role, state: members.has(n.id) ? "online" : "offline", reachable: peer?.reachable ?? false, links };
  });
  return {
    node: ctx.selfName,
    cluster: ctx.cluster,
    version: ctx.version,
    incarnation: core.incarnation,
    uptime_s: Math.round(ctx.uptime_s),
    view: { id: core.view.id, members: core.view.members.map(nameOf) },
    quorum: {
      quorate: core.quorum.quorate,
      votes: core.quorum.votes,
      expected: core.quorum.expected,
      needed: core.quorum.needed,
      reason: core.quorum.reason,
      wait_for_all: ctx.waitForAll,
      established: core.established,
    },
    nodes,
    counters: { sent: core.sent, received: core.received, dropped: core.drops },
  };
}

const pad = (s: string, n: number) => (s.length >= n ? s.slice(0, n) : s + " ".repeat(n - s.length));

/** Plain text, at most 80 columns, ASCII only: it must read well on a serial console. */
export function renderStatus(s: StatusReport): string {
  const lines: string[] = [];
  lines.push(`hapd ${s.version}  cluster ${s.cluster}  node ${s.node}  up ${formatUptime(s.uptime_s)}`);
  const q = s.quorum;
  const quorum = q.quorate ? `QUORATE (${q.votes}/${q.expected} votes, ${q.needed} needed)` : `NO QUORUM: ${q.reason}`;
  lines.push(`view ${s.view.id}: ${s.view.members.join(", ")}`);
  lines.push(`quorum: ${quorum}`);
  if (s.cib) lines.push(`DC: ${s.cib.dc ?? "none (electing)"}  (CIB term ${s.cib.term}, committed ${s.cib.commit_index}, applied ${s.cib.applied_index})`.slice(0, 80));
  lines.push("");
  lines.push(`${pad("NODE", 10)}${pad("ROLE", 12)}${pad("STATE", 9)}${pad("RING0", 7)}${pad("RING1", 7)}${pad("SERIAL", 8)}NOTE`);
  for (const n of s.nodes) {
    const l = (k: LinkName) => n.links[k] ?? "-";
    let note = n.self ? "(this node)" : !n.reachable ? "unreachable" : n.state === "offline" ? "reachable, not in view" : "";
    const reasons = Object.entries(n.link_reasons ?? {}).map(([k, v]) => `${k}: ${v}`);
    if (reasons.length) note = `${note} ${reasons.join("; ")}`.trim();
    lines.push(`${pad(n.name, 10)}${pad(n.role, 12)}${pad(n.state, 9)}${pad(l("ring0"), 7)}${pad(l("ring1"), 7)}${pad(l("serial"), 8)}${note}`.slice(0, 80));
  }
  if (s.crm) lines.push(...renderResources(s.crm));
  if (s.volumes && s.volumes.length > 0) {
    lines.push("");
    lines.push(`${pad("VOLUME", 12)}${pad("ROLE", 11)}${pad("DISK", 14)}${pad("PEER", 14)}CONNECTION`);
    for (const v of s.volumes) {
      const sync = v.sync_percent !== null ? ` ${v.sync_percent.toFixed(1)}%${v.eta_s !== null ? ` eta ${Math.round(v.eta_s)}s` : ""}` : "";
      lines.push(`${pad(v.name, 12)}${pad(v.role, 11)}${pad(v.disk, 14)}${pad(v.peer_disk, 14)}${v.connection}${sync}`.slice(0, 80));
    }
  }
  const sup = s.supervisor;
  if (sup) {
    const w = sup.watchdog;
    const red = (t: string) => (process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== "dumb" ? `\x1b[31m${t}\x1b[0m` : t);
    lines.push("");
    if (w.choice === "none-by-choice") lines.push(red("watchdog: NONE (operator's choice): a hang of this node is not caught"));
    else if (w.error) lines.push(red(`watchdog: ${w.error}`.slice(0, 80)));
    else {
      const left = w.time_left_s === null ? "" : `, ${w.time_left_s}s left`;
      const kept = w.last_keepalive_ms_ago === null ? "" : `, fed ${(w.last_keepalive_ms_ago / 1000).toFixed(1)}s ago`;
      lines.push(`watchdog: ${w.driver} ${w.device} timeout ${w.timeout_s}s ${w.armed ? "armed" : "DISARMED"}${left}${kept}`.slice(0, 80));
      for (const warn of w.warnings) lines.push(`  warning: ${warn}`.slice(0, 80));
      if (!w.feeding) lines.push(red(`  NOT FEEDING: ${w.feed_stopped}`.slice(0, 80)));
    }
    for (const svc of sup.services) {
      const hb = svc.last_heartbeat_ms_ago === null ? "-" : `${svc.last_heartbeat_ms_ago}ms ago`;
      lines.push(`service ${svc.name}: ${svc.phase}, pid ${svc.pid ?? "-"}, restarts ${svc.restarts}, heartbeat ${hb}`.slice(0, 80));
    }
  }
  if (s.fencing && (s.fencing.targets.length > 0 || s.fencing.recent.length > 0)) {
    lines.push("");
    for (const t of s.fencing.targets) lines.push(`fencing ${t.target}: ${t.state}${t.executor ? ` (by ${t.executor}, level ${t.level})` : ""}`.slice(0, 80));
    const last = s.fencing.recent.filter((e) => e.phase === "done").slice(-3);
    for (const e of last) {
      const when = new Date(e.at_wall_ms).toISOString().slice(11, 19);
      lines.push(`${when} fence ${e.target} ${e.result === "ok" ? "OK" : "FAILED"} by ${e.executor}: ${e.detail ?? ""}`.slice(0, 80));
    }
  }
  const dropped = Object.entries(s.counters.dropped);
  if (dropped.length > 0) {
    lines.push("");
    lines.push(`dropped packets: ${dropped.map(([k, v]) => `${k} ${v}`).join(", ")}`.slice(0, 80));
  }
  return `${lines.join("\n")}\n`;
}

/** The resources section: where each runs, its role, failures; 80 columns. */
export function renderResources(c: CrmReport): string[] {
  const lines: string[] = [""];
  const flags = Object.entries(c.node_flags).flatMap(([n, f]) => [f.standby ? `${n} standby` : "", f.maintenance ? `${n} maintenance` : ""]).filter(Boolean);
  const tr = c.transition ? (c.transition.state === "running" ? `, running a transition of ${c.transition.actions} actions` : ", idle") : "";
  lines.push(`resources (config v${c.config_version}${c.dc ? ", this node is the DC" : ""}${tr})${flags.length ? `; ${flags.join(", ")}` : ""}`.slice(0, 80));
  if (c.resources.length === 0) {
    lines.push("  no resources configured (hapd crm configure FILE)");
  } else {
    lines.push(`  ${pad("RESOURCE", 16)}${pad("AGENT", 24)}WHERE`);
    for (const r of c.resources) {
      const where = r.active.length === 0 ? "Stopped" : r.active.map((a) => (a.role === "Started" ? a.node : `${a.node} (${a.role})`)).join(", ");
      const notes = [r.managed ? "" : "unmanaged", r.target_role ? `target ${r.target_role}` : "", r.moved_to ? `moved to ${r.moved_to}` : ""].filter(Boolean);
      lines.push(`  ${pad(r.id, 16)}${pad(r.agent, 24)}${where}${notes.length ? ` [${notes.join(", ")}]` : ""}`.slice(0, 80));
      const fails = Object.entries(r.fail_counts).map(([n, k]) => `${n}: ${k >= 1_000_000 ? "INFINITY" : k}`);
      if (fails.length > 0 || r.last_failure) {
        const lf = r.last_failure ? ` last: ${r.last_failure.op} on ${r.last_failure.node} rc ${r.last_failure.rc} ${r.last_failure.reason}` : "";
        lines.push(`    failures ${fails.join(", ")}${lf}`.slice(0, 80));
      }
    }
  }
  for (const w of c.warnings.slice(0, 3)) lines.push(`  warning: ${w}`.slice(0, 80));
  return lines;
}

function formatUptime(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}
