// Runs one agent process: its own process group (so a timeout kills everything it forked, not just
// the shell), a timeout that sends SIGTERM to the group and SIGKILL after a grace period, and
// stdout/stderr captured up to a bound (an agent that floods cannot grow our memory).
//
// Completion is the process's exit, not the end of its output: an agent that starts a daemon
// (ocf:heartbeat:anything) may leave it holding our pipes. After exit we wait at most
// drain_ms for the pipes to close, then stop reading.
import { type ChildProcess, spawn } from "node:child_process";

export const OUTPUT_MAX_BYTES_DEFAULT = 64 * 1024;
export const KILL_GRACE_MS_DEFAULT = 2_000;
export const DRAIN_MS_DEFAULT = 100;

export interface ProcessRequest {
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  cwd?: string;
  timeout_ms: number;
  /** Time between SIGTERM and SIGKILL to the group on timeout. */
  kill_grace_ms?: number;
  /** Per stream. */
  output_max_bytes?: number;
  drain_ms?: number;
}

export type ProcessEnd =
  | { kind: "exited"; code: number }
  | { kind: "signaled"; signal: string }
  | { kind: "timed-out" }
  | { kind: "spawn-failed"; error: string };

export interface ProcessOutcome {
  end: ProcessEnd;
  stdout: string;
  stderr: string;
  output_truncated: boolean;
}

class BoundedBuffer {
  private chunks: Buffer[] = [];
  private size_bytes = 0;
  truncated = false;
  constructor(private readonly max_bytes: number) {}
  push(chunk: Buffer): void {
    const room_bytes = this.max_bytes - this.size_bytes;
    if (room_bytes <= 0) {
      // Keep reading (and dropping) so the agent never blocks on a full pipe.
      if (chunk.length > 0) this.truncated = true;
      return;
    }
    const kept = chunk.length > room_bytes ? chunk.subarray(0, room_bytes) : chunk;
    if (kept.length < chunk.length) this.truncated = true;
    this.chunks.push(Buffer.from(kept));
    this.size_bytes += kept.length;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone: nothing left to kill.
  }
}

export function runProcess(req: ProcessRequest): Promise<ProcessOutcome> {
  if (req.argv.length === 0) throw new Error("runProcess: empty argv");
  if (!(req.timeout_ms > 0)) throw new Error(`runProcess: timeout_ms must be positive, got ${req.timeout_ms}`);
  const kill_grace_ms = req.kill_grace_ms ?? KILL_GRACE_MS_DEFAULT;
  const drain_ms = req.drain_ms ?? DRAIN_MS_DEFAULT;
  const out = new BoundedBuffer(req.output_max_bytes ?? OUTPUT_MAX_BYTES_DEFAULT);
  const err = new BoundedBuffer(req.output_max_bytes ?? OUTPUT_MAX_BYTES_DEFAULT);

  return new Promise((resolve) => {
    let settled = false;
    let timedOut = false;
    let timers: ReturnType<typeof setTimeout>[] = [];
    const finish = (end: ProcessEnd): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      timers = [];
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({ end: timedOut ? { kind: "timed-out" } : end, stdout: out.text(), stderr: err.text(), output_truncated: out.truncated || err.truncated });
    };

    const [file, ...args] = req.argv;
    // detached: the child calls setsid(), so its pid is the id of a new process group.
    const child = spawn(file!, args, { env: { ...req.env }, cwd: req.cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (c: Buffer) => out.push(c));
    child.stderr?.on("data", (c: Buffer) => err.push(c));
    child.on("error", (e) => finish({ kind: "spawn-failed", error: e.message }));

    timers.push(
      setTimeout(() => {
        timedOut = true;
        killGroup(child, "SIGTERM");
        timers.push(setTimeout(() => killGroup(child, "SIGKILL"), kill_grace_ms));
      }, req.timeout_ms),
    );

    child.on("exit", (code, signal) => {
      const end: ProcessEnd = code !== null ? { kind: "exited", code } : { kind: "signaled", signal: signal ?? "unknown" };
      // Children of a timed-out agent may have ignored SIGTERM; make sure none outlives it.
      if (timedOut) killGroup(child, "SIGKILL");
      // Whichever comes first: the pipes closing, or the drain bound (finish is idempotent).
      child.on("close", () => finish(end));
      timers.push(setTimeout(() => finish(end), drain_ms));
    });
  });
}
