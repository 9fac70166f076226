// bench/fence: hapd's fence agent against Debian's fence_ipmilan on the same simulated BMC
// (ipmi_sim via ../shared/peers/ipmi/bmc-sim, cipher suite 3), measured in turn in one run.
//
//   bun bench/fence/run.ts [N] [--agent "bun ipmi/fence-main.ts"]
//
// Each round: power on (untimed), `-o status` for both agents, hapd `-o off` to a confirmed off,
// then fence_ipmilan `-o off` with its defaults and with --power-wait=0 (power on, untimed,
// before each). Wall time of the whole agent process, start to exit. Options, password
// included, go to both agents on stdin (the fence-agents protocol), never on a command line.
// Prints medians and ratios, and ends with one line of JSON.

import { execFile, spawn, spawnSync } from "node:child_process";
import dgram from "node:dgram";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { IpmiClient } from "../../ipmi/client.ts";

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const BMC_SIM = join(process.env.HAPD_IPMI_PEERS ?? resolve(ROOT, "../shared/peers/ipmi"), "bmc-sim");
const BUN = existsSync(join(ROOT, "node_modules/.bin/bun")) ? join(ROOT, "node_modules/.bin/bun") : process.execPath;
const USER = "admin";
const PASSWORD = "bench-s3cret";

function parseArgs(): { rounds: number; agent: string[] } {
  const args = process.argv.slice(2);
  let rounds = 10;
  // The shipped binary by default (what an operator runs); the dev entry when it is not built.
  const hapd = join(ROOT, "dist/hapd");
  let agent = existsSync(hapd) ? [hapd, "fence"] : [BUN, join(ROOT, "ipmi/fence-main.ts")];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--agent") agent = (args[++i] ?? "").split(/\s+/).filter(Boolean);
    else if (/^\d+$/.test(arg)) rounds = Number(arg);
    else throw new Error(`usage: bun bench/fence/run.ts [N] [--agent "cmd ..."]`);
  }
  return { rounds, agent };
}

function have(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const udp = dgram.createSocket("udp4");
    udp.once("error", () => done(false));
    udp.bind(port, "127.0.0.1", () =>
      udp.close(() => {
        const tcp = net.createServer();
        tcp.once("error", () => done(false));
        tcp.listen(port, "127.0.0.1", () => tcp.close(() => done(true)));
      }),
    );
  });
}

function exec(command: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((done) => {
    execFile(command, args, { timeout: 60_000 }, (error, stdout) => done({ code: error ? 1 : 0, stdout: String(stdout) }));
  });
}

/** Run an agent with fence-agents options on stdin; wall time from spawn to exit. */
function timeAgent(command: string[], stdinText: string): Promise<{ ms: number; code: number; out: string }> {
  return new Promise((done) => {
    const started = performance.now();
    const [program, ...args] = command;
    const child = spawn(program ?? "false", args, { stdio: ["pipe", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("close", (code) => done({ ms: performance.now() - started, code: code ?? 1, out: out.trim() }));
    child.stdin.end(stdinText);
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

type Bmc = { port: number; dir: string };

async function startBmc(): Promise<Bmc> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    if (!(await portFree(port))) continue;
    const dir = mkdtempSync(join(tmpdir(), "hapd-bench-fence-"));
    // bmc-sim is the shared fixture; it takes the simulator's password as an argument.
    const r = await exec(BMC_SIM, ["start", "--port", String(port), "--state-dir", dir, "--user", USER, "--password", PASSWORD, "--power", "on"]);
    if (r.code === 0) return { port, dir };
    rmSync(dir, { recursive: true, force: true });
  }
  throw new Error("could not start bmc-sim");
}

async function powerState(bmc: Bmc): Promise<string> {
  return (await exec(BMC_SIM, ["power-state", "--state-dir", bmc.dir])).stdout.trim();
}

/** Power on (untimed) and wait until the simulated host has booted and linked to the BMC. */
async function ensureOn(bmc: Bmc): Promise<void> {
  const hostLog = () => (existsSync(join(bmc.dir, "host.log")) ? readFileSync(join(bmc.dir, "host.log"), "utf8") : "");
  const linked = () => {
    const log = hostLog();
    return (log.match(/ boot \d+/g)?.length ?? 0) > 0 && (log.match(/vm connected/g)?.length ?? 0) >= (log.match(/ boot \d+/g)?.length ?? 0);
  };
  if ((await powerState(bmc)) !== "on") {
    const client = await IpmiClient.open({ host: "127.0.0.1", port: bmc.port, username: USER, password: PASSWORD, cipher: 3 });
    try {
      await client.powerOn();
    } finally {
      await client.close();
    }
  }
  for (let i = 0; i < 200 && !((await powerState(bmc)) === "on" && linked()); i++) await sleep(25);
  if (!linked()) throw new Error("the simulated host did not come back up");
  await sleep(100); // let ipmi_sim settle after the host link, as a real BMC would be idle
}

async function waitOff(bmc: Bmc): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if ((await powerState(bmc)) === "off") return true;
    await sleep(25);
  }
  return false;
}

async function main(): Promise<void> {
  const { rounds, agent } = parseArgs();
  for (const needed of ["ipmi_sim", "ipmitool"]) if (!have(needed)) throw new Error(`${needed} is missing: run make deps (apt-get install openipmi ipmitool fence-agents)`);
  const reference = have("fence_ipmilan");
  if (!reference) process.stderr.write("fence_ipmilan is missing: only hapd is measured (apt-get install fence-agents)\n");

  const bmc = await startBmc();
  const stdinFor = (action: string, extra = "") => `action=${action}\nip=127.0.0.1\nipport=${bmc.port}\nusername=${USER}\npassword=${PASSWORD}\nlanplus=1\ncipher=3\n${extra}`;
  const samples: Record<string, number[]> = { hapd_off: [], hapd_status: [], fi_off: [], fi_off_pw0: [], fi_status: [] };
  const problems: string[] = [];
  const check = (name: string, r: { code: number; out: string }, code: number, out: RegExp) => {
    if (r.code !== code || !out.test(r.out)) problems.push(`${name}: exit ${r.code}, "${r.out}"`);
  };

  const stop = async () => {
    await exec(BMC_SIM, ["stop", "--state-dir", bmc.dir]);
    rmSync(bmc.dir, { recursive: true, force: true });
  };
  process.on("SIGINT", () => void stop().then(() => process.exit(130)));

  try {
    process.stderr.write(`bench/fence: ${rounds} rounds against ipmi_sim on 127.0.0.1:${bmc.port} (suite 3); agent: ${agent.join(" ")}\n`);
    for (let round = 0; round < rounds; round++) {
      await ensureOn(bmc);
      let r = await timeAgent(agent, stdinFor("status"));
      check("hapd status", r, 0, /^Status: ON$/);
      samples.hapd_status?.push(r.ms);
      if (reference) {
        r = await timeAgent(["fence_ipmilan"], stdinFor("status"));
        check("fence_ipmilan status", r, 0, /^Status: ON$/);
        samples.fi_status?.push(r.ms);
      }

      r = await timeAgent(agent, stdinFor("off"));
      check("hapd off", r, 0, /^Success: Powered OFF$/);
      if (!(await waitOff(bmc))) problems.push("hapd off: the simulated host did not go off");
      samples.hapd_off?.push(r.ms);

      if (reference) {
        await ensureOn(bmc);
        r = await timeAgent(["fence_ipmilan"], stdinFor("off"));
        check("fence_ipmilan off", r, 0, /Success: Powered OFF/);
        samples.fi_off?.push(r.ms);
        await ensureOn(bmc);
        r = await timeAgent(["fence_ipmilan"], stdinFor("off", "power_wait=0\n"));
        check("fence_ipmilan off power-wait=0", r, 0, /Success: Powered OFF/);
        samples.fi_off_pw0?.push(r.ms);
      }
      process.stderr.write(`round ${round + 1}/${rounds} done\n`);
    }
  } finally {
    await stop();
  }

  const med = (key: string) => (samples[key]?.length ? round1(median(samples[key] ?? [])) : null);
  const range = (key: string) => {
    const v = samples[key] ?? [];
    return v.length ? `${round1(Math.min(...v))}–${round1(Math.max(...v))}` : "-";
  };
  const rows: [string, string][] = [
    ["hapd fence -o off (to a confirmed off)", "hapd_off"],
    ["hapd fence -o status", "hapd_status"],
    ["fence_ipmilan --cipher 3 -o off (defaults)", "fi_off"],
    ["fence_ipmilan --cipher 3 -o off --power-wait=0", "fi_off_pw0"],
    ["fence_ipmilan --cipher 3 -o status", "fi_status"],
  ];
  console.log(`\nmedians of ${rounds} runs, wall time of the agent process, ms (min–max)`);
  for (const [label, key] of rows) console.log(`  ${label.padEnd(50)} ${String(med(key) ?? "-").padStart(8)}  (${range(key)})`);
  const hapdOff = med("hapd_off");
  const hapdStatus = med("hapd_status");
  const ratio = (theirs: number | null, ours: number | null) => (theirs !== null && ours ? Math.round((theirs / ours) * 100) / 100 : null);
  const ratioOff = ratio(med("fi_off_pw0"), hapdOff);
  const ratioOffDefaults = ratio(med("fi_off"), hapdOff);
  const ratioStatus = ratio(med("fi_status"), hapdStatus);
  console.log(`  off:    fence_ipmilan (power-wait 0) / hapd = ${ratioOff ?? "-"}x   (defaults / hapd = ${ratioOffDefaults ?? "-"}x; target >= 3x)`);
  console.log(`  status: fence_ipmilan / hapd = ${ratioStatus ?? "-"}x`);
  if (problems.length > 0) {
    console.log(`  PROBLEMS (${problems.length}):`);
    for (const p of problems.slice(0, 10)) console.log(`    ${p}`);
  }
  console.log(
    JSON.stringify({
      bench: "fence",
      hapd_off_ms: hapdOff,
      hapd_status_ms: hapdStatus,
      fence_ipmilan_off_ms: med("fi_off"),
      fence_ipmilan_off_pw0_ms: med("fi_off_pw0"),
      fence_ipmilan_status_ms: med("fi_status"),
      ratio_off_vs_pw0: ratioOff,
      ratio_status: ratioStatus,
    }),
  );
  if (problems.length > 0) process.exitCode = 1;
}

await main();
