// bench/replication: our NBD server (unreplicated file, and replicated protocol C over loopback
// TCP) beside qemu-nbd --cache=none on the same kind of file, and raw O_DIRECT dd, in one run.
// Throughput: nbdcopy -C1 (QEMU's client uses one connection) of SIZE random bytes, --flush.
// Sync latency: qemu-img bench, 4 KiB writes, queue depth 1, a flush after every write.
// Latency percentiles: a queue-depth-1 client timing each 4 KiB write + flush (extra.ts), beside
// fdatasync'd pwrites on a plain file. Resync (full, 1 % dirty) and verify on a RESYNC_MIB volume
// beside a dd O_DIRECT copy and sha256sum of the same file. The replicated volume's Primary and
// Secondary run in processes of their own (peer.ts), as on two hosts; on this one machine they
// share its cores with the client, so each write prints how many cores were busy meanwhile.
// The latency target (raw 4 KiB write+fdatasync + one loopback round trip + 150 µs) is computed
// from figures measured in the same run.
// Usage: bun bench/replication/run.ts [size_mib=256] [runs=3] [resync_mib=1024]; last line is JSON.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { FileBackend } from "../../services/replication/backend.ts";
import { NbdServer } from "../../services/replication/nbd/server.ts";
import { VOLUME_SERVICE_ENV } from "../../services/replication/service-env.ts";
import { finish, median, round } from "../lib.ts";
import { nbdSyncLatencies_us, percentiles, rawSyncLatencies_us, resyncAndVerify } from "./extra.ts";
import { formatCleanPair } from "../../test/replication/volume-pair.ts";

const run = promisify(execFile);
const SIZE_MIB = Number(process.argv[2] ?? 256);
const RUNS = Number(process.argv[3] ?? 3);
const SIZE_BYTES = SIZE_MIB * 1024 * 1024;
const SYNC_WRITES = 2000;
const RESYNC_MIB = Number(process.argv[4] ?? 1024);

const dir = mkdtempSync(join(tmpdir(), "hapd-bench-repl-"));
const f = (n: string) => join(dir, n);

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Busy and total jiffies of the whole machine (every core), from /proc/stat. */
function machineJiffies(): [number, number] {
  const xs = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = xs[3]! + xs[4]!;
  const total = xs.reduce((a, b) => a + b, 0);
  return [total - idle, total];
}

/** Write throughput (MB/s) and how many of the machine's cores were busy meanwhile. */
async function nbdcopyWrite(uri: string): Promise<[number, number]> {
  const [b0, t0] = machineJiffies();
  const ms = await time(() => run("nbdcopy", ["-C", "1", "--flush", f("src.raw"), uri]));
  const [b1, t1] = machineJiffies();
  return [SIZE_BYTES / 1e6 / (ms / 1000), ((b1 - b0) / (t1 - t0)) * cpus().length];
}

/** Round trips between two processes over loopback TCP (the "one round trip" of the latency target). */
async function loopbackRtt_us(count: number): Promise<number[]> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const echo = await startScript("echo.ts", [String(port)]);
  const socket = connect(port, "127.0.0.1");
  await new Promise((r) => socket.once("connect", r));
  socket.setNoDelay(true);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      socket.once("data", () => resolve());
      socket.write("x");
    });
    out.push((performance.now() - t0) * 1000);
  }
  socket.destroy();
  echo.kill("SIGTERM");
  return out;
}

async function nbdcopyRead(uri: string): Promise<number> {
  writeFileSync(f("dst.raw"), "");
  const ms = await time(() => run("nbdcopy", ["-C", "1", uri, f("dst.raw")]));
  return SIZE_BYTES / 1e6 / (ms / 1000);
}

async function syncWriteLatency_us(uri: string): Promise<number> {
  const ms = await time(() => run("qemu-img", ["bench", "-w", "-t", "none", "-d", "1", "-s", "4096", "-c", String(SYNC_WRITES), "--flush-interval=1", "-f", "raw", uri]));
  return (ms * 1000) / SYNC_WRITES;
}

async function measure(label: string, uri: string): Promise<Record<string, number>> {
  const w: number[] = [];
  const busy: number[] = [];
  const r: number[] = [];
  const l: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const [mbps, cores] = await nbdcopyWrite(uri);
    w.push(mbps);
    busy.push(cores);
    r.push(await nbdcopyRead(uri));
    l.push(await syncWriteLatency_us(uri));
  }
  const m = /socket=(.*)$/.exec(uri)!;
  const lat = percentiles(await nbdSyncLatencies_us(m[1]!, /nbd\+unix:\/\/\/([^?]*)/.exec(uri)![1]!, SYNC_WRITES));
  const out = { write_MBps: round(median(w)), write_busy_cores: round(median(busy), 2), read_MBps: round(median(r)), sync4k_us: round(median(l)), sync4k_p50_us: lat.p50_us, sync4k_p99_us: lat.p99_us };
  console.log(`${label.padEnd(28)} write ${out.write_MBps} MB/s (${out.write_busy_cores} of ${cpus().length} cores busy)  read ${out.read_MBps} MB/s  4K write+flush ${out.sync4k_us} µs (median of ${RUNS}; p50 ${lat.p50_us} p99 ${lat.p99_us} µs)`);
  return out;
}

async function rawDirect_MBps(): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const ms = await time(() => run("dd", ["if=/dev/zero", `of=${f("raw.img")}`, "bs=1M", `count=${SIZE_MIB}`, "oflag=direct", "conv=fsync"]));
    xs.push(SIZE_BYTES / 1e6 / (ms / 1000));
  }
  return round(median(xs));
}

/** Starts a script of bench/replication in its own process; resolves once it printed "ready". */
function startScript(script: string, args: string[]): Promise<ChildProcess> {
  // With the volume service's environment, as the supervisor starts it.
  const child = spawn(process.execPath, [join(import.meta.dirname, script), ...args], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...VOLUME_SERVICE_ENV } });
  return new Promise((resolve, reject) => {
    child.stdout!.once("data", () => resolve(child));
    child.once("exit", (code) => reject(new Error(`bench peer exited with ${code}`)));
  });
}

async function replicated(label: string, encrypt: boolean): Promise<Record<string, number>> {
  const keyHex = randomBytes(32).toString("hex");
  formatCleanPair(f, SIZE_BYTES);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const mode = encrypt ? "encrypt" : "mac-only";
  // Primary and Secondary each in their own process, as on two hosts; the NBD clients (nbdcopy,
  // qemu-img, the latency client) talk to the Primary's socket from this one.
  const rsock = f("r.sock");
  const secondary = startScript("peer.ts", [f("b.img"), f("b.meta"), String(port), keyHex, mode, "2"]);
  const primary = await startScript("peer.ts", [f("a.img"), f("a.meta"), String(port), keyHex, mode, "1", rsock]);
  const sides = [primary, await secondary];
  const out = await measure(label, `nbd+unix:///vol0?socket=${rsock}`);
  for (const c of sides) {
    c.kill("SIGTERM");
    if (c.exitCode === null) await new Promise((r) => c.once("exit", r));
  }
  return out;
}

async function main(): Promise<void> {
  for (const tool of ["nbdcopy", "qemu-img", "qemu-nbd"]) {
    if (!(await run("sh", ["-c", `command -v ${tool}`]).then(() => true, () => false))) throw new Error(`${tool} missing: apt-get install qemu-utils libnbd-bin`);
  }
  writeFileSync(f("src.raw"), randomBytes(SIZE_BYTES));
  const raw = await rawDirect_MBps();
  console.log(`${"raw file, dd O_DIRECT 1M".padEnd(28)} write ${raw} MB/s`);
  const rawLat = percentiles(rawSyncLatencies_us(f("lat.img"), SYNC_WRITES));
  console.log(`${"raw file, 4K pwrite+fdatasync".padEnd(28)} p50 ${rawLat.p50_us} µs  p99 ${rawLat.p99_us} µs`);
  const rtt = percentiles(await loopbackRtt_us(SYNC_WRITES));
  console.log(`${"loopback TCP round trip".padEnd(28)} p50 ${rtt.p50_us} µs  p99 ${rtt.p99_us} µs (between two processes)`);
  // The latency target: raw local + one round trip + 150 µs.
  const latTarget = round(rawLat.p50_us + rtt.p50_us + 150);

  // Reference: qemu-nbd --cache=none on its own file.
  writeFileSync(f("q.img"), new Uint8Array(SIZE_BYTES));
  const qsock = f("q.sock");
  const qemuNbd = spawn("qemu-nbd", ["--cache=none", "-f", "raw", "-k", qsock, "-x", "disk0", "--persistent", "--shared=4", f("q.img")], { stdio: "ignore" });
  for (let i = 0; i < 100 && !existsSync(qsock); i++) await new Promise((r) => setTimeout(r, 20));
  const ref = await measure("qemu-nbd --cache=none", `nbd+unix:///disk0?socket=${qsock}`);
  qemuNbd.kill("SIGTERM");

  // Ours, unreplicated.
  writeFileSync(f("o.img"), new Uint8Array(SIZE_BYTES));
  // O_DIRECT for aligned writes, as qemu-nbd --cache=none (and as Volume does).
  const backend = await FileBackend.open(f("o.img"), { direct: true });
  const osock = f("o.sock");
  const server = new NbdServer({ socketPath: osock, exportName: "disk0", backend });
  await server.listen();
  const ours = await measure("hapd NBD, file", `nbd+unix:///disk0?socket=${osock}`);
  await server.close();
  await backend.close();

  // Ours, replicated with protocol C over loopback TCP to a second process: with the link
  // encrypted (the default) and authenticated only (link_encryption: false).
  const repl = await replicated("hapd NBD, replicated C", true);
  const replMac = await replicated("replicated C, link auth-only", false);

  const rs = RESYNC_MIB > 0 ? await resyncAndVerify(dir, RESYNC_MIB, join(import.meta.dirname, "peer.ts")) : {};
  if (RESYNC_MIB > 0) {
    console.log(`resync ${RESYNC_MIB} MiB: full ${rs.resync_full_MiBps} MiB/s, 1% dirty ${rs.resync_1pct_dirty_MiBps} MiB/s (raw dd O_DIRECT copy ${rs.raw_copy_dd_direct_MiBps} MiB/s)`);
    console.log(`resync with csums of the same 1% rewritten unchanged: ${rs.resync_1pct_equal_csums_MiBps} MiB/s, ${rs.resync_1pct_equal_csums_sent_bytes} bytes sent, ${rs.resync_1pct_equal_csums_skipped_bytes} skipped`);
    console.log(`verify ${RESYNC_MIB} MiB: ${rs.verify_MiBps} MiB/s (raw sha256sum ${rs.raw_sha256sum_MiBps} MiB/s)`);
  }
  rmSync(dir, { recursive: true, force: true });
  finish({
    bench: "replication",
    size_mib: SIZE_MIB,
    runs: RUNS,
    raw_direct_write_MBps: raw,
    raw_sync4k_p50_us: rawLat.p50_us,
    raw_sync4k_p99_us: rawLat.p99_us,
    loopback_rtt_p50_us: rtt.p50_us,
    loopback_rtt_p99_us: rtt.p99_us,
    resync: rs,
    qemu_nbd: ref,
    hapd_nbd_file: ours,
    hapd_nbd_replicated_c: repl,
    hapd_nbd_replicated_c_auth_only: replMac,
    ratio_file_write_vs_qemu_nbd: round(ours.write_MBps! / ref.write_MBps!, 2),
    ratio_replicated_write_vs_qemu_nbd: round(repl.write_MBps! / ref.write_MBps!, 2),
    ratio_replicated_auth_only_write_vs_qemu_nbd: round(replMac.write_MBps! / ref.write_MBps!, 2),
    target_replicated_write_ratio: 0.7,
    ratio_replicated_sync4k_p50_vs_qemu_nbd: round(repl.sync4k_p50_us! / ref.sync4k_p50_us!, 2),
    target_sync4k_p50_us: latTarget,
    ratio_replicated_sync4k_p50_vs_target: round(repl.sync4k_p50_us! / latTarget, 2),
  });
}

main().catch((e) => {
  rmSync(dir, { recursive: true, force: true });
  console.error(e);
  process.exit(1);
});
