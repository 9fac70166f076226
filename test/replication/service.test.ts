// The volume service (services/replication/service.ts) for two hosts in one process, linked over
// loopback TCP, driven through its control socket as `hapd volume` and the agent drive it, with
// a fake cluster socket for resource-level fencing (node attributes).
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BuiltinAgent, VolumeAgent, type AgentAction } from "../../services/executor/agents/index.ts";
import { VolumeService } from "../../services/replication/service.ts";
import { type VolumeCommand, type VolumeDetail, nbdSocketPath, queryVolumes, requestVolume } from "../../services/replication/status-client.ts";
import { loadConfig } from "../../services/shared/config.ts";
import { writeKeyFile } from "../../services/shared/keyfile.ts";
import type { Logger } from "../../services/shared/log.ts";
import { ClusterKey } from "../../services/shared/wire.ts";
import { FakeCluster } from "./fake-cluster.ts";
import { writeVolumeConfig } from "./volume-config.ts";

const run = promisify(execFile);
const haveTools = await run("sh", ["-c", "command -v qemu-io"]).then(() => true, () => false);
const SIZE_MIB = 8;

async function until(p: () => boolean | Promise<boolean>, what: string, limit_ms = 15_000): Promise<void> {
  const end = Date.now() + limit_ms;
  while (!(await p())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(!haveTools)("volume service: two hosts, control socket, fencing through the cluster", () => {
  let dir = "";
  const logs: string[] = [];
  const svc: Record<"a" | "b", VolumeService | null> = { a: null, b: null };
  const runDir = { a: "", b: "" };
  const files = { a: "", b: "" };
  let cluster: FakeCluster;

  const logger = (who: string): Logger => ({
    debug: () => undefined,
    info: (c, m) => logs.push(`${who} info ${c}: ${m}`),
    warn: (c, m) => logs.push(`${who} warn ${c}: ${m}`),
    error: (c, m) => logs.push(`${who} error ${c}: ${m}`),
  });
  const ask = (n: "a" | "b", req: VolumeCommand) => requestVolume(runDir[n], req);
  const status = async (n: "a" | "b"): Promise<VolumeDetail> => {
    const r = await ask(n, { cmd: "status" });
    if (!r.ok || !r.volumes) throw new Error("status failed");
    return r.volumes[0]!;
  };
  const nbd = (n: "a" | "b") => `nbd+unix:///vol0?socket=${nbdSocketPath(runDir[n], "vol0")}`;
  const img = (n: "a" | "b") => join(dir, n === "a" ? "hv-a" : "hv-b", "vol0.img");
  const same = () => Buffer.compare(readFileSync(img("a")), readFileSync(img("b"))) === 0;

  async function startService(n: "a" | "b"): Promise<void> {
    const cfg = loadConfig(files[n]);
    runDir[n] = cfg.run_dir;
    const s = new VolumeService({ cfg, key: new ClusterKey(new Uint8Array(32).fill(9)), log: logger(n), clusterSocket: cluster.path, fenceRetry_ms: 30 });
    await s.start();
    svc[n] = s;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "hapd-volsvc-"));
    writeKeyFile(join(dir, "cluster.key"), false);
    const peerPort = 21000 + Math.floor(Math.random() * 20000);
    for (const n of ["a", "b"] as const) {
      mkdirSync(join(dir, `hv-${n}`), { recursive: true });
      files[n] = writeVolumeConfig({ dir, node: `hv-${n}`, addresses: { a: "127.0.0.1", b: "127.0.0.1" }, ringPorts: { a: 5405, b: 5407 }, peerPort, sizeMib: SIZE_MIB });
    }
    cluster = new FakeCluster(join(dir, "hapd.sock"));
    await cluster.start();
    await startService("a");
    await startService("b");
  });

  afterAll(async () => {
    await svc.a?.stop();
    await svc.b?.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("creates, brings up, connects and promotes; the Primary's NBD writes land on both disks", async () => {
    for (const n of ["a", "b"] as const) {
      const c = await ask(n, { cmd: "create", volume: "vol0", assume_clean: true });
      expect(c.ok).toBe(true);
      // A second create would wipe what is in sync: refused without force, as bad input.
      const again = await ask(n, { cmd: "create", volume: "vol0" });
      expect(again).toMatchObject({ ok: false, invalid: true });
      expect(await ask(n, { cmd: "up", volume: "vol0" })).toMatchObject({ ok: true });
    }
    await until(async () => (await status("a")).connection === "Established" && (await status("b")).connection === "Established", "connection");
    const p = await ask("a", { cmd: "primary", volume: "vol0" });
    expect(p).toMatchObject({ ok: true });
    // The Secondary cannot be promoted while the peer is Primary (once it has heard so).
    await until(async () => (await status("b")).peer_role === "Primary", "b to hear a is Primary");
    expect(await ask("b", { cmd: "primary", volume: "vol0" })).toMatchObject({ ok: false, invalid: true });
    const { stdout } = await run("qemu-io", ["-f", "raw", "-c", "write -P 0x11 0 2M", "-c", "flush", nbd("a")]);
    expect(stdout).not.toMatch(/fail|error/i);
    expect(same()).toBe(true);
    const s = await status("a");
    expect(s).toMatchObject({ role: "Primary", disk: "UpToDate", peer_disk: "UpToDate", connection: "Established", nbd_socket: nbdSocketPath(runDir.a, "vol0") });
    const q = await queryVolumes(runDir.a);
    expect(q).toEqual([{ name: "vol0", role: "Primary", disk: "UpToDate", peer_disk: "UpToDate", connection: "Established", sync_percent: null, eta_s: null }]);
    expect(await queryVolumes(join(dir, "nowhere"))).toBeNull();
  });

  it("freezes I/O when the peer is lost and the cluster cannot record it Outdated; resumes once committed", async () => {
    cluster.mode = "refuse";
    const before = cluster.requests.length;
    await ask("b", { cmd: "disconnect", volume: "vol0" });
    await until(async () => (await status("a")).conn !== "Connected", "the Primary to notice");
    const writer = spawn("qemu-io", ["-f", "raw", "-c", "write -P 0x22 3M 64k", "-c", "flush", nbd("a")]);
    let exited = false;
    writer.once("exit", () => {
      exited = true;
    });
    // Several refused attempts, and the write is still not acknowledged.
    await until(() => cluster.requests.slice(before).filter((r) => r.cmd === "node-attr" && r.value).length >= 3, "fencing attempts");
    const frozen = await status("a");
    expect(frozen.io_frozen).toBe(true);
    expect(frozen.hint).toMatch(/I\/O frozen/);
    expect(exited).toBe(false);
    expect(readFileSync(img("a"))[3 * 1024 * 1024]).not.toBe(0x22); // not even written locally? (queued behind the freeze)
    cluster.mode = "ok";
    await new Promise<void>((r) => (exited ? r() : writer.once("exit", () => r())));
    expect(writer.exitCode).toBe(0);
    expect(cluster.attrs.get("hv-b/volume-outdated-vol0")).toBe(frozen.generation);
    expect((await status("a")).peer_disk).toBe("Outdated");
  });

  it("refuses to promote the Outdated side (exit-2 class), names why, and says what --force risks", async () => {
    const r = await ask("b", { cmd: "primary", volume: "vol0" });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.invalid).toBe(true);
    expect(r.error).toMatch(/refusing promotion.*Outdated/);
    const s = await status("b");
    expect(s.disk).toBe("Outdated");
    expect(s.hint).toMatch(/--force/);
  });

  it("reconnects: only the bitmap regions resync, then the cluster's mark is cleared", async () => {
    expect((await status("a")).out_of_sync_regions).toBe(1);
    await ask("b", { cmd: "connect", volume: "vol0" });
    await until(async () => (await status("b")).disk === "UpToDate" && (await status("a")).connection === "Established", "resync");
    expect(logs.some((l) => /resync to node 2: 1 regions/.test(l))).toBe(true);
    expect(same()).toBe(true);
    await until(() => !cluster.attrs.has("hv-b/volume-outdated-vol0"), "the mark to be cleared");
  });

  it("online verify finds a region corrupted behind the replication's back", async () => {
    // Corrupt the Secondary's copy directly (a bad sector, a stray write).
    const b = readFileSync(img("b"));
    b[5 * 1024 * 1024 + 7] = b[5 * 1024 * 1024 + 7]! ^ 0xff;
    writeFileSync(img("b"), b);
    expect(await ask("a", { cmd: "verify", volume: "vol0" })).toMatchObject({ ok: true });
    await until(async () => (await status("a")).last_verify !== null, "verify");
    expect((await status("a")).last_verify).toMatchObject({ checked: SIZE_MIB, out_of_sync: [5], complete: true });
  });

  it("split brain: detected by both, nothing discarded, the victim's regions saved, then resynced from the survivor", async () => {
    await ask("a", { cmd: "disconnect", volume: "vol0" });
    await ask("b", { cmd: "disconnect", volume: "vol0" });
    const forced = await ask("b", { cmd: "primary", volume: "vol0", force: true });
    expect(forced).toMatchObject({ ok: true });
    await run("qemu-io", ["-f", "raw", "-c", "write -P 0xaa 1M 64k", "-c", "flush", nbd("a")]);
    await run("qemu-io", ["-f", "raw", "-c", "write -P 0xbb 6M 64k", "-c", "flush", nbd("b")]);
    const aBefore = readFileSync(img("a"));
    const bBefore = readFileSync(img("b"));
    await ask("a", { cmd: "connect", volume: "vol0" });
    await ask("b", { cmd: "connect", volume: "vol0" });
    await until(async () => (await status("a")).split_brain !== null && (await status("b")).split_brain !== null, "split brain");
    for (const n of ["a", "b"] as const) {
      const s = await status(n);
      expect(s.connection).toBe("StandAlone (split brain)");
      expect(s.hint).toMatch(/resolve-split-brain vol0 --discard-local/);
    }
    // Nothing was discarded on either side.
    expect(Buffer.compare(readFileSync(img("a")), aBefore)).toBe(0);
    expect(Buffer.compare(readFileSync(img("b")), bBefore)).toBe(0);
    // A Primary cannot be the victim.
    expect(await ask("b", { cmd: "resolve-split-brain", volume: "vol0", discard: "local" })).toMatchObject({ ok: false, invalid: true });
    expect(await ask("b", { cmd: "secondary", volume: "vol0" })).toMatchObject({ ok: true });
    expect(await ask("b", { cmd: "resolve-split-brain", volume: "vol0", discard: "local" })).toMatchObject({ ok: true });
    await ask("a", { cmd: "connect", volume: "vol0" });
    await until(async () => (await status("b")).disk === "UpToDate" && (await status("b")).connection === "Established", "resolution resync");
    expect(same()).toBe(true);
    const saved = (await status("b")).preserved;
    expect(saved.length).toBe(1);
    // The victim's own write survives in the saved copy.
    expect(readFileSync(saved[0]!)[6 * 1024 * 1024]).toBe(0xbb);
    expect(readdirSync(`${img("b")}.d`).length).toBe(1);
  });

  it("invalidate: the Secondary throws its data away and takes a full copy from the peer", async () => {
    expect(await ask("a", { cmd: "invalidate", volume: "vol0" })).toMatchObject({ ok: false, invalid: true }); // a is Primary
    const r = await ask("b", { cmd: "invalidate", volume: "vol0" });
    expect(r).toMatchObject({ ok: true });
    await until(() => logs.some((l) => /resync to node 2: 8 regions/.test(l)), "a full resync");
    await until(async () => (await status("b")).disk === "UpToDate" && (await status("b")).connection === "Established", "the full resync to finish");
    expect(same()).toBe(true);
  });

  it("Diskless: a disk failure detaches it, status says why and what to do, attach resyncs it; a Diskless Primary serves through the peer", async () => {
    // The Secondary's disk fails: it detaches and parts; the Primary goes on.
    svc.b!.volume("vol0")!.detach("write failed (test)");
    await until(async () => (await status("b")).disk === "Diskless" && (await status("a")).connection !== "Established", "b to detach");
    const sb = await status("b");
    expect(sb.last_error).toBe("local disk failed: write failed (test)");
    expect(sb.hint).toMatch(/Diskless: the local disk failed \(write failed \(test\)\).*`hapd volume attach vol0` \(a full resync/);
    expect(await ask("b", { cmd: "primary", volume: "vol0" })).toMatchObject({ ok: false, invalid: true, error: expect.stringMatching(/refusing promotion: Diskless/) });
    await run("qemu-io", ["-f", "raw", "-c", "write -P 0x99 1M 1M", nbd("a")]);
    const r = await ask("b", { cmd: "attach", volume: "vol0" });
    expect(r).toMatchObject({ ok: true, message: expect.stringMatching(/the disk failed earlier \(write failed \(test\)\): a full resync from \S+ follows/) });
    await until(async () => (await status("b")).disk === "UpToDate" && (await status("b")).connection === "Established", "b's full resync");
    expect(same()).toBe(true);

    // The Primary's disk fails: its export keeps working through b.
    svc.a!.volume("vol0")!.detach("read failed (test)");
    await until(async () => (await status("a")).disk === "Diskless", "a to detach");
    expect((await status("a")).hint).toMatch(/I\/O goes through \S+\. Fix the disk, then `hapd volume secondary vol0` and `hapd volume attach vol0`/);
    const { stdout } = await run("qemu-io", ["-f", "raw", "-c", "write -P 0x5e 2M 64k", "-c", "read -P 0x5e 2M 64k", "-c", "read -P 0x99 1M 1M", nbd("a")]);
    expect(stdout).not.toMatch(/fail|error|mismatch/i);
    expect(readFileSync(img("b"))[2 * 1024 * 1024]).toBe(0x5e);
    expect(readFileSync(img("a"))[2 * 1024 * 1024]).not.toBe(0x5e);
    expect(await ask("a", { cmd: "attach", volume: "vol0" })).toMatchObject({ ok: false, invalid: true, error: expect.stringMatching(/Diskless Primary.*secondary vol0/) });
    expect(await ask("a", { cmd: "secondary", volume: "vol0" })).toMatchObject({ ok: true });
    expect(await ask("a", { cmd: "attach", volume: "vol0" })).toMatchObject({ ok: true });
    await until(async () => (await status("a")).disk === "UpToDate" && (await status("a")).connection === "Established", "a's full resync");
    expect(same()).toBe(true);
    expect(await ask("a", { cmd: "primary", volume: "vol0" })).toMatchObject({ ok: true });
  });

  it("refuses bad metadata naming the volume, and another volume's identity", async () => {
    await ask("b", { cmd: "down", volume: "vol0" });
    const meta = join(dir, "hv-b", "vol0.meta");
    const good = readFileSync(meta);
    const bad = Buffer.from(good);
    bad[100] = bad[100]! ^ 0xff;
    bad[good.byteLength / 2 + 100] = bad[good.byteLength / 2 + 100]! ^ 0xff;
    writeFileSync(meta, bad);
    const r = await ask("b", { cmd: "up", volume: "vol0" });
    expect(r).toMatchObject({ ok: false, invalid: true });
    expect(!r.ok && r.error).toMatch(/volume vol0: refusing to attach: no valid metadata copy \(slot 0: .*slot 1: /);
    expect((await status("b")).disk).toBe("Failed");
    // Metadata of another volume (another uuid) in the configured place.
    const { Volume } = await import("../../services/replication/volume.ts");
    Volume.format(meta, "vol0", { uuid: "00000000-0000-4000-8000-000000000001", size_bytes: SIZE_MIB * 1024 * 1024, current: 5n, assumeClean: true });
    const r2 = await ask("b", { cmd: "up", volume: "vol0" });
    expect(!r2.ok && r2.error).toMatch(/another volume's metadata/);
    writeFileSync(meta, good);
    expect(await ask("b", { cmd: "up", volume: "vol0" })).toMatchObject({ ok: true });
    expect(existsSync(join(dir, "hv-b", "state", "volumes", "vol0.up"))).toBe(true);
  });

  it("the CLI exits 2 with the reason on refused input and prints status", async () => {
    const bun = join(process.cwd(), "node_modules/.bin/bun");
    const cli = (args: string[]) =>
      new Promise<{ code: number; out: string; err: string }>((resolve) => {
        execFile(bun, ["services/cli/main.ts", "volume", ...args, "--config", files.b], (e, out, err) => resolve({ code: e ? Number(e.code) : 0, out, err }));
      });
    await until(async () => (await status("b")).connection === "Established" && (await status("b")).peer_role === "Primary", "b connected");
    const p = await cli(["primary", "vol0"]);
    expect(p.code).toBe(2);
    expect(p.err).toMatch(/Primary|peer/);
    const s = await cli(["status"]);
    expect(s.code).toBe(0);
    expect(s.out).toMatch(/^vol0: Secondary UpToDate, Established, peer UpToDate/);
    expect((await cli(["up", "nosuch"])).code).toBe(2);
  });
  it("hapd:volume agent: monitor 0/8/7, promote refused with the reason, demote, stop, start", async () => {
    const agent = (n: "a" | "b") => new BuiltinAgent(new VolumeAgent({ runDir: runDir[n] }));
    const op = async (n: "a" | "b", action: AgentAction) => agent(n).run({ action, instance: "vol0-clone:0", params: { volume: "vol0" }, timeout_ms: 30_000, interval_ms: 0 });
    expect((await op("a", "monitor")).rc).toBe(8);
    expect((await op("b", "monitor")).rc).toBe(0);
    const refused = await op("b", "promote");
    expect(refused.rc).toBe(1);
    expect(refused.reason).toMatch(/hapd:volume promote: .*peer is Primary/);
    expect((await op("a", "demote")).rc).toBe(0);
    expect((await op("a", "monitor")).rc).toBe(0);
    await until(async () => (await status("b")).peer_role === "Secondary", "b to hear a demoted");
    expect((await op("b", "promote")).rc).toBe(0);
    expect((await op("b", "monitor")).rc).toBe(8);
    // stop of a Primary demotes first, then detaches; stop again is success (idempotent).
    expect((await op("b", "stop")).rc).toBe(0);
    expect((await op("b", "monitor")).rc).toBe(7);
    expect((await op("b", "stop")).rc).toBe(0);
    expect((await op("b", "start")).rc).toBe(0);
    expect((await op("b", "monitor")).rc).toBe(0);
    // The start named the promotion-score attribute (master-<primitive>): the service publishes
    // it for an UpToDate disk, and removes it when the instance stops.
    await until(() => cluster.attrs.get("hv-b/master-vol0-clone") === "10000", "b's promotion score");
    expect(cluster.attrs.has("hv-a/master-vol0-clone")).toBe(false);
    expect((await op("b", "stop")).rc).toBe(0);
    await until(() => !cluster.attrs.has("hv-b/master-vol0-clone"), "the score removed at stop");
    expect((await op("b", "start")).rc).toBe(0);
    await until(() => cluster.attrs.get("hv-b/master-vol0-clone") === "10000", "the score back after start");
    const missing = await agent("b").run({ action: "start", instance: "x", params: {}, timeout_ms: 5000, interval_ms: 0 });
    expect(missing.reason).toMatch(/required parameter "volume"/);
    // No volume service at all: not running.
    const none = await new BuiltinAgent(new VolumeAgent({ runDir: join(dir, "nowhere") })).run({ action: "monitor", instance: "x", params: { volume: "vol0" }, timeout_ms: 5000, interval_ms: 0 });
    expect(none.rc).toBe(7);
  });
});
