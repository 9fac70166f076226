// A real QEMU guest (../shared/peers/qemu: make-guest + run-guest, TCG) on a replicated volume:
// it boots from the Primary's NBD export and ticks a counter into sector 0 of its disk (each tick
// written with fsync, read back, printed as "TICK n … disk=n"). Protocol C: whatever tick the guest
// saw completed is on the Secondary's disk. Then a failover as the resource manager does it (the
// guest killed, the old Primary demoted, the other host promoted), and the guest boots again on
// the other host and resumes from the replicated counter. Last, the live-migration window:
// dual-primary on explicit request, QEMU migrated from one host's export to the other's.
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VolumeService } from "../../services/replication/service.ts";
import { type VolumeCommand, type VolumeDetail, nbdSocketPath, requestVolume } from "../../services/replication/status-client.ts";
import { loadConfig } from "../../services/shared/config.ts";
import { writeKeyFile } from "../../services/shared/keyfile.ts";
import type { Logger } from "../../services/shared/log.ts";
import { ClusterKey } from "../../services/shared/wire.ts";
import { FakeCluster } from "./fake-cluster.ts";
import { writeVolumeConfig } from "./volume-config.ts";

const run = promisify(execFile);
const PEERS = resolve(import.meta.dirname, "../../../shared/peers/qemu");
const why = (() => {
  if (process.getuid?.() !== 0) return "needs root";
  if (!existsSync(join(PEERS, "run-guest"))) return `${PEERS} is missing`;
  if (spawnSync("qemu-system-x86_64", ["--version"]).status !== 0) return "qemu-system-x86_64 is missing";
  if (!existsSync("/boot") || !spawnSync("sh", ["-c", "ls /boot/vmlinuz-*"]).stdout?.toString().trim()) return "no /boot/vmlinuz-* for make-guest";
  return null;
})();

async function until<T>(p: () => T | null | Promise<T | null>, what: string, limit_ms = 60_000): Promise<T> {
  const end = Date.now() + limit_ms;
  for (;;) {
    const v = await p();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(why !== null)(`QEMU guest on a replicated volume${why ? ` (skipped: ${why})` : ""}`, () => {
  let dir = "";
  let guestDir = "";
  const svc: Record<"a" | "b", VolumeService | null> = { a: null, b: null };
  const runDir = { a: "", b: "" };
  const img = { a: "", b: "" };
  let cluster: FakeCluster;
  const qemus: Array<{ pid: number; rundir: string }> = [];
  const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const ask = (n: "a" | "b", req: VolumeCommand) => requestVolume(runDir[n], req);
  const status = async (n: "a" | "b"): Promise<VolumeDetail> => {
    const r = await ask(n, { cmd: "status" });
    if (!r.ok || !r.volumes) throw new Error("status failed");
    return r.volumes[0]!;
  };
  const nbd = (n: "a" | "b") => `nbd+unix:///vol0?socket=${nbdSocketPath(runDir[n], "vol0")}`;
  /** The counter in sector 0 of a host's backing file (what the guest wrote there last). */
  const counterOn = (n: "a" | "b") => Number(readFileSync(img[n]).subarray(0, 20).toString("latin1").replace(/[^0-9]/g, "") || "0");

  async function startGuest(name: string, disk: string, extra: string[] = []): Promise<{ pid: number; rundir: string; log: () => string }> {
    const rundir = join(dir, `qg-${name}`);
    const { stdout } = await run(join(PEERS, "run-guest"), ["--guest", guestDir, "--name", name, "--rundir", rundir, "--disk", disk, "--on-error", "stop", "--append", "tick=0.2", ...extra]);
    const g = { pid: Number(stdout.trim().split("\n").pop()), rundir };
    qemus.push(g);
    return { ...g, log: () => (existsSync(join(rundir, "serial.log")) ? readFileSync(join(rundir, "serial.log"), "utf8") : "") };
  }
  const lastTick = (log: string): number | null => {
    const all = [...log.matchAll(/^TICK (\d+) up=\S+ disk=(\d+)/gm)].filter((m) => m[1] === m[2]);
    return all.length ? Number(all[all.length - 1]![1]) : null;
  };
  const kill = (pid: number) => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "hapd-qguest-"));
    guestDir = join(dir, "guest");
    await run(join(PEERS, "make-guest"), [guestDir], { timeout: 120_000 });
    writeKeyFile(join(dir, "cluster.key"), false);
    const peerPort = 21000 + Math.floor(Math.random() * 20000);
    cluster = new FakeCluster(join(dir, "hapd.sock"));
    await cluster.start();
    for (const n of ["a", "b"] as const) {
      mkdirSync(join(dir, `hv-${n}`), { recursive: true });
      const file = writeVolumeConfig({ dir, node: `hv-${n}`, addresses: { a: "127.0.0.1", b: "127.0.0.1" }, ringPorts: { a: 5405, b: 5407 }, peerPort, sizeMib: 64, allowTwoPrimaries: true });
      const cfg = loadConfig(file);
      runDir[n] = cfg.run_dir;
      img[n] = cfg.volumes![0]!.backing;
      const s = new VolumeService({ cfg, key: new ClusterKey(new Uint8Array(32).fill(5)), log: quiet, clusterSocket: cluster.path, fenceRetry_ms: 30 });
      await s.start();
      svc[n] = s;
      expect(await ask(n, { cmd: "create", volume: "vol0", assume_clean: true })).toMatchObject({ ok: true });
      expect(await ask(n, { cmd: "up", volume: "vol0" })).toMatchObject({ ok: true });
    }
    await until(async () => ((await status("a")).connection === "Established" && (await status("b")).connection === "Established" ? true : null), "connection");
    expect(await ask("a", { cmd: "primary", volume: "vol0" })).toMatchObject({ ok: true });
  }, 180_000);

  afterAll(async () => {
    for (const q of qemus) kill(q.pid);
    await new Promise((r) => setTimeout(r, 200));
    await svc.a?.stop();
    await svc.b?.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("boots from the Primary's export; every tick the guest saw written is on the Secondary's disk", async () => {
    const g = await startGuest(`hva-${process.pid}`, nbd("a"));
    await until(() => (g.log().includes("GUEST READY") ? true : null), "the guest to boot", 120_000);
    const seen = await until(() => {
      const t = lastTick(g.log());
      return t !== null && t >= 5 ? t : null;
    }, "five ticks written and read back");
    // Protocol C: the fsync'd write of tick `seen` completed, so host b has it (or a later one).
    expect(counterOn("b")).toBeGreaterThanOrEqual(seen);
    expect(await status("a")).toMatchObject({ role: "Primary", connection: "Established", peer_disk: "UpToDate" });
    // Failover as the resource manager runs it: the guest stops with its host, the volume is
    // demoted there and promoted on the other host.
    const before = lastTick(g.log())!;
    kill(g.pid);
    await until(() => (existsSync(`/proc/${g.pid}`) && !readFileSync(`/proc/${g.pid}/stat`, "utf8").includes(") Z") ? null : true), "QEMU to exit", 10_000);
    expect(await ask("a", { cmd: "secondary", volume: "vol0" })).toMatchObject({ ok: true });
    await until(async () => ((await status("b")).peer_role === "Secondary" ? true : null), "b to hear a demoted");
    expect(await ask("b", { cmd: "primary", volume: "vol0" })).toMatchObject({ ok: true });
    const g2 = await startGuest(`hvb-${process.pid}`, nbd("b"));
    const resumed = await until(() => {
      const m = /resume counter at (\d+)/.exec(g2.log());
      return m ? Number(m[1]) : null;
    }, "the guest to boot on b", 120_000);
    // It continues from what it had written on a: nothing it saw completed is missing.
    expect(resumed).toBeGreaterThanOrEqual(before);
    await until(() => {
      const t = lastTick(g2.log());
      return t !== null && t > resumed + 2 ? t : null;
    }, "ticks on b");
    expect(counterOn("a")).toBeGreaterThan(resumed);
  }, 300_000);

  it("live migration in the dual-primary window: the guest moves from b's export to a's, its counter continuous", async () => {
    const src = qemus[qemus.length - 1]!;
    const srcLog = () => readFileSync(join(src.rundir, "serial.log"), "utf8");
    // The destination host becomes a second Primary, only on explicit request.
    expect(await ask("a", { cmd: "primary", volume: "vol0" })).toMatchObject({ ok: false });
    expect(await ask("a", { cmd: "primary", volume: "vol0", allow_two_primaries: true })).toMatchObject({ ok: true });
    const port = 30000 + Math.floor(Math.random() * 20000);
    const dst = await startGuest(`hvm-${process.pid}`, nbd("a"), ["--incoming", `tcp:127.0.0.1:${port}`]);
    const qmp = (sock: string, cmd: string, args?: object) => run("python3", [join(PEERS, "qmp.py"), sock, cmd, ...(args ? [JSON.stringify(args)] : [])]);
    await qmp(join(src.rundir, "qmp.sock"), "migrate", { uri: `tcp:127.0.0.1:${port}` });
    await until(async () => {
      const { stdout } = await qmp(join(src.rundir, "qmp.sock"), "query-migrate");
      if (/"status":\s*"failed"/.test(stdout)) throw new Error(`migration failed: ${stdout}`);
      return /"status":\s*"completed"/.test(stdout) ? true : null;
    }, "the migration to complete", 120_000);
    const atMigration = lastTick(srcLog()) ?? 0;
    // The source QEMU is done: end the window by demoting its host.
    kill(src.pid);
    await new Promise((r) => setTimeout(r, 300));
    expect(await ask("b", { cmd: "secondary", volume: "vol0" })).toMatchObject({ ok: true });
    // The guest goes on ticking on a, its counter continuing the source's (no gap, no reset).
    const next = await until(() => {
      const ticks = [...readFileSync(join(dst.rundir, "serial.log"), "utf8").matchAll(/^TICK (\d+) up=\S+ disk=(\d+)/gm)].map((m) => [Number(m[1]), Number(m[2])] as const);
      const ok = ticks.filter(([t, d]) => t === d && t > atMigration + 2);
      return ok.length ? ok[ok.length - 1]![0] : null;
    }, "ticks on the destination");
    expect(next).toBeGreaterThan(atMigration);
    expect(await status("a")).toMatchObject({ role: "Primary", connection: "Established" });
    expect(await status("b")).toMatchObject({ role: "Secondary", connection: "Established" });
    // Both disks hold the guest's latest counter (protocol C).
    await new Promise((r) => setTimeout(r, 300));
    expect(counterOn("b")).toBeGreaterThanOrEqual(next);
  }, 300_000);
});
