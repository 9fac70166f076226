// Detach on local I/O errors, on real files: two Volumes in one process over loopback TCP; the
// Primary's backing file sits behind a backend that fails on demand. The Primary goes Diskless
// and keeps serving reads, writes and flushes through its UpToDate peer; without the peer its I/O
// fails; after the "repair" the disk is attached again and takes a full resync from the peer.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileBackend, type BlockBackend } from "../../services/replication/backend.ts";
import { Volume, type VolumeOptions } from "../../services/replication/volume.ts";
import { ClusterKey } from "../../services/shared/wire.ts";
import { formatCleanPair } from "./volume-pair.ts";

const SIZE_BYTES = 8 * 1024 * 1024;
const MIB = 1024 * 1024;

/**
 * A FileBackend whose reads, writes and flushes fail with EIO while `failing` is set. With
 * `inline`, it also offers the synchronous forms, so small writes and flushes on an idle volume
 * run on the caller's thread (Volume.runInline) and fail there.
 */
class FailingBackend implements BlockBackend {
  failing = false;
  /** Synchronous writes and flushes asked of this backend, failed or not. */
  inlineCalls = 0;
  writeSync?: (o: number, d: Uint8Array, fua: boolean) => void;
  flushSync?: () => void;
  constructor(
    private readonly inner: FileBackend,
    inline: boolean,
  ) {
    if (inline) {
      this.writeSync = (o, d, fua) => {
        this.inlineCalls++;
        this.check("write");
        inner.writeSync(o, d, fua);
      };
      this.flushSync = () => {
        this.inlineCalls++;
        this.check("flush");
        inner.flushSync();
      };
    }
  }
  get size_bytes(): number {
    return this.inner.size_bytes;
  }
  private check(what: string): void {
    if (this.failing) throw Object.assign(new Error(`${what}: EIO (test)`), { code: "EIO" });
  }
  async read(o: number, n: number): Promise<Uint8Array> {
    this.check("read");
    return this.inner.read(o, n);
  }
  async write(o: number, d: Uint8Array, fua: boolean): Promise<void> {
    this.check("write");
    return this.inner.write(o, d, fua);
  }
  async flush(): Promise<void> {
    this.check("flush");
    return this.inner.flush();
  }
  async trim(): Promise<void> {}
  async writeZeroes(o: number, n: number, t: boolean, fua: boolean): Promise<void> {
    this.check("write");
    return this.inner.writeZeroes(o, n, t, fua);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function until(p: () => boolean, what: string, limit_ms = 10_000): Promise<void> {
  const end = Date.now() + limit_ms;
  while (!p()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("detach on local I/O errors (Diskless) on real files", () => {
  const dir = mkdtempSync(join(tmpdir(), "hapd-diskless-"));
  const open: Volume[] = [];
  afterAll(async () => {
    for (const v of open) await v.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  for (const inline of [false, true]) it(`a Primary whose disk fails serves through the peer, fails without it, and resyncs after attach (${inline ? "small writes and flushes inline" : "asynchronous I/O"})`, async () => {
    const file = (n: string) => join(dir, `${inline ? "i" : "a"}-${n}`);
    const key = new ClusterKey(new Uint8Array(32).fill(6));
    const port = 20000 + Math.floor(Math.random() * 20000);
    formatCleanPair(file, SIZE_BYTES);
    const logs: string[] = [];
    let failing: FailingBackend | null = null;
    const common = { name: "vol0", key, peerAddress: { host: "127.0.0.1", port }, log: (l: string, m: string) => logs.push(`${l} ${m}`) };
    const aOpts: VolumeOptions = {
      ...common,
      dataPath: file("a.img"),
      metaPath: file("a.meta"),
      nodeId: 1,
      peerId: 2,
      outdatePeer: async () => b.core.outdate().ok,
      openBackend: async (path, direct) => (failing = new FailingBackend(await FileBackend.open(path, { direct }), inline)),
    };
    let a = await Volume.open(aOpts);
    open.push(a);
    const b: Volume = await Volume.open({ ...common, dataPath: file("b.img"), metaPath: file("b.meta"), nodeId: 2, peerId: 1, outdatePeer: async () => a.core.outdate().ok });
    open.push(b);
    await until(() => a.core.repl === "Established" && b.core.repl === "Established", "the peers to connect");
    expect(a.promote().ok).toBe(true);
    const first = randomBytes(MIB);
    await a.write(0, first, false);

    // The disk fails: the next write detaches it, and is acknowledged because the peer has it.
    failing!.failing = true;
    const second = randomBytes(inline ? 64 * 1024 : MIB);
    await a.write(2 * MIB, second, true);
    expect(a.core.diskState).toBe("Diskless");
    expect(a.core.diskFailure).toBe("write failed");
    // The failing 64 KiB write went inline on an idle volume (and nothing inline without the option).
    expect(failing!.inlineCalls > 0).toBe(inline);
    expect(logs.some((l) => /error volume vol0: local disk I\/O error \(write failed\): disk Failed, detached → Diskless; I\/O goes on through the peer/.test(l))).toBe(true);
    await a.flush();
    // Reads come from the peer (the local disk is not even asked).
    expect(Buffer.from(await a.read(0, MIB)).equals(first)).toBe(true);
    expect(Buffer.from(await a.read(2 * MIB, second.byteLength)).equals(second)).toBe(true);
    expect(readFileSync(file("b.img")).subarray(2 * MIB, 2 * MIB + second.byteLength).equals(second)).toBe(true);
    expect(readFileSync(file("a.img")).subarray(2 * MIB, 2 * MIB + second.byteLength).equals(second)).toBe(false);
    expect(b.core.diskState).toBe("UpToDate");
    const third = randomBytes(64 * 1024);
    await a.write(5 * MIB, third, false);
    // A second promotion is refused with the reason, demotion still works later.
    expect(b.promote().ok).toBe(false);

    // Without the peer there is no copy left: I/O fails, and the peer is not fenced.
    b.disconnect("test cut");
    await until(() => a.core.conn === "StandAlone", "the Primary to lose the peer");
    await expect(a.write(0, new Uint8Array(4096), false)).rejects.toMatchObject({ code: "EIO" });
    await expect(a.read(0, 4096)).rejects.toMatchObject({ code: "EIO" });
    expect(b.core.diskState).toBe("UpToDate");

    // The operator moves the Primary and repairs the disk; attach = the volume brought up again.
    expect(a.demote().ok).toBe(true);
    expect(b.promote(false).ok).toBe(true);
    await a.close();
    open.splice(open.indexOf(a), 1);
    failing!.failing = false;
    a = await Volume.open(aOpts);
    open.push(a);
    expect(a.core.diskState).toBe("Inconsistent");
    b.connect();
    await until(() => a.core.repl === "Established" && b.core.repl === "Established" && a.core.diskState === "UpToDate" && logs.some((l) => /resync finished/.test(l)), "the full resync");
    expect(logs.some((l) => /resync to node 1: 8 regions/.test(l))).toBe(true);
    expect(Buffer.compare(readFileSync(file("a.img")), readFileSync(file("b.img")))).toBe(0);
    expect(readFileSync(file("a.img")).subarray(5 * MIB, 5 * MIB + 65536).equals(third)).toBe(true);
  });
});
