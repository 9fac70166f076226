// The log viewer: the tail of the node's log file, scrolled by line or page, filtered by a
// substring. Follows the end of the file while the view is at the bottom.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { Key } from "../terminal/key-parser.ts";
import { BODY_ROWS, type StyledLine, fit, sanitize, seg } from "../ui/lines.ts";
import type { Hint } from "../ui/screen.ts";

/** Only the tail is read: a log can be large and a serial console has no use for all of it. */
export const LOG_TAIL_BYTES = 256 * 1024;
export const LOG_ROWS = BODY_ROWS - 2;
const PAN_STEP = 40;
const MAX_PAN = 4000;

export interface LogState {
  path: string;
  lines: string[];
  error: string | null;
  /** First shown line, in the filtered list; Infinity-like "end" is `follow`. */
  top: number;
  follow: boolean;
  filter: string;
  editing: { kind: "filter" | "path"; text: string } | null;
  /** Columns scrolled to the right, for lines longer than the screen. */
  left: number;
}

export type LogAction =
  | { type: "loaded"; lines: string[]; error: string | null }
  | { type: "scroll"; by: number }
  | { type: "home" }
  | { type: "pan"; by: number }
  | { type: "end" }
  | { type: "edit"; kind: "filter" | "path" }
  | { type: "char"; ch: string }
  | { type: "backspace" }
  | { type: "commit" }
  | { type: "cancel" }
  | { type: "clear-filter" }
  | { type: "close" };

export function initialLog(path: string): LogState {
  return { path, lines: [], error: null, top: 0, follow: true, filter: "", editing: null, left: 0 };
}

export function filtered(s: LogState): string[] {
  if (!s.filter) return s.lines;
  const f = s.filter.toLowerCase();
  return s.lines.filter((l) => l.toLowerCase().includes(f));
}

function clampTop(s: LogState, top: number): { top: number; follow: boolean } {
  const max = Math.max(0, filtered(s).length - LOG_ROWS);
  const t = Math.min(Math.max(0, top), max);
  return { top: t, follow: t >= max };
}

export function reduceLog(s: LogState, a: LogAction): LogState {
  if (s.editing) {
    const e = s.editing;
    switch (a.type) {
      case "char":
        return /^[\x20-\x7e]$/.test(a.ch) && e.text.length < 200 ? { ...s, editing: { ...e, text: e.text + a.ch } } : s;
      case "backspace":
        return { ...s, editing: { ...e, text: e.text.slice(0, -1) } };
      case "commit": {
        if (e.kind === "filter") {
          const next = { ...s, filter: e.text, editing: null };
          return { ...next, ...clampTop(next, Number.MAX_SAFE_INTEGER) };
        }
        return e.text ? { ...initialLog(e.text), filter: s.filter } : { ...s, editing: null };
      }
      case "cancel":
        return { ...s, editing: null };
      case "loaded":
        break;
      default:
        return s;
    }
  }
  switch (a.type) {
    case "loaded": {
      const next = { ...s, lines: a.lines, error: a.error };
      return { ...next, ...clampTop(next, s.follow ? Number.MAX_SAFE_INTEGER : s.top) };
    }
    case "scroll":
      return { ...s, ...clampTop(s, s.top + a.by) };
    case "home":
      return { ...s, ...clampTop(s, 0) };
    case "pan":
      return { ...s, left: Math.min(MAX_PAN, Math.max(0, s.left + a.by)) };
    case "end":
      return { ...s, ...clampTop(s, Number.MAX_SAFE_INTEGER) };
    case "edit":
      return { ...s, editing: { kind: a.kind, text: a.kind === "filter" ? s.filter : s.path } };
    case "clear-filter": {
      const next = { ...s, filter: "" };
      return { ...next, ...clampTop(next, Number.MAX_SAFE_INTEGER) };
    }
    default:
      return s;
  }
}

export function bindLogKey(k: Key, editing: boolean): LogAction | null {
  if (editing) {
    if (k.name === "char") return { type: "char", ch: k.ch ?? "" };
    if (k.name === "backspace") return { type: "backspace" };
    if (k.name === "enter") return { type: "commit" };
    if (k.name === "escape") return { type: "cancel" };
    return null;
  }
  switch (k.name) {
    case "up":
      return { type: "scroll", by: -1 };
    case "down":
      return { type: "scroll", by: 1 };
    case "pageup":
      return { type: "scroll", by: -(LOG_ROWS - 1) };
    case "pagedown":
      return { type: "scroll", by: LOG_ROWS - 1 };
    case "home":
      return { type: "home" };
    case "end":
      return { type: "end" };
    case "left":
      return { type: "pan", by: -PAN_STEP };
    case "right":
      return { type: "pan", by: PAN_STEP };
    case "escape":
      return { type: "close" };
    case "char":
      switch (k.ch) {
        case "k":
          return { type: "scroll", by: -1 };
        case "j":
          return { type: "scroll", by: 1 };
        case "b":
          return { type: "scroll", by: -(LOG_ROWS - 1) };
        case " ":
          return { type: "scroll", by: LOG_ROWS - 1 };
        case "g":
          return { type: "home" };
        case "G":
          return { type: "end" };
        case "<":
          return { type: "pan", by: -PAN_STEP };
        case ">":
          return { type: "pan", by: PAN_STEP };
        case "/":
          return { type: "edit", kind: "filter" };
        case "c":
          return { type: "clear-filter" };
        case "o":
          return { type: "edit", kind: "path" };
        case "q":
          return { type: "close" };
        default:
          return null;
      }
    default:
      return null;
  }
}

export function logBody(s: LogState): StyledLine[] {
  const list = filtered(s);
  const body: StyledLine[] = [];
  if (s.editing) {
    const label = s.editing.kind === "filter" ? "Filter (Enter applies, Esc cancels): " : "Log file (Enter opens, Esc cancels): ";
    body.push([seg(label, "heading"), seg(fit(s.editing.text, 78 - label.length), "field"), seg("_", "selected")]);
  } else {
    const where = `${fit(sanitize(s.path), 50)}${s.filter ? `  filter "${fit(sanitize(s.filter), 16)}"` : ""}`;
    body.push([seg(where, "heading")]);
  }
  if (s.error) {
    body.push([seg(sanitize(s.error), "error")]);
    return body;
  }
  const shown = list.slice(s.top, s.top + LOG_ROWS);
  for (const l of shown) body.push([seg(fit(sanitize(l).slice(s.left), 80))]);
  while (body.length < LOG_ROWS + 1) body.push([]);
  const pos = list.length === 0 ? (s.filter ? "no line matches the filter" : "the log is empty") : `lines ${s.top + 1}-${s.top + shown.length} of ${list.length}${s.filter ? ` matching (${s.lines.length} read)` : ""}`;
  body.push([seg(`${pos}${s.follow ? ", following the end" : ""}${s.left ? `, from column ${s.left + 1}` : ""}`, "dim")]);
  return body;
}

export const LOG_HINTS: Hint[] = [
  ["j/k", "line"],
  ["Space/b", "page"],
  ["g/G", "ends"],
  ["</>", "pan"],
  ["/", "filter"],
  ["c", "clear"],
  ["o", "file"],
  ["q", "back"],
];

/** Reads the last LOG_TAIL_BYTES of a file as lines (the first, partial line is dropped). */
export function readLogTail(path: string): { lines: string[]; error: string | null } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { lines: [], error: `${path}: ${code === "ENOENT" ? "no such file (has the node run yet?)" : (code ?? (e as Error).message)}` };
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - LOG_TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    let lines = buf.subarray(0, got).toString("utf8").split("\n");
    if (start > 0) lines = lines.slice(1);
    if (lines[lines.length - 1] === "") lines.pop();
    return { lines, error: null };
  } catch (e) {
    return { lines: [], error: `${path}: ${(e as Error).message}` };
  } finally {
    closeSync(fd);
  }
}
