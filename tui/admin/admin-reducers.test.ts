import { describe, expect, it } from "vitest";
import type { Key } from "../terminal/key-parser.ts";
import { bindTypedKey, bindYesNo, reduceTyped } from "./confirm.ts";
import { LOG_ROWS, bindLogKey, filtered, initialLog, reduceLog } from "./log-view.ts";
import { initialLogin, reduceLogin } from "./login.ts";
import { MENU, bindMenuKey, reduceMenu } from "./menu.ts";

const ch = (c: string): Key => ({ name: "char", ch: c });

describe("menu", () => {
  it("opens an item by its letter (either case) and by Enter on the > row", () => {
    expect(reduceMenu({ cursor: 0 }, bindMenuKey(ch("L"))!)).toEqual({ state: { cursor: 4 }, open: "log" });
    const down = reduceMenu({ cursor: 0 }, bindMenuKey({ name: "down" })!);
    expect(reduceMenu(down.state, bindMenuKey({ name: "enter" })!).open).toBe("node-mode");
    expect(reduceMenu({ cursor: 0 }, bindMenuKey({ name: "up" })!).state.cursor).toBe(MENU.length - 1);
    expect(bindMenuKey(ch("z"))).toEqual({ type: "unknown", ch: "z" });
  });

  it("has one distinct letter per item", () => {
    expect(new Set(MENU.map((m) => m.key)).size).toBe(MENU.length);
  });
});

describe("login", () => {
  it("asks for a check on Enter and counts failures", () => {
    let s = reduceLogin(initialLogin, { type: "enter" });
    expect(s.error).toContain("type the admin password");
    for (const c of "secret") s = reduceLogin(s, { type: "char", ch: c });
    s = reduceLogin(s, { type: "enter" });
    expect(s.checking).toBe(true);
    expect(reduceLogin(s, { type: "char", ch: "x" })).toBe(s);
    s = reduceLogin(s, { type: "checked", ok: false });
    expect(s).toMatchObject({ checking: false, password: "", failures: 1, error: "wrong password (1 failed attempt)" });
  });
});

describe("typed confirmation", () => {
  it("confirms only the exact text", () => {
    let s = { text: "", error: null as string | null };
    for (const c of "host-") s = reduceTyped(s, bindTypedKey(ch(c))!, "host-a").state;
    const wrong = reduceTyped(s, { type: "enter" }, "host-a");
    expect(wrong.outcome).toBeNull();
    expect(wrong.state.error).toContain('that is not "host-a"');
    s = reduceTyped(s, { type: "char", ch: "a" }, "host-a").state;
    expect(reduceTyped(s, { type: "enter" }, "host-a").outcome).toBe("confirmed");
    expect(reduceTyped(s, bindTypedKey({ name: "escape" })!, "host-a").outcome).toBe("cancelled");
    expect(bindYesNo(ch("y"))).toBe("yes");
    expect(bindYesNo({ name: "escape" })).toBe("no");
    expect(bindYesNo(ch("x"))).toBeNull();
  });
});

describe("log view", () => {
  const lines = Array.from({ length: 100 }, (_, i) => `${i} ${i % 10 === 0 ? "warn" : "info"} line`);
  const loaded = reduceLog(initialLog("/var/log/hapd.log"), { type: "loaded", lines, error: null });

  it("starts at the end and follows it", () => {
    expect(loaded.top).toBe(100 - LOG_ROWS);
    expect(loaded.follow).toBe(true);
    const more = reduceLog(loaded, { type: "loaded", lines: [...lines, "new"], error: null });
    expect(more.top).toBe(101 - LOG_ROWS);
  });

  it("scrolls by line and page, stops following when scrolled up, and clamps", () => {
    const up = reduceLog(loaded, bindLogKey(ch("k"), false)!);
    expect(up).toMatchObject({ top: 100 - LOG_ROWS - 1, follow: false });
    const more = reduceLog(up, { type: "loaded", lines: [...lines, "new"], error: null });
    expect(more.top).toBe(up.top);
    expect(reduceLog(loaded, bindLogKey(ch("g"), false)!).top).toBe(0);
    expect(reduceLog(reduceLog(loaded, { type: "home" }), bindLogKey(ch("b"), false)!).top).toBe(0);
    expect(reduceLog(reduceLog(loaded, { type: "home" }), bindLogKey(ch(" "), false)!).top).toBe(LOG_ROWS - 1);
  });

  it("filters by a typed substring, case-insensitively", () => {
    let s = reduceLog(loaded, bindLogKey(ch("/"), false)!);
    for (const c of "WARN") s = reduceLog(s, bindLogKey(ch(c), true)!);
    s = reduceLog(s, bindLogKey({ name: "enter" }, true)!);
    expect(s.filter).toBe("WARN");
    expect(filtered(s)).toHaveLength(10);
    expect(s.top).toBe(0);
    expect(reduceLog(s, bindLogKey(ch("c"), false)!).filter).toBe("");
  });

  it("opens another file with o", () => {
    let s = reduceLog(loaded, bindLogKey(ch("o"), false)!);
    expect(s.editing).toEqual({ kind: "path", text: "/var/log/hapd.log" });
    s = reduceLog(s, { type: "backspace" });
    s = reduceLog(s, { type: "commit" });
    expect(s.path).toBe("/var/log/hapd.lo");
    expect(s.lines).toEqual([]);
  });
});
