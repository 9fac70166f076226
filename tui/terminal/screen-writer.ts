// Puts ink's frames on the terminal, sending only what changed.
//
// ink runs in debug mode (every render is handed over as one whole frame, with no cursor
// movement of its own), so ink's CSI G, its erase-lines sequences and the synchronized-output
// mode (CSI ?2026h/l) never reach the line: a VT100 knows none of them. This writer keeps the
// cells on screen, compares each new frame cell by cell and sends, per changed run, one cursor
// position (CUP), the SGR changes and the characters; a changed tail that is blank becomes one
// erase-to-end-of-line (EL). Everything it sends is VT100: CUP, EL, ED, SGR 0/1/4/7 (plus 30-37
// where colour is allowed, and DECTCEM where the terminal knows it).
//
// For TERM=dumb there is no cursor addressing: each changed frame is printed whole, plain text.
import type { TerminalCaps } from "./caps.ts";
import { ATTR_BOLD, ATTR_DIM, ATTR_INVERSE, ATTR_UNDERLINE, type Row, bgOf, blankRow, fgOf, parseStyledLine } from "./sgr-cells.ts";

/** Two changed runs closer than this are sent as one: a CUP costs about as much. */
const MERGE_GAP_CELLS = 6;

export interface ScreenSize {
  cols: number;
  rows: number;
}

export class ScreenWriter {
  private screen: Row[] = [];
  private painted = false;
  private cursor: { row: number; col: number } | null = null;
  private attr = 0;
  private lastDumb = "";
  private lastFrame = "";
  /** Bytes sent to the terminal so far (what a serial line has to carry). */
  bytesWritten = 0;

  constructor(
    private readonly write: (data: string) => void,
    private readonly caps: TerminalCaps,
    private size: ScreenSize,
  ) {}

  get screenSize(): ScreenSize {
    return this.size;
  }

  /** The terminal changed size: the next frame is painted whole. */
  resize(size: ScreenSize): void {
    this.size = size;
    this.painted = false;
  }

  /** Ctrl-L: the screen may be garbled (line noise, another writer); paint everything again. */
  repaint(): void {
    this.painted = false;
    this.lastDumb = "";
    if (this.lastFrame) this.frame(this.lastFrame);
  }

  /** One frame from ink: lines separated by "\n", with SGR sequences. */
  frame(text: string): void {
    this.lastFrame = text;
    const lines = text.split("\n");
    if (this.caps.dumb) return this.frameDumb(lines);
    const { cols, rows } = this.size;
    const next: Row[] = [];
    for (let r = 0; r < rows; r++) {
      // Never write the bottom-right cell: some terminals scroll when it is written.
      const width = r === rows - 1 ? cols - 1 : cols;
      const row = parseStyledLine(lines[r] ?? "", width);
      if (width < cols) {
        row.chars.push(" ");
        row.attrs.push(0);
      }
      next.push(row);
    }
    let out = "";
    if (!this.painted) {
      out += `${this.caps.hideCursor ? "\x1b[?25l" : ""}\x1b[m\x1b[H\x1b[2J`;
      this.attr = 0;
      this.cursor = { row: 0, col: 0 };
      this.screen = [];
      for (let r = 0; r < rows; r++) this.screen.push(blankRow(cols));
      this.painted = true;
    }
    for (let r = 0; r < rows; r++) out += this.diffRow(r, this.screen[r]!, next[r]!);
    if (out) {
      if (this.attr !== 0) {
        out += "\x1b[m";
        this.attr = 0;
      }
      if (!this.caps.hideCursor) out += this.moveTo(rows - 1, cols - 1);
      this.send(out);
    }
    this.screen = next;
  }

  /** Leaves the terminal as it was found: attributes off, cursor visible, below the console. */
  close(clear: boolean): void {
    if (this.caps.dumb) {
      this.send("\r\n");
      return;
    }
    const { rows } = this.size;
    this.send(`\x1b[m${clear ? "\x1b[H\x1b[2J" : `\x1b[${rows};1H\r\n`}${this.caps.hideCursor ? "\x1b[?25h" : ""}`);
  }

  private send(data: string): void {
    this.bytesWritten += Buffer.byteLength(data);
    this.write(data);
  }

  private frameDumb(lines: string[]): void {
    const plain = lines.map((l) => parseStyledLine(l, this.size.cols).chars.join("").trimEnd());
    while (plain.length > 0 && plain[plain.length - 1] === "") plain.pop();
    const text = plain.join("\r\n");
    if (text === this.lastDumb) return;
    this.lastDumb = text;
    this.send(`\r\n${text}\r\n`);
  }

  private moveTo(row: number, col: number): string {
    if (this.cursor && this.cursor.row === row && this.cursor.col === col) return "";
    this.cursor = { row, col };
    return col === 0 ? `\x1b[${row + 1}H` : `\x1b[${row + 1};${col + 1}H`;
  }

  private sgr(attr: number): string {
    if (attr === this.attr) return "";
    this.attr = attr;
    const parts = ["0"];
    if (this.caps.attributes) {
      if (attr & ATTR_BOLD) parts.push("1");
      if (attr & ATTR_DIM && this.caps.colour) parts.push("2");
      if (attr & ATTR_UNDERLINE) parts.push("4");
      if (attr & ATTR_INVERSE) parts.push("7");
    }
    if (this.caps.colour) {
      const fg = fgOf(attr);
      const bg = bgOf(attr);
      if (fg >= 0) parts.push(String(fg < 8 ? 30 + fg : 90 + fg - 8));
      if (bg >= 0) parts.push(String(bg < 8 ? 40 + bg : 100 + bg - 8));
    }
    return parts.length === 1 ? "\x1b[m" : `\x1b[${parts.join(";")}m`;
  }

  private diffRow(r: number, prev: Row, next: Row): string {
    const cols = next.chars.length;
    const same = (c: number) => prev.chars[c] === next.chars[c] && prev.attrs[c] === next.attrs[c];
    // Changed runs, merged across short unchanged gaps.
    const runs: Array<[number, number]> = [];
    for (let c = 0; c < cols; c++) {
      if (same(c)) continue;
      const last = runs[runs.length - 1];
      if (last && c - last[1] <= MERGE_GAP_CELLS) last[1] = c;
      else runs.push([c, c]);
    }
    if (runs.length === 0) return "";
    // Where the new row is blank to the end: a changed run reaching into it ends with EL.
    let tail = cols;
    while (tail > 0 && next.chars[tail - 1] === " " && next.attrs[tail - 1] === 0) tail--;
    let out = "";
    for (const [from, to] of runs) {
      out += this.moveTo(r, from);
      const end = to >= tail ? tail : to + 1;
      for (let c = from; c < end; c++) out += this.sgr(next.attrs[c]!) + next.chars[c]!;
      if (to >= tail) {
        out += `${this.sgr(0)}\x1b[K`;
        this.cursor = { row: r, col: end };
        break;
      }
      // After the last column the cursor sits in the pending-wrap state: position unknown.
      this.cursor = end >= cols ? null : { row: r, col: end };
    }
    return out;
  }
}
