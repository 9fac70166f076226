// Mounts the console's ink tree between a key source and a screen writer. ink gets a stand-in
// stdout (80x24, debug mode: one whole frame per render, no escape sequences of its own) and a
// stand-in stdin it never reads: keys come from key-source.ts, with its 50 ms Esc wait.
import { EventEmitter } from "node:events";
import { render } from "ink";
import { createElement as h } from "react";
import { unstable_IdlePriority, unstable_scheduleCallback } from "scheduler";
import { App, type Size } from "./app.ts";
import type { ConsolePorts } from "./ports.ts";
import type { TerminalCaps } from "./terminal/caps.ts";
import type { Key } from "./terminal/key-parser.ts";
import { createKeySource } from "./terminal/key-source.ts";
import { ScreenWriter } from "./terminal/screen-writer.ts";
import { createTheme } from "./terminal/theme.ts";
import { KeyRouter } from "./ui/key-router.ts";
import { COLS, ROWS } from "./ui/lines.ts";

/** Keys typed ahead beyond this are dropped (a paste of a whole file, line noise). */
export const MAX_QUEUED_KEYS = 4096;

export interface SizeSource {
  get(): Size;
  subscribe(listener: () => void): () => void;
}

export interface MountOptions {
  input: NodeJS.ReadableStream;
  write(data: string): void;
  caps: TerminalCaps;
  size: SizeSource;
  configPath: string;
  ports: ConsolePorts;
  version: string;
  refresh_ms: number;
  /** Clear the screen when leaving (a serial console should not keep what was shown). */
  clearOnExit: boolean;
  /** Called with the writer once it exists (measurements and tests read bytesWritten). */
  onWriter?(writer: ScreenWriter): void;
}

class InkStdout extends EventEmitter {
  readonly columns = COLS;
  readonly rows = ROWS;
  readonly isTTY = false;
  constructor(private readonly onFrame: (frame: string) => void) {
    super();
  }
  write = (frame: string): boolean => {
    this.onFrame(frame);
    return true;
  };
}

class InkStdin extends EventEmitter {
  readonly isTTY = false;
  setEncoding(): void {}
  setRawMode(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
  read(): null {
    return null;
  }
}

export function mountConsole(o: MountOptions): Promise<number> {
  return new Promise((resolve) => {
    const writer = new ScreenWriter(o.write, o.caps, o.size.get());
    o.onWriter?.(writer);
    let closed = false;
    const stdout = new InkStdout((frame) => {
      if (!closed) writer.frame(frame);
    });
    const unsubscribeSize = o.size.subscribe(() => writer.resize(o.size.get()));
    const keys = createKeySource(o.input);
    const router = new KeyRouter();
    // One key at a time, each after React has rendered what the one before changed: React 19
    // renders a state update in a Scheduler task, not synchronously, so without this the second
    // of two keys read together (Esc then "j") would reach the screen that the first one closed.
    // The next key is an idle-priority task of the same Scheduler, queued from a microtask so
    // that React's own microtask (which queues the render) comes first: it runs after every
    // render and effect that the previous key caused.
    const queue: Key[] = [];
    let draining = false;
    const next = () => queueMicrotask(() => unstable_scheduleCallback(unstable_IdlePriority, drain));
    const drain = () => {
      const k = queue.shift();
      if (k && !closed) router.dispatch(k);
      if (queue.length > 0 && !closed) next();
      else draining = false;
    };
    keys.subscribe((k) => {
      if (queue.length >= MAX_QUEUED_KEYS) return;
      // Keys typed while the terminal is too small are dropped as they arrive: by the time the
      // queue reaches them the terminal may be big again, and they would land in a field the
      // operator could not see. Ctrl-C still goes through (it asks before leaving).
      const sz = o.size.get();
      if ((sz.cols < COLS || sz.rows < ROWS) && !(k.name === "ctrl" && (k.ch === "c" || k.ch === "l"))) return;
      queue.push(k);
      if (!draining) {
        draining = true;
        next();
      }
    });
    let finish: (code: number) => void = () => undefined;
    const instance = render(
      h(App, {
        theme: createTheme(o.caps),
        caps: o.caps,
        ports: o.ports,
        configPath: o.configPath,
        version: o.version,
        router,
        size: o.size,
        refresh_ms: o.refresh_ms,
        repaint: () => writer.repaint(),
        exit: (code: number) => finish(code),
      }),
      { stdout: stdout as unknown as NodeJS.WriteStream, stderr: stdout as unknown as NodeJS.WriteStream, stdin: new InkStdin() as unknown as NodeJS.ReadStream, debug: true, exitOnCtrlC: false, patchConsole: false },
    );
    finish = (code: number) => {
      if (closed) return;
      // Unmount first: its final render must still reach the writer's bookkeeping, not the line.
      closed = true;
      keys.close();
      unsubscribeSize();
      instance.unmount();
      writer.close(o.clearOnExit);
      resolve(code);
    };
    o.input.once("end", () => finish(1));
  });
}
