// bench/footprint: what one idle hapd node costs, beside Corosync + Pacemaker on these machines.
// The node = the supervisor and its services (the processes below `hapd node`). RSS and PSS are
// summed from /proc/PID/smaps_rollup; idle CPU is the processes' utime+stime over the window.
// Reference (../shared/peers/pacemaker, recorded): 218 MiB RSS, 145 MiB PSS, 1.73% of a core on
// the busiest host (DC, running the service). REF=pacemaker measures it here with its harness.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { labStatus, nodePid, readLabState, waitFor } from "../../services/lab/lab.ts";
import { HAPD, SHARED, finish, requireBinary, round, sh } from "../lib.ts";

const DIR = `/run/hapd-bench-footprint-${process.pid}`;
const WINDOW_S = Number(process.env.WINDOW_S ?? 60);
const REF = { rss_mib: 218, pss_mib: 145, cpu_pct: 1.73, source: "recorded: ../shared/peers/pacemaker/README.md (host-a, DC, idle 60 s)" };
const log = (s: string) => process.stderr.write(`${s}\n`);
const TICKS = 100; // USER_HZ

function descendants(root: number): number[] {
  const kids = new Map<number, number[]>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(kids.get(out[i]!) ?? []));
  return out;
}

/** Summed RSS (counts the Bun runtime's shared file pages once per process), PSS, and private anonymous memory. */
function memory(pids: number[]): { rss: number; pss: number; anon: number } {
  let rss = 0;
  let pss = 0;
  let anon = 0;
  for (const p of pids) {
    try {
      const r = readFileSync(`/proc/${p}/smaps_rollup`, "utf8");
      rss += Number(/^Rss:\s+(\d+)/m.exec(r)?.[1] ?? 0);
      pss += Number(/^Pss:\s+(\d+)/m.exec(r)?.[1] ?? 0);
      anon += Number(/^Anonymous:\s+(\d+)/m.exec(r)?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return { rss: rss / 1024, pss: pss / 1024, anon: anon / 1024 };
}

function cpuTicks(pids: number[]): number {
  let t = 0;
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      t += Number(f[11]) + Number(f[12]);
    } catch {
      // gone
    }
  }
  return t;
}

function pacemakerReference(): typeof REF {
  const base = `/tmp/pcmk-footprint-${process.pid}`;
  log("running the Corosync + Pacemaker harness (idle phase); this takes a few minutes");
  const r = sh(["bash", join(SHARED, "peers/pacemaker/measure.sh"), "1"], { env: { PB_BASE: base, ONLY: "idle" } });
  const text = readFileSync(join(base, "results/resources.txt"), "utf8");
  // "host-a         8        218.0        145.0" and "host-a   daemons  1.73 %   whole node  1.82 %"
  const mem = /^host-a\s+\d+\s+([\d.]+)\s+([\d.]+)\s*$/m.exec(text);
  const cpu = /^host-a\s+daemons\s+([\d.]+) %/m.exec(text);
  if (!mem || !cpu) throw new Error(`cannot read the harness's figures from resources.txt: ${text.slice(0, 300) || r.out.slice(-500)}`);
  const nums = [Number(mem[1]), Number(mem[2]), Number(cpu[1])];
  return { rss_mib: nums[0]!, pss_mib: nums[1]!, cpu_pct: nums[2]!, source: "measured in this run: measure.sh ONLY=idle" };
}

async function main(): Promise<void> {
  requireBinary();
  const up = sh([HAPD, "demo", "--dir", DIR, "--prefix", "bf-"]);
  if (up.code !== 0) throw new Error(`lab failed: ${up.out}`);
  let result: { rss: number; pss: number; anon: number; cpu: number; pids: number } = { rss: 0, pss: 0, anon: 0, cpu: 0, pids: 0 };
  try {
    await waitFor("host-a settled", 10_000, async () => ((await labStatus(DIR, "host-a")).supervisor ? true : null));
    await new Promise((r) => setTimeout(r, 5000));
    const sup = nodePid(readLabState(DIR)!, "host-a")!;
    const pids = descendants(sup);
    const t0 = cpuTicks(pids);
    const w0 = performance.now();
    const mems: Array<{ rss: number; pss: number; anon: number }> = [];
    for (let i = 0; i < WINDOW_S; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      mems.push(memory(pids));
    }
    const cpu = ((cpuTicks(pids) - t0) / TICKS / ((performance.now() - w0) / 1000)) * 100;
    const last = mems.at(-1)!;
    result = { rss: last.rss, pss: last.pss, anon: last.anon, cpu, pids: pids.length };
  } finally {
    sh([HAPD, "demo", "--down", "--dir", DIR]);
  }
  const ref = process.env.REF === "pacemaker" ? pacemakerReference() : REF;
  log(`hapd node host-a (${result.pids} processes: supervisor + services), idle ${WINDOW_S} s:`);
  log(`  RSS ${round(result.rss)} MiB (summed; the Bun runtime's shared pages count once per process), PSS ${round(result.pss)} MiB, private ${round(result.anon)} MiB, CPU ${round(result.cpu, 2)}% of a core`);
  log(`Corosync + Pacemaker host-a: RSS ${ref.rss_mib} MiB, PSS ${ref.pss_mib} MiB, CPU ${ref.cpu_pct}% (${ref.source})`);
  log(`budget: half of the reference: RSS ${ref.rss_mib / 2} MiB, PSS ${ref.pss_mib / 2} MiB`);
  finish({
    bench: "footprint",
    rss_mib: round(result.rss),
    pss_mib: round(result.pss),
    private_mib: round(result.anon),
    cpu_pct: round(result.cpu, 2),
    processes: result.pids,
    reference_rss_mib: ref.rss_mib,
    reference_pss_mib: ref.pss_mib,
    reference_cpu_pct: ref.cpu_pct,
    ratio_rss: round(ref.rss_mib / result.rss, 2),
    ratio_pss: round(ref.pss_mib / result.pss, 2),
    within_budget_rss: result.rss < ref.rss_mib / 2,
    within_budget_pss: result.pss < ref.pss_mib / 2,
  });
}

main().catch((e) => {
  process.stderr.write(`bench/footprint failed: ${(e as Error).message}\n`);
  process.exit(1);
});
