// The compiled hapd as three nodes in network namespaces, with real links and real faults.
// One lab for the file (prefix "it-" so it never touches an operator's `hapd demo`); the tests
// run in order and each one leaves the lab healed.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type LabState, alive, labBmcAction, labExec, labNodePids, labPower, labRootPid, labStatus, machineInitPid, nodePid, readLabState, waitFor } from "../../services/lab/lab.ts";
import { queryNode } from "../../services/node/status-client.ts";
import type { FenceEvent } from "../../services/fencing/core.ts";
import { labSocket } from "../../services/lab/lab.ts";
import { clearImpairment, impair } from "../../services/lab/impair.ts";
import { generateKeyText } from "../../services/shared/keyfile.ts";
import { HAPD, ROOT, members, must, run, sleep, until, whyNotLab } from "./helpers.ts";

const skip = whyNotLab();
const DIR = `/run/hapd-it-${process.pid}`;
const P = "it-";
const ns = (n: string) => `${P}${n}`;

function state(): LabState {
  const s = readLabState(DIR);
  if (!s) throw new Error("lab state missing");
  return s;
}

function kill9(node: string): void {
  process.kill(nodePid(state(), node)!, "SIGKILL");
}

async function restart(node: string): Promise<void> {
  must([HAPD, "demo", "--dir", DIR, "--restart", node]);
}

async function fencedOk(by: string, target: string, since_ms: number): Promise<FenceEvent> {
  return until(DIR, by, `a confirmed fence of ${target}`, () => true).then(() =>
    waitForEvent(by, (e) => e.target === target && e.phase === "done" && e.result === "ok" && e.at_wall_ms >= since_ms),
  );
}

/** Wait until a log file has more than `skip` matches of `re`. */
async function waitForLog(file: string, re: RegExp, skip = 0, timeout_ms = 20_000): Promise<void> {
  const g = new RegExp(re.source, "g");
  const deadline = Date.now() + timeout_ms;
  while (Date.now() < deadline) {
    if ((readFileSync(file, "utf8").match(g) ?? []).length > skip) return;
    await sleep(50);
  }
  throw new Error(`${file}: no ${re} within ${timeout_ms} ms`);
}

/** kill -9 a host's hapd and wait until the survivors have fenced it (its chassis is then off). */
async function killAndFence(node: string): Promise<void> {
  const t0 = Date.now();
  kill9(node);
  await fencedOk(node === "host-a" ? "host-b" : "host-a", node, t0);
}

async function waitForEvent(node: string, ok: (e: FenceEvent) => boolean): Promise<FenceEvent> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const events = (await queryNode(labSocket(DIR, node), "fence-history")) as FenceEvent[];
    const hit = events.find(ok);
    if (hit) return hit;
    await sleep(100);
  }
  throw new Error(`no matching fencing event on ${node}`);
}

async function allTogether(): Promise<void> {
  for (const n of ["host-a", "host-b", "arb"]) {
    await until(DIR, n, "one quorate view of three", (s) => s.view.members.length === 3 && s.quorum.quorate, 15_000);
  }
}

/**
 * Every test starts from the whole lab up: a host that an earlier test left fenced, reset or
 * stopped is powered on again, so one failure cannot cascade into the tests after it.
 */
async function healLab(): Promise<void> {
  for (const n of ["host-a", "host-b", "arb"]) {
    const up = await labStatus(DIR, n).then(
      () => true,
      () => false,
    );
    const off = n !== "arb" && (() => {
      try {
        return labPower(state(), n) === "off";
      } catch {
        return false;
      }
    })();
    if (!up || off) {
      try {
        await restart(n);
      } catch {
        // already starting
      }
    }
  }
  await allTogether();
}

describe.skipIf(skip !== null)(`lab integration${skip ? ` (skipped: ${skip})` : ""}`, () => {
  beforeAll(() => {
    const r = run([HAPD, "demo", "--dir", DIR, "--prefix", P]);
    if (r.code !== 0) throw new Error(`hapd demo failed: ${r.stdout}${r.stderr}`);
  });

  beforeEach(async () => {
    await healLab();
  }, 90_000);

  afterAll(() => {
    run([HAPD, "demo", "--down", "--dir", DIR]);
  });

  it("forms one quorate view over ring0, ring1 and the serial line, and reports it per the status contract", () => {
    for (const node of ["host-a", "host-b", "arb"]) {
      const s = JSON.parse(must([HAPD, "status", "--json", "--node", node, "--lab-dir", DIR]));
      expect(s.view.members.sort()).toEqual(["arb", "host-a", "host-b"]);
      expect(s.quorum).toMatchObject({ quorate: true, votes: 3, expected: 3 });
      expect(s.nodes.map((n: { name: string }) => n.name)).toEqual(["host-a", "host-b", "arb"]);
      for (const n of s.nodes) {
        expect(n.state).toBe("online");
        expect(n.links.ring0).toBe("up");
        expect(n.links.ring1).toBe("up");
      }
      const hostA = s.nodes.find((n: { name: string }) => n.name === "host-a");
      if (node !== "arb") expect(hostA.links.serial).toBe("up");
      expect(s.nodes.find((n: { name: string }) => n.name === "arb").role).toBe("arbitrator");
    }
    const text = must([HAPD, "status", "--node", "host-a", "--lab-dir", DIR]);
    expect(text).toMatch(/QUORATE \(3\/3 votes/);
    for (const line of text.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
  });

  it("a link taken down (ip link set down) is a link state change, not a membership change", async () => {
    const before = await labStatus(DIR, "host-b");
    must(["ip", "-n", ns("host-a"), "link", "set", "ring0", "down"]);
    const during = await until(DIR, "host-b", "host-a ring0 down", (s) => s.nodes.find((n) => n.name === "host-a")?.links.ring0 === "down");
    expect(during.nodes.find((n) => n.name === "host-a")?.links.ring1).toBe("up");
    expect(during.view.id).toBe(before.view.id);
    must(["ip", "-n", ns("host-a"), "link", "set", "ring0", "up"]);
    const after = await until(DIR, "host-b", "host-a ring0 up", (s) => s.nodes.find((n) => n.name === "host-a")?.links.ring0 === "up");
    expect(after.view.id).toBe(before.view.id);
  });

  it("rides out 20% loss (and 50 ms jitter where the kernel has netem) on ring0 with no membership change", async () => {
    const before = await labStatus(DIR, "host-a");
    const applied = ["host-a", "host-b", "arb"].map((n) => impair(ns(n), "ring0", { loss_pct: 20, delay_ms: 50, jitter_ms: 50 }));
    console.log(`ring0 impairment: ${applied[0]!.note}`);
    try {
      await sleep(12_000);
      for (const n of ["host-a", "host-b", "arb"]) {
        const s = await labStatus(DIR, n);
        expect(s.view.id, `${n} changed view under loss`).toBe(before.view.id);
        expect(s.quorum.quorate).toBe(true);
      }
    } finally {
      for (const n of ["host-a", "host-b", "arb"]) clearImpairment(ns(n), "ring0");
    }
  });

  it("cutting only the host-to-host links: arb gives its vote to exactly one side (host-a), host-b loses quorum and says so", async () => {
    const cut = (add: boolean) => {
      const verb = add ? "add" : "del";
      for (const [node, peer] of [
        ["host-a", "2"],
        ["host-b", "1"],
      ] as const) {
        run(["ip", "-n", ns(node), "route", verb, "blackhole", `10.70.0.${peer}/32`]);
        run(["ip", "-n", ns(node), "route", verb, "blackhole", `10.71.0.${peer}/32`]);
      }
      process.kill(state().pids.socat!, add ? "SIGSTOP" : "SIGCONT");
    };
    const t0 = Date.now();
    cut(true);
    try {
      const a = await until(DIR, "host-a", "view [host-a arb]", (s) => members(s) === "arb,host-a" && s.quorum.quorate);
      const arb = await until(DIR, "arb", "view [host-a arb]", (s) => members(s) === "arb,host-a" && s.quorum.quorate);
      expect(a.view.id).toBe(arb.view.id);
      // The side holding arb's vote fences the other host through its BMC; the other side never fences.
      const e = await fencedOk("host-a", "host-b", t0);
      expect(e.executor).toBe("host-a");
      expect(labPower(state(), "host-b")).toBe("off");
      const logB = readFileSync(join(DIR, "host-b", "node.log"), "utf8");
      expect(logB).toMatch(/view \d+: \[host-b\] \(left host-a/);
      expect(logB).toMatch(/NOT quorate: 1 of 3 votes, 2 needed/);
      expect(logB).not.toMatch(/fencing host-a/);
    } finally {
      cut(false);
    }
    await restart("host-b");
    await allTogether();
  });

  it("each node is a whole machine: own hostname and PID namespace, orphans reaped, power-off kills every process of it", async () => {
    for (const n of ["host-a", "host-b", "arb"]) expect(labExec(state(), n, ["hostname"]).stdout.trim()).toBe(n);
    // hapd is a process of the machine, found from the root namespace by nodePid.
    expect(labNodePids(state(), "host-a")).toContain(nodePid(state(), "host-a"));
    // A daemon that detaches (as ocf:heartbeat:anything's does), and an orphan that exits at once.
    expect(labExec(state(), "host-a", ["bash", "-c", "setsid -f sleep 1000 >/dev/null 2>&1 </dev/null; (sleep 0.2 &); exit 0"]).code).toBe(0);
    const cmd = (p: number) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").join(" ").trim();
      } catch {
        return "";
      }
    };
    const daemon = await waitFor("the detached sleep on host-a", 10_000, async () => labNodePids(state(), "host-a").find((p) => cmd(p) === "sleep 1000") ?? null);
    await sleep(1000);
    // PID 1 reaps re-parented orphans: no zombie stays in the machine.
    const zombies = labNodePids(state(), "host-a").filter((p) => {
      try {
        return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${p}/stat`, "utf8"));
      } catch {
        return false;
      }
    });
    expect(zombies).toEqual([]);
    const init = machineInitPid(state(), "host-a")!;
    expect(alive(daemon)).toBe(true);
    const t0 = Date.now();
    expect(labBmcAction(state(), "host-a", "off").code).toBe(0);
    // Power-off is the SIGKILL of the machine's PID 1: the kernel takes every process with it.
    // (ipmi_sim reports "off" as soon as it has told the simulated host, which then cuts the
    // machine: wait for that, bounded, rather than for a fixed time.)
    await waitFor("host-a's machine to be gone", 10_000, async () => (alive(init) ? null : true));
    expect(alive(daemon)).toBe(false);
    expect(alive(init)).toBe(false);
    expect(labNodePids(state(), "host-a")).toEqual([]);
    expect(nodePid(state(), "host-a")).toBeUndefined();
    // host-b fences the lost host-a (its chassis is already off); powering it on before that
    // fence lands would let the fence power it off again.
    await fencedOk("host-b", "host-a", t0);
    await restart("host-a");
    await allTogether();
  });

  it("kill -9 of a host: the survivors re-form, fence it through its BMC (chassis reads off); powered on, it rejoins", async () => {
    const t0 = Date.now();
    kill9("host-a");
    await until(DIR, "host-b", "view without host-a", (s) => members(s) === "arb,host-b" && s.quorum.quorate, 20_000);
    await until(DIR, "arb", "view without host-a", (s) => members(s) === "arb,host-b" && s.quorum.quorate, 20_000);
    const e = await fencedOk("host-b", "host-a", t0);
    expect(e.executor).toBe("host-b");
    expect(e.device).toMatch(/^ipmi:10\.70\.0\.101:/);
    expect(labPower(state(), "host-a")).toBe("off");
    // Every node keeps the history: arb learned it from host-b's gossip.
    await waitForEvent("arb", (x) => x.id === e.id);
    const hist = must([HAPD, "fence", "history", "--node", "arb", "--lab-dir", DIR]);
    expect(hist).toMatch(/host-a\s+OK\s+by host-b/);
    // The lab keeps host-a down while its chassis is off.
    await sleep(1500);
    expect(alive(nodePid(state(), "host-a"))).toBe(false);
    await restart("host-a");
    await allTogether();
  });

  it("a host powered off through its BMC is seen as lost and its fencing confirms the chassis is off", async () => {
    const t0 = Date.now();
    const r = run([HAPD, "status", "--json", "--node", "host-a", "--lab-dir", DIR]);
    expect(JSON.parse(r.stdout).nodes.find((n: { name: string }) => n.name === "host-b").fencing).toMatchObject({ device: "ipmi", port: expect.any(Number) });
    must(["ip", "netns", "exec", ns("hapd-sw"), "true"]);
    const { labBmcAction } = await import("../../services/lab/lab.ts");
    expect(labBmcAction(state(), "host-b", "off").code).toBe(0);
    await until(DIR, "host-a", "view without host-b", (s) => members(s) === "arb,host-a" && s.quorum.quorate, 20_000);
    const e = await fencedOk("host-a", "host-b", t0);
    expect(e.detail).toMatch(/off/);
    await restart("host-b");
    await allTogether();
  });

  it("a node with the wrong cluster key stays out and says why; the others are unaffected", async () => {
    const s = state();
    const cfgFile = join(DIR, "host-b", "hapd.yaml");
    const original = readFileSync(cfgFile, "utf8");
    const wrongKey = join(DIR, "wrong.key");
    writeFileSync(wrongKey, generateKeyText(), { mode: 0o600 });
    await killAndFence("host-b");
    writeFileSync(cfgFile, original.replace(s.dir + "/cluster.key", wrongKey));
    try {
      await restart("host-b");
      await sleep(3000);
      const a = await labStatus(DIR, "host-a");
      expect(members(a)).toBe("arb,host-a");
      expect(a.quorum.quorate).toBe(true);
      expect(a.counters.dropped["wrong-key"]).toBeGreaterThan(0);
      const b = await labStatus(DIR, "host-b");
      expect(members(b)).toBe("host-b");
      expect(b.quorum.quorate).toBe(false);
      const logB = readFileSync(join(DIR, "host-b", "node.log"), "utf8");
      expect(logB).toMatch(/different cluster key/);
    } finally {
      kill9("host-b"); // out of the view, so nobody fences it: the restart below power-cycles it
      writeFileSync(cfgFile, original);
      await sleep(200);
      await restart("host-b");
    }
    await allTogether();
  });

  it("a missing serial device: the serial link is down with the reason, the node runs on its rings", async () => {
    const cfgFile = join(DIR, "host-a", "hapd.yaml");
    const original = readFileSync(cfgFile, "utf8");
    await killAndFence("host-a");
    writeFileSync(cfgFile, original.replace(/device: .*serial-host-a/, "device: /dev/ttyNOPE9"));
    try {
      await restart("host-a");
      const a = await until(DIR, "host-a", "back in a view of three", (s) => s.view.members.length === 3 && s.quorum.quorate, 15_000);
      const self = a.nodes.find((n) => n.name === "host-a");
      expect(self?.links.serial).toBe("down");
      expect(self?.link_reasons?.serial).toMatch(/\/dev\/ttyNOPE9 missing/);
      const b = await labStatus(DIR, "host-b");
      expect(b.nodes.find((n) => n.name === "host-a")?.links).toMatchObject({ ring0: "up", ring1: "up", serial: "down" });
    } finally {
      await killAndFence("host-a");
      writeFileSync(cfgFile, original);
      await restart("host-a");
    }
    await allTogether();
  });

  it("garbage sent to a node's ring port is dropped and counted; the node carries on", async () => {
    const before = await labStatus(DIR, "host-a");
    const junk = join(DIR, "junk.bin");
    for (let i = 0; i < 20; i++) {
      writeFileSync(junk, Buffer.from(Array.from({ length: 60 + i * 13 }, (_, k) => (k * 31 + i * 7) & 0xff)));
      run(["ip", "netns", "exec", ns("arb"), "socat", "-u", `OPEN:${junk}`, "UDP-SENDTO:10.70.0.1:5405"]);
    }
    await sleep(500);
    const after = await labStatus(DIR, "host-a");
    const dropped = Object.values(after.counters.dropped).reduce((a, b) => a + b, 0) - Object.values(before.counters.dropped).reduce((a, b) => a + b, 0);
    expect(dropped).toBeGreaterThanOrEqual(20);
    expect(after.view.id).toBe(before.view.id);
    expect(after.quorum.quorate).toBe(true);
  });

  it("watchdog and services per node in status: hosts armed on their BMC's IPMI watchdog, arb without by choice", async () => {
    // The service learns its supervisor's report within a second of (re)starting.
    await until(DIR, "host-a", "its supervisor's report", (x) => x.supervisor !== undefined);
    const s = JSON.parse(must([HAPD, "status", "--json", "--node", "host-a", "--lab-dir", DIR]));
    const byName = (n: string) => s.nodes.find((x: { name: string }) => x.name === n);
    expect(byName("host-a").watchdog).toMatchObject({ driver: "ipmi", timeout_s: 5, armed: true });
    expect(byName("host-a").services).toEqual([expect.objectContaining({ name: "cluster", pid: expect.any(Number), restarts: expect.any(Number) })]);
    // Peers' entries come from their gossip.
    await until(DIR, "host-a", "peer info", (x) => x.nodes.find((n) => n.name === "host-b")?.watchdog?.armed === true);
    expect(byName("arb").watchdog?.driver ?? "none").toBe("none");
    expect(s.supervisor.watchdog).toMatchObject({ choice: "configured", feeding: true, resources_allowed: true });
  });

  it("SIGSTOP of the cluster service: the supervisor sees the hang, kills and restarts it, and logs it", async () => {
    const before = (await labStatus(DIR, "host-b")).supervisor!.services[0]!;
    // The report gives the pid inside host-b's PID namespace; signals from here need the root one.
    process.kill(labRootPid(state(), "host-b", before.pid!)!, "SIGSTOP");
    const log = join(DIR, "host-b", "node.log");
    await waitForLog(log, new RegExp(`cluster \\(pid ${before.pid}\\) hung: no heartbeat for \\d+ ms; killing it`));
    await waitForLog(log, /restarting cluster \(restart \d+\)/);
    await waitForLog(log, /cluster running \(pid \d+, heartbeat every 100 ms\)/);
    // The peers may or may not have declared host-b lost meanwhile (the hang can outlast their
    // 0.6 s loss timeout); if they did, they fenced it. Either way, bring the lab back together.
    await sleep(1500);
    const power = labPower(state(), "host-b");
    if (power === "off" || !(await labStatus(DIR, "host-b").then(() => true, () => false))) await restart("host-b");
    await allTogether();
  });

  it("SIGSTOP of the supervisor: nobody feeds the BMC's watchdog and the simulated chassis is reset", async () => {
    const bmcLog = join(DIR, "host-b", "bmc", "host.log");
    const resetsBefore = (readFileSync(bmcLog, "utf8").match(/hard-reset/g) ?? []).length;
    const sup = nodePid(state(), "host-b")!;
    process.kill(sup, "SIGSTOP");
    try {
      await waitForLog(bmcLog, /hard-reset/, resetsBefore, 15_000);
    } finally {
      try {
        process.kill(sup, "SIGCONT");
      } catch {
        // reset killed it
      }
    }
    await sleep(1500);
    if (labPower(state(), "host-b") === "off" || !(await labStatus(DIR, "host-b").then(() => true, () => false))) await restart("host-b");
    await allTogether();
  });

  it("a clean stop of `hapd node` disarms the watchdog, announces the leave, and nothing resets or fences the host", async () => {
    const bmcLog = join(DIR, "host-b", "bmc", "host.log");
    const text = () => readFileSync(bmcLog, "utf8");
    const resets = (text().match(/hard-reset|power-off/g) ?? []).length;
    const t0 = Date.now();
    process.kill(nodePid(state(), "host-b")!, "SIGTERM");
    await waitForLog(join(DIR, "host-b", "node.log"), /watchdog: disarmed on a clean stop/);
    await until(DIR, "host-a", "view without host-b", (s) => members(s) === "arb,host-a" && s.quorum.quorate);
    await sleep(6500); // longer than the 5 s watchdog timeout
    expect((text().match(/hard-reset|power-off/g) ?? []).length).toBe(resets);
    expect(labPower(state(), "host-b")).toBe("on");
    const events = (await queryNode(labSocket(DIR, "host-a"), "fence-history")) as FenceEvent[];
    expect(events.filter((e) => e.target === "host-b" && e.at_wall_ms >= t0)).toEqual([]);
    expect(readFileSync(join(DIR, "host-a", "node.log"), "utf8")).toMatch(/host-b announces a clean stop/);
    await restart("host-b");
    await allTogether();
  });

  it("the CIB elects one designated coordinator that every node agrees on", async () => {
    const all = await Promise.all(["host-a", "host-b", "arb"].map((n) => until(DIR, n, "a DC", (s) => !!s.cib?.dc, 10_000)));
    const dcs = new Set(all.map((s) => s.cib!.dc));
    expect(dcs.size).toBe(1);
    expect(["host-a", "host-b", "arb"]).toContain([...dcs][0]);
  });

  it("crm configure commits a validated resource configuration to the CIB; every node shows it; bad input changes nothing", () => {
    const yaml = must([HAPD, "crm", "import", "--cib", join(ROOT, "test/fixtures/node-loss.xml")]);
    const good = join(DIR, "res.yaml");
    writeFileSync(good, yaml);
    const r = run([HAPD, "crm", "configure", good, "--node", "host-b", "--lab-dir", DIR]);
    expect(r.code, r.stderr).toBe(0);
    const version = Number(/version (\d+) committed/.exec(r.stdout)?.[1]);
    expect(version).toBeGreaterThan(0);
    const shown = JSON.parse(must([HAPD, "crm", "show", "--json", "--node", "arb", "--lab-dir", DIR]));
    expect(shown.version).toBe(version);
    expect(shown.yaml).toContain("agent: ocf:heartbeat:Dummy");
    const loop = join(DIR, "loop.yaml");
    writeFileSync(loop, yaml.replace("constraints:\n", "constraints:\n  - order: o1\n    first: vm1\n    then: fence-a\n  - order: o2\n    first: fence-a\n    then: vm1\n"));
    const bad = run([HAPD, "crm", "configure", loop, "--node", "host-a", "--lab-dir", DIR]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/ordering loop: .*vm1.*fence-a|ordering loop: .*fence-a.*vm1/);
    expect(JSON.parse(must([HAPD, "crm", "show", "--json", "--node", "host-a", "--lab-dir", DIR])).version).toBe(version);
  });

  it("node standby / online is recorded in the replicated CIB", () => {
    expect(run([HAPD, "node", "standby", "host-a", "--node", "arb", "--lab-dir", DIR]).code).toBe(0);
    expect(JSON.parse(must([HAPD, "crm", "show", "--json", "--node", "host-b", "--lab-dir", DIR])).nodes["host-a"]).toMatchObject({ standby: true });
    expect(run([HAPD, "node", "online", "host-a", "--node", "arb", "--lab-dir", DIR]).code).toBe(0);
    expect(JSON.parse(must([HAPD, "crm", "show", "--json", "--node", "host-b", "--lab-dir", DIR])).nodes["host-a"]).toMatchObject({ standby: false });
    const nope = run([HAPD, "node", "standby", "host-z", "--node", "arb", "--lab-dir", DIR]);
    expect(nope.code).toBe(2);
    expect(nope.stderr).toMatch(/no node named "host-z"/);
  });

  it("a second `hapd demo` on a running lab says so instead of breaking it", () => {
    const r = run([HAPD, "demo", "--dir", DIR, "--prefix", P]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/already running/);
  });
});
