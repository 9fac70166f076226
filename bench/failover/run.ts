// bench/failover: how long the service is gone when something fails, end to end.
//
// One resource, `svc` (ocf:heartbeat:anything running a socat HTTP responder on :8080 that
// answers with the node's hostname), prefers host-a (50), never arb, stickiness 100: the
// reference's cib.crm in hapd's YAML. Scenarios, each timed from T0 (just before the fault or
// the command) to the service answering an HTTP GET from the switch namespace:
//
//   kill9     kill -9 of host-a's `hapd node` and its services -> host-b takes over  (RUNS)
//   linkdown  host-a's ring0 + ring1 cut at the bridge, serial line stopped -> host-b  (RUNS)
//   rscfail   kill -9 of the service process on host-a at a random 0-2 s phase of its 2 s
//             monitor -> restarted on host-a                                       (RUNS)
//   move      hapd resource move svc host-b, then resource clear                  (SWITCH_RUNS)
//   standby   hapd node standby host-a, then node online                          (SWITCH_RUNS)
//
// Phases come from one clock: the node logs (ms timestamps: new view, `crm: start svc on X: ok`,
// stop, monitor failure), the fence history, and the HTTP probe (every 50 ms). kill -9 leaves
// host-a's machine (and svc on it) running until the fence cuts its power, as on real hardware.
// After each hard failover host-a is powered on again (the lab keeps a fenced host off) and svc
// is moved back to host-a. A scenario whose service does not answer within FAILOVER_TIMEOUT_MS
// (60 s) fails the bench, saying what the cluster reported.
// Reference: Corosync 3 + Pacemaker 2.1 with fence_ipmilan on ipmi_sim
// (../shared/peers/pacemaker). REF=pacemaker runs its measure.sh in this run (after ours, with
// our lab gone); otherwise its recorded medians are printed, labelled as recorded.
// The ratio is reference / ours (how many times faster) on "start op ok" (like for like), and
// also reference start / our HTTP answer (stricter for us).
//
//   make bench-failover                      RUNS=10 SWITCH_RUNS=5 ONLY="kill9 linkdown ..."
//   REF=pacemaker make bench-failover        (REF_RUNS, default RUNS)
import { execFile, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FenceEvent } from "../../services/fencing/core.ts";
import { type LabState, alive, labNodePids, labSocket, labStatus, nodePid, readLabState, waitFor } from "../../services/lab/lab.ts";
import { queryNode } from "../../services/node/status-client.ts";
import type { ResourceReport, StatusReport } from "../../services/node/status.ts";
import { HAPD, SHARED, finish, median, quantile, readJsonl, requireBinary, round, sh } from "../lib.ts";

const RUNS = Number(process.env.RUNS ?? 10);
const SWITCH_RUNS = Number(process.env.SWITCH_RUNS ?? Math.min(RUNS, 5));
const KINDS = ["kill9", "linkdown", "rscfail", "move", "standby"] as const;
type Kind = (typeof KINDS)[number];
const ONLY: Kind[] = (process.env.ONLY ?? KINDS.join(" ")).split(/\s+/).filter((k): k is Kind => (KINDS as readonly string[]).includes(k));
const DIR = `/run/hapd-bench-failover-${process.pid}`;
const PREFIX = "bf-";
const SW = `${PREFIX}hapd-sw`;
const NODES = ["host-a", "host-b", "arb"] as const;
const ADDR: Record<string, string> = { "host-a": "10.70.0.1", "host-b": "10.70.0.2" };
const POLL_MS = 50;
/** How long one failover may take before the bench gives up on it (and fails, saying what). */
const FAILOVER_TIMEOUT_MS = Number(process.env.FAILOVER_TIMEOUT_MS ?? 60_000);

const SVC_YAML = `# bench/failover: the reference's cib.crm (../shared/peers/pacemaker) in hapd's YAML
defaults:
  resource: { stickiness: 100 }
resources:
  - id: svc
    agent: "ocf:heartbeat:anything"
    params: { binfile: /usr/bin/socat, cmdline_options: "TCP-LISTEN:8080,reuseaddr,fork SYSTEM:'echo HTTP/1.0 200 OK; echo; hostname'" }
    operations:
      - { name: monitor, interval: 2s, timeout: 10s }
constraints:
  - { location: svc-prefers-a, resource: svc, node: host-a, score: 50 }
  - { location: svc-never-arb, resource: svc, node: arb, score: -INFINITY }
`;

function log(s: string): void {
  process.stderr.write(`${s}\n`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function state(): LabState {
  const s = readLabState(DIR);
  if (!s) throw new Error(`no lab in ${DIR}`);
  return s;
}

/** hapd CLI against the lab; throws with its output when it fails or hangs (60 s). */
function hapd(args: string[]): string {
  const r = spawnSync(HAPD, [...args, "--lab-dir", DIR], { encoding: "utf8", timeout: 60_000 });
  const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
  if (r.status !== 0) throw new Error(`hapd ${args.join(" ")} ${r.error ? `failed: ${r.error.message}` : `exited ${r.status}`}: ${out}`);
  return out;
}

/**
 * One HTTP GET of the service on a node's ring0 address, from the switch namespace (where a
 * client on the cluster's network would be). Resolves with the body's hostname, or null.
 */
function httpGet(node: string): Promise<string | null> {
  return new Promise((done) => {
    const child = execFile(
      "ip",
      ["netns", "exec", SW, "socat", "-T1", "-", `TCP:${ADDR[node]}:8080,connect-timeout=0.5`],
      { timeout: 2000, encoding: "utf8" },
      (error, stdout) => {
        const m = /^HTTP\/1\.0 200 OK\r?\n\r?\n(\S+)/.exec(stdout);
        done(!error && m ? m[1]! : null);
      },
    );
    // socat exits at once on a refused connection: its stdin may be closed before we write.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end("GET / HTTP/1.0\r\n\r\n");
  });
}

async function status(node: string): Promise<StatusReport | null> {
  return labStatus(DIR, node).catch(() => null);
}

function svcOf(s: StatusReport | null): ResourceReport | undefined {
  return s?.crm?.resources.find((r) => r.id === "svc");
}

function activeOn(s: StatusReport | null): string[] {
  return (svcOf(s)?.active ?? []).map((a) => a.node);
}

/** Millisecond timestamps of a node's log lines that match `re`, at or after `since`. */
function logTimes(node: string, re: RegExp, since: number): number[] {
  let text = "";
  try {
    text = readFileSync(join(DIR, node, "node.log"), "utf8");
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\d{4}-\d\d-\d\dT\S+Z) /.exec(line);
    if (!m || !re.test(line)) continue;
    const at = Date.parse(m[1]!);
    if (at >= since) out.push(at);
  }
  return out;
}

async function fenceEvents(node: string): Promise<FenceEvent[]> {
  return ((await queryNode(labSocket(DIR, node), "fence-history").catch(() => [])) as FenceEvent[]) ?? [];
}

/**
 * Poll (every 50 ms) until `node` serves the service with its own hostname and `ready` holds;
 * resolves with that moment. Throws, naming what did not happen and what the cluster says about
 * svc, when it does not happen within FAILOVER_TIMEOUT_MS: the bench fails rather than hangs.
 */
async function waitServed(node: string, t0: number, what: string, ready: () => boolean = () => true): Promise<number> {
  const deadline = t0 + FAILOVER_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const body = await httpGet(node);
    const now = Date.now();
    if (body === node && ready()) return now;
    await sleep(POLL_MS);
  }
  const last = (await status("host-b")) ?? (await status("arb"));
  const svc = svcOf(last);
  throw new Error(
    `${what}: svc never answered on ${node} (http://${ADDR[node]}:8080) within ${FAILOVER_TIMEOUT_MS} ms; ` +
      `the cluster last reported svc ${svc ? `active on [${activeOn(last).join(", ")}], fail counts ${JSON.stringify(svc.fail_counts)}, last failure ${JSON.stringify(svc.last_failure)}` : last?.crm ? "not configured" : "with no resource manager report"}`,
  );
}

/** The first log time of `re` on `node` at or after t0, as ms after t0 (the logger writes
 * asynchronously, so callers read the logs a moment after the event they waited for). */
function firstLog(node: string, re: RegExp, t0: number): number | null {
  const at = logTimes(node, re, t0)[0];
  return at === undefined ? null : at - t0;
}

const crmLine = (op: string, node: string, result: "ok" | "failed") =>
  new RegExp(` crm: ${op.replace(/[()]/g, "\\$&")} svc on ${node}: ${result === "ok" ? "ok" : "(?!ok)"}`);

async function allTogether(): Promise<void> {
  await waitFor("all three nodes in one quorate view", 60_000, async () => {
    const all = await Promise.all(NODES.map((n) => status(n)));
    return all.every((s) => s && s.view.members.length === 3 && s.quorum.quorate) ? true : null;
  });
}

/** The healthy starting point of every run: all three up, svc on host-a only, answering. */
async function normalize(): Promise<void> {
  await allTogether();
  const s = await status("host-b");
  const where = activeOn(s);
  if (where.length !== 1 || where[0] !== "host-a") {
    hapd(["resource", "move", "svc", "host-a", "--node", "host-b"]);
    await waitServed("host-a", Date.now(), "moving svc back to host-a");
    hapd(["resource", "clear", "svc", "--node", "host-b"]);
  }
  if (Object.values(svcOf(await status("host-b"))?.fail_counts ?? {}).some((n) => n > 0)) hapd(["resource", "cleanup", "svc", "--node", "host-b"]);
  await waitServed("host-a", Date.now(), "svc on host-a before a run");
  // Settle (the reference waits 3 s after crm_resource --wait): the move-back transition and
  // its first monitor are over, so the fault lands on a quiet cluster.
  await sleep(1000);
}

type Sample = Record<string, number | null>;

/** ms from t0, or null. */
const rel = (t0: number, at: number | null | undefined) => (at === null || at === undefined ? null : at - t0);

async function hardFailover(kind: "kill9" | "linkdown", run: number): Promise<Sample> {
  await normalize();
  const st = state();
  const t0 = Date.now();
  if (kind === "kill9") {
    // The supervisor and its services (the reference kills corosync and every pacemaker daemon).
    const sup = nodePid(st, "host-a");
    if (sup === undefined) throw new Error("host-a's hapd node is not running");
    const victims = [sup, ...labNodePids(st, "host-a").filter((p) => p !== sup && /\bhapd\b.*\bservice\b/.test(cmdline(p)))];
    for (const p of victims) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // a service can die with its supervisor (parent-death signal) before we get to it
      }
    }
  } else {
    cut(true);
  }
  try {
    const answers = await waitServed("host-b", t0, `${kind} run ${run}`);
    await sleep(300);
    // Fencing is done by whichever survivor holds the view; every node keeps the history.
    const events = (await fenceEvents("host-b")).filter((e) => e.target === "host-a" && e.at_wall_ms >= t0);
    const requested = events.find((e) => e.phase === "requested")?.at_wall_ms ?? null;
    const done = events.find((e) => e.phase === "done" && e.result === "ok")?.at_wall_ms ?? null;
    const sample: Sample = {
      detected: firstLog("host-b", /membership: view \d+: \[[^\]]*\] \([^)]*left [^)]*host-a/, t0),
      fence_requested: rel(t0, requested),
      fenced: rel(t0, done),
      started: firstLog("host-b", crmLine("start", "host-b", "ok"), t0),
      answers: answers - t0,
    };
    if (done === null) log(`  (${kind} run ${run}: no confirmed fence of host-a in host-b's history)`);
    return sample;
  } finally {
    if (kind === "linkdown") cut(false);
    await powerOnHostA();
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/** host-a's links cut at the bridge (as the reference cuts its veth there) and the serial line stopped. */
function cut(down: boolean): void {
  for (const r of ["r0", "r1"]) {
    const res = sh(["ip", "-n", SW, "link", "set", `host-a-${r}`, down ? "down" : "up"]);
    if (res.code !== 0) throw new Error(`ip -n ${SW} link set host-a-${r}: ${res.out.trim()}`);
  }
  // The serial line is a socat pty pair: stopped, it carries nothing either way.
  const socat = state().pids.socat;
  if (socat !== undefined) process.kill(socat, down ? "SIGSTOP" : "SIGCONT");
}

/** The lab keeps a fenced host off: power host-a on (or cycle it) and wait until it is back in the view. */
async function powerOnHostA(): Promise<void> {
  await sleep(500);
  if (!alive(nodePid(state(), "host-a")) || !(await status("host-a"))) {
    const r = sh([HAPD, "demo", "--dir", DIR, "--restart", "host-a"]);
    if (r.code !== 0) log(`  restart host-a: ${r.out.trim()}`);
  }
  await allTogether();
}

async function rscfail(run: number): Promise<Sample> {
  await normalize();
  const st = state();
  const svcPid = () => labNodePids(st, "host-a").find((p) => cmdline(p).startsWith("/usr/bin/socat TCP-LISTEN:8080"));
  const old = svcPid();
  if (old === undefined) throw new Error("rscfail: no socat TCP-LISTEN:8080 process on host-a");
  await sleep(Math.random() * 2000); // random phase against the 2 s monitor
  const t0 = Date.now();
  process.kill(old, "SIGKILL");
  // A new process must answer: the old one could still be closing its socket at the first probe.
  const answers = await waitServed("host-a", t0, `rscfail run ${run}`, () => {
    const p = svcPid();
    return p !== undefined && p !== old;
  });
  await sleep(300);
  return {
    detected: firstLog("host-a", crmLine("monitor(2s)", "host-a", "failed"), t0),
    stopped: firstLog("host-a", crmLine("stop", "host-a", "ok"), t0),
    started: firstLog("host-a", crmLine("start", "host-a", "ok"), t0),
    answers: answers - t0,
  };
}

async function switchover(kind: "move" | "standby", run: number): Promise<Sample> {
  await normalize();
  const t0 = Date.now();
  if (kind === "move") hapd(["resource", "move", "svc", "host-b", "--node", "host-a"]);
  else hapd(["node", "standby", "host-a", "--node", "host-b"]);
  const t1 = Date.now();
  const answers = await waitServed("host-b", t0, `${kind} run ${run}`);
  await sleep(300);
  const sample: Sample = {
    cli: t1 - t0,
    stopped: firstLog("host-a", crmLine("stop", "host-a", "ok"), t0),
    started: firstLog("host-b", crmLine("start", "host-b", "ok"), t0),
    answers: answers - t0,
  };
  if (kind === "move") hapd(["resource", "clear", "svc", "--node", "host-a"]);
  else hapd(["node", "online", "host-a", "--node", "host-b"]);
  return sample;
}

// ---------- the reference ----------

interface RefFigures {
  source: string;
  /** kind -> event -> seconds (median, p95 or max, n). */
  kinds: Partial<Record<Kind, Record<string, { median: number; p95: number | null; n: number }>>>;
}

/** ../shared/peers/pacemaker/README.md, final run (measure.sh 5, 2026-11-22): min / median / max in seconds. */
const REF_RECORDED: RefFigures = {
  source: "recorded: ../shared/peers/pacemaker/README.md (measure.sh 5; medians of 5 runs; p95 = recorded max)",
  kinds: {
    kill9: { membership: { median: 7.81, p95: 8.0, n: 5 }, fence_done: { median: 13.31, p95: 13.67, n: 5 }, started: { median: 13.56, p95: 13.91, n: 5 } },
    linkdown: { membership: { median: 7.96, p95: 8.02, n: 5 }, fence_done: { median: 12.6, p95: 13.61, n: 5 }, started: { median: 12.86, p95: 13.94, n: 5 } },
    rscfail: { detected: { median: 0.24, p95: 0.85, n: 5 }, started: { median: 0.59, p95: 1.21, n: 5 } },
    move: { started: { median: 0.9, p95: 0.93, n: 5 }, cli_s: { median: 0.72, p95: null, n: 5 } },
    standby: { started: { median: 0.94, p95: 1.05, n: 5 }, cli_s: { median: 0.79, p95: null, n: 5 } },
  },
};

function pacemakerReference(kinds: Kind[]): RefFigures {
  // The harness's CIB and service script name /tmp/pcmk-baseline (its default PB_BASE) literally:
  // any other base starts a service that does not exist.
  const base = "/tmp/pcmk-baseline";
  const runs = Number(process.env.REF_RUNS ?? RUNS);
  log(`running the Corosync + Pacemaker harness (${kinds.join(" ")}, ${runs} runs each); this takes many minutes`);
  const r = sh(["bash", join(SHARED, "peers/pacemaker/measure.sh"), String(runs)], { env: { PB_BASE: base, ONLY: kinds.join(" "), SKIP_IDLE: "1" } });
  if (r.code !== 0) log(r.out.slice(-2000));
  const out: RefFigures = { source: `measured in this run: measure.sh ${runs} ONLY="${kinds.join(" ")}" (${base}/results)`, kinds: {} };
  for (const kind of kinds) {
    let rows: Array<Record<string, number | string | null>> = [];
    try {
      rows = readJsonl<Record<string, number | string | null>>(join(base, "results", `${kind}.jsonl`));
    } catch {
      log(`the reference produced no ${kind} results`);
      continue;
    }
    const figs: Record<string, { median: number; p95: number | null; n: number }> = {};
    for (const key of Object.keys(rows[0] ?? {})) {
      if (["kind", "t0", "dc", "run"].includes(key)) continue;
      const v = rows.map((x) => x[key]).filter((x): x is number => typeof x === "number");
      if (v.length) figs[key] = { median: round(median(v), 3), p95: round(quantile(v, 0.95), 3), n: v.length };
    }
    out.kinds[kind] = figs;
  }
  return out;
}

// ---------- main ----------

/** Which of our phases and the reference's events line up, per scenario (ours in ms, theirs in s). */
const HARD: Array<[string, string | null, string]> = [
  ["detected", "membership", "detected (new view without host-a)"],
  ["fence_requested", "fence_requested", "fence requested"],
  ["fenced", "fence_done", "fence confirmed (chassis off)"],
  ["started", "started", "start op ok on host-b"],
  ["answers", null, "svc answers HTTP on host-b"],
];
const SWITCH: Array<[string, string | null, string]> = [
  ["cli", "cli_s", "the CLI command itself"],
  ["stopped", "stopped", "stop op ok on host-a"],
  ["started", "started", "start op ok on host-b"],
  ["answers", null, "svc answers HTTP on host-b"],
];
const PHASES: Record<Kind, Array<[ours: string, theirs: string | null, label: string]>> = {
  kill9: HARD,
  linkdown: HARD,
  rscfail: [
    ["detected", "detected", "monitor failure logged"],
    ["stopped", "stopped", "stop op ok on host-a"],
    ["started", "started", "start op ok on host-a"],
    ["answers", null, "svc answers HTTP on host-a (new process)"],
  ],
  move: SWITCH,
  standby: SWITCH,
};

async function main(): Promise<void> {
  requireBinary();
  if (process.getuid?.() !== 0) throw new Error("bench/failover needs root (network namespaces)");
  if (ONLY.length === 0) throw new Error(`ONLY names no scenario; pick from: ${KINDS.join(" ")}`);
  // Whatever ends this process (Ctrl-C, an uncaught error) must not leave the lab behind.
  process.on("SIGINT", () => process.exit(130));
  process.on("exit", () => {
    if (readLabState(DIR)) sh([HAPD, "demo", "--down", "--dir", DIR]);
  });
  const up = sh([HAPD, "demo", "--dir", DIR, "--prefix", PREFIX]);
  if (up.code !== 0) throw new Error(`lab failed: ${up.out}`);
  const samples: Partial<Record<Kind, Sample[]>> = {};
  let failure: Error | null = null;
  try {
    if (!state().bmcSim) throw new Error("the lab has no BMCs (ipmi_sim / ../shared/peers/ipmi missing): no fencing, no failover to measure");
    const file = join(DIR, "svc.yaml");
    writeFileSync(file, SVC_YAML);
    log(hapd(["crm", "configure", file, "--node", "host-a"]).trim());
    await waitServed("host-a", Date.now(), "svc on host-a after crm configure");
    log("svc answers on host-a; measuring");
    for (const kind of ONLY) {
      const n = kind === "move" || kind === "standby" ? SWITCH_RUNS : RUNS;
      const list: Sample[] = [];
      samples[kind] = list;
      for (let i = 1; i <= n; i++) {
        const s = kind === "kill9" || kind === "linkdown" ? await hardFailover(kind, i) : kind === "rscfail" ? await rscfail(i) : await switchover(kind, i);
        list.push(s);
        log(`${kind} run ${i}/${n}: ${Object.entries(s).map(([k, v]) => `${k} ${v ?? "-"}`).join(", ")} ms`);
      }
    }
  } catch (e) {
    failure = e as Error;
  } finally {
    sh([HAPD, "demo", "--down", "--dir", DIR]);
  }
  if (failure) throw failure;

  const ref = process.env.REF === "pacemaker" ? pacemakerReference(ONLY) : REF_RECORDED;
  const result: Record<string, unknown> = { bench: "failover", runs: RUNS, switch_runs: SWITCH_RUNS, reference: ref.source };
  log("");
  log(`ms after T0: ours median / p95 (n)   |  reference median / p95 (${process.env.REF === "pacemaker" ? "measured now" : "recorded; p95 = max of 5"})`);
  for (const kind of ONLY) {
    const list = samples[kind] ?? [];
    const theirs = ref.kinds[kind] ?? {};
    log(`${kind} (${list.length} runs):`);
    const ours: Record<string, unknown> = {};
    for (const [key, refKey, label] of PHASES[kind]) {
      const v = list.map((s) => s[key]).filter((x): x is number => typeof x === "number");
      const p50 = v.length ? round(median(v)) : null;
      const p95 = v.length ? round(quantile(v, 0.95)) : null;
      const r = refKey ? theirs[refKey] : undefined;
      ours[key] = { p50, p95, n: v.length };
      const refText = r ? `${Math.round(r.median * 1000)} / ${r.p95 === null ? "-" : Math.round(r.p95 * 1000)}` : "-";
      log(`  ${label.padEnd(46)} ${`${p50 ?? "-"} / ${p95 ?? "-"} (${v.length})`.padStart(20)}   | ${refText}`);
    }
    // Like for like: the start op's success in the logs (the reference's "started"). Also the
    // stricter figure of ours, the service answering, against that same reference figure.
    const started = (ours.started as { p50: number | null }).p50;
    const back = (ours.answers as { p50: number | null }).p50;
    const refStarted = theirs.started?.median;
    const ratio = started && refStarted ? round((refStarted * 1000) / started, 2) : null;
    const ratioBack = back && refStarted ? round((refStarted * 1000) / back, 2) : null;
    log(`  started: reference / ours = ${ratio ?? "-"}x   (reference started / our HTTP answer = ${ratioBack ?? "-"}x)`);
    result[kind] = { ours_ms: ours, reference_s: theirs, ratio_started: ratio, ratio_answers: ratioBack };
  }
  finish(result);
}

main().catch((e) => {
  process.stderr.write(`bench/failover failed: ${(e as Error).message}\n`);
  sh([HAPD, "demo", "--down", "--dir", DIR]);
  process.exit(1);
});
