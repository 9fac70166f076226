import { afterEach, describe, expect, it, vi } from "vitest";
import { EventEmitter } from "node:events";
import { type Key, parseKeys } from "./key-parser.ts";
import { ESC_WAIT_MS, createKeySource } from "./key-source.ts";

const names = (s: string, flush = true) => parseKeys(s, flush).keys.map((k) => (k.name === "char" ? k.ch : k.name === "ctrl" ? `^${k.ch}` : k.name));

describe("parseKeys", () => {
  it("reads CSI and SS3 arrows, navigation keys and modifiers", () => {
    expect(names("\x1b[A\x1b[B\x1b[C\x1b[D")).toEqual(["up", "down", "right", "left"]);
    expect(names("\x1bOA\x1bOB\x1bOH\x1bOF")).toEqual(["up", "down", "home", "end"]);
    expect(names("\x1b[5~\x1b[6~\x1b[3~\x1b[1~\x1b[4~\x1b[Z")).toEqual(["pageup", "pagedown", "delete", "home", "end", "backtab"]);
    expect(names("\x1b[1;5A")).toEqual(["up"]);
  });

  it("reads Enter as CR, LF or CRLF (one key), Tab, both backspaces and control letters", () => {
    expect(names("\r\n\r\n")).toEqual(["enter", "enter"]);
    expect(names("a\tb\x7f\b\x03\x0c\x15")).toEqual(["a", "tab", "b", "backspace", "backspace", "^c", "^l", "^u"]);
  });

  it("keeps an unfinished escape sequence until flushed", () => {
    expect(parseKeys("x\x1b", false)).toEqual({ keys: [{ name: "char", ch: "x" }], rest: "\x1b" });
    expect(parseKeys("\x1b[", false).rest).toBe("\x1b[");
    expect(parseKeys("\x1bO", false).rest).toBe("\x1bO");
    expect(names("\x1b")).toEqual(["escape"]);
    // Flushed mid-sequence: the Esc key, then what followed as plain keys.
    expect(names("\x1b[")).toEqual(["escape", "["]);
  });

  it("treats Esc followed by another key as two keys", () => {
    expect(names("\x1bj")).toEqual(["escape", "j"]);
    expect(names("\x1b\x1b")).toEqual(["escape", "escape"]);
  });

  it("never lets line noise grow the pending tail without bound", () => {
    const r = parseKeys(`\x1b[${"1;".repeat(40)}`, false);
    expect(r.rest).toBe("");
    expect(r.keys[0]).toEqual({ name: "escape" });
  });

  it("ignores unknown sequences and C1 controls instead of typing them", () => {
    expect(names("\x1b[15~\x1b[200~a\x85")).toEqual(["a"]);
  });
});

describe("createKeySource", () => {
  afterEach(() => vi.useRealTimers());

  function source() {
    const input = new EventEmitter() as EventEmitter & NodeJS.ReadableStream;
    const keys: Key[] = [];
    const s = createKeySource(input);
    s.subscribe((k) => keys.push(k));
    return { input, keys, s };
  }

  it("joins an arrow key split over a slow line when the rest comes within the wait", () => {
    vi.useFakeTimers();
    const { input, keys } = source();
    input.emit("data", Buffer.from("\x1b"));
    vi.advanceTimersByTime(ESC_WAIT_MS - 1);
    expect(keys).toEqual([]);
    input.emit("data", Buffer.from("[B"));
    expect(keys).toEqual([{ name: "down" }]);
  });

  it("takes a lone Esc as the Esc key once the line stays quiet for the wait", () => {
    vi.useFakeTimers();
    const { input, keys } = source();
    input.emit("data", Buffer.from("\x1b"));
    vi.advanceTimersByTime(ESC_WAIT_MS);
    expect(keys).toEqual([{ name: "escape" }]);
  });

  it("decodes UTF-8 split across reads", () => {
    const { input, keys } = source();
    const e = Buffer.from("é");
    input.emit("data", e.subarray(0, 1));
    input.emit("data", e.subarray(1));
    expect(keys).toEqual([{ name: "char", ch: "é" }]);
  });
});
