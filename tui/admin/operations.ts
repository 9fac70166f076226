// The operations that change the cluster: node standby / online / maintenance, and a resource's
// move, clear, cleanup and restart. Both screens walk the same steps: pick from a list, choose
// (a mode, a target host), confirm with y, wait for the node's answer, and show that answer on
// the list. Pure reducers and views; the controller (screens.ts) sends the command.
import type { ResourceReport, StatusReport } from "../../services/node/status.ts";
import type { CommandReply, NodeFlags, ResourceCommand } from "../ports.ts";
import type { Key } from "../terminal/key-parser.ts";
import { BODY_ROWS, COLS, type StyledLine, padEnd, sanitize, seg, wrap } from "../ui/lines.ts";
import type { Hint } from "../ui/screen.ts";
import { bindYesNo } from "./confirm.ts";
import { failSummary, lastFailureText, nodeModeText, resourceHeader, resourceRows } from "./resources-view.ts";
import { clock } from "./status-view.ts";

export type NodeMode = "standby" | "online" | "maintenance";

/** The same flags as `hapd node standby|online|maintenance` (services/cli/main.ts). */
export const NODE_MODES: ReadonlyArray<{ mode: NodeMode; key: string; about: string; flags: NodeFlags }> = [
  { mode: "standby", key: "s", about: "its resources are moved to another host", flags: { standby: true } },
  { mode: "online", key: "o", about: "clears standby and maintenance", flags: { standby: false, maintenance: false } },
  { mode: "maintenance", key: "m", about: "resources are left as they are and no longer managed", flags: { maintenance: true } },
];

export type Command = { kind: "node-flags"; node: string; mode: NodeMode } | { kind: "resource"; command: ResourceCommand };

export interface Outcome {
  ok: boolean;
  text: string;
}

export type OpStep = "list" | "choose" | "confirm" | "sending";

export interface OpState {
  step: OpStep;
  /** The row marked `>` in the list (a host, or a resource). */
  cursor: number;
  /** The row marked `>` in the choice (a mode, or a target host). */
  choice: number;
  /** What the confirmation asks about, then what is being sent. */
  pending: Command | null;
  /** The node's answer to the last command, shown under the list. */
  outcome: Outcome | null;
  /** The resource being moved, by id: the list may change under the choice (a new report), the
   * resource chosen must not. */
  subject: string | null;
}

export const initialOp: OpState = { step: "list", cursor: 0, choice: 0, pending: null, outcome: null, subject: null };

export type OpAction =
  | { type: "move"; dir: 1 | -1 }
  | { type: "pick"; index: number }
  | { type: "enter" }
  | { type: "back" }
  | { type: "letter"; ch: string }
  | { type: "yes" }
  | { type: "no" }
  | { type: "reply"; outcome: Outcome };

export interface OpResult {
  state: OpState;
  /** A command to send now (the state is then "sending"). */
  send: Command | null;
  close: boolean;
}

/** Keys by step: nothing while the node is asked (a second command must not overtake the first);
 * y/n in a confirmation; otherwise digits, letters, arrows, j/k, Enter and Esc/q. */
export function bindOpKey(k: Key, step: OpStep): OpAction | null {
  if (step === "sending") return null;
  if (step === "confirm") {
    const yn = bindYesNo(k);
    return yn === "yes" ? { type: "yes" } : yn === "no" ? { type: "no" } : null;
  }
  if (k.name === "up") return { type: "move", dir: -1 };
  if (k.name === "down" || k.name === "tab") return { type: "move", dir: 1 };
  if (k.name === "enter") return { type: "enter" };
  if (k.name === "escape") return { type: "back" };
  if (k.name !== "char" || !k.ch) return null;
  const ch = k.ch.toLowerCase();
  if (ch === "q") return { type: "back" };
  if (ch === "j") return { type: "move", dir: 1 };
  if (ch === "k") return { type: "move", dir: -1 };
  if (/^[1-9]$/.test(ch)) return { type: "pick", index: Number(ch) - 1 };
  return { type: "letter", ch };
}

const stay = (state: OpState): OpResult => ({ state, send: null, close: false });
const wrapIndex = (i: number, n: number) => (n === 0 ? 0 : (i + n) % n);
const clampIndex = (i: number, n: number) => Math.max(0, Math.min(i, n - 1));

/** Shared by both screens: the confirmation, the wait, and going back. */
function common(s: OpState, a: OpAction): OpResult | null {
  if (s.step === "sending") return a.type === "reply" ? stay({ ...s, step: "list", pending: null, outcome: a.outcome }) : stay(s);
  if (a.type === "reply") return stay(s);
  if (s.step === "confirm") {
    if (a.type === "yes" && s.pending) return { state: { ...s, step: "sending" }, send: s.pending, close: false };
    if (a.type === "no" || a.type === "back") return stay({ ...s, step: "list", pending: null });
    return stay(s);
  }
  if (a.type === "back") return s.step === "choose" ? stay({ ...s, step: "list" }) : { state: s, send: null, close: true };
  return null;
}

const confirm = (s: OpState, pending: Command): OpResult => stay({ ...s, step: "confirm", pending, outcome: null });

/** Node mode. `hosts` are the nodes offered (the configured hosts). */
export function reduceNodeMode(s: OpState, a: OpAction, hosts: readonly string[]): OpResult {
  const c = common(s, a);
  if (c) return c;
  const cursor = clampIndex(s.cursor, hosts.length);
  if (s.step === "list") {
    if (hosts.length === 0) return stay(s);
    if (a.type === "move") return stay({ ...s, cursor: wrapIndex(cursor + a.dir, hosts.length) });
    if (a.type === "pick") return a.index < hosts.length ? stay({ ...s, cursor: a.index, step: "choose", choice: 0 }) : stay(s);
    if (a.type === "enter") return stay({ ...s, cursor, step: "choose", choice: 0 });
    return stay(s);
  }
  // step "choose": a mode for hosts[cursor]
  const node = hosts[cursor];
  if (node === undefined) return stay({ ...s, step: "list" });
  if (a.type === "move") return stay({ ...s, choice: wrapIndex(s.choice + a.dir, NODE_MODES.length) });
  const picked = a.type === "enter" ? NODE_MODES[s.choice] : a.type === "letter" ? NODE_MODES.find((m) => m.key === a.ch) : a.type === "pick" ? NODE_MODES[a.index] : undefined;
  return picked ? confirm(s, { kind: "node-flags", node, mode: picked.mode }) : stay(s);
}

/** The letters of the resource list, and what each does to the resource marked `>`. */
export const RESOURCE_KEYS: ReadonlyArray<{ key: string; label: string }> = [
  { key: "m", label: "move" },
  { key: "c", label: "clear move" },
  { key: "u", label: "clean up" },
  { key: "r", label: "restart" },
];

/** Resources. `resources` is the list shown (the report's, in its order); `hosts` the move targets. */
export function reduceResources(s: OpState, a: OpAction, resources: readonly ResourceReport[], hosts: readonly string[]): OpResult {
  const c = common(s, a);
  if (c) return c;
  const cursor = clampIndex(s.cursor, resources.length);
  const resource = resources[cursor]?.id;
  if (s.step === "list") {
    if (resource === undefined) return stay(s);
    if (a.type === "move") return stay({ ...s, cursor: wrapIndex(cursor + a.dir, resources.length) });
    if (a.type === "pick") return a.index < resources.length ? stay({ ...s, cursor: a.index }) : stay(s);
    if (a.type === "enter" || (a.type === "letter" && a.ch === "m")) return hosts.length ? stay({ ...s, cursor, step: "choose", subject: resource, choice: defaultTarget(resources[cursor], hosts) }) : stay(s);
    if (a.type !== "letter") return stay(s);
    const s2 = { ...s, cursor };
    if (a.ch === "c") return confirm(s2, { kind: "resource", command: { action: "clear", resource } });
    if (a.ch === "u") return confirm(s2, { kind: "resource", command: { action: "cleanup", resource } });
    if (a.ch === "r") return confirm(s2, { kind: "resource", command: { action: "restart", resource } });
    return stay(s);
  }
  // step "choose": a target host for the resource picked on the list
  const subject = s.subject;
  if (subject === null) return stay({ ...s, step: "list" });
  if (a.type === "move") return stay({ ...s, choice: wrapIndex(s.choice + a.dir, hosts.length) });
  const index = a.type === "enter" ? s.choice : a.type === "pick" ? a.index : -1;
  const node = hosts[index];
  return node === undefined ? stay(s) : confirm(s, { kind: "resource", command: { action: "move", resource: subject, node } });
}

/** The first host the resource does not run on: the usual target of a move. */
export function defaultTarget(r: ResourceReport | undefined, hosts: readonly string[]): number {
  if (!r) return 0;
  const i = hosts.findIndex((h) => !r.active.some((a) => a.node === h));
  return i < 0 ? 0 : i;
}

/** What the confirmation asks, in a sentence or two. */
export function describeCommand(c: Command): { question: string; effect: string } {
  if (c.kind === "node-flags") {
    const m = c.mode;
    if (m === "standby") return { question: `Put ${c.node} in standby?`, effect: "Its resources are stopped there and started on another host." };
    if (m === "maintenance") return { question: `Put ${c.node} in maintenance?`, effect: "Its resources keep running but the cluster no longer starts, stops or monitors them there." };
    return { question: `Bring ${c.node} online?`, effect: "Standby and maintenance are cleared; the cluster may place resources on it again." };
  }
  const r = c.command;
  switch (r.action) {
    case "move":
      return { question: `Move ${r.resource} to ${r.node}?`, effect: `It is stopped where it runs and started on ${r.node}. The move stays (a location preference) until it is cleared with c.` };
    case "clear":
      return { question: `Clear the move of ${r.resource}?`, effect: "The location preference that a move left is removed; the cluster may move the resource back." };
    case "cleanup":
      return { question: `Clean up the failures of ${r.resource}?`, effect: "Its fail counts are reset on every node and the cluster checks where it runs again." };
    case "restart":
      return { question: `Restart ${r.resource}?`, effect: "It is stopped and started again where it runs." };
  }
}

/** The line shown under the list once the node answered (or could not be asked). */
export function outcomeOf(c: Command, reply: CommandReply | Error): Outcome {
  const what = c.kind === "node-flags" ? `${c.node} ${c.mode}` : `${c.command.action} ${c.command.resource}${c.command.action === "move" ? ` to ${c.command.node}` : ""}`;
  if (reply instanceof Error) return { ok: false, text: `${what}: no answer from the node: ${reply.message}` };
  if (!reply.ok) return { ok: false, text: `${what} refused: ${reply.error}` };
  // node-flags is answered once the CIB committed it (services/node/runtime.ts); a resource
  // command's ok says only that the node took it, so the line claims no more than that.
  if (c.kind === "node-flags") return { ok: true, text: `${c.mode === "online" ? `${c.node} is online` : `${c.node} is in ${c.mode}`} (recorded in the CIB)` };
  return { ok: true, text: `${what}: accepted by the node` };
}

function outcomeLines(o: Outcome | null): StyledLine[] {
  if (!o) return [];
  const lines = wrap(sanitize(o.text), 76);
  return lines.map((l, i) => [seg(i === 0 ? (o.ok ? "OK: " : "! ") : "    "), seg(l, o.ok ? "ok" : "error")]);
}

function confirmLines(s: OpState): StyledLine[] {
  if (!s.pending) return [];
  const d = describeCommand(s.pending);
  const out: StyledLine[] = [[seg(sanitize(d.question), "heading")], ...wrap(sanitize(d.effect), 78).map((l) => [seg(l)]), []];
  out.push(s.step === "sending" ? [seg("asking the node...", "warn")] : [seg("y", "key"), seg(" yes   "), seg("n", "key"), seg(" / Esc no")]);
  return out;
}

const marker = (here: boolean) => seg(here ? "> " : "  ");

export function nodeModeBody(s: OpState, hosts: readonly string[], report: StatusReport | null, self: string): StyledLine[] {
  const body: StyledLine[] = [];
  for (const l of wrap("Standby moves a node's resources to another host; maintenance leaves them running, unmanaged; online undoes both. Recorded in the replicated CIB.", 78)) body.push([seg(l)]);
  body.push([]);
  if (s.step === "confirm" || s.step === "sending") return [...body, ...confirmLines(s)];
  const cursor = clampIndex(s.cursor, hosts.length);
  if (s.step === "choose") {
    const node = hosts[cursor] ?? "";
    const now = nodeModeText(report, node);
    body.push([seg(sanitize(`${node} is ${now ?? "in a mode not known here (no resource manager report)"}. Set it to:`), "heading")], []);
    NODE_MODES.forEach((m, i) => body.push([marker(i === s.choice), seg(` ${m.key.toUpperCase()} `, i === s.choice ? "selected" : "key"), seg(`  ${padEnd(m.mode, 13)}`), seg(m.about, "dim")]));
    return body;
  }
  body.push([seg(`      ${padEnd("NODE", 12)}NOW`, "heading")]);
  hosts.forEach((n, i) => {
    const mode = nodeModeText(report, n) ?? "unknown";
    body.push([marker(i === cursor), seg(` ${i + 1} `, i === cursor ? "selected" : "key"), seg(` ${padEnd(sanitize(n), 12)}`), seg(padEnd(mode, 24), mode === "online" ? undefined : "warn"), seg(n === self ? "(this node)" : "", "dim")]);
  });
  if (hosts.length === 0) body.push([seg("No hosts in the configuration.", "warn")]);
  if (!report?.crm) body.push([], [seg(report ? "The node sent no resource manager report: the modes now are not known." : "No status from the node: the modes now are not known.", "dim")]);
  body.push([], ...outcomeLines(s.outcome));
  return body;
}

export function nodeModeHints(s: OpState): Hint[] {
  if (s.step === "confirm") return [["y", "yes"], ["n/Esc", "no"]];
  if (s.step === "sending") return [];
  if (s.step === "choose") return [["s/o/m", "choose"], ["Up/Down", "move"], ["Enter", "choose"], ["Esc", "back"]];
  return [["1-9", "pick"], ["Up/Down", "move"], ["Enter", "choose"], ["Esc/q", "back"]];
}

/** Rows of the resource list that fit above its detail lines. */
const LIST_ROWS = BODY_ROWS - 9;

export function resourcesBody(s: OpState, report: StatusReport | null, hosts: readonly string[]): StyledLine[] {
  const resources = report?.crm?.resources ?? [];
  if (s.step === "confirm" || s.step === "sending") return [[], ...confirmLines(s)];
  if (!report) return [[], [seg("No status from the node: the resources are not known.", "warn")], [], ...outcomeLines(s.outcome)];
  if (resources.length === 0) return [[], [seg("No resources configured", "heading")], [], [seg("Resources are configured with `hapd crm configure FILE` (docs/scheduler.md).")], [], ...outcomeLines(s.outcome)];
  const cursor = clampIndex(s.cursor, resources.length);
  const selected = resources[cursor]!;
  if (s.step === "choose") {
    const moving = resources.find((r) => r.id === s.subject);
    const body: StyledLine[] = [[], [seg(sanitize(`Move ${s.subject ?? ""} to:`), "heading")], []];
    hosts.forEach((n, i) => {
      const here = moving?.active.some((a) => a.node === n) ?? false;
      body.push([marker(i === s.choice), seg(` ${i + 1} `, i === s.choice ? "selected" : "key"), seg(` ${padEnd(sanitize(n), 12)}`), seg(here ? "runs here now" : "", "dim")]);
    });
    body.push([], [seg("Only hosts are offered: the arbitrator runs no resources.", "dim")]);
    return body;
  }
  // The list: every resource's rows (a clone has one per node), `>` on the selected one's first
  // row, scrolled so that the selection is always visible.
  const rows: Array<{ line: StyledLine; index: number; first: boolean }> = [];
  resources.forEach((r, index) => resourceRows(r, COLS - 2).forEach((line, j) => rows.push({ line, index, first: j === 0 })));
  const at = rows.findIndex((r) => r.index === cursor);
  const top = Math.max(0, Math.min(at - Math.floor(LIST_ROWS / 2), rows.length - LIST_ROWS));
  const body: StyledLine[] = [[seg("  "), ...resourceHeader(COLS - 2)]];
  for (const r of rows.slice(top, top + LIST_ROWS)) body.push([marker(r.first && r.index === cursor), ...r.line]);
  if (rows.length > LIST_ROWS) body.push([seg(`  rows ${top + 1}-${Math.min(rows.length, top + LIST_ROWS)} of ${rows.length}`, "dim")]);
  body.push([]);
  body.push(...resourceDetail(selected));
  if (s.outcome) body.push([], ...outcomeLines(s.outcome));
  return body;
}

/** The selected resource in full: what it is, where it failed last and why. */
function resourceDetail(r: ResourceReport): StyledLine[] {
  const out: StyledLine[] = [[seg(sanitize(`${r.id}: ${r.agent}${r.parent ? `, in ${r.parent}` : ""}${r.managed ? "" : ", unmanaged"}${r.moved_to ? `, moved to ${r.moved_to}` : ""}`).slice(0, COLS), "heading")]];
  const failure = lastFailureText(r);
  if (failure && r.last_failure) out.push([seg(sanitize(`  last failure ${clock(r.last_failure.at_ms)}: ${failure}`).slice(0, COLS), "error")]);
  else out.push([seg("  no failure recorded", "dim")]);
  out.push([seg(sanitize(`  fail counts: ${failSummary(r) === "-" ? "none" : failSummary(r)}`).slice(0, COLS))]);
  return out;
}

export function resourcesHints(s: OpState): Hint[] {
  if (s.step === "confirm") return [["y", "yes"], ["n/Esc", "no"]];
  if (s.step === "sending") return [];
  if (s.step === "choose") return [["1-9", "target"], ["Up/Down", "move"], ["Enter", "choose"], ["Esc", "back"]];
  return [...RESOURCE_KEYS.map((k): Hint => [k.key, k.label]), ["j/k", "select"], ["Esc/q", "back"]];
}
