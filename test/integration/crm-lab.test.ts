// Issue 5 "End to end, in the lab": an HTTP service (ocf:heartbeat:anything running socat, with a
// monitor that fetches the page) managed by the compiled hapd on the netns lab, where each host is
// a whole simulated machine behind its simulated BMC. Each step waits for the state it expects
// (the service answering from the switch namespace, where a client would be) and fails naming it.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FenceEvent } from "../../services/fencing/core.ts";
import { DEMO_SERVICE_YAML, type LabState, labBmcAction, labExec, labPower, nodePid, readLabState, waitFor } from "../../services/lab/lab.ts";
import type { ResourceReport, StatusReport } from "../../services/node/status.ts";
import { HAPD, must, run, until, whyNotLab } from "./helpers.ts";

const skip = whyNotLab();
const DIR = `/run/hapd-crm-${process.pid}`;
const P = "cl-";
const SW = `${P}hapd-sw`;
const ADDR: Record<string, string> = { "host-a": "10.70.0.1", "host-b": "10.70.0.2" };

// The demo's service (`hapd demo --service`): web, monitored every 2 s by fetching the page,
// migration-threshold 2, stickiness 100, prefers host-a.
const YAML = DEMO_SERVICE_YAML;

function state(): LabState {
  const s = readLabState(DIR);
  if (!s) throw new Error("lab state missing");
  return s;
}

/** GET / on a host's ring0 address from the switch namespace: the hostname that answered, or null. */
function httpGet(node: string): Promise<string | null> {
  return new Promise((done) => {
    const child = execFile("ip", ["netns", "exec", SW, "socat", "-T1", "-", `TCP:${ADDR[node]}:8080,connect-timeout=0.5`], { timeout: 3000, encoding: "utf8" }, (error, stdout) => {
      const m = /^HTTP\/1\.0 200 OK\r?\n\r?\n(\S+)/.exec(stdout);
      done(!error && m ? m[1]! : null);
    });
    child.stdin?.on("error", () => undefined);
    child.stdin?.end("GET / HTTP/1.0\r\n\r\n");
  });
}

const answersOn = (node: string, timeout_ms = 30_000) => waitFor(`web answering on ${node}`, timeout_ms, async () => ((await httpGet(node)) === node ? true : null));
const rsc = (s: StatusReport): ResourceReport | undefined => s.crm?.resources.find((r) => r.id === "web");
const settledOn = (node: string) => (s: StatusReport) => {
  const r = rsc(s);
  return r !== undefined && r.active.length === 1 && r.active[0]!.node === node;
};

async function fencedBy(by: string, target: string, since_ms: number): Promise<FenceEvent> {
  return waitFor(`${by} confirms fencing ${target}`, 30_000, async () => {
    const events = JSON.parse(must([HAPD, "fence", "history", "--json", "--node", by, "--lab-dir", DIR])) as FenceEvent[];
    return events.find((e) => e.target === target && e.phase === "done" && e.result === "ok" && e.at_wall_ms >= since_ms) ?? null;
  });
}

async function bringBack(node: string): Promise<void> {
  must([HAPD, "demo", "--dir", DIR, "--restart", node]);
  await until(DIR, "arb", `${node} back in the view`, (s) => s.view.members.length === 3, 60_000);
}

describe.skipIf(skip !== null)(`resource manager in the netns lab${skip ? ` (skipped: ${skip})` : ""}`, () => {
  beforeAll(async () => {
    const r = run([HAPD, "demo", "--dir", DIR, "--prefix", P]);
    if (r.code !== 0) throw new Error(`hapd demo failed: ${r.stdout}${r.stderr}`);
    const f = join(DIR, "web.yaml");
    writeFileSync(f, YAML);
    must([HAPD, "crm", "configure", f, "--node", "host-a", "--lab-dir", DIR]);
    await answersOn("host-a");
  }, 120_000);

  afterAll(() => {
    // Keep the node logs (the lab directory goes with --down): a failure here is read from them.
    const keep = "/tmp/hapd-crm-lab-logs";
    run(["mkdir", "-p", keep]);
    for (const n of ["host-a", "host-b", "arb"]) run(["cp", join(DIR, n, "node.log"), join(keep, `${n}.log`)]);
    run([HAPD, "demo", "--down", "--dir", DIR]);
  });

  it("kill -9 of host-a's hapd: host-b fences host-a, then the service answers on host-b", async () => {
    const t0 = Date.now();
    process.kill(nodePid(state(), "host-a")!, "SIGKILL");
    const fence = await fencedBy("host-b", "host-a", t0);
    await answersOn("host-b");
    expect(labPower(state(), "host-a")).toBe("off");
    // The service on host-a died with its machine: it never answered after the fencing.
    expect(await httpGet("host-a")).toBeNull();
    const s = await until(DIR, "host-b", "web recorded on host-b", settledOn("host-b"));
    expect(fence.executor).toBe("host-b");
    expect(rsc(s)!.active).toEqual([{ node: "host-b", role: "Started" }]);
    // host-a comes back; stickiness (100) beats its preference (50): the service stays.
    await bringBack("host-a");
    await until(DIR, "host-a", "a quiet DC with host-a back", (x) => x.crm?.transition?.state !== "running" && settledOn("host-b")(x), 30_000);
    expect(await httpGet("host-b")).toBe("host-b");
  }, 180_000);

  it("power-off of the node running it through its BMC: the peer fences it, the service comes back on the other host", async () => {
    const t0 = Date.now();
    expect(labBmcAction(state(), "host-b", "off").code).toBe(0);
    await fencedBy("host-a", "host-b", t0);
    await answersOn("host-a");
    await until(DIR, "host-a", "web recorded on host-a", settledOn("host-a"));
    await bringBack("host-b");
  }, 180_000);

  it("a failing monitor restarts the service in place; at migration-threshold it moves", async () => {
    await until(DIR, "host-a", "web on host-a", settledOn("host-a"));
    const kill = () => labExec(state(), "host-a", ["pkill", "-9", "-x", "socat"]);
    expect(kill().code).toBe(0);
    let s = await until(DIR, "host-b", "one failure on host-a, restarted there", (x) => rsc(x)?.fail_counts["host-a"] === 1 && settledOn("host-a")(x) && x.crm?.transition?.state !== "running", 30_000);
    await answersOn("host-a");
    expect(rsc(s)!.last_failure).toMatchObject({ node: "host-a" });
    expect(kill().code).toBe(0);
    s = await until(DIR, "host-b", "second failure: moved to host-b", (x) => rsc(x)?.fail_counts["host-a"] === 2 && settledOn("host-b")(x), 30_000);
    await answersOn("host-b");
    must([HAPD, "resource", "cleanup", "web", "--node", "host-b", "--lab-dir", DIR]);
    await until(DIR, "host-b", "failures cleaned up", (x) => Object.keys(rsc(x)?.fail_counts ?? { x: 1 }).length === 0);
  }, 120_000);

  it("standby moves the service off a host; online lets it stay where it is", async () => {
    await until(DIR, "host-a", "web on host-b", settledOn("host-b"));
    must([HAPD, "node", "standby", "host-b", "--node", "host-a", "--lab-dir", DIR]);
    await answersOn("host-a");
    await until(DIR, "host-b", "web on host-a", settledOn("host-a"));
    must([HAPD, "node", "online", "host-b", "--node", "host-a", "--lab-dir", DIR]);
    const s = await until(DIR, "host-b", "host-b online and the DC quiet", (x) => x.crm?.node_flags["host-b"]?.standby === false && x.crm?.transition?.state !== "running");
    expect(rsc(s)!.active).toEqual([{ node: "host-a", role: "Started" }]);
    expect(await httpGet("host-a")).toBe("host-a");
    // Nothing answers on host-b: the service never ran twice.
    expect(await httpGet("host-b")).toBeNull();
  }, 120_000);
});
