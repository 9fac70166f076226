// `hapd console`: the entry the CLI calls. Kept free of ink and React at load time (they are
// imported when the console really starts), so other subcommands do not pay for them.
import { VERSION } from "../services/shared/version.ts";
import type { ConsolePorts } from "./ports.ts";
import { detectCaps } from "./terminal/caps.ts";
import type { ScreenWriter } from "./terminal/screen-writer.ts";
import { openSerialTty } from "./terminal/serial-tty.ts";
import { COLS, ROWS } from "./ui/lines.ts";

export interface ConsoleOptions {
  /** The node configuration to read, or to write when it does not exist (first boot). */
  config: string;
  /** Run on this serial device (115200 8N1) instead of stdin/stdout. */
  serial?: string;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
  /** For tests and measurements. */
  ports?: ConsolePorts;
  refresh_ms?: number;
  onWriter?(writer: ScreenWriter): void;
}

export const DEFAULT_REFRESH_MS = 1000;
export const DUMB_REFRESH_MS = 10_000;

/** Runs the console until the operator leaves. Returns the exit code (2: cannot run here). */
export async function runConsole(opts: ConsoleOptions): Promise<number> {
  const env = opts.env ?? process.env;
  const caps = detectCaps(env);
  const stderr = (line: string) => process.stderr.write(`hapd console: ${line}\n`);
  // ink loads react-devtools-core when DEV=true; the compiled binary carries only a stub.
  delete process.env.DEV;
  // ink renders only the last frame when it thinks it runs under CI (is-ci reads CI at import):
  // a console started from such an environment would stay blank. It is a console; say so.
  if (process.env.CI) process.env.CI = "false";
  // Without cursor addressing every change reprints the whole screen: refresh less often.
  const refresh_ms = opts.refresh_ms ?? (caps.dumb ? DUMB_REFRESH_MS : DEFAULT_REFRESH_MS);
  const { mountConsole } = await import("./mount.ts");
  const ports = opts.ports ?? (await import("./ports.ts")).realPorts;

  if (opts.serial) {
    let tty;
    try {
      tty = openSerialTty(opts.serial);
    } catch (e) {
      stderr((e as Error).message);
      return 2;
    }
    const fixed = { get: () => ({ cols: COLS, rows: ROWS }), subscribe: () => () => undefined };
    const stop = () => tty.input.emit("end");
    process.once("SIGTERM", stop);
    process.once("SIGHUP", stop);
    try {
      return await mountConsole({ input: tty.input, write: (d) => tty.write(d), caps, size: fixed, configPath: opts.config, ports, version: VERSION, refresh_ms, clearOnExit: true, ...(opts.onWriter ? { onWriter: opts.onWriter } : {}) });
    } finally {
      process.off("SIGTERM", stop);
      process.off("SIGHUP", stop);
      await tty.close();
    }
  }

  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  // The check ink's useInput would make: raw mode is what lets single keys (and Ctrl-C) arrive.
  const rawModeSupported = stdin.isTTY === true && typeof stdin.setRawMode === "function";
  if (stdin.isTTY && !rawModeSupported) {
    stderr("the input is a terminal without raw mode; keys cannot be read one at a time");
    return 2;
  }
  const size = {
    get: () => {
      // A serial console or a pipe reports 0x0: assume the 80x24 it was designed for.
      const cols = stdout.isTTY && stdout.columns ? stdout.columns : COLS;
      const rows = stdout.isTTY && stdout.rows ? stdout.rows : ROWS;
      return { cols, rows };
    },
    subscribe: (listener: () => void) => {
      stdout.on("resize", listener);
      return () => {
        stdout.off("resize", listener);
      };
    },
  };
  if (rawModeSupported) stdin.setRawMode(true);
  stdin.resume();
  const stop = () => stdin.emit("end");
  process.once("SIGTERM", stop);
  process.once("SIGHUP", stop);
  try {
    return await mountConsole({ input: stdin, write: (d) => stdout.write(d), caps, size, configPath: opts.config, ports, version: VERSION, refresh_ms, clearOnExit: true, ...(opts.onWriter ? { onWriter: opts.onWriter } : {}) });
  } finally {
    process.off("SIGTERM", stop);
    process.off("SIGHUP", stop);
    if (rawModeSupported) stdin.setRawMode(false);
    stdin.pause();
  }
}
