// Black-box tests of the hapd binary's subcommands that need no lab.
import { mkdtempSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nodeConfigYaml, planLab } from "../../services/lab/plan.ts";
import { HAPD, run } from "./helpers.ts";
import { existsSync } from "node:fs";

const tmp = mkdtempSync(join(tmpdir(), "hapd-cli-"));

describe.skipIf(!existsSync(HAPD))("hapd command line", () => {
  it.each([[], ["node"], ["status"], ["demo"], ["keygen"], ["version"]])("--help works for %j", (...sub) => {
    const r = run([HAPD, ...sub, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: hapd/);
  });

  it("version prints the release", () => {
    expect(run([HAPD, "version"]).stdout).toMatch(/^hapd \d+\.\d+\.\d+/);
  });

  it("keygen writes a 0600 key and will not overwrite it without --force", () => {
    const key = join(tmp, "cluster.key");
    const r = run([HAPD, "keygen", "--out", key]);
    expect(r.code).toBe(0);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const again = run([HAPD, "keygen", "--out", key]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists; pass --force/);
    expect(run([HAPD, "keygen", "--out", key, "--force"]).code).toBe(0);
  });

  it("an invalid configuration exits 2 naming the file and the field", () => {
    const plan = planLab({ mode: "loopback", dir: tmp, serial: false });
    const file = join(tmp, "bad.yaml");
    writeFileSync(file, nodeConfigYaml(plan, plan.nodes[0]!).replace("lost_timeout_ms: 600", "lost_timeout_ms: -5"));
    const r = run([HAPD, "node", "--config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/cluster\.lost_timeout_ms/);
  });

  it("a missing configuration file exits 2 and says so", () => {
    const r = run([HAPD, "node", "--config", join(tmp, "nope.yaml")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.yaml: cannot read: ENOENT/);
  });

  it("a cluster key readable by others is refused with the fix", () => {
    const plan = planLab({ mode: "loopback", dir: tmp, serial: false, basePort: 25400 });
    const key = plan.keyFile;
    run([HAPD, "keygen", "--out", key, "--force"]);
    chmodSync(key, 0o644);
    const file = join(tmp, "node.yaml");
    writeFileSync(file, nodeConfigYaml(plan, plan.nodes[0]!));
    const r = run([HAPD, "node", "--config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/mode 644 lets others read the cluster key; run: chmod 600/);
  });

  it("status against a node that is not running exits 1 with the reason", () => {
    const r = run([HAPD, "status", "--socket", join(tmp, "none.sock")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no node is running there/);
  });

  it("an unknown option is a usage error, exit 2", () => {
    const r = run([HAPD, "status", "--frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option/);
  });
});
