// bench/watchdog: how fast the watcher hierarchy acts, against what it is configured to do.
//  1. service hang (SIGSTOP of the cluster service) -> the supervisor has a new instance running;
//     configured: heartbeat 100 ms x 3 missed = 300 ms to detect, plus the restart.
//  2. supervisor hang (SIGSTOP of `hapd node`) -> the simulated BMC's watchdog resets the chassis;
//     configured: the IPMI watchdog timeout (5 s in the lab).
// Times come from the node log (ms timestamps) and the BMC's host.log (epoch seconds, ns).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { labPower, labRootPid, labStatus, nodePid, readLabState, startLabNode, waitFor } from "../../services/lab/lab.ts";
import { HAPD, finish, median, quantile, requireBinary, round, sh } from "../lib.ts";

const DIR = `/run/hapd-bench-watchdog-${process.pid}`;
const SERVICE_HANGS = Number(process.env.SERVICE_HANGS ?? 8);
const SUPERVISOR_HANGS = Number(process.env.SUPERVISOR_HANGS ?? 3);
const DETECT_MS = 300;
const WATCHDOG_S = 5;
const log = (s: string) => process.stderr.write(`${s}\n`);

async function together(): Promise<void> {
  await waitFor("a quorate view of three", 12_000, async () => {
    const all = await Promise.all(["host-a", "host-b", "arb"].map((n) => labStatus(DIR, n)));
    return all.every((s) => s.view.members.length === 3 && s.quorum.quorate && (s.nodes.find((x) => x.self)?.name !== "host-b" || s.supervisor)) ? true : null;
  });
}

/** Bring host-b back (it may have been fenced or reset by the previous sample) and settle. */
async function ensureUp(): Promise<void> {
  for (let attempt = 0; attempt < 4; attempt++) {
    await new Promise((r) => setTimeout(r, 2000)); // let a fence or reset in progress finish
    const state = readLabState(DIR)!;
    const up = await labStatus(DIR, "host-b").then(() => true, () => false);
    if (!up || labPower(state, "host-b") === "off") {
      try {
        await startLabNode(state, "host-b");
      } catch (e) {
        log(`restart of host-b: ${(e as Error).message}`);
      }
    }
    try {
      await together();
      return;
    } catch {
      log("host-b did not rejoin; trying again");
    }
  }
  throw new Error("host-b would not come back");
}

/** ms from SIGSTOP to a new service running, or null when the peers fenced the node first. */
async function serviceHang(): Promise<number | null> {
  await ensureUp();
  const s = await waitFor("host-b's supervisor report", 5000, async () => (await labStatus(DIR, "host-b")).supervisor ?? null);
  // The report gives the service's pid inside host-b's PID namespace: the log says that one.
  const pid = s.services[0]!.pid!;
  const rootPid = labRootPid(readLabState(DIR)!, "host-b", pid);
  if (rootPid === undefined) throw new Error(`host-b's cluster service (pid ${pid} in its namespace) not found`);
  const logFile = join(DIR, "host-b", "node.log");
  const t0 = Date.now();
  process.kill(rootPid, "SIGSTOP");
  const at = await waitFor("the restarted service, or a fence", 15_000, async () => {
    for (const line of readFileSync(logFile, "utf8").split("\n")) {
      const m = /^(\S+) host-b info +supervisor: cluster running \(pid (\d+)/.exec(line);
      if (m && Number(m[2]) !== pid && Date.parse(m[1]!) >= t0) return Date.parse(m[1]!);
    }
    // The hang outlasted the peers' loss timeout and they powered host-b off first.
    return labPower(readLabState(DIR)!, "host-b") === "off" ? -1 : null;
  });
  return at < 0 ? null : at - t0;
}

async function supervisorHang(): Promise<number> {
  await ensureUp();
  await new Promise((r) => setTimeout(r, 1500)); // a keepalive has just happened, as in steady state
  const bmcLog = join(DIR, "host-b", "bmc", "host.log");
  const before = (readFileSync(bmcLog, "utf8").match(/hard-reset/g) ?? []).length;
  const pid = nodePid(readLabState(DIR)!, "host-b")!;
  const t0 = Date.now();
  process.kill(pid, "SIGSTOP");
  const at = await waitFor("the chassis reset", 30_000, async () => {
    const resets = readFileSync(bmcLog, "utf8").split("\n").filter((l) => l.includes("hard-reset"));
    if (resets.length <= before) return null;
    return Number(resets[resets.length - 1]!.split(" ")[0]) * 1000;
  });
  try {
    process.kill(pid, "SIGCONT");
  } catch {
    // the reset took it
  }
  return Math.round(at - t0);
}

async function main(): Promise<void> {
  requireBinary();
  if (process.getuid?.() !== 0) throw new Error("bench/watchdog needs root (network namespaces)");
  const up = sh([HAPD, "demo", "--dir", DIR, "--prefix", "bw-"]);
  if (up.code !== 0) throw new Error(`lab failed: ${up.out}`);
  const svc: number[] = [];
  const sup: number[] = [];
  let fencedFirst = 0;
  try {
    for (let i = 0; i < SERVICE_HANGS * 3 && svc.length < SERVICE_HANGS; i++) {
      const ms = await serviceHang();
      if (ms === null) {
        fencedFirst++;
        log("service hang -> the peers fenced host-b before the restarted service was up");
      } else {
        svc.push(ms);
        log(`service hang -> restarted service running after ${ms} ms`);
      }
    }
    for (let i = 0; i < SUPERVISOR_HANGS; i++) {
      sup.push(await supervisorHang());
      log(`supervisor hang -> chassis reset by the BMC watchdog after ${sup.at(-1)} ms`);
    }
  } finally {
    sh([HAPD, "demo", "--down", "--dir", DIR]);
  }
  log("");
  log(`service hang -> restart: median ${median(svc)} ms, p95 ${round(quantile(svc, 0.95))} ms (configured detection ${DETECT_MS} ms + restart); fenced by the peers first in ${fencedFirst} of ${svc.length + fencedFirst} hangs`);
  log(`supervisor hang -> reset: median ${median(sup)} ms (configured IPMI watchdog timeout ${WATCHDOG_S * 1000} ms; ipmi_sim 2.0.33 fires between T-1 s and T after the last pet)`);
  finish({
    bench: "watchdog",
    service_hang_to_restart_ms_p50: median(svc),
    service_hang_to_restart_ms_p95: round(quantile(svc, 0.95)),
    configured_detect_ms: DETECT_MS,
    ratio_service: round(median(svc) / DETECT_MS, 2),
    service_hangs_fenced_first: fencedFirst,
    supervisor_hang_to_reset_ms_p50: median(sup),
    configured_watchdog_ms: WATCHDOG_S * 1000,
    ratio_supervisor: round(median(sup) / (WATCHDOG_S * 1000), 2),
  });
}

main().catch((e) => {
  process.stderr.write(`bench/watchdog failed: ${(e as Error).message}\n`);
  process.exit(1);
});
