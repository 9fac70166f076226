// LSB init scripts and built-in agents behind the same Agent interface as OCF.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BuiltinAgent, type BuiltinImpl, LsbAgent, MarkerAgent, resolveAgent } from "../../services/executor/agents/index.ts";
import { lsbStatusToOcf } from "../../services/executor/agents/lsb.ts";
import { type OpRequest, OCF_RC } from "../../services/executor/agents/types.ts";
import { type Sandbox, sandbox } from "./helpers.ts";

let sb: Sandbox;
beforeAll(() => {
  sb = sandbox();
});
afterAll(() => sb.cleanup());

function req(action: OpRequest["action"], params: Record<string, string> = {}, extra: Partial<OpRequest> = {}): OpRequest {
  return { action, instance: "svc", params, timeout_ms: 10_000, interval_ms: 0, ...extra };
}

describe("lsb", () => {
  it("start, status as monitor (3 → not running), stop", async () => {
    const r = resolveAgent({ class: "lsb", type: "hapd-test-lsb" }, { lsb_dir: sb.lsb_dir });
    if (!r.ok) throw new Error(r.reason);
    const lsb = r.agent;
    expect(lsb.spec).toBe("lsb:hapd-test-lsb");
    expect((await lsb.run(req("monitor"))).code).toBe("not-running");
    expect((await lsb.run(req("start"))).code).toBe("success");
    expect((await lsb.run(req("monitor"))).code).toBe("success");
    expect((await lsb.run(req("stop"))).code).toBe("success");
    expect((await lsb.run(req("monitor"))).rc).toBe(OCF_RC.NOT_RUNNING);
    // An LSB script has no promote: unimplemented, without running it.
    expect((await lsb.run(req("promote"))).code).toBe("unimplemented");
  });

  it("maps LSB status codes (1, 2, 3 not running; 4 unknown is an error)", () => {
    expect([0, 1, 2, 3, 4, 150].map(lsbStatusToOcf)).toEqual([0, 7, 7, 7, 1, 1]);
  });

  it("meta-data from the INIT INFO block; a missing script is not installed with its path", async () => {
    const md = await new LsbAgent("hapd-test-lsb", { lsb_dir: sb.lsb_dir }).metadata();
    expect(md.ok && md.metadata.shortdesc).toBe("hapd executor test service");
    const r = await new LsbAgent("no-such-service", { lsb_dir: sb.lsb_dir }).run(req("start"));
    expect(r).toMatchObject({ exec: "not-installed", code: "not-installed" });
    expect(r.reason).toBe(`lsb:no-such-service is not installed: ${sb.lsb_dir}/no-such-service does not exist`);
  });
});

describe("built-in agents", () => {
  it("hapd:marker: start creates the state file, monitor sees it, stop removes it", async () => {
    const r = resolveAgent({ class: "hapd", type: "marker" });
    if (!r.ok) throw new Error(r.reason);
    const marker = r.agent;
    const path = join(sb.dir, "markers", "m1");
    expect((await marker.run(req("monitor", { path }))).code).toBe("not-running");
    expect((await marker.run(req("start", { path }))).code).toBe("success");
    expect(readFileSync(path, "utf8")).toBe("svc\n");
    expect((await marker.run(req("monitor", { path }, { depth: 10 }))).code).toBe("success");
    // Depth 10 notices the file belongs to another instance.
    const other = await marker.run({ ...req("monitor", { path }, { depth: 10 }), instance: "other" });
    expect(other.code).toBe("generic");
    expect(other.reason).toBe(`hapd:marker monitor: ${path} belongs to svc`);
    expect((await marker.run(req("stop", { path }))).code).toBe("success");
    expect(existsSync(path)).toBe(false);
    expect((await marker.run(req("stop", { path }))).code).toBe("success");
  });

  it("hapd:marker: missing path fails validate-all naming it; unknown built-in is not installed", async () => {
    const marker = new BuiltinAgent(new MarkerAgent());
    const v = await marker.run(req("validate-all"));
    expect(v).toMatchObject({ code: "not-configured", reason: 'hapd:marker validate-all: required parameter "path" is missing' });
    expect((await marker.run(req("validate-all", { path: "/nonexistent-dir/x" }))).reason).toBe("hapd:marker validate-all: directory /nonexistent-dir does not exist");
    expect((await marker.run(req("promote", { path: "/tmp/x" }))).code).toBe("unimplemented");
    expect(resolveAgent({ class: "hapd", type: "nope" })).toEqual({ ok: false, reason: "hapd:nope is not installed: no built-in agent of that name" });
  });

  it("a built-in that hangs times out and is told to stop; one that throws is a generic error", async () => {
    let aborted = false;
    const hang: BuiltinImpl = {
      type: "hang",
      metadata: { name: "hang", version: "1", shortdesc: "", parameters: [], actions: [{ name: "start" }, { name: "stop" }] },
      run: (action, ctx) =>
        action === "start"
          ? new Promise((resolve) => ctx.signal.addEventListener("abort", () => {
              aborted = true;
              resolve(0);
            }))
          : Promise.reject(new Error("disk on fire")),
    };
    const agent = new BuiltinAgent(hang);
    const r = await agent.run(req("start", {}, { timeout_ms: 50 }));
    expect(r).toMatchObject({ exec: "timed-out", reason: "hapd:hang start timed out after 50 ms" });
    expect(aborted).toBe(true);
    const s = await agent.run(req("stop"));
    expect(s).toMatchObject({ exec: "error", code: "generic", reason: "hapd:hang stop failed: disk on fire" });
  });
});
