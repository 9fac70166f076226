import { describe, expect, it } from "vitest";
import { drive, testEnv, toSummary } from "../testing/wizard-script.ts";
import { currentStep, initialWizard, reduceWizard } from "./wizard-reducer.ts";

const env = testEnv();
const stepOf = (s: Parameters<typeof currentStep>[0]) => currentStep(s, env).step.id;

describe("wizard reducer", () => {
  it("keeps the focus on a field whose value is refused, with the reason under it", () => {
    let s = drive(initialWizard(env), env, "<enter>", "<clear>", "Box", "<tab>");
    expect(s.focus).toBe("hostname");
    expect(s.errors.hostname).toBe("use lower-case letters");
    s = drive(s, env, "<clear>", "box", "<tab>");
    expect(s.focus).toBe("role");
    expect(s.errors.hostname).toBeUndefined();
  });

  it("refuses to leave a step with a field never visited, and focuses that field", () => {
    let s = drive(initialWizard(env), env, "<enter>", "<clear>", "box", "<tab>");
    s = reduceWizard(s, { type: "enter" }, env);
    expect(stepOf(s)).toBe("identity");
    expect(s.errors.role).toContain("choose the role");
  });

  it("goes back a step with Esc, keeping what was entered", () => {
    let s = drive(initialWizard(env), env, "<enter>", "<clear>", "box", "<tab>", "r", "<enter>");
    expect(stepOf(s)).toBe("management");
    s = drive(s, env, "<esc>");
    expect(stepOf(s)).toBe("identity");
    expect(s.values.hostname).toBe("box");
    expect(s.values.role).toBe("arb");
  });

  it("shows the static address fields only for a static address", () => {
    let s = drive(initialWizard(env), env, "<enter>", "<clear>", "box", "<tab>", "a", "<enter>");
    const ids = () => currentStep(s, env).step.fields.map((f) => f.id);
    expect(ids()).toEqual(["mgmt.iface", "mgmt.mode", "mgmt.vlan"]);
    s = drive(s, env, "<tab>", "s");
    expect(ids()).toEqual(["mgmt.iface", "mgmt.mode", "mgmt.address", "mgmt.gateway", "mgmt.dns", "mgmt.vlan"]);
  });

  it("gives the arbitrator no serial line, no disks and no BMC watchdog", () => {
    const s = toSummary(env, "r");
    const steps = currentStep(s, env).steps.map((x) => x.id);
    expect(steps).not.toContain("disks");
    expect(s.values["serial.device"]).toBeUndefined();
  });

  it("picks with option keys, refuses disabled options and unknown keys", () => {
    let s = toSummary(env, "a");
    s = drive(s, env, "<esc>", "<esc>", "<esc>");
    expect(stepOf(s)).toBe("disks");
    s = drive(s, env, "1");
    expect(s.errors.disks).toBe("sda is in use: mounted at /");
    s = drive(s, env, "9");
    expect(s.errors.disks).toContain("press a disk's number");
    expect(s.values.disks).toBe("/dev/sdb");
    s = drive(s, env, "2");
    expect(s.values.disks).toBe("");
  });

  it("asks for the BMC fields before a Test, and puts the Test in pending", () => {
    let s = toSummary(env, "a");
    while (stepOf(s) !== "fencing") s = drive(s, env, "<esc>");
    s = drive(s, env, "<tab>", "<tab>", "<clear>", "<tab>", "<tab>", "t");
    expect(s.focus).toBe("bmc.host-a.password");
    expect(s.pending).toBeNull();
    s = drive(s, env, "pw", "<tab>", "<tab>", "t");
    expect(s.pending?.effect).toEqual({ kind: "bmc-test", field: "bmc.host-a.test", node: "host-a" });
    expect(s.results["bmc.host-a.test"]?.state).toBe("running");
    s = reduceWizard(s, { type: "result", field: "bmc.host-a.test", ok: false, text: "no answer" }, env);
    expect(s.results["bmc.host-a.test"]).toEqual({ state: "failed", text: "no answer" });
    // Changing a BMC setting forgets the old result.
    s = drive(s, env, "<prev>", "<prev>", "x");
    expect(s.results["bmc.host-a.test"]).toBeUndefined();
  });

  it("applies from the summary, and returns to it with the reason when Apply fails", () => {
    let s = toSummary(env, "b");
    s = reduceWizard(s, { type: "enter" }, env);
    expect(s.phase).toBe("applying");
    expect(s.pending?.effect).toEqual({ kind: "apply" });
    // Keys are ignored while applying.
    expect(reduceWizard(s, { type: "back" }, env)).toBe(s);
    const failed = reduceWizard(s, { type: "apply-failed", error: "cannot write /etc/hapd/hapd.yaml: EROFS" }, env);
    expect(failed.phase).toBe("editing");
    expect(failed.applyError).toContain("EROFS");
    const done = reduceWizard(s, { type: "applied", files: ["/x"] }, env);
    expect(done.phase).toBe("applied");
    expect(reduceWizard(done, { type: "enter" }, env).phase).toBe("finished");
  });

  it("refuses a join token with a typo and checks the member address against the peers", () => {
    let s = initialWizard(env);
    s = drive(s, env, "<enter>", "<clear>", "box", "<tab>", "b", "<enter>", "<enter>", "<enter>", "<enter>");
    s = drive(s, env, "<tab>", "10.70.0.2/24", "<tab>", "0", "<tab>", "<enter>", "<clear>", "/dev/null", "<enter>");
    expect(stepOf(s)).toBe("cluster");
    const token = env.newToken;
    const typo = token.slice(0, 5) + (token[5] === "Q" ? "R" : "Q") + token.slice(6);
    s = drive(s, env, "j", "<tab>", "prod", "<tab>", typo, "<tab>");
    expect(s.errors["cluster.token"]).toContain("mistyped");
    s = drive(s, env, "<clear>", token, "<tab>", "10.70.0.7", "<enter>");
    expect(stepOf(s)).toBe("peers");
    s = drive(s, env, "10.70.0.1", "<tab>", "10.70.0.3", "<enter>");
    expect(s.errors["peer.host-a.ring0"]).toContain("(10.70.0.7) is none of these");
  });
});
