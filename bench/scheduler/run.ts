// bench/scheduler: `hapd crm simulate` against Pacemaker's `crm_simulate -S -x` on the same
// generated CIBs of 100, 1,000 and 5,000 resources, whole-process wall time, in one run.
//
//   node_modules/.bin/bun bench/scheduler/run.ts
//
// Each CIB is a running three-node cluster (two hosts and an arbitrator) with primitives, groups,
// a promotable volume with colocated guests and order/colocation chains, where host-a has just
// been lost: host-a is fenced, the volume is promoted on host-b and host-a's guests (a fixed set
// of about 40 resources, so that crm_simulate's simulated execution, which rewrites the CIB after
// every action, does not dominate at 5,000 resources) are recovered there. Every run is preceded
// by one warm-up (except crm_simulate at 5,000 resources, which takes minutes and runs once).
// HAPD_BENCH_RUNS (default 3) runs per size; HAPD_BENCH_SIZES overrides
// the sizes ("100,1000"). The hapd command defaults to the dev entry point through bun;
// HAPD_SIMULATE="dist/hapd crm simulate" measures the compiled binary instead.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClusterSpec, type PrimitiveSpec, type ResourceSpec, buildCib } from "../../test/crm/cib-builder.ts";
import { CRM_SIMULATE } from "../../test/crm/oracle.ts";
import { ROOT, finish, median, round } from "../lib.ts";

const SIZES = (process.env["HAPD_BENCH_SIZES"] ?? "100,1000,5000").split(",").map((s) => Number(s.trim()));
const RUNS = Number(process.env["HAPD_BENCH_RUNS"] ?? 3);
const BUN = join(ROOT, "node_modules/.bin/bun");
// The shipped binary when it is built (what an operator runs), else the dev entry.
const BUILT = join(ROOT, "dist/hapd");
const HAPD_CMD = (process.env["HAPD_SIMULATE"] ?? (existsSync(BUILT) ? `${BUILT} crm simulate` : `${BUN} ${join(ROOT, "services/crm/simulate-main.ts")}`)).split(" ");

/** A deterministic cluster with about `n` primitive resources. */
export function benchSpec(n: number, now_s: number): ClusterSpec {
  const hosts = ["host-a", "host-b"];
  const resources: ResourceSpec[] = [{ id: "fence-ipmi", class: "stonith", type: "fence_ipmilan", params: { ip: "10.72.0.1" }, running: [{ node: "host-b" }] }];
  const constraints: string[] = [];
  let count = 1;
  let i = 0;
  // About 40 resources run on host-a (lost), the rest on host-b.
  const host = (k: number) => (k < 36 ? hosts[k % 2]! : "host-b");
  // A promotable volume with colocated guests.
  resources.push({
    kind: "clone",
    id: "drbd-clone",
    promotable: true,
    meta: { "clone-max": "2", "promoted-max": "1" },
    child: { id: "drbd", running: [{ node: "host-a", role: "Promoted" }, { node: "host-b", role: "Unpromoted" }] },
  });
  constraints.push(`<rsc_location id="drbd-not-arb" rsc="drbd-clone" node="arb" score="-INFINITY"/>`);
  count += 2;
  while (count < n) {
    const k = i++;
    const shape = k % 10;
    if (shape === 0 && count + 3 <= n) {
      const gid = `grp${k}`;
      const members: PrimitiveSpec[] = [0, 1, 2].map((m) => ({ id: `${gid}-m${m}`, running: [{ node: host(k) }] }));
      resources.push({ kind: "group", id: gid, members });
      constraints.push(`<rsc_location id="ban-${gid}" rsc="${gid}" node="arb" score="-INFINITY"/>`);
      count += 3;
      continue;
    }
    const id = `vm${k}`;
    const r: PrimitiveSpec = { id, running: [{ node: host(k) }], meta: k % 3 === 0 ? { "allow-migrate": "true" } : {} };
    resources.push(r);
    constraints.push(`<rsc_location id="ban-${id}" rsc="${id}" node="arb" score="-INFINITY"/>`);
    if (shape === 1 && k < 36) {
      constraints.push(`<rsc_colocation id="col-${id}" rsc="${id}" with-rsc="drbd-clone" with-rsc-role="Promoted" score="INFINITY"/>`);
      constraints.push(`<rsc_order id="ord-${id}" first="drbd-clone" first-action="promote" then="${id}" then-action="start"/>`);
      if (k < 36) r.running = [{ node: "host-a" }];
    } else if (shape === 2 && k >= 10) {
      const prev = `vm${k - 10}`;
      if (resources.some((x) => x.id === prev)) {
        constraints.push(`<rsc_order id="ord-${prev}-${id}" first="${prev}" then="${id}" kind="Optional"/>`);
      }
    } else if (shape === 5) {
      constraints.push(`<rsc_location id="pref-${id}" rsc="${id}" node="${host(k + 1)}" score="50"/>`);
    }
    count++;
  }
  return {
    now_s,
    nodes: [
      { name: "host-a", state: "lost", transient: { "master-drbd": "100" } },
      { name: "host-b", transient: { "master-drbd": "50" } },
      { name: "arb" },
    ],
    resources,
    constraints,
    rscDefaults: { "resource-stickiness": "100" },
    dc: "host-b",
  };
}

function timeRun(cmd: string[]): { ms: number; out: string; code: number } {
  const t0 = performance.now();
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", maxBuffer: 256 << 20 });
  const ms = performance.now() - t0;
  return { ms, out: r.stdout ?? "", code: r.status ?? -1 };
}

function summaryOf(out: string): string[] {
  const start = out.indexOf("Transition Summary:");
  if (start < 0) return [];
  const lines: string[] = [];
  for (const l of out.slice(start).split("\n").slice(1)) {
    if (!l.startsWith("  * ")) break;
    lines.push(l);
  }
  return lines;
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), "hapd-bench-sched-"));
  const result: Record<string, unknown> = { bench: "scheduler" };
  const rows: string[] = [];
  try {
    for (const n of SIZES) {
      const now_s = Math.floor(Date.now() / 1000);
      const file = join(dir, `cib-${n}.xml`);
      writeFileSync(file, buildCib(benchSpec(n, now_s)));
      const hapdCmd = [...HAPD_CMD, "--cib", file, "--now", String(now_s)];
      const refCmd = CRM_SIMULATE ? [CRM_SIMULATE, "-S", "-x", file] : null;
      // One warm-up each; crm_simulate takes minutes at 5,000 resources, so there it runs once.
      const big = n >= 5000;
      timeRun(hapdCmd);
      if (refCmd && !big) timeRun(refCmd);
      const ours: number[] = [];
      const ref: number[] = [];
      let agree: boolean | null = null;
      for (let k = 0; k < RUNS; k++) {
        const a = timeRun(hapdCmd);
        if (a.code !== 0) throw new Error(`hapd simulate failed on ${n} resources: ${a.out.slice(0, 400)}`);
        ours.push(a.ms);
        if (refCmd && (!big || k === 0)) {
          const b = timeRun(refCmd);
          ref.push(b.ms);
          if (k === 0) agree = summaryOf(a.out).join("\n") === summaryOf(b.out).join("\n");
        }
      }
      const o = round(median(ours));
      const r = ref.length > 0 ? round(median(ref)) : null;
      result[`hapd_ms_${n}`] = o;
      result[`crm_simulate_ms_${n}`] = r;
      result[`ratio_${n}`] = r !== null ? round(r / o, 2) : null;
      result[`summary_agrees_${n}`] = agree;
      rows.push(`${String(n).padStart(6)}  ${String(o).padStart(10)}  ${String(r ?? "n/a").padStart(16)}  ${String(r !== null ? round(r / o, 2) : "n/a").padStart(8)}  ${agree === null ? "n/a" : agree ? "yes" : "NO"}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`scheduler: whole-process wall time, median of ${RUNS} runs (ms); ratio = crm_simulate / hapd\n`);
  process.stdout.write(`${"rscs".padStart(6)}  ${"hapd".padStart(10)}  ${"crm_simulate".padStart(16)}  ${"ratio".padStart(8)}  same summary\n`);
  for (const r of rows) process.stdout.write(`${r}\n`);
  if (!CRM_SIMULATE) process.stdout.write("crm_simulate is not installed: reference not measured (apt-get install pacemaker-cli-utils)\n");
  finish(result);
}

if (import.meta.main) main();
