// The fence agent (`hapd fence`, dev entry ipmi/fence-main.ts): fence-agents conventions, so
// Pacemaker or any stack that runs fence agents can use it in place of fence_ipmilan.
//
// - Options as fence_ipmilan spells them, or key=value lines on stdin when argv is empty.
// - Exit codes: 0 success, 1 failure, 2 for `status` when the chassis is off.
// - `off` succeeds only once Get Chassis Status reads off; `reboot` is a verified off, then on.
// - Passwords: from --password, stdin or --password-script; never logged, never in the argv of
//   any child process (the script runs under /bin/sh with the script text as its argument).

import { appendFileSync, openSync, closeSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { IpmiClient } from "./client.ts";
import { IpmiError } from "./errors.ts";
import { AGENT_NAME, AGENT_VERSION, metadataXml, usageText } from "./fence-metadata.ts";
import { missingForFencing, parseArgv, parseStdin, resolveOptions, type FenceConfig } from "./fence-options.ts";

export type FenceIo = { stdin: NodeJS.ReadableStream; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };

const MAX_STDIN_BYTES = 64 * 1024;
const MAX_PASSWORD_SCRIPT_OUTPUT_BYTES = 4096;
const FIRST_POLL_INTERVAL_MS = 10;

/** fence-agents' fail() messages, so log scrapers and humans see familiar lines. */
const EC_TEXT = {
  login: "Unable to connect/login to fencing device",
  timeout: "Connection timed out",
  waiting_on: "Failed: Timed out waiting to power ON",
  waiting_off: "Failed: Timed out waiting to power OFF",
  status: "Failed: Unable to obtain correct plug status or plug is not available",
  password_missing: "Failed: You have to set login password",
  privileges: "Failed: The user does not have the correct privileges to do the requested action.",
} as const;

class AgentLog {
  constructor(
    private readonly stderr: NodeJS.WritableStream,
    private quiet: boolean,
    private verbose: number,
    private debug_file: string | null,
  ) {}

  configure(config: FenceConfig): void {
    this.quiet = config.quiet;
    this.verbose = config.verbose;
    this.debug_file = config.debug_file;
    if (this.debug_file) {
      // Create it owner-only: a debug log of a fencing device is nobody else's business.
      try {
        closeSync(openSync(this.debug_file, "a", 0o600));
      } catch {
        this.debug_file = null;
        this.error("Failed: Unable to create debug file");
      }
    }
  }

  private line(level: string, message: string): string {
    const d = new Date();
    const pad = (n: number, w = 2) => String(n).padStart(w, "0");
    const stamp = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())},${pad(d.getMilliseconds(), 3)}`;
    return `${stamp} ${level}: ${message}\n`;
  }

  private write(level: string, message: string, toStderr: boolean): void {
    const text = this.line(level, message);
    if (toStderr && !this.quiet) this.stderr.write(text);
    if (this.debug_file) {
      try {
        appendFileSync(this.debug_file, text);
      } catch {
        // a broken debug file must not break fencing
      }
    }
  }

  error(message: string): void {
    this.write("ERROR", message, true);
  }

  warning(message: string): void {
    this.write("WARNING", message, true);
  }

  debug(message: string): void {
    if (this.verbose > 0) this.write("DEBUG", message, true);
  }
}

function readAll(stream: NodeJS.ReadableStream, limit_bytes: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on("data", (chunk: Buffer | string) => {
      const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size <= limit_bytes) chunks.push(buffer);
    });
    stream.on("end", () => resolve(size > limit_bytes ? null : Buffer.concat(chunks).toString("utf8")));
    stream.on("error", reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Run --password-script like fence-agents (via the shell, output right-stripped). */
async function runPasswordScript(script: string, timeout_ms: number): Promise<string> {
  // Loaded on demand: most runs get the password on stdin and should not pay for child_process.
  const { spawn } = await import("node:child_process");
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", script], { stdio: ["ignore", "pipe", "ignore"] });
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the password script did not finish within ${timeout_ms} ms`));
    }, timeout_ms);
    child.stdout.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_PASSWORD_SCRIPT_OUTPUT_BYTES) chunks.push(chunk);
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`the password script exited with status ${code}`));
      resolve(Buffer.concat(chunks).toString("utf8").replace(/\s+$/, ""));
    });
  });
}

type Power = "on" | "off";

/** One fencing run: a session opened on demand, re-opened if it dies while we poll. */
class FenceRun {
  private client: IpmiClient | null = null;

  constructor(
    private readonly config: FenceConfig,
    private readonly password: string,
    private readonly log: AgentLog,
  ) {}

  get bmc(): string {
    return `${this.config.ip}:${this.config.ipport}`;
  }

  private async connect(): Promise<IpmiClient> {
    if (this.client) return this.client;
    const started = performance.now();
    this.log.debug(`opening an RMCP+ session to ${this.bmc} as user "${this.config.username}", cipher ${this.config.cipher}, privilege ${this.config.privilege}`);
    this.client = await IpmiClient.open({
      host: this.config.ip,
      port: this.config.ipport,
      username: this.config.username,
      password: this.password,
      kg: this.config.kg,
      cipher: this.config.cipher,
      privilege: this.config.privilege,
      request_timeout_ms: this.config.request_timeout_ms,
      max_attempts: Math.max(1, Math.ceil(this.config.shell_timeout_ms / this.config.request_timeout_ms)),
      login_timeout_ms: this.config.login_timeout_ms,
      command_timeout_ms: this.config.shell_timeout_ms,
      log: (line) => this.log.debug(line),
    });
    this.log.debug(`session open after ${(performance.now() - started).toFixed(1)} ms (cipher suite ${this.client.cipherSuite})`);
    return this.client;
  }

  private async drop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) await client.close();
  }

  async status(): Promise<Power> {
    const client = await this.connect();
    return client.powerStatus();
  }

  async control(action: "power_off" | "power_on"): Promise<void> {
    const client = await this.connect();
    if (action === "power_off") await client.powerOff();
    else await client.powerOn();
    this.log.debug(`chassis control ${action} accepted by ${this.bmc}`);
  }

  /**
   * Poll Get Chassis Status until it reads `wanted` or power_timeout passes. A session that
   * dies on the way (BMC busy, packet loss) is re-opened; a refusal (auth, privilege) is not.
   */
  async waitFor(wanted: Power): Promise<boolean> {
    const deadline = performance.now() + this.config.power_timeout_ms;
    for (let poll = 0; ; poll++) {
      try {
        const state = await this.status();
        this.log.debug(`poll ${poll}: chassis power is ${state}`);
        if (state === wanted) return true;
      } catch (error) {
        if (!(error instanceof IpmiError) || !["timeout", "closed", "protocol"].includes(error.code)) throw error;
        this.log.debug(`poll ${poll} failed (${error.message}); re-opening the session`);
        await this.drop();
      }
      const left = deadline - performance.now();
      if (left <= 0) return false;
      // Ramp up: BMCs usually act within tens of ms, so the first polls are tight (10, 20, 40 ms)
      // and later ones settle at the configured interval (--stonith-status-sleep, 50 ms default).
      const interval_ms = Math.min(this.config.poll_interval_ms, FIRST_POLL_INTERVAL_MS * 2 ** poll);
      await sleep(Math.min(interval_ms, left));
    }
  }

  async close(): Promise<void> {
    await this.drop();
  }
}

function print(io: FenceIo, line: string): void {
  io.stdout.write(line + "\n");
}

/** Report an IpmiError with its precise message, then the fence-agents line for its class. */
function reportFailure(log: AgentLog, error: unknown, fallback: string): void {
  if (!(error instanceof IpmiError)) {
    log.error(`${(error as Error)?.message ?? String(error)}`);
    log.error(fallback);
    return;
  }
  log.error(error.message);
  switch (error.code) {
    case "auth_failed":
    case "cipher":
    case "unsupported":
      log.error(EC_TEXT.login);
      return;
    case "privilege":
      log.error(EC_TEXT.privileges);
      return;
    case "timeout":
      log.error(EC_TEXT.timeout);
      return;
    default:
      log.error(fallback);
  }
}

async function powerOn(run: FenceRun, config: FenceConfig, attempts: number, log: AgentLog): Promise<boolean> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    await run.control("power_on");
    if (config.power_wait_ms > 0) await sleep(config.power_wait_ms);
    if (await run.waitFor("on")) return true;
    log.debug(`power on attempt ${attempt} of ${attempts} not confirmed`);
  }
  return false;
}

async function powerOffVerified(run: FenceRun, config: FenceConfig): Promise<boolean> {
  await run.control("power_off");
  if (config.power_wait_ms > 0) await sleep(config.power_wait_ms);
  return run.waitFor("off");
}

async function act(config: FenceConfig, run: FenceRun, io: FenceIo, log: AgentLog): Promise<number> {
  if ((config.action === "off" || config.action === "reboot") && config.delay_ms > 0) {
    log.debug(`delaying fencing by ${config.delay_ms} ms`);
    await sleep(config.delay_ms);
  }
  let status: Power;
  try {
    status = await run.status();
  } catch (error) {
    reportFailure(log, error, EC_TEXT.status);
    return 1;
  }
  try {
    switch (config.action) {
      case "status":
        print(io, `Status: ${status.toUpperCase()}`);
        return status === "off" ? 2 : 0;
      case "monitor":
        return 0;
      case "off":
        if (status === "off") {
          print(io, "Success: Already OFF");
          return 0;
        }
        if (await powerOffVerified(run, config)) {
          print(io, "Success: Powered OFF");
          return 0;
        }
        log.error(EC_TEXT.waiting_off);
        return 1;
      case "on":
        if (status === "on") {
          print(io, "Success: Already ON");
          return 0;
        }
        if (await powerOn(run, config, 1 + config.retry_on, log)) {
          print(io, "Success: Powered ON");
          return 0;
        }
        log.error(EC_TEXT.waiting_on);
        return 1;
      case "reboot": {
        if (status !== "off" && !(await powerOffVerified(run, config))) {
          log.error(EC_TEXT.waiting_off);
          return 1;
        }
        let on = false;
        try {
          on = await powerOn(run, config, Math.max(1, config.retry_on), log);
        } catch (error) {
          // The node is fenced (verified off); a failed power-on does not undo that.
          log.warning(error instanceof Error ? error.message : String(error));
        }
        if (!on) log.error("Timed out waiting to power ON");
        print(io, "Success: Rebooted");
        return 0;
      }
      default:
        return 1;
    }
  } catch (error) {
    reportFailure(log, error, config.action === "on" ? EC_TEXT.waiting_on : EC_TEXT.waiting_off);
    return 1;
  }
}

/**
 * Run the fence agent. `argv` holds the options only (no program name); with none, the
 * key=value protocol is read from io.stdin. Resolves to the process exit code.
 */
export async function runFenceAgent(argv: string[], io: FenceIo): Promise<number> {
  const log = new AgentLog(io.stderr, false, 0, null);
  let parsed;
  if (argv.length > 0) {
    parsed = parseArgv(argv);
  } else {
    const text = await readAll(io.stdin, MAX_STDIN_BYTES);
    if (text === null) {
      log.error(`Failed: more than ${MAX_STDIN_BYTES} bytes on standard input`);
      return 1;
    }
    parsed = parseStdin(text);
  }
  const { config, warnings, errors } = resolveOptions(parsed.options, parsed.verbose_count);
  log.configure(config);
  for (const warning of [...parsed.warnings, ...warnings]) log.warning(warning);

  if (parsed.options.get("help") === "1") {
    io.stdout.write(usageText(AGENT_NAME));
    return 0;
  }
  if (parsed.options.get("version") === "1") {
    print(io, AGENT_VERSION);
    return 0;
  }
  if (config.action === "metadata") {
    io.stdout.write(metadataXml());
    return 0;
  }
  if (config.action === "manpage") {
    io.stdout.write(usageText(AGENT_NAME));
    return 0;
  }
  const problems = [...parsed.errors, ...errors];
  if (problems.length > 0) {
    for (const problem of problems) log.error(problem);
    log.error("Please use '-h' for usage");
    return 1;
  }
  if (config.action === "list" || config.action === "list-status") {
    // Like fence_ipmilan: one BMC fences one machine, there is no list of plugs.
    print(io, "NOTICE: List option is not working on this device yet");
    return 0;
  }
  const missing = missingForFencing(config);
  if (config.action === "validate-all") {
    if (missing.length === 0) return 0;
    for (const problem of missing) log.error(problem);
    log.error("validate-all failed");
    return 1;
  }
  if (missing.length > 0) {
    for (const problem of missing) log.error(problem);
    log.error("Please use '-h' for usage");
    return 1;
  }

  let password = config.password ?? "";
  if (config.password_script !== null) {
    try {
      password = await runPasswordScript(config.password_script, config.login_timeout_ms);
    } catch (error) {
      log.error(`Failed: --password-script: ${(error as Error).message}`);
      return 1;
    }
  }
  if (password.length === 0) {
    log.error(EC_TEXT.password_missing);
    return 1;
  }

  const run = new FenceRun(config, password, log);
  const started = performance.now();
  try {
    return await act(config, run, io, log);
  } catch (error) {
    reportFailure(log, error, EC_TEXT.status);
    return 1;
  } finally {
    await run.close();
    log.debug(`${config.action} took ${(performance.now() - started).toFixed(1)} ms`);
  }
}
