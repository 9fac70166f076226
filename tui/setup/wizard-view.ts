// The wizard's screens, laid out as lines: pure functions of the state (tested without a
// terminal), and one component that puts them in the common screen frame.
import { createElement as h, type ReactElement } from "react";
import type { Theme } from "../terminal/theme.ts";
import { BODY_ROWS, COLS, type StyledLine, padEnd, sanitize, seg, wrap } from "../ui/lines.ts";
import { type Hint, Screen } from "../ui/screen.ts";
import { type Field, type WizardEnv, buildSteps, focusable } from "./steps.ts";
import { summaryRows } from "./summary.ts";
import { type WizardState, currentStep } from "./wizard-reducer.ts";

const LABEL_W = 22;
const VALUE_X = 2 + LABEL_W + 2;
const VALUE_W = COLS - VALUE_X - 1;

export interface ScreenModel {
  title: string;
  right: string;
  body: StyledLine[];
  hints: Hint[];
}

function caret(focused: boolean): StyledLine {
  return focused ? [seg("_", "selected")] : [];
}

function tail(text: string, width: number): string {
  return text.length <= width ? text : `<${text.slice(text.length - width + 1)}`;
}

function optionText(f: Field, value: string): string[] {
  return (f.options ?? []).map((o) => `${o.value === value ? "(*)" : "( )"} ${o.label} [${o.key}]`);
}

function fieldLines(f: Field, s: WizardState, focused: boolean): StyledLine[] {
  const lines: StyledLine[] = [];
  const value = s.values[f.id] ?? "";
  const marker = focused ? ">" : " ";
  const label = (text: string): StyledLine => [seg(`${marker} `), seg(padEnd(text, LABEL_W), focused ? "heading" : undefined), seg(": ")];
  switch (f.kind) {
    case "text":
    case "password": {
      const shown = f.kind === "password" ? "*".repeat(value.length) : value;
      if (f.wide) {
        lines.push([seg(`${marker} `), seg(f.label, focused ? "heading" : undefined), seg(":")]);
        lines.push([seg("    "), seg(tail(shown, COLS - 6), "field"), ...caret(focused)]);
      } else lines.push([...label(f.label), seg(tail(shown, VALUE_W - 1), "field"), ...caret(focused)]);
      break;
    }
    case "choice": {
      const opts = optionText(f, value);
      const inline = opts.join("  ").length <= VALUE_W ? opts.join("  ") : opts.join(" ");
      if (inline.length <= VALUE_W) lines.push([...label(f.label), seg(inline)]);
      else {
        const chosen = f.options?.find((o) => o.value === value);
        lines.push([...label(f.label), seg(chosen ? chosen.label : "(none chosen)")]);
        for (const o of opts) lines.push([seg(`      ${o}`)]);
      }
      break;
    }
    case "multi": {
      const chosen = new Set(value.split(",").filter(Boolean));
      lines.push([...label(f.label), seg(chosen.size ? `${chosen.size} chosen` : "none chosen")]);
      const opts = f.options ?? [];
      if (opts.length === 0) lines.push([seg("      (no disks found)")]);
      opts.forEach((o, i) => {
        const here = focused && i === s.multiCursor;
        lines.push([seg(here ? "    > " : "      "), seg(`[${chosen.has(o.value) ? "x" : " "}] ${o.key} ${o.label}`, here ? "selected" : o.disabled ? "dim" : undefined)]);
      });
      break;
    }
    case "action": {
      const r = s.results[f.id];
      lines.push([...label(f.label), seg("[ Test ]", focused ? "selected" : "heading")]);
      if (r) {
        const head = r.state === "ok" ? "OK: " : r.state === "failed" ? "FAILED: " : "";
        wrap(head + sanitize(r.text), COLS - 8).forEach((l, i) => {
          const text = i === 0 ? l.slice(head.length) : l;
          lines.push([seg("      "), ...(i === 0 && head ? [seg(head, r.state === "ok" ? "ok" : "error")] : []), seg(text, r.state === "running" ? "warn" : undefined)]);
        });
      }
      break;
    }
    case "info": {
      lines.push([seg(`  ${f.label}:`, "heading")]);
      for (const l of f.lines ?? []) lines.push([seg("    "), seg(l, l.includes("-") && /^[A-Z2-7-]+$/.test(l) ? "heading" : undefined)]);
      break;
    }
  }
  const err = s.errors[f.id];
  if (err) for (const l of wrap(err, COLS - 7)) lines.push([seg("    "), seg(`! ${l}`, "error")]);
  return lines;
}

/** Keeps the focused line in view when a step has more lines than the body. */
function windowAround(lines: StyledLine[], focusAt: number, rows: number): StyledLine[] {
  if (lines.length <= rows) return lines;
  const start = Math.min(Math.max(0, focusAt - Math.floor(rows / 2)), lines.length - rows);
  return lines.slice(start, start + rows);
}

const NAV_HINTS: Hint[] = [
  ["Enter", "next"],
  ["Tab/^N", "down"],
  ["^P", "up"],
  ["Esc", "back"],
  ["^C", "quit"],
];

function hintsFor(f: Field | undefined): Hint[] {
  if (!f) return [["Enter", "continue"], ["Esc", "back"], ["^C", "quit"]];
  if (f.kind === "choice") return [["Space", "change"], ...NAV_HINTS];
  if (f.kind === "multi") return [["Space/number", "toggle"], ...NAV_HINTS];
  if (f.kind === "action") return [["t/Space", "run the test"], ...NAV_HINTS];
  return [["^U", "clear"], ...NAV_HINTS];
}

export function wizardModel(s: WizardState, env: WizardEnv): ScreenModel {
  const { step, index } = currentStep(s, env);
  // Until the role is chosen, count a host's steps (the most there can be).
  const total = buildSteps(s.values.role ? s.values : { ...s.values, role: "host-a" }, env).length - 1;
  const right = index === 0 ? "" : `step ${index} of ${total}`;
  if (s.phase === "applied" || s.phase === "finished") return appliedModel(s, env);
  if (step.id === "summary") return summaryModel(s, env, right);
  const body: StyledLine[] = [[seg(step.title, "heading")]];
  for (const l of step.intro) for (const w of wrap(l, COLS - 2)) body.push([seg(w)]);
  body.push([]);
  let focusAt = 0;
  const focused = step.fields.find((f) => f.id === s.focus);
  step.fields.forEach((f) => {
    if (f.id === "bmc.host-b.address") body.push([]); // one blank line between the two hosts
    if (f.id === s.focus) focusAt = body.length;
    body.push(...fieldLines(f, s, f.id === s.focus && focusable(f)));
  });
  const content = windowAround(body, focusAt, BODY_ROWS - 1);
  while (content.length < BODY_ROWS - 1) content.push([]);
  content.push(focused?.hint ? [seg(focused.hint, "dim")] : []);
  return { title: `hapd setup: ${step.title}`, right, body: content, hints: hintsFor(focused) };
}

function summaryModel(s: WizardState, env: WizardEnv, right: string): ScreenModel {
  const rows = summaryRows(s.values, env, s.results);
  const lines: StyledLine[] = [];
  for (const [label, value] of rows) {
    if (value.length > COLS - 20 && !value.includes(" ")) {
      // One long word (the join token): on its own line, never split.
      lines.push([seg(`  ${label}`, "heading")], [seg(`    ${value}`)]);
      continue;
    }
    const parts = wrap(value, COLS - 20);
    parts.forEach((p, i) => lines.push([seg(`  ${padEnd(i === 0 ? label : "", 16)}  `, "heading"), seg(p)]));
  }
  const foot: StyledLine[] =
    s.phase === "applying"
      ? [[seg("Applying...", "warn")]]
      : s.applyError
        ? wrap(`Apply failed, nothing was changed: ${sanitize(s.applyError)}`, COLS - 1)
            .slice(0, 3)
            .map((l) => [seg(l, "error")])
        : [[seg("Enter writes every file at once (write, fsync, rename).", "dim")]];
  const room = BODY_ROWS - 2 - foot.length;
  const maxScroll = Math.max(0, lines.length - room);
  const scroll = Math.min(s.scroll, maxScroll);
  const body: StyledLine[] = [[seg("Nothing has been written yet. Check, then Apply.", "heading"), seg(lines.length > room ? `  (lines ${scroll + 1}-${Math.min(lines.length, scroll + room)} of ${lines.length})` : "")]];
  body.push(...lines.slice(scroll, scroll + room));
  while (body.length < BODY_ROWS - foot.length) body.push([]);
  body.push(...foot);
  return {
    title: "hapd setup: Summary",
    right,
    body,
    hints: [
      ["Enter", "Apply"],
      ["Esc", "back"],
      ["j/k", "scroll"],
      ["^C", "quit"],
    ],
  };
}

function appliedModel(s: WizardState, env: WizardEnv): ScreenModel {
  const body: StyledLine[] = [[seg("The configuration was written.", "ok")], [], [seg("Files:")]];
  for (const f of s.written) body.push([seg(`  ${f}`)]);
  body.push([]);
  if (s.values["cluster.mode"] === "create") {
    body.push([seg("Join token for the other two boxes (also under J in the console menu):")]);
    body.push([seg(`  ${env.newToken}`, "heading")]);
    body.push([]);
  }
  body.push([seg("Start the node's services (hapd node) or reboot; the console menu shows")]);
  body.push([seg("their status once they run.")]);
  return { title: "hapd setup: done", right: "", body, hints: [["Enter", "continue to the console"]] };
}

export function WizardView(p: { state: WizardState; env: WizardEnv; theme: Theme }): ReactElement {
  const m = wizardModel(p.state, p.env);
  return h(Screen, { theme: p.theme, title: m.title, right: m.right, body: m.body, hints: m.hints });
}
