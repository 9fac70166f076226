// The one layout every screen uses at 80x24: a title bar, the body, a rule and a line of key
// hints. Each line is laid out in advance (ui/lines.ts); ink only places them.
import { Box, Text } from "ink";
import { createElement as h, type ReactElement } from "react";
import type { Theme } from "../terminal/theme.ts";
import { BODY_ROWS, COLS, ROWS, type StyledLine, padEnd, render, seg } from "./lines.ts";

export type Hint = [key: string, label: string];

export interface ScreenProps {
  theme: Theme;
  title: string;
  right?: string;
  body: StyledLine[];
  hints: Hint[];
}

export function hintsLine(hints: Hint[]): StyledLine {
  const line: StyledLine = [];
  for (const [k, label] of hints) {
    if (line.length) line.push(seg("  "));
    line.push(seg(k, "key"), seg(` ${label}`));
  }
  return line;
}

export function titleText(title: string, right = ""): string {
  const room = COLS - right.length - 2;
  return ` ${padEnd(title, room)}${right} `;
}

export function Screen(p: ScreenProps): ReactElement {
  const lines: StyledLine[] = [];
  lines.push([seg(titleText(p.title, p.right), "title")]);
  for (let i = 0; i < BODY_ROWS; i++) lines.push(p.body[i] ?? []);
  lines.push([seg(p.theme.glyph.hrule.repeat(COLS))]);
  lines.push(hintsLine(p.hints));
  return h(
    Box,
    { flexDirection: "column", width: COLS, height: ROWS },
    ...lines.map((l, i) => h(Text, { key: i }, render(p.theme, l, i === ROWS - 1 ? COLS - 1 : COLS) || " ")),
  );
}

/** Shown instead of any screen when the terminal is smaller than 80x24. */
export function TooSmall(p: { theme: Theme; cols: number; rows: number; quitting: boolean }): ReactElement {
  const w = Math.max(10, p.cols);
  const msg = [`Terminal is ${p.cols}x${p.rows}.`, "The hapd console needs", "at least 80x24.", p.quitting ? "Leave the console? y/n" : "Enlarge it, or ^C to leave."];
  return h(Box, { flexDirection: "column", width: w }, ...msg.map((m, i) => h(Text, { key: i }, m.slice(0, w))));
}
