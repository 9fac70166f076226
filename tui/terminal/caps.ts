// What the terminal at the other end can show, decided from the environment alone.
//
// chalk and supports-color are not asked: supports-color ignores NO_COLOR, chalk at level 0 drops
// bold and inverse too, and is-unicode-supported says yes to TERM=vt100. The console emits its own
// SGR sequences from these capabilities, and marks the selection with a `>` column so that nothing
// depends on attributes alone.

export interface TerminalCaps {
  /** The TERM value the decision was made from ("vt100" when unset). */
  term: string;
  /** No cursor addressing at all: whole frames are printed one after the other. */
  dumb: boolean;
  /** SGR bold / underline / inverse (VT100 with AVO has them; dumb has nothing). */
  attributes: boolean;
  /** SGR colours 30-37. Off for NO_COLOR, vt100-class terminals and dumb. */
  colour: boolean;
  /** Box-drawing glyphs; otherwise ASCII only. Decided from the locale. */
  unicode: boolean;
  /** DECTCEM (CSI ?25l/h): a VT100 does not know it, so the cursor is parked instead. */
  hideCursor: boolean;
}

/** Terminal types that are VT100-class: no colour, no DECTCEM, no UTF-8. */
const VT100_CLASS = /^(vt1\d\d|vt52|ansi|dumb)$/;

export function localeIsUtf8(env: NodeJS.ProcessEnv): boolean {
  // POSIX precedence: LC_ALL overrides LC_CTYPE, which overrides LANG. An empty value counts as unset.
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || "";
  return /utf-?8/i.test(locale);
}

export function detectCaps(env: NodeJS.ProcessEnv): TerminalCaps {
  const term = (env.TERM || "vt100").toLowerCase();
  const dumb = term === "dumb";
  const vt100 = VT100_CLASS.test(term);
  // NO_COLOR: "when present and not an empty string" (no-color.org).
  const noColour = typeof env.NO_COLOR === "string" && env.NO_COLOR !== "";
  return {
    term,
    dumb,
    attributes: !dumb,
    colour: !dumb && !vt100 && !noColour,
    unicode: !dumb && !vt100 && localeIsUtf8(env),
    hideCursor: !dumb && !vt100,
  };
}

export function describeCaps(c: TerminalCaps): string {
  const parts = [`TERM=${c.term}`, c.unicode ? "UTF-8" : "ASCII", c.colour ? "colour" : "no colour"];
  if (c.dumb) parts.push("no cursor addressing");
  return parts.join(", ");
}
