// kill -9 of a real Primary process in the middle of a write stream (protocol C), then the
// Secondary is promoted: every write the client saw acknowledged is on it. The client is a small
// NBD client that records acknowledgements (stamped 4 KiB blocks, 16 in flight).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as P from "../../services/replication/nbd/protocol.ts";
import { Volume } from "../../services/replication/volume.ts";
import { ClusterKey } from "../../services/shared/wire.ts";
import { nbdOpen } from "./nbd-client.ts";
import { formatCleanPair } from "./volume-pair.ts";

const SIZE_BYTES = 8 * 1024 * 1024;
const BLOCK_BYTES = 4096;
const BLOCKS = SIZE_BYTES / BLOCK_BYTES;

describe("kill -9 of the Primary process", () => {
  const dir = mkdtempSync(join(tmpdir(), "hapd-kill-"));
  const f = (n: string) => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loses no acknowledged write (protocol C)", async () => {
    const keyBytes = randomBytes(32);
    formatCleanPair(f, SIZE_BYTES);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const logs: string[] = [];
    let primaryDead = false;
    // The cluster's answer for the Secondary's fencing: the old Primary was killed (fenced).
    const b = await Volume.open({
      name: "vol0", dataPath: f("b.img"), metaPath: f("b.meta"), nodeId: 2, peerId: 1,
      key: new ClusterKey(keyBytes), peerAddress: { host: "127.0.0.1", port },
      outdatePeer: async () => primaryDead, log: (l, m) => logs.push(`${l} ${m}`),
    });
    const child = spawn(process.execPath, [join(import.meta.dirname, "primary-child.ts"), f("a.img"), f("a.meta"), String(port), keyBytes.toString("hex"), f("a.sock")], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
      child.once("exit", (code) => reject(new Error(`primary exited ${code}`)));
    });
    const { socket, reader } = await nbdOpen(f("a.sock"), "vol0");
    const lastAcked = new Map<number, number>();
    const inflight = new Map<bigint, { block: number; stamp: number }>();
    const issued = new Map<number, number[]>();
    let stamp = 0;
    let stop = false;
    const writeOne = () => {
      const block = Math.floor(Math.random() * BLOCKS);
      if ([...inflight.values()].some((w) => w.block === block)) return;
      stamp++;
      const data = Buffer.alloc(BLOCK_BYTES, stamp & 0xff);
      data.writeUInt32BE(stamp, 0);
      const cookie = BigInt(stamp);
      inflight.set(cookie, { block, stamp });
      issued.set(block, [...(issued.get(block) ?? []), stamp]);
      socket.write(Buffer.concat([P.encodeRequest({ flags: 0, type: P.Cmd.WRITE, cookie, offset: BigInt(block * BLOCK_BYTES), length: BLOCK_BYTES }), data]));
    };
    const pump = async () => {
      while (!stop) {
        while (inflight.size < 16) writeOne();
        const r = await Promise.race([reader.read(16), new Promise<null>((res) => setTimeout(() => res(null), 200))]);
        if (reader.closed) break; // the Primary is gone: no acknowledgement can come any more
        if (r === null) continue;
        const w = inflight.get(r.readBigUInt64BE(8));
        if (!w) continue;
        inflight.delete(r.readBigUInt64BE(8));
        if (r.readUInt32BE(4) === 0) lastAcked.set(w.block, w.stamp);
      }
    };
    const loop = pump();
    await new Promise((r) => setTimeout(r, 300 + Math.random() * 300));
    child.kill("SIGKILL");
    primaryDead = true;
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    socket.destroy();
    await loop;
    for (let i = 0; i < 200 && b.core.conn === "Connected"; i++) await new Promise((r) => setTimeout(r, 10));
    const promoted = b.promote();
    expect(promoted.ok).toBe(true);
    expect(lastAcked.size).toBeGreaterThan(10); // a loaded machine still manages this many in 0.3 s
    const disk = readFileSync(f("b.img"));
    const bad: string[] = [];
    for (const [block, acked] of lastAcked) {
      const got = disk.readUInt32BE(block * BLOCK_BYTES);
      const list = issued.get(block)!;
      if (!list.slice(list.indexOf(acked)).includes(got)) bad.push(`block ${block}: has ${got}, acknowledged ${acked}`);
    }
    expect(bad).toEqual([]);
    await b.close();
  });
});
