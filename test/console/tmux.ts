// A terminal for end-to-end tests: a detached tmux session of a given size, keys sent with
// send-keys, the screen read with capture-pane.
import { spawnSync } from "node:child_process";

export function haveTool(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).status === 0;
}

function tmux(args: string[]): string {
  const r = spawnSync("tmux", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`tmux ${args.join(" ")}: ${(r.stderr || "").trim()}`);
  return r.stdout;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class TmuxTerminal {
  private constructor(readonly session: string) {}

  /** Starts `command` (a shell command line) in an 80x24 (or given) pane. */
  static start(session: string, command: string, size = { cols: 80, rows: 24 }): TmuxTerminal {
    spawnSync("tmux", ["kill-session", "-t", session], { encoding: "utf8" });
    tmux(["new-session", "-d", "-s", session, "-x", String(size.cols), "-y", String(size.rows), command]);
    return new TmuxTerminal(session);
  }

  /** Named keys (Enter, Tab, C-u, Up, Escape...) or single characters. */
  keys(...keys: string[]): void {
    tmux(["send-keys", "-t", this.session, ...keys]);
  }

  /** Literal text. */
  type(text: string): void {
    tmux(["send-keys", "-t", this.session, "-l", text]);
  }

  screen(): string {
    return tmux(["capture-pane", "-p", "-t", this.session]);
  }

  /** Waits until the screen matches; fails with the screen it last saw. The bound only turns a
   * hang into a failure: nothing here measures speed. */
  async waitFor(pattern: string | RegExp, bound_ms = 15_000): Promise<string> {
    const deadline = Date.now() + bound_ms;
    let last = "";
    while (Date.now() < deadline) {
      last = this.screen();
      if (typeof pattern === "string" ? last.includes(pattern) : pattern.test(last)) return last;
      await sleep(40);
    }
    throw new Error(`screen never showed ${String(pattern)}; last screen:\n${last}`);
  }

  kill(): void {
    spawnSync("tmux", ["kill-session", "-t", this.session], { encoding: "utf8" });
  }
}
