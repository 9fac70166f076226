// A small line logger: "time node level component: message". Secrets never reach it: callers
// pass names and reasons, never key material or passwords.
import { appendFileSync } from "node:fs";

export type Level = "debug" | "info" | "warn" | "error";
const RANK: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  debug(component: string, message: string): void;
  info(component: string, message: string): void;
  warn(component: string, message: string): void;
  error(component: string, message: string): void;
}

export function createLogger(node: string, opts: { file?: string; level?: Level; stderr?: boolean } = {}): Logger {
  const min = RANK[opts.level ?? ((process.env.HAPD_LOG_LEVEL as Level | undefined) ?? "info")] ?? 1;
  const write = (level: Level, component: string, message: string) => {
    if (RANK[level] < min) return;
    const line = `${new Date().toISOString()} ${node} ${level.padEnd(5)} ${component}: ${message}\n`;
    if (opts.file) {
      try {
        appendFileSync(opts.file, line, { mode: 0o640 });
      } catch {
        process.stderr.write(line);
      }
    }
    if (opts.stderr ?? !opts.file) process.stderr.write(line);
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
