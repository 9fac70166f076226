// A line logger: "time node level component: message". Secrets never reach it: callers pass
// names and reasons, never key material or passwords.
//
// Writes are asynchronous and ordered. A node's event loop carries its heartbeats; a log write
// that blocks on a busy disk (a synchronous append, or stderr redirected to a file) stalled a lab
// node past its peers' loss timeout. Lines queue in memory (bounded) and are written by the
// thread pool, one batch at a time.
import { openSync, write, writeSync } from "node:fs";

export type Level = "debug" | "info" | "warn" | "error";
const RANK: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
/** Lines waiting for the disk beyond this are dropped (and counted in the next line written). */
const MAX_QUEUED_LINES = 10_000;

export interface Logger {
  debug(component: string, message: string): void;
  info(component: string, message: string): void;
  warn(component: string, message: string): void;
  error(component: string, message: string): void;
}

/** An ordered, non-blocking writer of lines to one file descriptor. */
class LineSink {
  private queue: string[] = [];
  private writing = false;
  private dropped = 0;

  constructor(private readonly fd: number) {}

  push(line: string): void {
    if (this.queue.length >= MAX_QUEUED_LINES) {
      this.dropped++;
      return;
    }
    if (this.dropped > 0) {
      this.queue.push(`(${this.dropped} log lines dropped: the disk was too slow)\n`);
      this.dropped = 0;
    }
    this.queue.push(line);
    if (!this.writing) this.flush();
  }

  private flush(): void {
    if (this.queue.length === 0) {
      this.writing = false;
      return;
    }
    this.writing = true;
    const chunk = Buffer.from(this.queue.join(""));
    this.queue = [];
    const next = (from: number) =>
      write(this.fd, chunk, from, chunk.byteLength - from, null, (err, n) => {
        if (!err && from + n < chunk.byteLength) return next(from + n);
        this.flush();
      });
    next(0);
  }

  /** For exit paths: write what is queued synchronously. */
  drainSync(): void {
    if (this.queue.length === 0) return;
    try {
      writeSync(this.fd, this.queue.join(""));
    } catch {
      // nothing more to do on the way out
    }
    this.queue = [];
  }
}

const sinks = new Map<string, LineSink>();

function sinkFor(target: string | number): LineSink {
  const key = String(target);
  let s = sinks.get(key);
  if (!s) {
    const fd = typeof target === "number" ? target : openSync(target, "a", 0o640);
    s = new LineSink(fd);
    sinks.set(key, s);
  }
  return s;
}

process.once("exit", () => {
  for (const s of sinks.values()) s.drainSync();
});

export function createLogger(node: string, opts: { file?: string; level?: Level; stderr?: boolean } = {}): Logger {
  const min = RANK[opts.level ?? ((process.env.HAPD_LOG_LEVEL as Level | undefined) ?? "info")] ?? 1;
  let fileSink: LineSink | null = null;
  if (opts.file) {
    try {
      fileSink = sinkFor(opts.file);
    } catch {
      fileSink = null;
    }
  }
  const toStderr = opts.stderr ?? !fileSink;
  const write = (level: Level, component: string, message: string) => {
    if (RANK[level] < min) return;
    const line = `${new Date().toISOString()} ${node} ${level.padEnd(5)} ${component}: ${message}\n`;
    fileSink?.push(line);
    if (toStderr) sinkFor(2).push(line);
  };
  return {
    debug: (c, m) => write("debug", c, m),
    info: (c, m) => write("info", c, m),
    warn: (c, m) => write("warn", c, m),
    error: (c, m) => write("error", c, m),
  };
}

/** Logs a repeating event at most once per interval, with how many were folded into it. */
export class RateLimiter {
  private readonly last = new Map<string, { at_ms: number; suppressed: number }>();
  constructor(private readonly interval_ms: number) {}

  /** Returns null to stay quiet, or the number of suppressed repeats to report with this one. */
  allow(key: string, now_ms: number): number | null {
    const s = this.last.get(key);
    if (s && now_ms - s.at_ms < this.interval_ms) {
      s.suppressed++;
      return null;
    }
    const suppressed = s?.suppressed ?? 0;
    this.last.set(key, { at_ms: now_ms, suppressed: 0 });
    if (this.last.size > 1024) this.last.clear();
    return suppressed;
  }
}

