// Helpers for the IPMI integration tests: the ipmi_sim peer (../shared/peers/ipmi/bmc-sim),
// hapd's own responder (ipmi/responder-main.ts, run with bun), ipmitool, and free ports.
// Passwords go to ipmitool through its environment (-E), never on its command line.

import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const PEERS_IPMI = process.env.HAPD_IPMI_PEERS ?? resolve(REPO_ROOT, "../shared/peers/ipmi");
export const BMC_SIM = join(PEERS_IPMI, "bmc-sim");
export const BUN = existsSync(join(REPO_ROOT, "node_modules/.bin/bun")) ? join(REPO_ROOT, "node_modules/.bin/bun") : process.execPath;

export function have(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

/** Why the ipmi_sim tests cannot run here, or null when they can. */
export function ipmiSimMissing(): string | null {
  const missing = ["ipmi_sim", "ipmitool"].filter((c) => !have(c));
  if (!existsSync(BMC_SIM)) missing.push(BMC_SIM);
  return missing.length === 0 ? null : `skipped: ${missing.join(", ")} not found (make deps installs openipmi and ipmitool as root)`;
}

export function ipmitoolMissing(): string | null {
  return have("ipmitool") ? null : "skipped: ipmitool not found (make deps installs it as root)";
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = dgram.createSocket("udp4");
    socket.once("error", () => done(false));
    socket.bind(port, "127.0.0.1", () => socket.close(() => done(true)));
  });
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = net.createServer();
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });
}

/** A random port free for both UDP (the BMC) and TCP (bmc-sim's host link uses the same number). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    if ((await udpFree(port)) && (await tcpFree(port))) return port;
  }
  throw new Error("no free port found");
}

export function run(command: string, args: string[], env: Record<string, string> = {}, timeout_ms = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(command, args, { env: { ...process.env, ...env }, timeout: timeout_ms }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as NodeJS.ErrnoException & { code?: unknown }).code === "number" ? ((error as unknown as { code: number }).code) : 1) : 0;
      done({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export type SimBmc = { port: number; dir: string; user: string; password: string; stop: () => Promise<void>; powerState: () => Promise<"on" | "off">; boots: () => number };

export async function startBmcSim(options: { power?: "on" | "off"; user?: string; password?: string } = {}): Promise<SimBmc> {
  const user = options.user ?? "admin";
  const password = options.password ?? "hapd-s3cret";
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "hapd-bmc-"));
    // bmc-sim is the shared test fixture; it takes the simulator's password as an argument.
    const started = await run(BMC_SIM, ["start", "--port", String(port), "--state-dir", dir, "--user", user, "--password", password, "--power", options.power ?? "on"]);
    if (started.code !== 0) {
      rmSync(dir, { recursive: true, force: true });
      continue; // most likely the port was taken between the check and the start
    }
    return {
      port,
      dir,
      user,
      password,
      stop: async () => {
        await run(BMC_SIM, ["stop", "--state-dir", dir]);
        rmSync(dir, { recursive: true, force: true });
      },
      powerState: async () => ((await run(BMC_SIM, ["power-state", "--state-dir", dir])).stdout.trim() === "on" ? "on" : "off"),
      boots: () => Number(readFileSync(join(dir, "boots"), "utf8").trim() || "0"),
    };
  }
  throw new Error("could not start bmc-sim");
}

export type Responder = { port: number; stop: () => Promise<void>; events: () => unknown[]; dir: string };

/** Start ipmi/responder-main.ts with bun on a free port; password through the environment. */
export async function startResponder(options: { password: string; user?: string; suites?: string; privilege?: string }): Promise<Responder> {
  const dir = mkdtempSync(join(tmpdir(), "hapd-responder-"));
  const args = [join(REPO_ROOT, "ipmi/responder-main.ts"), "--port", "0", "--state-dir", dir, "--user", options.user ?? "admin", "--suites", options.suites ?? "17,3", "--privilege", options.privilege ?? "administrator", "--power-cycle-off-ms", "200"];
  const child: ChildProcess = spawn(BUN, args, { env: { ...process.env, HAPD_BMC_PASSWORD: options.password }, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let buffered = "";
  const port = await new Promise<number>((done, fail) => {
    child.once("exit", (code) => fail(new Error(`responder exited with ${code}`)));
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        const parsed = JSON.parse(line) as { listening?: number };
        if (parsed.listening) done(parsed.listening);
      }
    });
  });
  return {
    port,
    dir,
    events: () => lines.slice(1).map((l) => JSON.parse(l) as unknown),
    stop: () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done();
        child.once("exit", () => {
          rmSync(dir, { recursive: true, force: true });
          done();
        });
        if (child.pid) process.kill(child.pid, "SIGTERM");
      }),
  };
}

/** ipmitool -I lanplus against 127.0.0.1:port, password via IPMI_PASSWORD and -E. */
export function ipmitool(port: number, cipher: number, user: string, password: string, command: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run("ipmitool", ["-I", "lanplus", "-C", String(cipher), "-H", "127.0.0.1", "-p", String(port), "-U", user, "-E", "-N", "1", "-R", "2", ...command], { IPMI_PASSWORD: password });
}

/** Poll `probe` until it returns true, at most `attempts` times, `interval_ms` apart. */
export async function eventually(probe: () => Promise<boolean>, attempts = 100, interval_ms = 50): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, interval_ms));
  }
  return false;
}

/** Parse "Key : value" lines of ipmitool output. */
export function fields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([^:]+?)\s*:\s*(.*)$/.exec(line.trim());
    if (m && m[1]) out[m[1]] = (m[2] ?? "").trim();
  }
  return out;
}
