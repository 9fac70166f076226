// Bytes from the keyboard (already decoded to a string) into keys. Pure: the caller keeps the
// unfinished tail (`rest`) and calls again with more input, or with `flush` once the line has been
// quiet long enough (see key-source.ts) to decide that a lone Esc really was the Esc key.
//
// Over a slow serial line an arrow key (ESC [ A) can arrive as ESC, then "[A" a few ms later; ink
// waits only 20 ms, xsconsole 50 ms. Until `flush`, an ESC at the end of the input is kept.

export type KeyName =
  | "char"
  | "enter"
  | "escape"
  | "tab"
  | "backtab"
  | "backspace"
  | "delete"
  | "up"
  | "down"
  | "left"
  | "right"
  | "home"
  | "end"
  | "pageup"
  | "pagedown"
  | "ctrl";

export interface Key {
  name: KeyName;
  /** The character for "char", the lower-case letter for "ctrl" (Ctrl-C is { name: "ctrl", ch: "c" }). */
  ch?: string;
}

export interface ParseResult {
  keys: Key[];
  /** An escape sequence that has begun but not ended yet. */
  rest: string;
}

/** A sequence longer than this is garbage (line noise), not a key. */
export const MAX_SEQUENCE_CHARS = 16;

const CSI_FINAL: Record<string, KeyName> = { A: "up", B: "down", C: "right", D: "left", H: "home", F: "end", Z: "backtab" };
const CSI_TILDE: Record<string, KeyName> = { "1": "home", "7": "home", "4": "end", "8": "end", "3": "delete", "5": "pageup", "6": "pagedown" };
const SS3_FINAL: Record<string, KeyName> = { A: "up", B: "down", C: "right", D: "left", H: "home", F: "end" };

export function parseKeys(input: string, flush: boolean): ParseResult {
  const keys: Key[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c === "\x1b") {
      const seq = readEscape(input, i);
      if (seq === "incomplete") {
        if (!flush && input.length - i <= MAX_SEQUENCE_CHARS) return { keys, rest: input.slice(i) };
        // The line went quiet mid-sequence: it was the Esc key, and what followed are plain keys.
        keys.push({ name: "escape" });
        i += 1;
        continue;
      }
      if (seq.key) keys.push(seq.key);
      i += seq.length;
      continue;
    }
    i += 1;
    if (c === "\r") {
      if (input[i] === "\n") i += 1;
      keys.push({ name: "enter" });
    } else if (c === "\n") keys.push({ name: "enter" });
    else if (c === "\t") keys.push({ name: "tab" });
    else if (c === "\x7f" || c === "\b") keys.push({ name: "backspace" });
    else if (c < " ") keys.push({ name: "ctrl", ch: String.fromCharCode(c.charCodeAt(0) + 96) });
    else if (c >= "\x80" && c <= "\x9f") continue; // C1 controls: never a key here.
    else keys.push({ name: "char", ch: c });
  }
  return { keys, rest: "" };
}

type Escape = "incomplete" | { key: Key | null; length: number };

function readEscape(s: string, at: number): Escape {
  const next = s[at + 1];
  if (next === undefined) return "incomplete";
  if (next === "[") {
    let j = at + 2;
    while (j < s.length && /[0-9;:?<=>]/.test(s[j]!)) j++;
    if (j >= s.length) return "incomplete";
    const final = s[j]!;
    const length = j - at + 1;
    if (final < "@" || final > "~") return { key: { name: "escape" }, length: 1 };
    const params = s.slice(at + 2, j);
    if (final === "~") {
      const name = CSI_TILDE[params.split(";")[0] ?? ""];
      return { key: name ? { name } : null, length };
    }
    const name = CSI_FINAL[final];
    return { key: name ? { name } : null, length };
  }
  if (next === "O") {
    const final = s[at + 2];
    if (final === undefined) return "incomplete";
    const name = SS3_FINAL[final];
    return { key: name ? { name } : null, length: 3 };
  }
  // ESC followed by anything else: the Esc key, then that key on its own.
  return { key: { name: "escape" }, length: 1 };
}

export function describeKey(k: Key): string {
  if (k.name === "char") return JSON.stringify(k.ch);
  if (k.name === "ctrl") return `ctrl-${k.ch}`;
  return k.name;
}
