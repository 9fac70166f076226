// bench/membership: how fast the cluster sees a dead node, and how calm it stays on a bad link.
//
//  1. kill -9 of a node's hapd, KILLS times (rotating victims): time from the kill to the moment
//     every survivor has installed a view without the victim, read from the survivors' logs
//     (millisecond timestamps, one clock). Median and p95.
//  2. LOSS_S seconds (default 300) of 20% loss plus 50 ms jitter on ring0 of every node: view
//     changes counted in the logs (there should be none).
// Reference: Corosync 3 with its defaults on these machines (../shared/peers/pacemaker): a new
// membership 7.8 s after the kill. REF=pacemaker runs that harness here, in this run; otherwise
// the recorded figure is printed. The ratio is reference / ours (how many times faster).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { labStatus, nodePid, readLabState, waitFor } from "../../services/lab/lab.ts";
import { clearImpairment, impair } from "../../services/lab/impair.ts";
import { HAPD, SHARED, finish, median, quantile, readJsonl, requireBinary, round, sh } from "../lib.ts";

const KILLS = Number(process.env.KILLS ?? 12);
const LOSS_S = Number(process.env.LOSS_S ?? 300);
const DIR = `/run/hapd-bench-membership-${process.pid}`;
const PREFIX = "bm-";
const NODES = ["host-a", "host-b", "arb"] as const;
const REF_RECORDED = { median_ms: 7810, p95_ms: 8000, source: "recorded: ../shared/peers/pacemaker/README.md (5 runs, kill -9, corosync 3.1.7 defaults)" };

function log(s: string): void {
  process.stderr.write(`${s}\n`);
}

/** ISO-timestamped "view N: [..]" lines of a node's log, with their time in ms since the epoch. */
function views(node: string): Array<{ at_ms: number; members: string[] }> {
  const text = readFileSync(join(DIR, node, "node.log"), "utf8");
  const out: Array<{ at_ms: number; members: string[] }> = [];
  for (const line of text.split("\n")) {
    const m = /^(\S+) \S+ +info +membership: view \d+: \[([^\]]*)\]/.exec(line);
    if (m) out.push({ at_ms: Date.parse(m[1]!), members: m[2]!.split(" ").filter(Boolean) });
  }
  return out;
}

async function allTogether(): Promise<void> {
  await waitFor("a view of three", 20_000, async () => {
    const all = await Promise.all(NODES.map((n) => labStatus(DIR, n)));
    return all.every((s) => s.view.members.length === 3 && s.quorum.quorate) ? true : null;
  });
}

async function killRuns(): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < KILLS; i++) {
    const victim = NODES[i % NODES.length]!;
    const survivors = NODES.filter((n) => n !== victim);
    await allTogether();
    await new Promise((r) => setTimeout(r, 500 + Math.random() * 300));
    const pid = nodePid(readLabState(DIR)!, victim)!;
    const t0 = Date.now();
    process.kill(pid, "SIGKILL");
    const seen = await waitFor(`survivors to drop ${victim}`, 10_000, async () => {
      const times = survivors.map((s) => views(s).find((v) => v.at_ms >= t0 && !v.members.includes(victim))?.at_ms);
      return times.every((t) => t !== undefined) ? (times as number[]) : null;
    });
    const ms = Math.max(...seen) - t0;
    samples.push(ms);
    log(`kill -9 ${victim}: every survivor in a new view after ${ms} ms`);
    sh([HAPD, "demo", "--dir", DIR, "--restart", victim]);
  }
  await allTogether();
  return samples;
}

async function lossWindow(): Promise<{ changes: number; method: string }> {
  await allTogether();
  const applied = NODES.map((n) => impair(`${PREFIX}${n}`, "ring0", { loss_pct: 20, delay_ms: 50, jitter_ms: 50 }));
  log(`ring0 impaired for ${LOSS_S} s: ${applied[0]!.note}`);
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, LOSS_S * 1000));
  const t1 = Date.now();
  for (const n of NODES) clearImpairment(`${PREFIX}${n}`, "ring0");
  let changes = 0;
  for (const n of NODES) changes += views(n).filter((v) => v.at_ms >= t0 && v.at_ms <= t1).length;
  return { changes, method: applied[0]!.method === "netem" ? "netem loss 20% delay 50ms 50ms" : "nftables loss 20% (kernel has no netem: no jitter)" };
}

function pacemakerReference(): { median_ms: number; p95_ms: number; source: string } {
  const base = `/tmp/pcmk-bench-${process.pid}`;
  const runs = Number(process.env.REF_RUNS ?? 5);
  log(`running the Corosync + Pacemaker harness (${runs} kill -9 runs); this takes several minutes`);
  const r = sh(["bash", join(SHARED, "peers/pacemaker/measure.sh"), String(runs)], { env: { PB_BASE: base, ONLY: "kill9", SKIP_IDLE: "1" } });
  if (r.code !== 0) log(r.out.slice(-2000));
  const rows = readJsonl<{ membership?: number }>(join(base, "results/kill9.jsonl"));
  const ms = rows.map((x) => (x.membership ?? Number.NaN) * 1000).filter(Number.isFinite);
  if (ms.length === 0) throw new Error("the reference harness produced no kill9 membership figures");
  return { median_ms: median(ms), p95_ms: quantile(ms, 0.95), source: `measured in this run: measure.sh ONLY=kill9 (${ms.length} runs)` };
}

async function main(): Promise<void> {
  requireBinary();
  if (process.getuid?.() !== 0) throw new Error("bench/membership needs root (network namespaces)");
  const up = sh([HAPD, "demo", "--dir", DIR, "--prefix", PREFIX]);
  if (up.code !== 0) throw new Error(`lab failed: ${up.out}`);
  let kills: number[] = [];
  let loss = { changes: -1, method: "" };
  try {
    kills = await killRuns();
    loss = await lossWindow();
  } finally {
    sh([HAPD, "demo", "--down", "--dir", DIR]);
  }
  const ref = process.env.REF === "pacemaker" ? pacemakerReference() : REF_RECORDED;
  const p50 = median(kills);
  const p95 = quantile(kills, 0.95);
  log("");
  log(`detection (kill -9 -> new view on every survivor), ${kills.length} kills: median ${round(p50)} ms, p95 ${round(p95)} ms`);
  log(`reference Corosync 3 defaults: median ${ref.median_ms} ms, p95 ${ref.p95_ms} ms (${ref.source})`);
  log(`spurious view changes during ${LOSS_S} s of ${loss.method} on ring0: ${loss.changes}`);
  finish({
    bench: "membership",
    kills: kills.length,
    detect_ms_p50: round(p50),
    detect_ms_p95: round(p95),
    reference_ms: ref.median_ms,
    reference_ms_p95: ref.p95_ms,
    reference: ref.source,
    ratio: round(ref.median_ms / p50, 2),
    loss_window_s: LOSS_S,
    loss_method: loss.method,
    spurious_view_changes: loss.changes,
  });
}

main().catch((e) => {
  process.stderr.write(`bench/membership failed: ${(e as Error).message}\n`);
  process.exit(1);
});
