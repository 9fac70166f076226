// O_DIRECT for the backing file (backend.ts, aligned.ts): aligned writes go around the page cache
// where the file system allows it, unaligned ones through it, and reads see both.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DIRECT_ALIGN, addressOf, alignedBuffer, directWritable } from "../../services/replication/aligned.ts";
import { FileBackend } from "../../services/replication/backend.ts";
import { ByteQueue } from "../../services/replication/nbd/byte-queue.ts";

// /tmp on these machines is ext4 (O_DIRECT works); tmpfs may refuse it, which the backend tolerates.
const dir = mkdtempSync(join(tmpdir(), "hapd-direct-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("aligned buffers and O_DIRECT writes", () => {
  it("alignedBuffer puts the requested byte on a page boundary", () => {
    for (const at of [0, 1, 23, 4095, 4096]) {
      const b = alignedBuffer(70_000, at);
      expect(b.byteLength).toBe(70_000);
      expect((addressOf(b) + at) % DIRECT_ALIGN).toBe(0);
    }
    expect(directWritable(4096, alignedBuffer(8192))).toBe(true);
    expect(directWritable(512, alignedBuffer(8192))).toBe(false);
    expect(directWritable(0, alignedBuffer(8192).subarray(1, 4097))).toBe(false);
  });

  it("a ByteQueue joins a large frame into an aligned buffer", () => {
    const q = new ByteQueue();
    const src = new Uint8Array(300_000).map((_, i) => i & 0xff);
    for (let i = 0; i < src.byteLength; i += 65_536) q.push(src.subarray(i, i + 65_536));
    const out = q.take(200_000, 10);
    expect((addressOf(out) + 10) % DIRECT_ALIGN).toBe(0);
    expect(Buffer.compare(out, src.subarray(0, 200_000))).toBe(0);
  });

  it("writes aligned data with O_DIRECT and the rest buffered; reads and the file agree", async () => {
    const path = join(dir, "d.img");
    writeFileSync(path, new Uint8Array(1 << 20));
    const be = await FileBackend.open(path, { direct: true });
    const a = alignedBuffer(65_536);
    a.fill(0xa5);
    await be.write(65_536, a, false);
    const u = new Uint8Array(1000).fill(0x3c);
    await be.write(3, u, false);
    // Unaligned then aligned over the same range: the later write wins.
    await be.write(131_072 + 7, new Uint8Array(10).fill(1), false);
    const b = alignedBuffer(4096);
    b.fill(2);
    await be.write(131_072, b, true);
    await be.flush();
    const direct = be.directWrites;
    expect((await be.read(65_536, 65_536)).every((x) => x === 0xa5)).toBe(true);
    expect((await be.read(131_072, 4096)).every((x) => x === 2)).toBe(true);
    await be.close();
    const file = readFileSync(path);
    expect(file.subarray(65_536, 131_072).every((x) => x === 0xa5)).toBe(true);
    expect(file.subarray(3, 1003).every((x) => x === 0x3c)).toBe(true);
    expect(file.subarray(131_072, 135_168).every((x) => x === 2)).toBe(true);
    // Where the file system has O_DIRECT, exactly the two aligned writes used it.
    expect([0, 2]).toContain(direct);
  });
});
