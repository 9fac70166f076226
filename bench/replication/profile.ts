// Profiling harness for the replicated write path (not part of `make bench`): a Primary in this
// process serving NBD, the Secondary in bench/replication/peer.ts, nbdcopy -C1 --flush of SIZE MiB.
// Run with `bun --cpu-prof-md --cpu-prof-dir=DIR bench/replication/profile.ts [size_mib] [runs]`;
// PEER_PROF=DIR profiles the Secondary too; LINK=mac-only authenticates the link without
// encrypting it. Prints MB/s per run.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { NbdServer } from "../../services/replication/nbd/server.ts";
import { Volume } from "../../services/replication/volume.ts";
import { ClusterKey } from "../../services/shared/wire.ts";
import { formatCleanPair } from "../../test/replication/volume-pair.ts";

const run = promisify(execFile);
const SIZE_MIB = Number(process.argv[2] ?? 256);
const RUNS = Number(process.argv[3] ?? 3);
const dir = mkdtempSync(join(tmpdir(), "hapd-prof-repl-"));
const f = (n: string) => join(dir, n);
const size = SIZE_MIB * 1024 * 1024;
writeFileSync(f("src.raw"), randomBytes(size));
const keyBytes = randomBytes(32);
formatCleanPair(f, size);
const port = 20000 + Math.floor(Math.random() * 20000);
const encrypt = process.env.LINK !== "mac-only";
const a = await Volume.open({ name: "vol0", key: new ClusterKey(keyBytes), linkEncryption: encrypt, directIo: process.env.DIRECT !== "0", peerAddress: { host: "127.0.0.1", port }, dataPath: f("a.img"), metaPath: f("a.meta"), nodeId: 1, peerId: 2, config: { fencing: "none" } });
const peerArgs = process.env.PEER_PROF ? ["--cpu-prof-md", `--cpu-prof-dir=${process.env.PEER_PROF}`] : [];
const peer = spawn(process.execPath, [...peerArgs, join(import.meta.dirname, "peer.ts"), f("b.img"), f("b.meta"), String(port), Buffer.from(keyBytes).toString("hex"), encrypt ? "encrypt" : "mac-only"], { stdio: ["ignore", "pipe", "inherit"] });
for (let i = 0; i < 1000 && a.core.repl !== "Established"; i++) await new Promise((r) => setTimeout(r, 10));
if (!a.promote().ok) throw new Error("promotion failed");
const sock = f("r.sock");
const server = new NbdServer({ socketPath: sock, exportName: "vol0", backend: a });
await server.listen();
/** CPU seconds (user + system) a process has used so far, from /proc. */
const cpuOf = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return [Number(f[11]) / 100, Number(f[12]) / 100, Number(f[7])] as const;
};
/** User and system CPU seconds and minor page faults (fresh memory touched) between two readings. */
const fmt = (a: readonly number[], b: readonly number[]) => `${(b[0]! - a[0]!).toFixed(2)} user + ${(b[1]! - a[1]!).toFixed(2)} sys, ${b[2]! - a[2]!} faults`;
for (let i = 0; i < RUNS; i++) {
  const t0 = performance.now();
  const c0 = [cpuOf(process.pid), cpuOf(peer.pid!)];
  await run("nbdcopy", ["-C", "1", "--flush", ...(process.env.REQ ? [`--request-size=${process.env.REQ}`] : []), f("src.raw"), `nbd+unix:///vol0?socket=${sock}`]);
  const s = (performance.now() - t0) / 1000;
  const c1 = [cpuOf(process.pid), cpuOf(peer.pid!)];
  console.log(`replicated C write: ${(size / 1e6 / s).toFixed(1)} MB/s in ${s.toFixed(2)} s; CPU s: Primary ${fmt(c0[0]!, c1[0]!)}, Secondary ${fmt(c0[1]!, c1[1]!)}`);
}
const rss = (pid: number) => /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1];
Bun.gc(true);
await new Promise((r) => setTimeout(r, 1500));
console.log(`RSS after the runs (1.5 s idle): Primary ${rss(process.pid)} KiB, Secondary ${rss(peer.pid!)} KiB`);
await server.close();
await a.close();
peer.kill("SIGTERM");
await new Promise((r) => peer.once("exit", r));
rmSync(dir, { recursive: true, force: true });
process.exit(0);
