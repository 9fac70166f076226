import { describe, expect, it } from "vitest";
import { VtScreen } from "../testing/vt-screen.ts";
import { detectCaps } from "./caps.ts";
import { ScreenWriter } from "./screen-writer.ts";

const xterm = detectCaps({ TERM: "xterm", LANG: "C.UTF-8" });
const vt100 = detectCaps({ TERM: "vt100", LANG: "C" });

function frame(lines: string[]): string {
  return lines.join("\n");
}

function setup(caps = vt100) {
  const out: string[] = [];
  const vt = new VtScreen(80, 24);
  const w = new ScreenWriter(
    (d) => {
      out.push(d);
      vt.write(d);
    },
    caps,
    { cols: 80, rows: 24 },
  );
  return { out, vt, w };
}

describe("ScreenWriter", () => {
  it("paints the first frame whole, then sends only changed cells", () => {
    const { out, vt, w } = setup();
    const base = Array.from({ length: 24 }, (_, i) => `line ${i} ${"x".repeat(40)}`);
    w.frame(frame(base));
    expect(vt.text().split("\n")[5]).toBe(`line 5 ${"x".repeat(40)}`);
    out.length = 0;
    const next = [...base];
    next[5] = `line 5 ${"x".repeat(20)}y${"x".repeat(19)}`;
    w.frame(frame(next));
    expect(out.join("")).toBe("\x1b[6;28Hy\x1b[24;80H");
    expect(vt.text()).toBe(next.map((l) => l.trimEnd()).join("\n"));
  });

  it("sends nothing for a frame equal to the screen, however ink encoded its SGR", () => {
    const { out, w } = setup(xterm);
    w.frame("a\x1b[1m\x1b[7mb\x1b[27m\x1b[22mc");
    out.length = 0;
    w.frame("a\x1b[1;7mb\x1b[0mc");
    expect(out).toEqual([]);
  });

  it("clears a tail that became blank with one EL", () => {
    const { out, vt, w } = setup();
    w.frame("hello world, this is long");
    out.length = 0;
    w.frame("hello");
    expect(out.join("")).toBe("\x1b[1;7H\x1b[K\x1b[24;80H"); // "hello" and the space after it stay
    expect(vt.text().split("\n")[0]).toBe("hello");
  });

  it("never writes the bottom-right cell (a terminal may scroll)", () => {
    const { vt, w } = setup();
    const lines = Array.from({ length: 24 }, () => "z".repeat(80));
    w.frame(frame(lines));
    expect(vt.cells[23]![79]).toBe(" ");
    expect(vt.cells[23]![78]).toBe("z");
    expect(vt.cells[22]![79]).toBe("z");
  });

  it("uses VT100 sequences only for vt100 (no colour, no DECTCEM)", () => {
    const { out, vt, w } = setup(vt100);
    w.frame("\x1b[31;1mred\x1b[0m plain \x1b[7msel\x1b[27m");
    const all = out.join("");
    expect(all).not.toContain("\x1b[?25");
    expect(all).not.toMatch(/\x1b\[[0-9;]*3[0-7][;m]/);
    expect(all).toContain("\x1b[0;1mred");
    expect(vt.unknown).toEqual([]);
  });

  it("hides the cursor on terminals that know DECTCEM and shows it again on close", () => {
    const { out, w } = setup(xterm);
    w.frame("x");
    w.close(false);
    expect(out[0]!.startsWith("\x1b[?25l")).toBe(true);
    expect(out[out.length - 1]!.endsWith("\x1b[?25h")).toBe(true);
  });

  it("repaints everything on Ctrl-L and after a resize", () => {
    const { out, w } = setup();
    w.frame("abc");
    out.length = 0;
    w.repaint();
    expect(out.join("")).toContain("\x1b[2J");
    out.length = 0;
    w.resize({ cols: 100, rows: 30 });
    w.frame("abc");
    expect(out.join("")).toContain("\x1b[2J");
  });

  it("prints whole plain frames for TERM=dumb, only when they change", () => {
    const out: string[] = [];
    const w = new ScreenWriter((d) => out.push(d), detectCaps({ TERM: "dumb" }), { cols: 80, rows: 24 });
    w.frame("\x1b[7mtitle\x1b[27m\nbody\n\n");
    w.frame("title\nbody");
    expect(out).toEqual(["\r\ntitle\r\nbody\r\n"]);
    expect(out.join("")).not.toContain("\x1b");
  });

  it("counts the bytes it sends", () => {
    const { out, w } = setup();
    w.frame("one");
    w.frame("two");
    expect(w.bytesWritten).toBe(Buffer.byteLength(out.join("")));
  });
});
