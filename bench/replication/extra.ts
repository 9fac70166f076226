// The figures bench/replication/run.ts adds beside throughput: 4 KiB synchronous write latency
// percentiles (a queue-depth-1 NBD client timing every write+flush), resync MiB/s (1 % of the
// regions dirty, and a full sync) and online-verify MiB/s on a large volume, each with a raw
// reference measured in the same run (fdatasync'd 4 KiB pwrites; dd O_DIRECT copy; sha256sum).
import { execFile, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import { promisify } from "node:util";
import { join } from "node:path";
import * as P from "../../services/replication/nbd/protocol.ts";
import { nbdOpen } from "../../test/replication/nbd-client.ts";
import { VOLUME_SERVICE_ENV } from "../../services/replication/service-env.ts";
import { Volume, newGeneration, type VolumeOptions } from "../../services/replication/volume.ts";
import { ClusterKey } from "../../services/shared/wire.ts";
import { quantile, round } from "../lib.ts";

const run = promisify(execFile);


/** µs per 4 KiB write + flush at queue depth 1, one sample per operation. */
export async function nbdSyncLatencies_us(socketPath: string, exportName: string, count: number): Promise<number[]> {
  const { socket, reader } = await nbdOpen(socketPath, exportName);
  const block = randomBytes(4096);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const offset = BigInt((i % 4096) * 4096);
    const t0 = performance.now();
    socket.write(Buffer.concat([P.encodeRequest({ flags: 0, type: P.Cmd.WRITE, cookie: BigInt(2 * i + 1), offset, length: 4096 }), block]));
    await reader.readExact(16);
    socket.write(P.encodeRequest({ flags: 0, type: P.Cmd.FLUSH, cookie: BigInt(2 * i + 2), offset: 0n, length: 0 }));
    await reader.readExact(16);
    out.push((performance.now() - t0) * 1000);
  }
  socket.destroy();
  return out;
}

/** The raw reference: pwrite 4 KiB + fdatasync on a file, timed per operation. */
export function rawSyncLatencies_us(path: string, count: number): number[] {
  const fd = fs.openSync(path, "w+");
  const block = randomBytes(4096);
  const out: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      fs.writeSync(fd, block, 0, 4096, (i % 4096) * 4096);
      fs.fdatasyncSync(fd);
      out.push((performance.now() - t0) * 1000);
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

export const percentiles = (xs: number[]) => ({ p50_us: round(quantile(xs, 0.5)), p99_us: round(quantile(xs, 0.99)) });

async function until(p: () => boolean, limit_ms: number): Promise<void> {
  const end = performance.now() + limit_ms;
  while (!p()) {
    if (performance.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Resync and verify on a volume of `mib` MiB: a full initial sync to a never-synced peer, a
 * bitmap resync of 1 % of the regions, an online verify; and the raw references (dd O_DIRECT
 * copy of the same file, sha256sum of it).
 */
export async function resyncAndVerify(dir: string, mib: number, peerScript: string): Promise<Record<string, number>> {
  const f = (n: string) => join(dir, n);
  const size = mib * 1024 * 1024;
  const chunk = 64 * 1024 * 1024;
  const fd = fs.openSync(f("ra.img"), "w");
  for (let at = 0; at < size; at += chunk) fs.writeSync(fd, randomBytes(Math.min(chunk, size - at)), 0, Math.min(chunk, size - at), at);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.writeFileSync(f("rb.img"), "");
  fs.truncateSync(f("rb.img"), size);

  // References first, on the same file.
  let t0 = performance.now();
  await run("dd", [`if=${f("ra.img")}`, `of=${f("rref.img")}`, "bs=1M", "iflag=direct", "oflag=direct", "conv=fsync"]);
  const rawCopy = mib / ((performance.now() - t0) / 1000);
  fs.rmSync(f("rref.img"));
  t0 = performance.now();
  await run("sha256sum", [f("ra.img")], { maxBuffer: 1 << 20 });
  const rawHash = mib / ((performance.now() - t0) / 1000);

  const keyBytes = randomBytes(32);
  const uuid = randomUUID();
  // a: clean, its data is the reference; b: formatted apart (another generation), never synced.
  Volume.format(f("ra.meta"), "vol0", { uuid, size_bytes: size, current: newGeneration(), assumeClean: true });
  Volume.format(f("rb.meta"), "vol0", { uuid, size_bytes: size, current: newGeneration(), assumeClean: false });
  const port = 20000 + Math.floor(Math.random() * 20000);
  let verifyDone = false;
  const aOpts: VolumeOptions = {
    name: "vol0",
    dataPath: f("ra.img"),
    metaPath: f("ra.meta"),
    nodeId: 1,
    peerId: 2,
    key: new ClusterKey(keyBytes),
    peerAddress: { host: "127.0.0.1", port },
    config: { fencing: "none" },
    observe: (e) => {
      if (e.kind === "verify-done") verifyDone = true;
    },
  };
  let a = await Volume.open(aOpts);
  const peer = spawn(process.execPath, [peerScript, f("rb.img"), f("rb.meta"), String(port), keyBytes.toString("hex")], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...VOLUME_SERVICE_ENV } });
  try {
    await until(() => a.core.repl === "SyncSource", 30_000);
    t0 = performance.now();
    await until(() => a.core.repl === "Established", 600_000);
    const full = mib / ((performance.now() - t0) / 1000);

    // 1 % of the regions dirty (spread over the volume), written while disconnected.
    if (!a.promote().ok) throw new Error("promotion failed");
    a.disconnect("bench");
    const regions = Math.ceil(mib / 100);
    const stride = Math.floor(mib / regions);
    const block = randomBytes(1024 * 1024);
    for (let i = 0; i < regions; i++) await a.write(i * stride * 1024 * 1024, block, false);
    await a.flush();
    a.connect();
    await until(() => a.core.repl === "SyncSource" || a.core.repl === "Established", 30_000);
    t0 = performance.now();
    await until(() => a.core.repl === "Established", 600_000);
    const dirty = regions / ((performance.now() - t0) / 1000);

    const v = a.verify();
    if (!v.ok) throw new Error(v.message);
    t0 = performance.now();
    await until(() => verifyDone, 600_000);
    const verify = mib / ((performance.now() - t0) / 1000);

    // The same 1 % again, rewritten with the bytes they already hold, resynced with csums: the
    // source reopened with `csums: true` (the peer keeps running; only the source's setting counts).
    if (!a.demote().ok) throw new Error("demotion failed");
    await a.close();
    const c = await Volume.open({ ...aOpts, config: { fencing: "none", csums: true } });
    a = c;
    await until(() => c.core.repl === "Established", 60_000);
    if (!c.promote().ok) throw new Error("promotion failed");
    c.disconnect("bench");
    for (let i = 0; i < regions; i++) await c.write(i * stride * 1024 * 1024, block, false);
    await c.flush();
    c.connect();
    await until(() => c.core.repl === "SyncSource" || c.core.repl === "Established", 30_000);
    t0 = performance.now();
    await until(() => c.core.repl === "Established", 600_000);
    const csums = regions / ((performance.now() - t0) / 1000);
    return {
      resync_1pct_equal_csums_MiBps: round(csums),
      resync_1pct_equal_csums_sent_bytes: c.core.resyncSent_bytes,
      resync_1pct_equal_csums_skipped_bytes: c.core.resyncSkipped_bytes,
      volume_mib: mib,
      resync_full_MiBps: round(full),
      resync_1pct_dirty_MiBps: round(dirty),
      resync_1pct_regions: regions,
      verify_MiBps: round(verify),
      raw_copy_dd_direct_MiBps: round(rawCopy),
      raw_sha256sum_MiBps: round(rawHash),
    };
  } finally {
    await a.close();
    peer.kill("SIGTERM");
    for (const n of ["ra.img", "rb.img", "ra.meta", "rb.meta"]) fs.rmSync(f(n), { force: true });
  }
}
