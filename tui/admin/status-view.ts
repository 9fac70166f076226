// The live status screen, as lines. Laid out so that a refresh changes as few cells as possible:
// fixed columns, and the values that move every second (uptime, packet counters, the time of
// the update) kept on their own short lines.
import type { StatusReport } from "../../services/node/status.ts";
import { BODY_ROWS, COLS, type StyledLine, padEnd, sanitize, seg } from "../ui/lines.ts";
import { nodeModeText, resourceHeader, resourceRows, resourcesOf, volumeHeader, volumeRow } from "./resources-view.ts";

export function formatUptime(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

export function clock(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** One line for the menu: the state of the cluster in a glance. */
export function statusSummary(r: StatusReport | null, error: string | null): StyledLine {
  if (!r) return [seg("Cluster: "), seg(error ? `no status (${sanitize(error)})` : "asking the node...", error ? "error" : "dim")];
  const q = r.quorum;
  const online = r.nodes.filter((n) => n.state === "online").length;
  return [
    seg(`Cluster ${r.cluster}: `),
    seg(q.quorate ? "QUORATE" : "NO QUORUM", q.quorate ? "ok" : "error"),
    seg(`  ${online}/${r.nodes.length} nodes online  view ${r.view.id}`),
  ];
}

/** The status screen's body. `scroll` is the first resource row shown when the resources do not
 * fit (the screen keeps it; j/k move it); it is clamped here. */
export function statusBody(r: StatusReport | null, error: string | null, updated_ms: number | null, refresh_ms: number, scroll = 0): StyledLine[] {
  return statusLayout(r, error, updated_ms, refresh_ms, scroll).body;
}

/** Rows the resource section may scroll by on this report (the screen clamps its offset to it). */
export function statusScrollMax(r: StatusReport | null): number {
  return statusLayout(r, null, null, 1000, 0).maxScroll;
}

function statusLayout(r: StatusReport | null, error: string | null, updated_ms: number | null, refresh_ms: number, scroll: number): { body: StyledLine[]; maxScroll: number } {
  const body: StyledLine[] = [];
  if (!r) {
    body.push([seg("No status from the node.", "heading")], []);
    if (error) body.push([seg(sanitize(error), "error")], []);
    body.push([seg("Is `hapd node` running with this configuration? The status comes from its")], [seg("unix socket; this screen asks again every few seconds.")]);
    return { body, maxScroll: 0 };
  }
  const q = r.quorum;
  body.push([seg(padEnd(`Cluster ${r.cluster}, node ${r.node}`, 56)), seg(`up ${formatUptime(r.uptime_s)}`)]);
  body.push([seg(padEnd(`View ${r.view.id}: ${r.view.members.join(", ")}`, 56)), seg(dcText(r), "dim")]);
  const quorum = q.quorate ? `QUORATE (${q.votes}/${q.expected} votes, ${q.needed} needed)` : `NO QUORUM: ${q.reason || `${q.votes}/${q.expected} votes, ${q.needed} needed`}`;
  body.push([seg("Quorum: "), seg(quorum, q.quorate ? "ok" : "error"), seg(q.wait_for_all && !q.established ? "  (waiting for all nodes)" : "")]);
  body.push([]);
  body.push([seg(`${padEnd("NODE", 10)}${padEnd("ROLE", 12)}${padEnd("STATE", 9)}${padEnd("RING0", 7)}${padEnd("RING1", 7)}${padEnd("SERIAL", 8)}NOTE`, "heading")]);
  for (const n of r.nodes.slice(0, 8)) {
    const link = (k: "ring0" | "ring1" | "serial") => n.links[k] ?? "-";
    let note = n.self ? "(this node)" : !n.reachable ? "unreachable" : n.state === "offline" ? "reachable, not in view" : "";
    // Standby and maintenance are what an operator set on purpose: shown beside the node.
    const mode = nodeModeText(r, n.name);
    if (mode && mode !== "online") note = `${note} ${mode}`.trim();
    const reasons = Object.entries(n.link_reasons ?? {}).map(([k, v]) => `${k}: ${v}`);
    if (reasons.length) note = `${note} ${reasons.join("; ")}`.trim();
    const line = `${padEnd(n.name, 10)}${padEnd(n.role, 12)}${padEnd(n.state, 9)}${padEnd(link("ring0"), 7)}${padEnd(link("ring1"), 7)}${padEnd(link("serial"), 8)}`;
    body.push([seg(sanitize(line), n.state === "online" ? undefined : "warn"), seg(sanitize(note))]);
  }
  body.push([]);
  const tail: StyledLine[] = [...volumeLines(r), ...fencingLines(r), []];
  const dropped = Object.values(r.counters.dropped).reduce((a, b) => a + b, 0);
  tail.push([seg(`Packets sent ${r.counters.sent}, received ${r.counters.received}, dropped ${dropped}`)]);
  const stale = error ? [seg(`  last answer failed: ${sanitize(error)}`, "error")] : [];
  tail.push([seg(`Updated ${updated_ms === null ? "-" : clock(updated_ms)}, every ${Math.round(refresh_ms / 1000)} s`, "dim"), ...stale]);
  // The resources get the rows the rest leaves; when they need more, they scroll.
  const section = resourceSection(r, BODY_ROWS - body.length - tail.length, scroll);
  body.push(...section.lines, ...tail);
  return { body, maxScroll: section.maxScroll };
}

function dcText(r: StatusReport): string {
  const dc = r.cib?.dc ?? (r.crm?.dc ? r.node : null);
  if (!dc) return r.cib ? "DC: none (electing)" : "";
  const t = r.crm?.transition;
  return t?.state === "running" ? `DC ${dc}, ${t.actions} actions` : `DC ${dc}`;
}

/** Every resource's rows (one per active instance), as the status screen lists them. */
export function allResourceRows(r: StatusReport | null): StyledLine[] {
  return resourcesOf(r).flatMap((res) => resourceRows(res, COLS));
}

/** The resource part of the status screen in `room` rows: a header and the rows from `scroll`,
 * with a last line saying which rows are shown when they do not all fit. */
export function resourceSection(r: StatusReport, room: number, scroll: number): { lines: StyledLine[]; maxScroll: number } {
  const rows = allResourceRows(r);
  if (rows.length === 0) return { lines: [[seg(padEnd("Resources", 12)), seg("no resources configured", "dim")]], maxScroll: 0 };
  const fits = rows.length <= room - 1;
  const shown = fits ? rows.length : Math.max(1, room - 2);
  const maxScroll = rows.length - shown;
  const from = Math.max(0, Math.min(scroll, maxScroll));
  const lines: StyledLine[] = [resourceHeader(COLS), ...rows.slice(from, from + shown)];
  if (!fits) lines.push([seg(`  rows ${from + 1}-${from + shown} of ${rows.length}; j/k scroll`, "dim")]);
  return { lines, maxScroll };
}

export function volumeLines(r: StatusReport): StyledLine[] {
  const vols = r.volumes ?? [];
  if (vols.length === 0) return [[seg(padEnd("Volumes", 12)), seg("none on this node", "dim")]];
  return [volumeHeader(), ...vols.slice(0, 4).map(volumeRow)];
}

/** The newest fencing outcomes (the node keeps the whole history: `hapd fence history`). */
export function fencingLines(r: StatusReport): StyledLine[] {
  const f = r.fencing;
  const done = (f?.recent ?? []).filter((e) => e.phase === "done").slice(-2);
  const active = (f?.targets ?? []).filter((t) => t.state !== "fenced");
  if (!f || (done.length === 0 && active.length === 0)) return [[seg(padEnd("Fencing", 12)), seg("none recorded", "dim")]];
  const out: StyledLine[] = [];
  for (const t of active) out.push([seg(padEnd(out.length ? "" : "Fencing", 12)), seg(sanitize(`${t.target} ${t.state} (by ${t.executor}, level ${t.level})`).slice(0, 66), "warn")]);
  for (const e of done) {
    const line = `${clock(e.at_wall_ms)} ${e.target} ${e.result === "ok" ? "OFF" : "FAILED"} by ${e.executor}`;
    out.push([seg(padEnd(out.length ? "" : "Fencing", 12)), seg(sanitize(line).slice(0, 66), e.result === "ok" ? "ok" : "error")]);
  }
  return out;
}
