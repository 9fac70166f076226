// kill -9 of a real Primary process in the middle of a write stream (protocol C), then the
// Secondary is promoted: every write the client saw acknowledged is on it. The client is a small
// NBD client that records acknowledgements (stamped 4 KiB blocks, 16 in flight).
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as P from "../../services/replication/nbd/protocol.ts";
import { Volume, newGeneration } from "../../services/replication/volume.ts";
import { ClusterKey } from "../../services/shared/wire.ts";

const SIZE_BYTES = 8 * 1024 * 1024;
const BLOCK_BYTES = 4096;
const BLOCKS = SIZE_BYTES / BLOCK_BYTES;

/** Reads exactly n bytes from a socket, in order. */
class Reader {
  private buf = Buffer.alloc(0);
  private waiters: { n: number; resolve: (b: Buffer) => void }[] = [];
  constructor(s: Socket) {
    s.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.drain();
    });
  }
  private drain(): void {
    while (this.waiters.length > 0 && this.buf.byteLength >= this.waiters[0]!.n) {
      const w = this.waiters.shift()!;
      const out = this.buf.subarray(0, w.n);
      this.buf = this.buf.subarray(w.n);
      w.resolve(Buffer.from(out));
    }
  }
  read(n: number): Promise<Buffer> {
    return new Promise((resolve) => {
      this.waiters.push({ n, resolve });
      this.drain();
    });
  }
}

async function nbdOpen(path: string): Promise<{ socket: Socket; reader: Reader }> {
  const socket = connect(path);
  await new Promise<void>((r) => socket.once("connect", () => r()));
  const reader = new Reader(socket);
  await reader.read(18);
  socket.write(Buffer.from([0, 0, 0, 3]));
  const name = Buffer.from("vol0");
  const data = Buffer.alloc(4 + name.byteLength + 2);
  data.writeUInt32BE(name.byteLength, 0);
  name.copy(data, 4);
  const head = Buffer.alloc(16);
  head.writeBigUInt64BE(P.IHAVEOPT, 0);
  head.writeUInt32BE(P.Opt.GO, 8);
  head.writeUInt32BE(data.byteLength, 12);
  socket.write(Buffer.concat([head, data]));
  for (;;) {
    const h = await reader.read(20);
    const type = h.readUInt32BE(12);
    await reader.read(h.readUInt32BE(16));
    if (type === P.Rep.ACK) return { socket, reader };
    if (type !== P.Rep.INFO) throw new Error(`NBD_OPT_GO failed: reply 0x${type.toString(16)}`);
  }
}

describe("kill -9 of the Primary process", () => {
  const dir = mkdtempSync(join(tmpdir(), "hapd-kill-"));
  const f = (n: string) => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loses no acknowledged write (protocol C)", async () => {
    const keyBytes = randomBytes(32);
    const uuid = randomUUID();
    const current = newGeneration();
    for (const n of ["a", "b"]) {
      writeFileSync(f(`${n}.img`), new Uint8Array(SIZE_BYTES));
      Volume.format(f(`${n}.meta`), "vol0", { uuid, size_bytes: SIZE_BYTES, current, assumeClean: true });
    }
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
    const { socket, reader } = await nbdOpen(f("a.sock"));
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
