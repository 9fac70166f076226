// The resource manager end to end on the loopback lab (three real nodes, simulated BMCs, one
// machine): the compiled binary, Debian's ocf:heartbeat:Dummy, the CLI an operator types.
// Each step waits for the state it expects and fails naming it; no timing is asserted.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResourceReport, StatusReport } from "../../services/node/status.ts";
import { HAPD, must, run, until } from "./helpers.ts";

const dummy = "/usr/lib/ocf/resource.d/heartbeat/Dummy";
const why = !existsSync(HAPD) ? "dist/hapd is not built" : !existsSync(dummy) ? "resource-agents is not installed" : null;

const YAML = `
defaults:
  resource: { stickiness: 100, migration_threshold: 2 }
resources:
  - id: d1
    agent: "ocf:heartbeat:Dummy"
    operations:
      - { name: monitor, interval: 1s, timeout: 10s }
constraints:
  - { location: d1-prefers-a, resource: d1, node: host-a, score: 50 }
`;

describe.skipIf(why !== null)("resource manager on the loopback lab", () => {
  let top = "";
  let dir = "";
  const cli = (...args: string[]) => run([HAPD, ...args, "--lab-dir", dir]);
  const rsc = (s: StatusReport, id = "d1"): ResourceReport | undefined => s.crm?.resources.find((r) => r.id === id);
  const runsOn = (node: string) => (s: StatusReport) => {
    const r = rsc(s);
    return r !== undefined && r.active.length === 1 && r.active[0]!.node === node && s.crm?.transition?.state !== "running";
  };
  const dc = async (): Promise<string> => (await until(dir, "host-b", "a DC", (s) => s.cib?.dc !== null && s.cib?.dc !== undefined)).cib!.dc!;

  beforeAll(() => {
    top = mkdtempSync(join(tmpdir(), "hapd-crm-"));
    dir = join(top, "lab");
    must([HAPD, "demo", "--loopback", "--dir", dir]);
  }, 120_000);

  afterAll(() => {
    run([HAPD, "demo", "--down", "--dir", dir]);
    rmSync(top, { recursive: true, force: true });
  });

  it("bad configurations are refused with the path and the reason, exit 2, nothing committed", () => {
    const bad = join(top, "bad.yaml");
    writeFileSync(bad, YAML.replace("interval: 1s", "interval: often"));
    let r = cli("crm", "configure", bad, "--node", "host-a");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/resources\[0\]\.operations\[0\]\.interval: 'often' is not a duration/);
    writeFileSync(bad, `${YAML}  - { order: a, first: d1, then: d2 }\n  - { order: b, first: d2, then: d1 }\nresources_extra: 1\n`);
    r = cli("crm", "configure", bad, "--node", "host-a");
    expect(r.code).toBe(2);
    const loop = join(top, "loop.yaml");
    writeFileSync(
      loop,
      `resources:\n  - { id: d1, agent: "ocf:heartbeat:Dummy" }\n  - { id: d2, agent: "ocf:heartbeat:Dummy" }\nconstraints:\n  - { order: o1, first: d1, then: d2 }\n  - { order: o2, first: d2, then: d1 }\n`,
    );
    r = cli("crm", "configure", loop, "--node", "host-a");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ordering loop: d\d start -> d\d start -> d\d start/);
    const show = JSON.parse(must([HAPD, "crm", "show", "--json", "--node", "host-b", "--lab-dir", dir]));
    expect(show.version).toBe(0);
  });

  it("a configured resource starts on its preferred host, probed first on both", async () => {
    const f = join(top, "crm.yaml");
    writeFileSync(f, YAML);
    expect(cli("crm", "configure", f, "--node", "host-a").code).toBe(0);
    const s = await until(dir, "host-b", "d1 running on host-a", runsOn("host-a"));
    expect(rsc(s)).toMatchObject({ agent: "ocf:heartbeat:Dummy", fail_counts: {}, managed: true });
    expect(s.crm!.resources).toHaveLength(1);
  }, 60_000);

  it("a failing monitor restarts the resource in place, then after migration-threshold moves it", async () => {
    const stateFile = join(dir, "host-a", "run", "resource-agents", "Dummy-d1.state");
    expect(existsSync(stateFile), stateFile).toBe(true);
    rmSync(stateFile);
    let s = await until(dir, "host-b", "d1 failed once and restarted on host-a", (x) => rsc(x)?.fail_counts["host-a"] === 1 && runsOn("host-a")(x));
    expect(rsc(s)!.last_failure).toMatchObject({ node: "host-a", rc: 7 });
    await until(dir, "host-b", "state file back", () => existsSync(stateFile));
    rmSync(stateFile);
    s = await until(dir, "host-b", "d1 moved to host-b after 2 failures", (x) => rsc(x)?.fail_counts["host-a"] === 2 && runsOn("host-b")(x));
    // cleanup forgets the failures; stickiness keeps it on host-b.
    expect(cli("resource", "cleanup", "d1", "--node", "host-a").code).toBe(0);
    s = await until(dir, "host-b", "failures cleaned, d1 stays on host-b", (x) => Object.keys(rsc(x)?.fail_counts ?? { x: 1 }).length === 0 && runsOn("host-b")(x));
    expect(rsc(s)!.last_failure).toBeNull();
  }, 90_000);

  it("move and clear; standby moves it off, online lets it stay (stickiness)", async () => {
    expect(cli("resource", "move", "d1", "host-a", "--node", "host-b").code).toBe(0);
    let s = await until(dir, "host-b", "d1 moved to host-a", runsOn("host-a"));
    expect(rsc(s)!.moved_to).toBe("host-a");
    expect(cli("resource", "clear", "d1", "--node", "host-b").code).toBe(0);
    const refused = cli("resource", "move", "d1", "arb", "--node", "host-b");
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/arbitrator runs no resources/);
    expect(cli("resource", "move", "nope", "host-a", "--node", "host-b").code).toBe(2);

    expect(cli("node", "standby", "host-a", "--node", "host-b").code).toBe(0);
    s = await until(dir, "host-b", "d1 on host-b while host-a is in standby", runsOn("host-b"));
    expect(s.crm!.node_flags["host-a"]).toEqual({ standby: true, maintenance: false });
    expect(cli("node", "online", "host-a", "--node", "host-b").code).toBe(0);
    s = await until(dir, "host-b", "host-a online again", (x) => x.crm?.node_flags["host-a"]?.standby === false && x.crm?.transition?.state !== "running");
    // Give the DC a re-plan: the resource must stay where it is.
    await until(dir, "host-a", "a quiet DC", (x) => x.crm?.transition?.state !== "running");
    expect(rsc(s)!.active).toEqual([{ node: "host-b", role: "Started" }]);
  }, 90_000);

  it("restart stops it everywhere and starts it again (where it prefers to run: stickiness ended with the stop)", async () => {
    expect(cli("resource", "restart", "d1", "--node", "host-a").code).toBe(0);
    await until(dir, "host-b", "d1 running again after the restart", runsOn("host-a"));
  }, 60_000);

  it("kill -9 of the node running it: the peer fences it, then starts the resource on the survivor", async () => {
    // Put it on host-a first so the node that dies is the one running it.
    expect(cli("resource", "move", "d1", "host-a", "--node", "host-b").code).toBe(0);
    await until(dir, "host-b", "d1 on host-a", runsOn("host-a"));
    expect(cli("resource", "clear", "d1", "--node", "host-b").code).toBe(0);
    await dc();
    const cfg = join(dir, "host-a", "hapd.yaml");
    run(["pkill", "-9", "-f", "--", `--config ${cfg}`]);
    const s = await until(dir, "host-b", "d1 recovered on host-b", runsOn("host-b"), 30_000);
    expect(s.view.members.sort()).toEqual(["arb", "host-b"]);
    const history = JSON.parse(must([HAPD, "fence", "history", "--json", "--node", "host-b", "--lab-dir", dir])) as Array<{ target: string; phase: string; result?: string }>;
    expect(history.some((e) => e.target === "host-a" && e.phase === "done" && e.result === "ok")).toBe(true);
  }, 60_000);

  it("an agent that does not exist fails its operation with the reason; the other resource is unaffected", async () => {
    const f = join(top, "crm2.yaml");
    writeFileSync(f, `${YAML}  - { location: ghost-on-b, resource: ghost, node: host-b, score: 10 }\n`.replace("resources:\n", 'resources:\n  - { id: ghost, agent: "ocf:heartbeat:NoSuchAgent" }\n'));
    expect(cli("crm", "configure", f, "--node", "host-b").code).toBe(0);
    const s = await until(dir, "host-b", "ghost failed, d1 still on host-b", (x) => rsc(x, "ghost")?.last_failure !== null && rsc(x, "ghost") !== undefined && runsOn("host-b")(x));
    expect(rsc(s, "ghost")!.active).toEqual([]);
    expect(rsc(s, "ghost")!.last_failure!.reason).toMatch(/NoSuchAgent is not installed/);
  }, 60_000);

  it("an allow-migrate resource moves by migrate_to / migrate_from, not stop and start", async () => {
    const f = join(top, "mig.yaml");
    writeFileSync(
      f,
      `resources:\n  - id: m1\n    agent: "ocf:heartbeat:Dummy"\n    allow_migrate: true\n    operations:\n      - { name: monitor, interval: 2s }\nconstraints:\n  - { location: m1-on-b, resource: m1, node: host-b, score: 50 }\n`,
    );
    expect(cli("crm", "configure", f, "--node", "host-b").code).toBe(0);
    const m1 = (s: StatusReport) => s.crm?.resources.find((r) => r.id === "m1");
    await until(dir, "host-b", "m1 on host-b", (x) => m1(x)?.active.length === 1 && m1(x)!.active[0]!.node === "host-b" && x.crm?.transition?.state !== "running");
    // host-a is gone (fenced by the previous test): bring it back so there is somewhere to migrate to.
    must([HAPD, "demo", "--dir", dir, "--restart", "host-a"]);
    await until(dir, "host-b", "host-a back", (x) => x.view.members.length === 3, 60_000);
    expect(cli("resource", "move", "m1", "host-a", "--node", "host-b").code).toBe(0);
    await until(dir, "host-b", "m1 migrated to host-a", (x) => m1(x)?.active.length === 1 && m1(x)!.active[0]!.node === "host-a" && x.crm?.transition?.state !== "running");
    const log = readFileSync(join(dir, "host-a", "node.log"), "utf8") + readFileSync(join(dir, "host-b", "node.log"), "utf8");
    expect(log).toMatch(/migrate_to m1 on host-b: ok/);
    expect(log).toMatch(/migrate_from m1 on host-a: ok/);
    expect(log).not.toMatch(/start m1 on host-a/);
  }, 120_000);
});
