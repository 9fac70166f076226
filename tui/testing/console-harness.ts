// Runs the console in-process on a VtScreen: keys in, screen text out. For component and
// scenario tests that need the whole console (routing, effects) without a terminal.
import { EventEmitter } from "node:events";
import { mountConsole } from "../mount.ts";
import type { ConsolePorts } from "../ports.ts";
import { detectCaps, type TerminalCaps } from "../terminal/caps.ts";
import type { ScreenWriter } from "../terminal/screen-writer.ts";
import { VtScreen } from "./vt-screen.ts";

export interface Harness {
  screen: VtScreen;
  writer: () => ScreenWriter;
  /** Raw keyboard bytes ("\x1b[A" for Up, "\r" for Enter). */
  press(bytes: string): void;
  text(): string;
  waitFor(pattern: string | RegExp, bound_ms?: number): Promise<string>;
  resize(cols: number, rows: number): void;
  exited: Promise<number>;
}

export function startHarness(o: { configPath: string; ports: ConsolePorts; caps?: TerminalCaps; refresh_ms?: number; cols?: number; rows?: number }): Harness {
  const input = new EventEmitter() as EventEmitter & NodeJS.ReadableStream;
  let size = { cols: o.cols ?? 80, rows: o.rows ?? 24 };
  const sizeListeners = new Set<() => void>();
  const screen = new VtScreen(80, 24);
  let writer: ScreenWriter | null = null;
  const exited = mountConsole({
    input,
    write: (d) => screen.write(d),
    caps: o.caps ?? detectCaps({ TERM: "xterm", LANG: "C.UTF-8" }),
    size: {
      get: () => size,
      subscribe: (l) => {
        sizeListeners.add(l);
        return () => sizeListeners.delete(l);
      },
    },
    configPath: o.configPath,
    ports: o.ports,
    version: "test",
    refresh_ms: o.refresh_ms ?? 1000,
    clearOnExit: false,
    onWriter: (w) => {
      writer = w;
    },
  });
  const h: Harness = {
    screen,
    writer: () => writer!,
    press: (bytes) => input.emit("data", Buffer.from(bytes)),
    text: () => screen.text(),
    async waitFor(pattern, bound_ms = 5000) {
      const deadline = Date.now() + bound_ms;
      for (;;) {
        const t = screen.text();
        if (typeof pattern === "string" ? t.includes(pattern) : pattern.test(t)) return t;
        if (Date.now() > deadline) throw new Error(`screen never showed ${String(pattern)}; last screen:\n${t}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    resize(cols, rows) {
      size = { cols, rows };
      for (const l of sizeListeners) l();
    },
    exited,
  };
  return h;
}
