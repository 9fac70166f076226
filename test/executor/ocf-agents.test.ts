// The OCF runner against Debian's unmodified agents (Dummy, anything) and this folder's
// misbehaving fake agents. Outcomes are asserted, never durations.
import { execSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OcfAgent, resolveAgent } from "../../services/executor/agents/index.ts";
import type { OcfOptions } from "../../services/executor/agents/ocf.ts";
import { type OpRequest, OCF_RC } from "../../services/executor/agents/types.ts";
import { type Sandbox, alive, sandbox } from "./helpers.ts";

let sb: Sandbox;
let opts: OcfOptions;
beforeAll(() => {
  sb = sandbox();
  opts = { ocf_root: sb.ocf_root, env_extra: { HA_RSCTMP: sb.dir }, kill_grace_ms: 200 };
});
afterAll(() => sb.cleanup());

function req(action: OpRequest["action"], params: Record<string, string>, extra: Partial<OpRequest> = {}): OpRequest {
  return { action, instance: "r1", params, timeout_ms: 20_000, interval_ms: 0, ...extra };
}

describe("ocf:heartbeat:Dummy", () => {
  it("start, monitor, stop; monitor says not running (rc 7) when stopped", async () => {
    const dummy = new OcfAgent("heartbeat", "Dummy", opts);
    const params = { state: join(sb.dir, "dummy-1.state") };
    expect((await dummy.run(req("monitor", params))).code).toBe("not-running");
    const start = await dummy.run(req("start", params));
    expect(start).toMatchObject({ exec: "done", rc: 0, code: "success", reason: "" });
    expect(existsSync(params.state)).toBe(true);
    expect((await dummy.run(req("monitor", params, { interval_ms: 10_000, depth: 10 }))).code).toBe("success");
    expect((await dummy.run(req("stop", params))).code).toBe("success");
    const probe = await dummy.run(req("monitor", params));
    expect(probe).toMatchObject({ exec: "done", rc: OCF_RC.NOT_RUNNING, code: "not-running" });
    expect(probe.reason).toContain("ocf:heartbeat:Dummy monitor: not-running (rc 7)");
  });

  it("validate-all succeeds, and meta-data parses into parameters and actions", async () => {
    const dummy = new OcfAgent("heartbeat", "Dummy", opts);
    expect((await dummy.run(req("validate-all", {}))).code).toBe("success");
    const md = await dummy.metadata();
    if (!md.ok) throw new Error(md.reason);
    expect(md.metadata.name).toBe("Dummy");
    const state = md.metadata.parameters.find((p) => p.name === "state");
    expect(state).toMatchObject({ required: false, unique: true, type: "string" });
    expect(state?.default).toMatch(/Dummy-.*\.state$/);
    expect(md.metadata.parameters.find((p) => p.name === "fake")).toMatchObject({ unique: false, default: "dummy" });
    expect(md.metadata.actions.find((a) => a.name === "monitor")).toEqual({ name: "monitor", timeout_ms: 20_000, interval_ms: 10_000, depth: 0 });
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

describe("ocf:heartbeat:anything", () => {
  it("runs an HTTP server: start → the page answers (the monitor fetches it) → stop", async () => {
    const port = await freePort();
    const www = join(sb.dir, "www");
    (await import("node:fs")).mkdirSync(www);
    writeFileSync(join(www, "index.html"), "hello from hapd\n");
    const url = `http://127.0.0.1:${port}/index.html`;
    const params = {
      binfile: "/usr/bin/python3",
      cmdline_options: `-m http.server ${port} --bind 127.0.0.1 --directory ${www}`,
      pidfile: join(sb.dir, "http.pid"),
      // The agent's monitor (also run at the end of start) fetches the page, retrying while the
      // server binds its port.
      monitor_hook: `curl -sf -o /dev/null --retry 20 --retry-connrefused --retry-delay 1 ${url}`,
    };
    const anything = new OcfAgent("heartbeat", "anything", opts);
    expect((await anything.run(req("validate-all", params))).code).toBe("success");
    const start = await anything.run(req("start", params));
    expect(start.reason).toBe("");
    expect(start.code).toBe("success");
    expect(await (await fetch(url)).text()).toBe("hello from hapd\n");
    expect((await anything.run(req("monitor", params, { interval_ms: 10_000 }))).code).toBe("success");
    expect((await anything.run(req("stop", params))).code).toBe("success");
    await expect(fetch(url)).rejects.toThrow();
    expect((await anything.run(req("monitor", params))).code).toBe("not-running");
  });

  it("a missing required parameter fails validate-all (and start) naming it", async () => {
    const anything = new OcfAgent("heartbeat", "anything", opts);
    const v = await anything.run(req("validate-all", {}));
    expect(v).toMatchObject({ exec: "error", rc: OCF_RC.ERR_CONFIGURED, code: "not-configured" });
    expect(v.reason).toBe('ocf:heartbeat:anything validate-all: required parameter "binfile" is missing');
    expect((await anything.run(req("start", {}))).reason).toContain('"binfile"');
    // stop is never refused: a misconfigured resource must still be stoppable.
    expect((await anything.run(req("stop", { pidfile: join(sb.dir, "none.pid") }))).code).toBe("success");
  });
});

describe("ocf:heartbeat:IPaddr2 inside a network namespace", () => {
  const root = process.getuid?.() === 0;
  it.skipIf(!root)("adds the address on start, monitor sees it, stop removes it (rc 7 after)", async () => {
    const ns = `hapd-exec-${process.pid}`;
    const sh = (cmd: string): string => execSync(cmd, { encoding: "utf8" });
    sh(`ip netns add ${ns}`);
    try {
      // A veth pair: the kernels here have no dummy interface module.
      sh(`ip -n ${ns} link add v0 type veth peer name v1 && ip -n ${ns} link set v0 up && ip -n ${ns} link set v1 up`);
      sh(`ip -n ${ns} addr add 10.99.0.1/24 dev v0`);
      const vip = new OcfAgent("heartbeat", "IPaddr2", { ...opts, netns: ns });
      const params = { ip: "10.99.0.50", cidr_netmask: "24", nic: "v0" };
      expect((await vip.run(req("monitor", params))).code).toBe("not-running");
      const start = await vip.run(req("start", params));
      expect(start.reason).toBe("");
      expect(sh(`ip -n ${ns} -4 addr show dev v0`)).toContain("10.99.0.50/24");
      expect((await vip.run(req("monitor", params, { interval_ms: 10_000 }))).code).toBe("success");
      expect((await vip.run(req("stop", params))).code).toBe("success");
      expect(sh(`ip -n ${ns} -4 addr show dev v0`)).not.toContain("10.99.0.50");
      expect((await vip.run(req("monitor", params))).code).toBe("not-running");
      // The required parameter "ip", named.
      expect((await vip.run(req("validate-all", { nic: "v0" }))).reason).toBe('ocf:heartbeat:IPaddr2 validate-all: required parameter "ip" is missing');
    } finally {
      execSync(`ip netns del ${ns}`);
    }
  });
});

describe("agents that misbehave", () => {
  it("a hanging agent is killed with its whole process group and reported as timed out", async () => {
    const fake = new OcfAgent("hapd-test", "fake", opts);
    const pidfile = join(sb.dir, "hang.pid");
    const quick = new OcfAgent("heartbeat", "Dummy", opts);
    // Something else runs at the same time and is not held up by the hang.
    const [hang, other] = await Promise.all([
      fake.run(req("start", { mode: "hang", pidfile }, { timeout_ms: 300 })),
      quick.run(req("monitor", { state: join(sb.dir, "never.state") })),
    ]);
    expect(other.code).toBe("not-running");
    expect(hang).toMatchObject({ exec: "timed-out", rc: OCF_RC.ERR_GENERIC, code: "generic" });
    expect(hang.reason).toBe("ocf:hapd-test:fake start timed out after 300 ms; its process group was killed");
    // The child ignored SIGTERM; the group's SIGKILL took it too.
    const child = Number(readFileSync(pidfile, "utf8"));
    expect(child).toBeGreaterThan(0);
    expect(alive(child)).toBe(false);
  });

  it("maps every OCF exit code, and an exit code outside the API to a generic error", async () => {
    const fake = new OcfAgent("hapd-test", "fake", opts);
    const names = ["success", "generic", "args", "unimplemented", "perm", "not-installed", "not-configured", "not-running", "running-promoted", "failed-promoted"];
    for (const [rc, name] of names.entries()) {
      const r = await fake.run(req("monitor", { mode: "exit", rc: String(rc) }));
      expect(r).toMatchObject({ exec: "done", rc, code: name });
      if (rc !== 0) expect(r.reason).toBe(`ocf:hapd-test:fake monitor: ${name} (rc ${rc}): exiting with ${rc}`);
    }
    const odd = await fake.run(req("monitor", { mode: "exit", rc: "42" }));
    expect(odd).toMatchObject({ exec: "done", rc: 1, code: "generic" });
    expect(odd.reason).toContain("exited 42, which is not an OCF exit code");
  });

  it("garbage meta-data is reported as such, and refuses start", async () => {
    const garbage = new OcfAgent("hapd-test", "garbage", opts);
    const md = await garbage.metadata();
    expect(md.ok).toBe(false);
    if (md.ok) return;
    expect(md.reason).toMatch(/^ocf:hapd-test:garbage: meta-data is not well-formed XML/);
    const start = await garbage.run(req("start", {}));
    expect(start.code).not.toBe("success");
    expect(start.reason).toContain("meta-data is not well-formed XML");
    // Stop still runs the agent.
    expect((await garbage.run(req("stop", {}))).code).toBe("success");
  });

  it("passes the OCF environment: instance, type, provider, parameters, timeout, interval, depth", async () => {
    const fake = new OcfAgent("hapd-test", "fake", opts);
    const r = await fake.run({ action: "monitor", instance: "web:1", params: { mode: "env", rc: "0" }, meta: { "on-fail": "restart" }, timeout_ms: 15_000, interval_ms: 10_000, depth: 20 });
    const env = Object.fromEntries(r.stdout.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    expect(env).toMatchObject({
      OCF_ROOT: sb.ocf_root,
      OCF_RA_VERSION_MAJOR: "1",
      OCF_RESOURCE_INSTANCE: "web:1",
      OCF_RESOURCE_TYPE: "fake",
      OCF_RESOURCE_PROVIDER: "hapd-test",
      OCF_RESKEY_mode: "env",
      OCF_RESKEY_CRM_meta_timeout: "15000",
      OCF_RESKEY_CRM_meta_interval: "10000",
      OCF_RESKEY_CRM_meta_on_fail: "restart",
      OCF_CHECK_LEVEL: "20",
    });
  });

  it("an agent that leaves a child holding its output still completes when it exits", async () => {
    const fake = new OcfAgent("hapd-test", "fake", opts);
    const pidfile = join(sb.dir, "daemon.pid");
    const r = await fake.run(req("start", { mode: "daemon", pidfile }));
    expect(r.code).toBe("success");
    const child = Number(readFileSync(pidfile, "utf8"));
    expect(alive(child)).toBe(true);
    process.kill(child, "SIGKILL");
  });

  it("refuses parameter names that are not OCF names, and bad namespace names, before running anything", async () => {
    const fake = new OcfAgent("hapd-test", "fake", opts);
    const r = await fake.run(req("start", { mode: "exit", "bad=name": "x" }));
    expect(r).toMatchObject({ exec: "error", rc: OCF_RC.ERR_CONFIGURED, reason: 'ocf:hapd-test:fake: parameter name "bad=name" is not a valid OCF name' });
    const ns = await new OcfAgent("hapd-test", "fake", { ...opts, netns: "../x" }).run(req("monitor", { mode: "exit", rc: "0" }));
    expect(ns.reason).toBe('ocf:hapd-test:fake: network namespace "../x" is not a plain name');
  });

  it("bounds the captured output", async () => {
    const fake = new OcfAgent("hapd-test", "fake", { ...opts, output_max_bytes: 4096 });
    const r = await fake.run(req("monitor", { mode: "flood" }));
    expect(r.code).toBe("success");
    expect(r.output_truncated).toBe(true);
    expect(r.stdout.length).toBe(4096);
  });

  it("a missing agent is not installed, with the path", async () => {
    const nope = new OcfAgent("heartbeat", "NoSuchAgent", opts);
    const r = await nope.run(req("start", {}));
    expect(r).toMatchObject({ exec: "not-installed", rc: OCF_RC.ERR_INSTALLED, code: "not-installed" });
    expect(r.reason).toBe(`ocf:heartbeat:NoSuchAgent is not installed: ${sb.ocf_root}/resource.d/heartbeat/NoSuchAgent does not exist`);
    const md = await nope.metadata();
    expect(md.ok).toBe(false);
    const traversal = await new OcfAgent("..", "heartbeat", opts).run(req("start", {}));
    expect(traversal.exec).toBe("not-installed");
    const cls = resolveAgent({ class: "systemd", type: "sshd" });
    expect(cls).toEqual({ ok: false, reason: 'resource class "systemd" is not supported by the executor (ocf, lsb and hapd are)' });
  });
});
