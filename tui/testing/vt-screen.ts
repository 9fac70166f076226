// A tiny VT100 screen for tests and measurements: it understands exactly what the screen writer
// may send (CUP, EL, ED 2, SGR, DECTCEM) and records anything else it is sent, so a test can
// assert that nothing a VT100 does not know ever reached the line.
export class VtScreen {
  readonly cells: string[][];
  row = 0;
  col = 0;
  bytes = 0;
  /** Escape sequences outside the VT100 set the writer promises. */
  readonly unknown: string[] = [];
  private pendingWrap = false;

  constructor(
    readonly cols = 80,
    readonly rows = 24,
  ) {
    this.cells = Array.from({ length: rows }, () => new Array<string>(cols).fill(" "));
  }

  write(data: string): void {
    this.bytes += Buffer.byteLength(data);
    let i = 0;
    while (i < data.length) {
      const c = data[i]!;
      if (c === "\x1b") {
        const m = /^\x1b\[([0-9;?]*)([A-Za-z])/.exec(data.slice(i, i + 24));
        if (!m) {
          this.unknown.push(JSON.stringify(data.slice(i, i + 6)));
          i++;
          continue;
        }
        this.csi(m[1]!, m[2]!, m[0]!);
        i += m[0]!.length;
        continue;
      }
      i++;
      if (c === "\r") {
        this.col = 0;
        this.pendingWrap = false;
      } else if (c === "\n") {
        this.row = Math.min(this.rows - 1, this.row + 1);
      } else if (c >= " ") {
        if (this.pendingWrap) {
          this.col = 0;
          this.row = Math.min(this.rows - 1, this.row + 1);
          this.pendingWrap = false;
        }
        this.cells[this.row]![this.col] = c;
        if (this.col === this.cols - 1) this.pendingWrap = true;
        else this.col++;
      }
    }
  }

  private csi(params: string, final: string, whole: string): void {
    this.pendingWrap = false;
    if (final === "H") {
      const [r, c] = params.split(";").map((n) => (n ? Number(n) : 1));
      this.row = Math.min(this.rows, r ?? 1) - 1;
      this.col = Math.min(this.cols, c ?? 1) - 1;
    } else if (final === "K" && (params === "" || params === "0")) {
      for (let c = this.col; c < this.cols; c++) this.cells[this.row]![c] = " ";
    } else if (final === "J" && params === "2") {
      for (const r of this.cells) r.fill(" ");
    } else if (final === "m" && /^[0-9;]*$/.test(params)) {
      // Attributes are not kept: tests read the text.
    } else if (final === "l" || final === "h") {
      if (params !== "?25") this.unknown.push(JSON.stringify(whole));
    } else this.unknown.push(JSON.stringify(whole));
  }

  text(): string {
    return this.cells.map((r) => r.join("").trimEnd()).join("\n");
  }
}
