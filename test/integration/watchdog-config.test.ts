// A node whose watchdog cannot be armed runs (membership is still useful), says why naming the
// device and the setting, and refuses resources; `kind: none` is the operator's explicit choice.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { nodeConfigYaml, planLab } from "../../services/lab/plan.ts";
import { waitFor } from "../../services/lab/lab.ts";
import { queryStatus } from "../../services/node/status-client.ts";
import { HAPD, run } from "./helpers.ts";

let child: ChildProcess | null = null;
afterEach(() => {
  child?.kill("SIGTERM");
  child = null;
});

async function startWith(watchdog: Record<string, unknown>, port: number) {
  const dir = mkdtempSync(join(tmpdir(), "hapd-wd-"));
  const plan = planLab({ mode: "loopback", dir, serial: false, basePort: port });
  run([HAPD, "keygen", "--out", plan.keyFile, "--force"]);
  const node = plan.nodes[2]!; // arb: no serial, no BMC
  mkdirSync(node.dir, { recursive: true });
  writeFileSync(node.config, nodeConfigYaml(plan, node, { watchdog }));
  child = spawn(HAPD, ["node", "--config", node.config], { stdio: "ignore" });
  const socket = join(node.dir, "run", "hapd.sock");
  return waitFor("status with the supervisor's report", 15_000, async () => {
    const s = await queryStatus(socket);
    return s.supervisor ? s : null;
  });
}

describe.skipIf(!existsSync(HAPD))("watchdog configuration", () => {
  it("a missing watchdog device: error names the device, the node refuses resources, status says so", async () => {
    const s = await startWith({ kind: "linux", device: "/dev/watchdog-nope", timeout_s: 10 }, 26400);
    const w = s.supervisor!.watchdog;
    expect(w.armed).toBe(false);
    expect(w.resources_allowed).toBe(false);
    expect(w.error).toMatch(/\/dev\/watchdog-nope/);
    expect(w.error).toMatch(/will not run resources/);
    expect(s.nodes.find((n) => n.self)?.watchdog).toMatchObject({ armed: false, resources_allowed: false });
  });

  it("kind: none is the operator's choice: resources allowed, and status shows the choice", async () => {
    const s = await startWith({ kind: "none" }, 26450);
    expect(s.supervisor!.watchdog).toMatchObject({ choice: "none-by-choice", resources_allowed: true, armed: false });
  });

  it("an unknown watchdog kind is bad input: exit 2 naming the field", () => {
    const dir = mkdtempSync(join(tmpdir(), "hapd-wd-"));
    const plan = planLab({ mode: "loopback", dir, serial: false, basePort: 26500 });
    const file = join(dir, "bad.yaml");
    writeFileSync(file, nodeConfigYaml(plan, plan.nodes[2]!, { watchdog: { kind: "laser", timeout_s: 5 } }));
    const r = run([HAPD, "node", "--config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/watchdog\.kind: must be one of linux, softdog, gpio, i2c, ipmi, none/);
  });
});
