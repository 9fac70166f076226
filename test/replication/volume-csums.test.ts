// Checksum-based resync on real files: two Volumes in one process over loopback TCP. After a
// disconnect during which the Primary rewrote 8 regions with the data they already held and
// changed three small pieces, the reconnect sends only the three differing 16 KiB blocks.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Volume } from "../../services/replication/volume.ts";
import { ClusterKey } from "../../services/shared/wire.ts";
import { formatCleanPair } from "./volume-pair.ts";

const SIZE_BYTES = 16 * 1024 * 1024;
const MIB = 1024 * 1024;
const BLOCK = 16 * 1024;

async function until(p: () => boolean, what: string, limit_ms = 10_000): Promise<void> {
  const end = Date.now() + limit_ms;
  while (!p()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("checksum-based resync (csums: true) on real files", () => {
  const dir = mkdtempSync(join(tmpdir(), "hapd-csums-"));
  const file = (n: string) => join(dir, n);
  const vols: Volume[] = [];
  afterAll(async () => {
    for (const v of vols) await v.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends only the blocks that differ and leaves the backing files byte-identical", async () => {
    const key = new ClusterKey(new Uint8Array(32).fill(5));
    const port = 20000 + Math.floor(Math.random() * 20000);
    formatCleanPair(file, SIZE_BYTES);
    const logs: string[] = [];
    const common = { name: "vol0", key, peerAddress: { host: "127.0.0.1", port }, config: { csums: true }, log: (l: string, m: string) => logs.push(`${l} ${m}`) };
    const a: Volume = await Volume.open({ ...common, dataPath: file("a.img"), metaPath: file("a.meta"), nodeId: 1, peerId: 2, outdatePeer: async () => b.core.outdate().ok });
    vols.push(a);
    const b: Volume = await Volume.open({ ...common, dataPath: file("b.img"), metaPath: file("b.meta"), nodeId: 2, peerId: 1, outdatePeer: async () => a.core.outdate().ok });
    vols.push(b);
    await until(() => a.core.repl === "Established" && b.core.repl === "Established", "the peers to connect");
    expect(a.promote().ok).toBe(true);

    const content = randomBytes(8 * MIB);
    await a.write(2 * MIB, content, false);
    b.disconnect("test cut");
    await until(() => a.core.conn !== "Connected" && b.core.diskState === "Outdated" && !a.core.suspended, "the Primary to fence the peer");
    // The same bytes again: 8 regions marked out of sync, none of them actually different...
    await a.write(2 * MIB, content, false);
    // ...but three pieces: two 4 KiB writes in one 16 KiB block, one straddling two blocks.
    await a.write(3 * MIB + 100, new Uint8Array(4096).fill(1), false);
    await a.write(3 * MIB + 5000, new Uint8Array(4096).fill(2), false);
    await a.write(7 * MIB + BLOCK - 2048, new Uint8Array(4096).fill(3), false);
    await a.flush();
    expect(a.core.outOfSyncRegions).toBe(8);
    b.connect();
    // The log line follows the final metadata commit, so wait for it too.
    await until(() => a.core.repl === "Established" && b.core.repl === "Established" && b.core.diskState === "UpToDate" && logs.some((l) => /resync finished/.test(l)), "the resync");
    expect(a.core.resyncSent_bytes).toBe(3 * BLOCK);
    expect(a.core.resyncSkipped_bytes).toBe(8 * MIB - 3 * BLOCK);
    expect(logs.some((l) => /resync finished \(49152 bytes sent, 8339456 skipped as equal by checksum\)/.test(l))).toBe(true);
    expect(Buffer.compare(readFileSync(file("a.img")), readFileSync(file("b.img")))).toBe(0);
  });
});
