// Resources and volumes as table rows, shared by the status screen and the Resources screen.
// Fixed columns, so a refresh in which one value moves (a sync percentage, a fail count) changes
// only those cells; everything from the node is sanitized and cut to its column, never wrapped.
import type { ResourceReport, StatusReport, VolumeReport } from "../../services/node/status.ts";
import { type StyledLine, fit, padEnd, sanitize, seg } from "../ui/lines.ts";

/** Column widths of the resource table (the note takes what is left of the line). */
const RES_COLS = { id: 15, on: 9, role: 11, fails: 11 } as const;
const VOL_COLS = { name: 12, role: 10, disk: 13, peer: 13, conn: 14 } as const;

export function resourceHeader(width: number): StyledLine {
  const c = RES_COLS;
  return [seg(`${padEnd("RESOURCE", c.id)}${padEnd("ON", c.on)}${padEnd("ROLE", c.role)}${padEnd("FAILS", c.fails)}NOTE`.slice(0, width), "heading")];
}

/** "host-b:2,host-a:1": where it failed and how often (not yet cleaned up). */
export function failSummary(r: ResourceReport): string {
  const entries = Object.entries(r.fail_counts).filter(([, n]) => n > 0);
  return entries.length ? entries.map(([node, n]) => `${node}:${n}`).join(",") : "-";
}

/** The short form of the last failure, for a table cell: "monitor rc 7 on host-b: not running". */
export function lastFailureText(r: ResourceReport): string | null {
  const f = r.last_failure;
  if (!f) return null;
  return `${f.op} rc ${f.rc} on ${f.node}${f.reason ? `: ${f.reason}` : ""}`;
}

/** What an operator must know besides where it runs: a move, unmanaged, a target role, the last failure. */
export function resourceNote(r: ResourceReport): string {
  const parts: string[] = [];
  if (r.moved_to) parts.push(`moved to ${r.moved_to}`);
  if (!r.managed) parts.push("unmanaged");
  if (r.target_role && r.target_role !== "Started") parts.push(`target ${r.target_role}`);
  const failure = lastFailureText(r);
  if (failure) parts.push(failure);
  return parts.join("; ");
}

/** The rows of one resource: one per node it is active on (a clone is active on several), or
 * one "Stopped" row. Only the first row names the resource. */
export function resourceRows(r: ResourceReport, width: number): StyledLine[] {
  const c = RES_COLS;
  const noteWidth = Math.max(0, width - c.id - c.on - c.role - c.fails);
  const failed = Object.values(r.fail_counts).some((n) => n > 0);
  const instances: Array<{ node: string; role: string }> = r.active.length ? r.active : [{ node: "-", role: "Stopped" }];
  return instances.map((a, i) => {
    const first = i === 0;
    const stopped = a.role === "Stopped";
    return [
      // One column is kept blank so that a long id never runs into the node name.
      seg(padEnd(first ? fit(sanitize(r.id), c.id - 1) : "", c.id)),
      seg(padEnd(sanitize(a.node), c.on)),
      seg(padEnd(a.role, c.role), stopped ? "warn" : undefined),
      seg(padEnd(first ? sanitize(failSummary(r)) : "", c.fails), first && failed ? "error" : undefined),
      seg(first ? fit(sanitize(resourceNote(r)), noteWidth) : "", "dim"),
    ];
  });
}

export function volumeHeader(): StyledLine {
  const c = VOL_COLS;
  return [seg(`${padEnd("VOLUME", c.name)}${padEnd("ROLE", c.role)}${padEnd("DISK", c.disk)}${padEnd("PEER DISK", c.peer)}${padEnd("CONNECTION", c.conn)}SYNC`, "heading")];
}

export function formatEta(s: number): string {
  const t = Math.max(0, Math.round(s));
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, "0")}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, "0")}m`;
}

/** "45.2% 3m12s": the percentage keeps its width (right-aligned) so that a refresh rewrites only
 * the digits that moved. */
export function syncText(v: VolumeReport): string {
  if (v.sync_percent === null) return v.disk === "UpToDate" && v.peer_disk === "UpToDate" ? "in sync" : "-";
  const pct = `${v.sync_percent.toFixed(1).padStart(5)}%`;
  return v.eta_s === null ? pct : `${pct} ${formatEta(v.eta_s)}`;
}

export function volumeRow(v: VolumeReport): StyledLine {
  const c = VOL_COLS;
  const degraded = v.disk !== "UpToDate" || v.peer_disk !== "UpToDate";
  return [
    seg(padEnd(sanitize(v.name), c.name)),
    seg(padEnd(v.role, c.role)),
    seg(padEnd(v.disk, c.disk), v.disk === "UpToDate" ? undefined : "warn"),
    seg(padEnd(v.peer_disk, c.peer), v.peer_disk === "UpToDate" ? undefined : "warn"),
    seg(padEnd(sanitize(v.connection), c.conn)),
    seg(syncText(v), v.sync_percent !== null ? "warn" : degraded ? undefined : "ok"),
  ];
}

export function resourcesOf(r: StatusReport | null): ResourceReport[] {
  return r?.crm?.resources ?? [];
}

/** The hosts a resource can be moved to: configured hosts only, never the arbitrator, which runs
 * no resources. */
export function hostNames(nodes: ReadonlyArray<{ name: string; role: string }>): string[] {
  return nodes.filter((n) => n.role === "host").map((n) => n.name);
}

/** standby / maintenance / online as the CIB records it, or null when the node sent no crm report. */
export function nodeModeText(r: StatusReport | null, node: string): string | null {
  const f = r?.crm?.node_flags[node];
  if (!r?.crm) return null;
  if (!f) return "online";
  const parts = [f.standby ? "standby" : "", f.maintenance ? "maintenance" : ""].filter(Boolean);
  return parts.length ? parts.join(", ") : "online";
}
