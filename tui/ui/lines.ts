// Text laid out by the console itself, so that it fits 80 columns exactly and never relies on
// ink's truncation (which appends a Unicode ellipsis an ASCII terminal cannot show).
import type { StyleName, Theme } from "../terminal/theme.ts";

export const COLS = 80;
export const ROWS = 24;
/** Rows between the title bar and the rule above the key hints. */
export const BODY_ROWS = ROWS - 3;

export interface Seg {
  text: string;
  style?: StyleName;
}
export type StyledLine = Seg[];

export const seg = (text: string, style?: StyleName): Seg => (style ? { text, style } : { text });
export const plain = (text: string): StyledLine => [seg(text)];

/** Only printable ASCII reaches the screen from outside (log lines, device names): a stray
 * escape sequence in a log file must not drive the terminal, and wide characters would break
 * the column arithmetic. */
export function sanitize(text: string): string {
  return text.replace(/\t/g, "    ").replace(/[^\x20-\x7e]/g, "?");
}

export function fit(text: string, width: number): string {
  return text.length > width ? text.slice(0, Math.max(0, width)) : text;
}

export function padEnd(text: string, width: number): string {
  const t = fit(text, width);
  return t + " ".repeat(width - t.length);
}

export function lineWidth(line: StyledLine): number {
  return line.reduce((n, s) => n + s.text.length, 0);
}

/** Cuts a line to `width` columns (segments past the edge are dropped or shortened). */
export function clip(line: StyledLine, width = COLS): StyledLine {
  const out: StyledLine = [];
  let left = width;
  for (const s of line) {
    if (left <= 0) break;
    const text = fit(s.text, left);
    out.push({ ...s, text });
    left -= text.length;
  }
  return out;
}

export function render(theme: Theme, line: StyledLine, width = COLS): string {
  return clip(line, width)
    .map((s) => theme.style(s.style ?? "plain", s.text))
    .join("");
}

/** Word-wraps plain text into lines of at most `width` columns. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const para of text.split("\n")) {
    let line = "";
    for (const word of para.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        out.push(line);
        line = "";
      }
      let w = word;
      while (w.length > width) {
        if (line) {
          out.push(line);
          line = "";
        }
        out.push(w.slice(0, width));
        w = w.slice(width);
      }
      line = line ? `${line} ${w}` : w;
    }
    out.push(line);
  }
  return out;
}
