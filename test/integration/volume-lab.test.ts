// Issue 6 in the lab, driven by the resource manager: `hapd demo --volumes` gives each host the
// replicated volume vol0; `hapd crm configure` makes it a promotable clone of hapd:volume with a
// resource (hapd:marker) colocated with its Primary and ordered after the promotion. qemu-io
// writes through the Primary's NBD export from inside that machine, recording every write it saw
// acknowledged; kill -9 of the Primary host's hapd → the peer fences it → the clone is promoted on
// the survivor → every acknowledged write reads back through the new Primary's export; the old
// Primary is powered on again, comes back as Secondary and resyncs to identical data.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FenceEvent } from "../../services/fencing/core.ts";
import { type LabState, labExec, labPower, labVolumeCrmYaml, machineInitPid, nodePid, readLabState, waitFor } from "../../services/lab/lab.ts";
import type { ResourceReport, StatusReport, VolumeReport } from "../../services/node/status.ts";
import type { VolumeDetail } from "../../services/replication/status-client.ts";
import { HAPD, must, run, until, whyNotLab } from "./helpers.ts";

const skip = whyNotLab() ?? (spawnSync("qemu-io", ["--version"]).status === 0 ? null : "qemu-io is missing (apt-get install qemu-utils)");
const DIR = `/run/hapd-vl-${process.pid}`;
const P = "vl-";
const VOL = "vol0";
/** Each stamped write: 64 KiB with its own pattern byte, at its own offset. */
const WRITE = 64 * 1024;

function state(): LabState {
  const s = readLabState(DIR);
  if (!s) throw new Error("lab state missing");
  return s;
}

const nbdUri = (node: string) => `nbd+unix:///${VOL}?socket=${join(DIR, node, "run", `nbd-${VOL}.sock`)}`;
const volumeOf = (s: StatusReport): VolumeReport | undefined => s.volumes?.find((v) => v.name === VOL);
const rsc = (s: StatusReport, id: string): ResourceReport | undefined => s.crm?.resources.find((r) => r.id === id);
const promotedOn = (node: string) => (s: StatusReport) => {
  const v = rsc(s, "vol0-r");
  const u = rsc(s, "disk-user");
  return v?.active.some((a) => a.node === node && a.role === "Promoted") === true && v.active.filter((a) => a.role === "Promoted").length === 1 && u?.active.length === 1 && u.active[0]!.node === node;
};

function volumeStatus(node: string): VolumeDetail {
  const list = JSON.parse(must([HAPD, "volume", "status", VOL, "--json", "--config", join(DIR, node, "hapd.yaml")])) as VolumeDetail[];
  return list[0]!;
}

/** Pattern byte of write i: never 0, so a write that is missing reads as zeros and fails the check. */
const pattern = (i: number) => (i % 250) + 1;
const offsetOf = (i: number) => i * WRITE;

/**
 * qemu-io inside a lab machine, asynchronously: the writer must run while its host is killed.
 * Line-buffered (stdbuf), so each "wrote" line is in our pipe as soon as qemu-io saw the ack, and
 * a power-off (SIGKILL of everything in that machine) loses no record of an acknowledgement.
 */
function qemuIoIn(node: string, commands: string[]): { child: ChildProcess; out: () => string; done: Promise<number | null> } {
  const init = machineInitPid(state(), node);
  if (init === undefined) throw new Error(`${node} is not running`);
  const args = ["-t", String(init), "-p", "-m", "-u", "-n", "--", "stdbuf", "-oL", "qemu-io", "-f", "raw", ...commands.flatMap((c) => ["-c", c]), nbdUri(node)];
  const child = spawn("nsenter", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  const done = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, out: () => out, done };
}

/** Offsets whose write qemu-io reported as done ("wrote 65536/65536 bytes at offset N"). */
function acknowledged(out: string): number[] {
  return [...out.matchAll(/^wrote (\d+)\/\d+ bytes at offset (\d+)$/gm)].filter((m) => Number(m[1]) === WRITE).map((m) => Number(m[2]));
}

async function fencedBy(by: string, target: string, since_ms: number): Promise<FenceEvent> {
  return waitFor(`${by} confirms fencing ${target}`, 30_000, async () => {
    const events = JSON.parse(must([HAPD, "fence", "history", "--json", "--node", by, "--lab-dir", DIR])) as FenceEvent[];
    return events.find((e) => e.target === target && e.phase === "done" && e.result === "ok" && e.at_wall_ms >= since_ms) ?? null;
  });
}

describe.skipIf(skip !== null)(`replicated volume in the netns lab, run by the resource manager${skip ? ` (skipped: ${skip})` : ""}`, () => {
  /** Offsets acknowledged by the first Primary, with the index of their pattern. */
  const acked = new Map<number, number>();
  let writer: ReturnType<typeof qemuIoIn> | null = null;

  /** The host promoted first, and its peer (set once the clone is promoted). */
  let first = "host-a";
  let second = "host-b";

  beforeAll(async () => {
    const r = run([HAPD, "demo", "--dir", DIR, "--prefix", P, "--volumes"]);
    if (r.code !== 0) throw new Error(`hapd demo --volumes failed: ${r.stdout}${r.stderr}`);
    const f = join(DIR, "vol.yaml");
    writeFileSync(f, labVolumeCrmYaml());
    must([HAPD, "crm", "configure", f, "--node", "host-a", "--lab-dir", DIR]);
    // Whichever host reports its disk UpToDate first gets the promotion (both are, and stickiness
    // then keeps it): the tests follow the Primary, not a fixed host.
    const s = await until(DIR, "host-a", "vol0 promoted on one host with disk-user beside it", (x) => promotedOn("host-a")(x) || promotedOn("host-b")(x), 60_000);
    first = promotedOn("host-a")(s) ? "host-a" : "host-b";
    second = first === "host-a" ? "host-b" : "host-a";
  }, 120_000);

  afterAll(async () => {
    writer?.child.kill("SIGKILL");
    // Keep the node logs (the lab directory goes with --down): a failure here is read from them.
    const keep = "/tmp/hapd-volume-lab-logs";
    run(["mkdir", "-p", keep]);
    for (const n of ["host-a", "host-b", "arb"]) run(["cp", join(DIR, n, "node.log"), join(keep, `${n}.log`)]);
    run([HAPD, "demo", "--down", "--dir", DIR]);
  });

  it("the volume is Primary where the clone is promoted, Secondary on the other host, in sync", async () => {
    const a = await until(DIR, first, "vol0 Primary and Established", (s) => volumeOf(s)?.role === "Primary" && volumeOf(s)?.connection === "Established");
    expect(volumeOf(a)).toMatchObject({ role: "Primary", disk: "UpToDate", peer_disk: "UpToDate" });
    const b = await until(DIR, second, "vol0 Secondary and Established", (s) => volumeOf(s)?.role === "Secondary" && volumeOf(s)?.connection === "Established");
    expect(volumeOf(b)).toMatchObject({ role: "Secondary", disk: "UpToDate" });
    expect(volumeStatus(first).nbd_socket).toBe(join(DIR, first, "run", `nbd-${VOL}.sock`));
    expect(volumeStatus(second).nbd_socket).toBeNull();
    // The export exists only on the Primary: a client on its peer finds no socket.
    expect(labExec(state(), second, ["qemu-io", "-f", "raw", "-c", "read 0 4k", nbdUri(second)]).code).not.toBe(0);
  }, 60_000);

  it("kill -9 of the Primary host's hapd mid-stream: fenced, promoted on its peer, every acknowledged write is there", async () => {
    // A first batch that completes, then a long stream that the crash interrupts.
    const batch = labExec(state(), first, ["qemu-io", "-f", "raw", ...Array.from({ length: 32 }, (_, i) => ["-c", `write -P ${pattern(i)} ${offsetOf(i)} ${WRITE}`]).flat(), nbdUri(first)]);
    expect(batch.code, batch.stderr).toBe(0);
    for (const off of acknowledged(batch.stdout)) acked.set(off, off / WRITE);
    expect(acked.size).toBe(32);
    const stream = Array.from({ length: 3000 }, (_, k) => 32 + k).map((i) => `write -P ${pattern(i)} ${offsetOf(i)} ${WRITE}`);
    writer = qemuIoIn(first, stream);
    const w = writer;
    await waitFor("the stream to have 100 acknowledged writes", 60_000, async () => (acknowledged(w.out()).length >= 100 ? true : null));
    const t0 = Date.now();
    process.kill(nodePid(state(), first)!, "SIGKILL");
    const fence = await fencedBy(second, first, t0);
    expect(fence.executor).toBe(second);
    expect(labPower(state(), first)).toBe("off");
    // The power-off killed the writer with its machine; what it printed is all it saw acknowledged.
    await w.done;
    const streamed = acknowledged(w.out());
    expect(streamed.length).toBeGreaterThanOrEqual(100);
    // The kill landed inside the stream, not after it.
    expect(streamed.length).toBeLessThan(stream.length);
    for (const off of streamed) acked.set(off, off / WRITE);

    await until(DIR, second, `vol0 promoted on ${second}, disk-user moved there`, promotedOn(second), 60_000);
    const v = volumeStatus(second);
    expect(v).toMatchObject({ role: "Primary", disk: "UpToDate", io_frozen: false });
    // Resource-level fencing: the new Primary recorded the old one Outdated in the CIB.
    expect(v.peer_disk).toBe("Outdated");
    expect(v.nbd_socket).toBe(join(DIR, second, "run", `nbd-${VOL}.sock`));

    // Read back every acknowledged write through the new Primary's export.
    const reads = [...acked.entries()].sort((x, y) => x[0] - y[0]).map(([off, i]) => `read -P ${pattern(i)} ${off} ${WRITE}`);
    const check = labExec(state(), second, ["qemu-io", "-f", "raw", ...reads.flatMap((c) => ["-c", c]), nbdUri(second)], { timeout_ms: 120_000 });
    expect(check.stdout).not.toMatch(/Pattern verification failed|failed/);
    expect([...check.stdout.matchAll(/^read 65536\/65536 bytes/gm)].length).toBe(acked.size);

    // The survivor goes on writing without its peer: these regions are what the resync carries.
    const more = labExec(state(), second, ["qemu-io", "-f", "raw", "-c", `write -P 0xee ${64 * 1024 * 1024} ${8 * 1024 * 1024}`, nbdUri(second)]);
    expect(more.code, more.stderr).toBe(0);
    expect(volumeStatus(second).out_of_sync_regions).toBeGreaterThanOrEqual(8);
  }, 180_000);

  it("the old Primary, powered on again, comes back as Secondary and resyncs to identical data", async () => {
    must([HAPD, "demo", "--dir", DIR, "--restart", first]);
    await until(DIR, "arb", `${first} back in the view`, (s) => s.view.members.length === 3, 60_000);
    const a = await until(DIR, first, "vol0 Secondary, UpToDate and Established again", (s) => {
      const v = volumeOf(s);
      return v?.role === "Secondary" && v.disk === "UpToDate" && v.connection === "Established";
    }, 60_000);
    expect(volumeOf(a)!.peer_disk).toBe("UpToDate");
    // Stickiness keeps the Primary (and its user) where they are.
    await until(DIR, second, `a quiet DC, vol0 still promoted on ${second}`, (s) => promotedOn(second)(s) && s.crm?.transition?.state !== "running", 30_000);
    // The Outdated mark is cleared (by the new Primary, which set it) once the peers are in sync again.
    const b = await waitFor(`${second} to clear ${first}'s Outdated mark`, 10_000, async () => {
      const v = volumeStatus(second);
      return v.fencing === "" ? v : null;
    });
    expect(b).toMatchObject({ role: "Primary", connection: "Established", peer_disk: "UpToDate", out_of_sync_regions: 0 });
    // The resync is in the restarted host's log: it took what the new Primary wrote while it was away
    // (plus its own activity-log regions, as after any crash of a Primary).
    const log = readFileSync(join(DIR, first, "node.log"), "utf8");
    expect(log).toMatch(new RegExp(`resync from node ${second === "host-b" ? 2 : 1}: \\d+ regions`));
    expect(log).toMatch(/resync finished, UpToDate/);
    // Byte for byte, both backing files agree (nothing writes now).
    const cmp = spawnSync("cmp", [join(DIR, first, `${VOL}.img`), join(DIR, second, `${VOL}.img`)], { encoding: "utf8" });
    expect(cmp.status, cmp.stdout).toBe(0);
    // And the data the first Primary had acknowledged is still there on the new Primary.
    const sample = [...acked.entries()].slice(-16).map(([off, i]) => `read -P ${pattern(i)} ${off} ${WRITE}`);
    const check = labExec(state(), second, ["qemu-io", "-f", "raw", ...sample.flatMap((c) => ["-c", c]), nbdUri(second)]);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).not.toMatch(/Pattern verification failed/);
  }, 180_000);
});
