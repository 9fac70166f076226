// Our NBD server against real clients from Debian: qemu-img, qemu-io (QEMU's NBD client, the one
// guests use), nbdinfo and nbdcopy (libnbd). Content is checked byte for byte.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileBackend } from "../../services/replication/backend.ts";
import { NbdServer } from "../../services/replication/nbd/server.ts";

const run = promisify(execFile);
const SIZE_BYTES = 16 * 1024 * 1024;

async function have(tool: string): Promise<boolean> {
  try {
    await run("sh", ["-c", `command -v ${tool}`]);
    return true;
  } catch {
    return false;
  }
}

const tools = await Promise.all(["qemu-img", "qemu-io", "nbdinfo", "nbdcopy"].map(have));
const haveAll = tools.every(Boolean);

describe.skipIf(!haveAll)("NBD server with real clients", () => {
  let dir = "";
  let server: NbdServer;
  let backend: FileBackend;
  let sock = "";
  const uri = () => `nbd+unix:///vol0?socket=${sock}`;
  const logs: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "hapd-nbd-"));
    sock = join(dir, "vol0.sock");
    writeFileSync(join(dir, "vol0.img"), new Uint8Array(SIZE_BYTES));
    backend = await FileBackend.open(join(dir, "vol0.img"));
    server = new NbdServer({ socketPath: sock, exportName: "vol0", backend, log: (l) => logs.push(l) });
    await server.listen();
  });

  afterAll(async () => {
    await server?.close();
    await backend?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("nbdinfo sees the export, its size and flags", async () => {
    const { stdout } = await run("nbdinfo", ["--json", uri()]);
    const info = JSON.parse(stdout);
    const exp = info.exports[0];
    expect(exp["export-size"]).toBe(SIZE_BYTES);
    expect(exp["can_flush"]).toBe(true);
    expect(exp["can_fua"]).toBe(true);
    expect(exp["can_trim"]).toBe(true);
    expect(exp["can_zero"]).toBe(true);
    expect(exp["is_read_only"]).toBe(false);
    expect(exp["block_size_maximum"]).toBe(32 * 1024 * 1024);
    const list = await run("nbdinfo", ["--list", "--json", `nbd+unix://?socket=${sock}`]);
    expect(JSON.parse(list.stdout).exports.map((e: { "export-name": string }) => e["export-name"])).toEqual(["vol0"]);
  });

  it("qemu-img info reads the virtual size", async () => {
    const { stdout } = await run("qemu-img", ["info", "--output=json", "--image-opts", `driver=nbd,path=${sock},export=vol0`]);
    expect(JSON.parse(stdout)["virtual-size"]).toBe(SIZE_BYTES);
  });

  it("qemu-io writes, reads back, flushes, discards and zeroes", async () => {
    const { stdout } = await run("qemu-io", [
      "-f", "raw",
      "-c", "write -P 0xab 0 1M",
      "-c", "read -P 0xab 0 1M",
      "-c", "write -f -P 0xcd 1M 64k", // FUA write
      "-c", "read -P 0xcd 1M 64k",
      "-c", "flush",
      "-c", "discard 4M 1M",
      "-c", "write -z 8M 1M",
      "-c", "read -P 0 8M 1M",
      "-c", "write -z -u 12M 1M", // zeroes that may punch a hole (no NO_HOLE flag)
      "-c", "read -P 0 12M 1M",
      uri(),
    ]);
    expect(stdout).not.toMatch(/Pattern verification failed|error/i);
    const file = readFileSync(join(dir, "vol0.img"));
    expect(file.subarray(0, 1024 * 1024).every((b) => b === 0xab)).toBe(true);
    expect(file.subarray(1024 * 1024, 1024 * 1024 + 65536).every((b) => b === 0xcd)).toBe(true);
  });

  it("qemu-io gets an error, not a hang, past the end", async () => {
    const r = await run("qemu-io", ["-f", "raw", "-c", `read 0 ${SIZE_BYTES + 512}`, uri()]).catch((e) => e);
    expect(String(r.stdout) + String(r.stderr)).toMatch(/beyond|error|Invalid|range/i);
  });

  it("qemu-img convert writes a raw image into the export and back out", async () => {
    const src = join(dir, "src.raw");
    const content = randomBytes(SIZE_BYTES);
    writeFileSync(src, content);
    await run("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", src, uri()]);
    expect(Buffer.compare(readFileSync(join(dir, "vol0.img")), content)).toBe(0);
    const back = join(dir, "back.raw");
    await run("qemu-img", ["convert", "-f", "raw", "-O", "raw", uri(), back]);
    expect(Buffer.compare(readFileSync(back), content)).toBe(0);
  });

  it("nbdcopy copies into and out of the export (multi-connection)", async () => {
    const src = join(dir, "src2.raw");
    const content = randomBytes(SIZE_BYTES);
    writeFileSync(src, content);
    await run("nbdcopy", ["--flush", src, uri()]);
    expect(Buffer.compare(readFileSync(join(dir, "vol0.img")), content)).toBe(0);
    const back = join(dir, "back2.raw");
    writeFileSync(back, "");
    await run("nbdcopy", [uri(), back]);
    expect(Buffer.compare(readFileSync(back), content)).toBe(0);
    expect(server.stats.errors).toBe(0);
  });
});
