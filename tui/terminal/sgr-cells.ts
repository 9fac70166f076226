// A line of text with SGR sequences (what ink produces) as a row of cells: one character and one
// attribute word per column. The screen writer compares cells, not strings, so that a change of
// encoding (ink re-encodes SGR) never counts as a change on screen.

export const ATTR_BOLD = 1;
export const ATTR_DIM = 2;
export const ATTR_UNDERLINE = 4;
export const ATTR_INVERSE = 8;
const FG_SHIFT = 4; // 5 bits: 0 = default, 1..16 = colour 0..15
const BG_SHIFT = 9;
const COLOUR_MASK = 0x1f;

export function fgOf(attr: number): number {
  return ((attr >> FG_SHIFT) & COLOUR_MASK) - 1;
}
export function bgOf(attr: number): number {
  return ((attr >> BG_SHIFT) & COLOUR_MASK) - 1;
}
function withFg(attr: number, colour: number): number {
  return (attr & ~(COLOUR_MASK << FG_SHIFT)) | ((colour + 1) << FG_SHIFT);
}
function withBg(attr: number, colour: number): number {
  return (attr & ~(COLOUR_MASK << BG_SHIFT)) | ((colour + 1) << BG_SHIFT);
}

export interface Row {
  chars: string[];
  attrs: number[];
}

export function blankRow(cols: number): Row {
  return { chars: new Array<string>(cols).fill(" "), attrs: new Array<number>(cols).fill(0) };
}

function applySgr(attr: number, params: string): number {
  const list = params === "" ? [0] : params.split(/[;:]/).map((p) => (p === "" ? 0 : Number(p)));
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    if (p === 0) attr = 0;
    else if (p === 1) attr |= ATTR_BOLD;
    else if (p === 2) attr |= ATTR_DIM;
    else if (p === 4) attr |= ATTR_UNDERLINE;
    else if (p === 7) attr |= ATTR_INVERSE;
    else if (p === 22) attr &= ~(ATTR_BOLD | ATTR_DIM);
    else if (p === 24) attr &= ~ATTR_UNDERLINE;
    else if (p === 27) attr &= ~ATTR_INVERSE;
    else if (p >= 30 && p <= 37) attr = withFg(attr, p - 30);
    else if (p === 39) attr = withFg(attr, -1);
    else if (p >= 40 && p <= 47) attr = withBg(attr, p - 40);
    else if (p === 49) attr = withBg(attr, -1);
    else if (p >= 90 && p <= 97) attr = withFg(attr, p - 90 + 8);
    else if (p >= 100 && p <= 107) attr = withBg(attr, p - 100 + 8);
    else if (p === 38 || p === 48) {
      // 256-colour and true-colour forms: skip their arguments; the console does not use them.
      i += list[i + 1] === 5 ? 2 : list[i + 1] === 2 ? 4 : 1;
    }
  }
  return attr;
}

/** Parses one line into exactly `cols` cells; characters beyond are dropped, missing ones are blank. */
export function parseStyledLine(line: string, cols: number): Row {
  const row = blankRow(cols);
  let attr = 0;
  let col = 0;
  let i = 0;
  while (i < line.length && col < cols) {
    const c = line[i]!;
    if (c === "\x1b") {
      if (line[i + 1] === "[") {
        let j = i + 2;
        while (j < line.length && !/[@-~]/.test(line[j]!)) j++;
        if (line[j] === "m") attr = applySgr(attr, line.slice(i + 2, j));
        i = j + 1;
      } else if (line[i + 1] === "]") {
        // OSC (hyperlinks): skip to BEL or ST.
        let j = i + 2;
        while (j < line.length && line[j] !== "\x07" && !(line[j] === "\x1b" && line[j + 1] === "\\")) j++;
        i = line[j] === "\x07" ? j + 1 : j + 2;
      } else i += 2;
      continue;
    }
    const cp = line.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    i += ch.length;
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) continue; // controls never reach the screen
    row.chars[col] = ch;
    row.attrs[col] = attr;
    col++;
  }
  return row;
}
