// Two replicated volumes in one process, linked over loopback TCP with the cluster key; the
// Primary is served over NBD to QEMU's client (qemu-io) and libnbd's nbdcopy. The Secondary's
// backing file must equal the Primary's, also after a disconnect and a bitmap resync.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NbdServer } from "../../services/replication/nbd/server.ts";
import { Volume } from "../../services/replication/volume.ts";
import { ClusterKey } from "../../services/shared/wire.ts";
import { formatCleanPair } from "./volume-pair.ts";

const run = promisify(execFile);
const SIZE_BYTES = 32 * 1024 * 1024;
const haveTools = await run("sh", ["-c", "command -v qemu-io && command -v nbdcopy"]).then(() => true, () => false);

async function until(p: () => boolean, what: string, limit_ms = 10_000): Promise<void> {
  const end = Date.now() + limit_ms;
  while (!p()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(!haveTools)("replicated volume served over NBD", () => {
  let dir = "";
  let a: Volume;
  let b: Volume;
  let nbd: NbdServer;
  let sock = "";
  const logs: string[] = [];
  const file = (n: string) => join(dir, n);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "hapd-vol-"));
    sock = file("vol0.sock");
    const key = new ClusterKey(new Uint8Array(32).fill(3));
    const port = 20000 + Math.floor(Math.random() * 20000);
    formatCleanPair(file, SIZE_BYTES);
    const common = { name: "vol0", key, peerAddress: { host: "127.0.0.1", port }, log: (l: string, m: string) => logs.push(`${l} ${m}`) };
    // The test's cluster: outdating the peer is immediate (both run in this process).
    a = await Volume.open({ ...common, dataPath: file("a.img"), metaPath: file("a.meta"), nodeId: 1, peerId: 2, outdatePeer: async () => b.core.outdate().ok });
    b = await Volume.open({ ...common, dataPath: file("b.img"), metaPath: file("b.meta"), nodeId: 2, peerId: 1, outdatePeer: async () => a.core.outdate().ok });
    await until(() => a.core.repl === "Established" && b.core.repl === "Established", "the peers to connect");
    expect(a.promote().ok).toBe(true);
    nbd = new NbdServer({ socketPath: sock, exportName: "vol0", backend: a, log: (l) => logs.push(l) });
    await nbd.listen();
  });

  afterAll(async () => {
    await nbd?.close();
    await a?.close();
    await b?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const same = () => Buffer.compare(readFileSync(file("a.img")), readFileSync(file("b.img"))) === 0;

  it("replicates qemu-io writes, FUA writes, zeroes and flushes to the Secondary (protocol C)", async () => {
    const { stdout } = await run("qemu-io", ["-f", "raw", "-c", "write -P 0xab 0 1M", "-c", "write -f -P 0xcd 3M 64k", "-c", "write -z 4M 1M", "-c", "flush", "-c", "read -P 0xab 0 1M", `nbd+unix:///vol0?socket=${sock}`]);
    expect(stdout).not.toMatch(/fail|error/i);
    // Protocol C: acknowledged means written on both: no waiting needed.
    expect(same()).toBe(true);
    expect(readFileSync(file("b.img"))[0]).toBe(0xab);
  });

  it("replicates an nbdcopy of 32 MiB of random data", async () => {
    const src = file("src.raw");
    const content = randomBytes(SIZE_BYTES);
    writeFileSync(src, content);
    await run("nbdcopy", ["--flush", src, `nbd+unix:///vol0?socket=${sock}`]);
    expect(Buffer.compare(readFileSync(file("b.img")), content)).toBe(0);
    expect(same()).toBe(true);
  });

  it("keeps writing through a disconnect (peer outdated by the cluster) and resyncs only the dirty regions", async () => {
    b.disconnect("test cut");
    await until(() => a.core.conn !== "Connected", "the Primary to notice");
    await run("qemu-io", ["-f", "raw", "-c", "write -P 0x77 5M 128k", "-c", "flush", `nbd+unix:///vol0?socket=${sock}`]);
    expect(b.core.diskState).toBe("Outdated");
    expect(a.core.outOfSyncRegions).toBeGreaterThan(0);
    expect(same()).toBe(false);
    b.connect();
    await until(() => a.core.repl === "Established" && b.core.repl === "Established" && b.core.diskState === "UpToDate", "the resync");
    expect(logs.some((l) => /resync to node 2: 1 regions/.test(l))).toBe(true);
    expect(same()).toBe(true);
  });
});
