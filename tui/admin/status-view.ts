// The live status screen, as lines. Laid out so that a refresh changes as few cells as possible:
// fixed columns, and the values that move every second (uptime, packet counters, the time of
// the update) kept on their own short lines.
import type { StatusReport } from "../../services/node/status.ts";
import { type StyledLine, padEnd, sanitize, seg } from "../ui/lines.ts";

export const NOT_IN_BUILD = "not available in this build";

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

export function statusBody(r: StatusReport | null, error: string | null, updated_ms: number | null, refresh_ms: number): StyledLine[] {
  const body: StyledLine[] = [];
  if (!r) {
    body.push([seg("No status from the node.", "heading")], []);
    if (error) body.push([seg(sanitize(error), "error")], []);
    body.push([seg("Is `hapd node` running with this configuration? The status comes from its")], [seg("unix socket; this screen asks again every few seconds.")]);
    return body;
  }
  const q = r.quorum;
  body.push([seg(padEnd(`Cluster ${r.cluster}, node ${r.node}`, 56)), seg(`up ${formatUptime(r.uptime_s)}`)]);
  body.push([seg(`View ${r.view.id}: ${r.view.members.join(", ")}`)]);
  const quorum = q.quorate ? `QUORATE (${q.votes}/${q.expected} votes, ${q.needed} needed)` : `NO QUORUM: ${q.reason || `${q.votes}/${q.expected} votes, ${q.needed} needed`}`;
  body.push([seg("Quorum: "), seg(quorum, q.quorate ? "ok" : "error"), seg(q.wait_for_all && !q.established ? "  (waiting for all nodes)" : "")]);
  body.push([]);
  body.push([seg(`${padEnd("NODE", 10)}${padEnd("ROLE", 12)}${padEnd("STATE", 9)}${padEnd("RING0", 7)}${padEnd("RING1", 7)}${padEnd("SERIAL", 8)}NOTE`, "heading")]);
  for (const n of r.nodes.slice(0, 8)) {
    const link = (k: "ring0" | "ring1" | "serial") => n.links[k] ?? "-";
    let note = n.self ? "(this node)" : !n.reachable ? "unreachable" : n.state === "offline" ? "reachable, not in view" : "";
    const reasons = Object.entries(n.link_reasons ?? {}).map(([k, v]) => `${k}: ${v}`);
    if (reasons.length) note = `${note} ${reasons.join("; ")}`.trim();
    const line = `${padEnd(n.name, 10)}${padEnd(n.role, 12)}${padEnd(n.state, 9)}${padEnd(link("ring0"), 7)}${padEnd(link("ring1"), 7)}${padEnd(link("serial"), 8)}`;
    body.push([seg(sanitize(line), n.state === "online" ? undefined : "warn"), seg(sanitize(note))]);
  }
  body.push([]);
  body.push([seg(padEnd("Resources", 12)), seg(NOT_IN_BUILD, "dim")]);
  body.push([seg(padEnd("Volumes", 12)), seg(NOT_IN_BUILD, "dim")]);
  body.push(...fencingLines(r));
  body.push([]);
  const dropped = Object.values(r.counters.dropped).reduce((a, b) => a + b, 0);
  body.push([seg(`Packets sent ${r.counters.sent}, received ${r.counters.received}, dropped ${dropped}`)]);
  const stale = error ? [seg(`  last answer failed: ${sanitize(error)}`, "error")] : [];
  body.push([seg(`Updated ${updated_ms === null ? "-" : clock(updated_ms)}, every ${Math.round(refresh_ms / 1000)} s`, "dim"), ...stale]);
  return body;
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
