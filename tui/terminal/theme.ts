// Glyphs and styles, decided from the terminal's capabilities. Styles are SGR strings written by
// the console itself (never chalk's, whose level follows the wrong stream): without attributes
// they are plain text, and nothing on screen depends on them alone.
import type { TerminalCaps } from "./caps.ts";

export type StyleName = "plain" | "title" | "selected" | "key" | "error" | "ok" | "warn" | "dim" | "heading" | "field";

export interface Theme {
  caps: TerminalCaps;
  glyph: { hrule: string; ellipsis: string; up: string; down: string; bullet: string };
  style(name: StyleName, text: string): string;
}

const SGR: Record<Exclude<StyleName, "plain">, { attr: string; colour: string }> = {
  title: { attr: "7", colour: "1;7" },
  selected: { attr: "7", colour: "7" },
  key: { attr: "1", colour: "1;36" },
  error: { attr: "1", colour: "1;31" },
  ok: { attr: "1", colour: "32" },
  warn: { attr: "1", colour: "33" },
  dim: { attr: "", colour: "2" },
  heading: { attr: "1", colour: "1" },
  field: { attr: "4", colour: "4" },
};

export function createTheme(caps: TerminalCaps): Theme {
  const glyph = caps.unicode
    ? { hrule: "\u2500", ellipsis: "\u2026", up: "\u2191", down: "\u2193", bullet: "\u2022" }
    : { hrule: "-", ellipsis: "...", up: "^", down: "v", bullet: "*" };
  return {
    caps,
    glyph,
    style(name, text) {
      if (name === "plain" || text === "" || !caps.attributes) return text;
      const s = SGR[name];
      const params = caps.colour ? s.colour : s.attr;
      return params ? `\x1b[${params}m${text}\x1b[0m` : text;
    },
  };
}
