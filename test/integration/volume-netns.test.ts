// Replicated volumes between two network namespaces (hv-a 10.79.0.1, hv-b 10.79.0.2, one veth
// pair), each running the compiled `dist/hapd service volume`. The test process plays the
// cluster (node attributes on each node's run_dir/hapd.sock: unix sockets live in the
// filesystem, so they cross namespaces) and the operator (the control sockets, `hapd volume`).
// QEMU's qemu-io writes through the Primary's NBD export.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type VolumeCommand, type VolumeDetail, nbdSocketPath, requestVolume } from "../../services/replication/status-client.ts";
import { writeKeyFile } from "../../services/shared/keyfile.ts";
import { AckWriter } from "../replication/ack-writer.ts";
import { FakeCluster } from "../replication/fake-cluster.ts";
import { writeVolumeConfig } from "../replication/volume-config.ts";

const run = promisify(execFile);
const HAPD = join(process.cwd(), "dist/hapd");
const SIZE_MIB = 32;
const isRoot = process.getuid?.() === 0;
const ready =
  isRoot &&
  existsSync(HAPD) &&
  (await run("sh", ["-c", "command -v qemu-io && ip netns list"]).then(
    () => true,
    () => false,
  ));

type N = "a" | "b";
const NS = { a: "hv-a", b: "hv-b" } as const;

async function until(p: () => boolean | Promise<boolean>, what: string, limit_ms = 30_000): Promise<void> {
  const end = Date.now() + limit_ms;
  while (!(await p())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!ready)("replicated volume between two namespaces (compiled hapd)", () => {
  let dir = "";
  let cluster: FakeCluster;
  const files: Record<N, string> = { a: "", b: "" };
  const procs: Record<N, ChildProcess | null> = { a: null, b: null };
  const logs: string[] = [];
  const runDir = (n: N) => join(dir, NS[n], "run");
  const img = (n: N) => join(dir, NS[n], "vol0.img");
  const ask = (n: N, req: VolumeCommand) => requestVolume(runDir(n), req);
  const status = async (n: N): Promise<VolumeDetail> => {
    const r = await ask(n, { cmd: "status" });
    if (!r.ok || !r.volumes) throw new Error(`status of ${n} failed`);
    return r.volumes[0]!;
  };
  const nbd = (n: N) => `nbd+unix:///vol0?socket=${nbdSocketPath(runDir(n), "vol0")}`;
  const cli = (n: N, args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      execFile(HAPD, ["volume", ...args, "--config", files[n]], (e, out, err) => resolve({ code: e ? Number(e.code) : 0, out, err }));
    });

  async function startService(n: N): Promise<void> {
    const p = spawn("ip", ["netns", "exec", NS[n], HAPD, "service", "volume", "--config", files[n]], { stdio: ["ignore", "ignore", "pipe"] });
    p.stderr!.setEncoding("utf8");
    p.stderr!.on("data", (d: string) => logs.push(...d.split("\n").filter(Boolean).map((l) => `${n}: ${l}`)));
    procs[n] = p;
    await until(async () => (await ask(n, { cmd: "status" }).catch(() => null))?.ok === true, `${NS[n]}'s volume service`);
  }

  beforeAll(async () => {
    for (const ns of Object.values(NS)) await run("ip", ["netns", "del", ns]).catch(() => undefined);
    dir = mkdtempSync(join(tmpdir(), "hapd-volns-"));
    await run("ip", ["netns", "add", NS.a]);
    await run("ip", ["netns", "add", NS.b]);
    await run("ip", ["link", "add", "hv-va", "netns", NS.a, "type", "veth", "peer", "name", "hv-vb", "netns", NS.b]);
    for (const [n, addr] of [["a", "10.79.0.1"], ["b", "10.79.0.2"]] as const) {
      const ex = (...args: string[]) => run("ip", ["netns", "exec", NS[n], "ip", ...args]);
      await ex("link", "set", "lo", "up");
      await ex("addr", "add", `${addr}/24`, "dev", `hv-v${n}`);
      await ex("link", "set", `hv-v${n}`, "up");
    }
    writeKeyFile(join(dir, "cluster.key"), false);
    for (const n of ["a", "b"] as const) {
      mkdirSync(join(dir, NS[n], "run"), { recursive: true, mode: 0o700 });
      // A resync cap makes the resync last long enough (a few seconds) for status to show it.
      files[n] = writeVolumeConfig({ dir, node: NS[n], addresses: { a: "10.79.0.1", b: "10.79.0.2" }, peerPort: 7789, sizeMib: SIZE_MIB, resyncRateMib: 4 });
    }
    cluster = new FakeCluster(join(runDir("a"), "hapd.sock"), [join(runDir("b"), "hapd.sock")]);
    await cluster.start();
    await startService("a");
    await startService("b");
  }, 60_000);

  afterAll(async () => {
    for (const p of Object.values(procs)) p?.kill("SIGKILL");
    await cluster?.stop();
    for (const ns of Object.values(NS)) await run("ip", ["netns", "del", ns]).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("replicates qemu-io writes; after a disconnect only the bitmap regions resync, with progress in status", async () => {
    for (const n of ["a", "b"] as const) {
      expect((await cli(n, ["create", "vol0", "--assume-clean"])).code).toBe(0);
      expect((await cli(n, ["up", "vol0"])).code).toBe(0);
    }
    await until(async () => (await status("a")).connection === "Established" && (await status("b")).connection === "Established", "connection over the veth");
    expect((await cli("a", ["primary", "vol0"])).code).toBe(0);
    await run("qemu-io", ["-f", "raw", "-c", "write -P 0x31 0 4M", "-c", "flush", nbd("a")]);
    expect(Buffer.compare(readFileSync(img("a")), readFileSync(img("b")))).toBe(0);

    expect((await cli("b", ["disconnect", "vol0"])).code).toBe(0);
    await until(async () => (await status("a")).peer_disk === "Outdated", "the Primary to outdate the peer through the cluster");
    // 8 regions written while disconnected (1 MiB regions, 8 MiB at 16 MiB).
    await run("qemu-io", ["-f", "raw", "-c", "write -P 0x32 16M 8M", "-c", "flush", nbd("a")]);
    expect((await status("a")).out_of_sync_regions).toBe(8);
    await until(async () => (await status("b")).disk === "Outdated", "b to learn from the cluster that it is Outdated");
    expect(cluster.attrs.get("hv-b/volume-outdated-vol0")).toBe((await status("a")).generation);

    expect((await cli("b", ["connect", "vol0"])).code).toBe(0);
    const seen: number[] = [];
    await until(async () => {
      const s = await status("a");
      if (s.connection === "SyncSource" && s.sync_percent !== null) seen.push(s.sync_percent);
      return (await status("b")).disk === "UpToDate" && s.connection === "Established";
    }, "the resync");
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((p) => p >= 0 && p <= 100)).toBe(true);
    expect(logs.some((l) => /resync to node 2: 8 regions/.test(l))).toBe(true);
    expect(Buffer.compare(readFileSync(img("a")), readFileSync(img("b")))).toBe(0);
    const st = await cli("a", ["status"]);
    expect(st.out).toMatch(/vol0: Primary UpToDate, Established, peer UpToDate/);
    await until(() => !cluster.attrs.has("hv-b/volume-outdated-vol0"), "the mark to be cleared");
  }, 90_000);

  it("kill -9 of the Primary mid-write-stream: the promoted Secondary holds every acknowledged write", async () => {
    const writer = new AckWriter((SIZE_MIB * 1024 * 1024) / 4096, "vol0");
    await writer.start(nbdSocketPath(runDir("a"), "vol0"));
    await until(() => writer.acks >= 300, "acknowledged writes");
    procs.a!.kill("SIGKILL");
    await writer.stop();
    await until(async () => (await status("b")).conn !== "Connected", "the Secondary to notice");
    // The cluster has not outdated b (a died before it could), so b may be promoted.
    const p = await cli("b", ["primary", "vol0"]);
    expect(p.code, p.err).toBe(0);
    await until(async () => !(await status("b")).io_frozen, "b's fencing of a");
    expect(cluster.attrs.get("hv-a/volume-outdated-vol0")).toBe((await status("b")).generation);
    expect(writer.missing(readFileSync(img("b")))).toEqual([]);
    expect(writer.lastAcked.size).toBeGreaterThan(0);

    // a comes back (its up-marker brings the volume up as Secondary), Outdated by the cluster,
    // and resyncs from b, its crash's activity-log regions included.
    await startService("a");
    await until(async () => (await status("a")).up, "a's volume back up");
    await until(async () => (await status("a")).disk === "UpToDate" && (await status("a")).connection === "Established", "a's resync", 60_000);
    expect(Buffer.compare(readFileSync(img("a")), readFileSync(img("b")))).toBe(0);
  }, 120_000);

  it("split brain: detected on reconnect, nothing discarded, status says what to do; resolved by choosing the victim", async () => {
    await until(() => !cluster.attrs.has("hv-a/volume-outdated-vol0"), "a's mark cleared");
    await cli("a", ["disconnect", "vol0"]);
    await cli("b", ["disconnect", "vol0"]);
    // a is Secondary and not Outdated: promoting it alone needs no force, but a is StandAlone so
    // it would not know whether b wrote: the cluster says b has not outdated it.
    const forced = await cli("a", ["primary", "vol0", "--force"]);
    expect(forced.code, forced.err).toBe(0);
    expect(forced.err).toMatch(/WARNING/);
    await run("qemu-io", ["-f", "raw", "-c", "write -P 0x41 2M 64k", "-c", "flush", nbd("a")]);
    await run("qemu-io", ["-f", "raw", "-c", "write -P 0x42 9M 64k", "-c", "flush", nbd("b")]);
    const before = { a: readFileSync(img("a")), b: readFileSync(img("b")) };
    await cli("a", ["connect", "vol0"]);
    await cli("b", ["connect", "vol0"]);
    await until(async () => (await status("a")).split_brain !== null && (await status("b")).split_brain !== null, "split brain on both");
    const sa = await cli("a", ["status"]);
    expect(sa.out).toMatch(/StandAlone \(split brain\)/);
    expect(sa.out).toMatch(/resolve-split-brain vol0 --discard-local/);
    expect(Buffer.compare(readFileSync(img("a")), before.a)).toBe(0);
    expect(Buffer.compare(readFileSync(img("b")), before.b)).toBe(0);
    // The victim is a: demote, discard; b reconnects.
    expect((await cli("a", ["secondary", "vol0"])).code).toBe(0);
    expect((await cli("a", ["resolve-split-brain", "vol0"])).code).toBe(2); // without --discard-local
    expect((await cli("a", ["resolve-split-brain", "vol0", "--discard-local"])).code).toBe(0);
    expect((await cli("b", ["connect", "vol0"])).code).toBe(0);
    await until(async () => (await status("a")).disk === "UpToDate" && (await status("a")).connection === "Established", "resolution");
    expect(Buffer.compare(readFileSync(img("a")), readFileSync(img("b")))).toBe(0);
    const saved = (await status("a")).preserved;
    expect(saved.length).toBe(1);
    expect(readFileSync(saved[0]!)[2 * 1024 * 1024]).toBe(0x41);
  }, 90_000);
});
