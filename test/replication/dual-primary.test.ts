// Dual-primary on explicit request (issue 6: "only on explicit request, for the live-migration
// window"): two volume services over loopback TCP with a fake cluster socket. A second Primary
// needs allow_two_primaries in the configuration, the explicit --allow-two-primaries request,
// the peers connected and in sync; then writes from both sides land on both disks, and demoting
// one ends the window. Refused otherwise, with the reason.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
const haveTools = await run("sh", ["-c", "command -v qemu-io"]).then(() => true, () => false);
const MiB = 1024 * 1024;

async function until(p: () => boolean | Promise<boolean>, what: string, limit_ms = 15_000): Promise<void> {
  const end = Date.now() + limit_ms;
  while (!(await p())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A pair of hosts with vol0; `allow` is the allow_two_primaries setting of both. */
function pair(allow: boolean) {
  let dir = "";
  const logs: string[] = [];
  const svc: Record<"a" | "b", VolumeService | null> = { a: null, b: null };
  const runDir = { a: "", b: "" };
  let cluster: FakeCluster | null = null;
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
  const img = (n: "a" | "b") => join(dir, n === "a" ? "hv-a" : "hv-b", "vol0.img");
  return {
    logs,
    ask,
    status,
    img,
    nbd: (n: "a" | "b") => `nbd+unix:///vol0?socket=${nbdSocketPath(runDir[n], "vol0")}`,
    async start(): Promise<void> {
      dir = mkdtempSync(join(tmpdir(), "hapd-dual-"));
      writeKeyFile(join(dir, "cluster.key"), false);
      const peerPort = 21000 + Math.floor(Math.random() * 20000);
      cluster = new FakeCluster(join(dir, "hapd.sock"));
      await cluster.start();
      for (const n of ["a", "b"] as const) {
        mkdirSync(join(dir, `hv-${n}`), { recursive: true });
        const file = writeVolumeConfig({ dir, node: `hv-${n}`, addresses: { a: "127.0.0.1", b: "127.0.0.1" }, ringPorts: { a: 5405, b: 5407 }, peerPort, sizeMib: 8, allowTwoPrimaries: allow });
        const cfg = loadConfig(file);
        runDir[n] = cfg.run_dir;
        const s = new VolumeService({ cfg, key: new ClusterKey(new Uint8Array(32).fill(7)), log: logger(n), clusterSocket: cluster.path, fenceRetry_ms: 30 });
        await s.start();
        svc[n] = s;
      }
      for (const n of ["a", "b"] as const) {
        expect(await ask(n, { cmd: "create", volume: "vol0", assume_clean: true })).toMatchObject({ ok: true });
        expect(await ask(n, { cmd: "up", volume: "vol0" })).toMatchObject({ ok: true });
      }
      await until(async () => (await status("a")).connection === "Established" && (await status("b")).connection === "Established", "connection");
      expect(await ask("a", { cmd: "primary", volume: "vol0" })).toMatchObject({ ok: true });
      await until(async () => (await status("b")).peer_role === "Primary", "b to hear a is Primary");
    },
    async stop(): Promise<void> {
      for (const n of ["a", "b"] as const) {
        if ((await status(n).catch(() => null))?.role === "Primary") await ask(n, { cmd: "secondary", volume: "vol0" });
      }
      await svc.a?.stop();
      await svc.b?.stop();
      await cluster?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.skipIf(!haveTools)("dual-primary on explicit request", () => {
  const p = pair(true);
  beforeAll(() => p.start());
  afterAll(() => p.stop());

  it("refuses a second Primary without the explicit request, naming it", async () => {
    const r = await p.ask("b", { cmd: "primary", volume: "vol0" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/the peer is Primary; a second Primary needs the explicit request \(--allow-two-primaries\)/);
    expect((await p.status("b")).role).toBe("Secondary");
  });

  it("grants it with --allow-two-primaries: both Primary, both export, writes from each side land on both disks", async () => {
    const r = await p.ask("b", { cmd: "primary", volume: "vol0", allow_two_primaries: true });
    expect(r).toMatchObject({ ok: true });
    await until(async () => (await p.status("a")).peer_role === "Primary", "a to hear b is Primary");
    // The connection survived the second promotion (no "both became Primary at once").
    for (const n of ["a", "b"] as const) expect(await p.status(n)).toMatchObject({ role: "Primary", connection: "Established", disk: "UpToDate" });
    expect(p.logs.some((l) => /DUAL-PRIMARY/.test(l))).toBe(true);
    // The migration's source writes, then the destination: each side's write is on both disks.
    const wa = await run("qemu-io", ["-f", "raw", "-c", "write -P 0xa1 1M 256k", "-c", "flush", p.nbd("a")]);
    expect(wa.stdout).not.toMatch(/fail|error/i);
    const wb = await run("qemu-io", ["-f", "raw", "-c", "write -P 0xb2 3M 256k", "-c", "flush", p.nbd("b")]);
    expect(wb.stdout).not.toMatch(/fail|error/i);
    // And each Primary reads the other's write through its own export.
    const ra = await run("qemu-io", ["-f", "raw", "-c", "read -P 0xb2 3M 256k", p.nbd("a")]);
    expect(ra.stdout).not.toMatch(/fail|error/i);
    const rb = await run("qemu-io", ["-f", "raw", "-c", "read -P 0xa1 1M 256k", p.nbd("b")]);
    expect(rb.stdout).not.toMatch(/fail|error/i);
    const a = readFileSync(p.img("a"));
    const b = readFileSync(p.img("b"));
    expect(Buffer.compare(a, b)).toBe(0);
    expect(a[3 * MiB]).toBe(0xb2);
    expect((await p.status("a")).out_of_sync_regions).toBe(0);
  });

  it("ends the window by demoting the source: one Primary again, still connected", async () => {
    expect(await p.ask("a", { cmd: "secondary", volume: "vol0" })).toMatchObject({ ok: true });
    await until(async () => (await p.status("b")).peer_role === "Secondary", "b to hear a demoted");
    expect(await p.status("a")).toMatchObject({ role: "Secondary", connection: "Established", nbd_socket: null });
    expect(await p.status("b")).toMatchObject({ role: "Primary", connection: "Established" });
  });

  it("refuses a second Primary when the peers are not connected", async () => {
    expect(await p.ask("a", { cmd: "disconnect", volume: "vol0" })).toMatchObject({ ok: true });
    await until(async () => (await p.status("b")).conn !== "Connected", "b to notice");
    const r = await p.ask("a", { cmd: "primary", volume: "vol0", allow_two_primaries: true });
    expect(r.ok).toBe(false);
    // Away from the peer the request is an ordinary promotion, which the cluster's Outdated mark refuses.
    if (!r.ok) expect(r.error).toMatch(/Outdated|refusing promotion/);
    expect((await p.status("a")).role).toBe("Secondary");
    expect(await p.ask("a", { cmd: "connect", volume: "vol0" })).toMatchObject({ ok: true });
    await until(async () => (await p.status("a")).connection === "Established" && (await p.status("a")).disk === "UpToDate", "reconnect and resync");
  });
});

describe.skipIf(!haveTools)("dual-primary not allowed by the configuration", () => {
  const p = pair(false);
  beforeAll(() => p.start());
  afterAll(() => p.stop());

  it("refuses even the explicit request, saying what the configuration needs", async () => {
    const r = await p.ask("b", { cmd: "primary", volume: "vol0", allow_two_primaries: true });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.invalid).toBe(true);
      expect(r.error).toMatch(/not allowed by the configuration \(allow_two_primaries: true on both hosts\)/);
    }
    expect(await p.status("a")).toMatchObject({ role: "Primary", connection: "Established" });
  });
});
