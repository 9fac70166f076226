import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseConfig } from "../../services/shared/config.ts";
import { testEnv, toSummary } from "../testing/wizard-script.ts";
import { planSetupFiles } from "./setup-files.ts";

const hash = { algorithm: "scrypt" as const, N: 1024, r: 8, p: 1, key_bytes: 32, salt: "c2FsdA==", hash: "aGFzaA==" };

describe("the files Apply writes", () => {
  for (const role of ["a", "b", "r"] as const) {
    it(`make a valid node configuration for role ${role}`, () => {
      const env = testEnv("/tmp/x/etc/hapd.yaml");
      const s = toSummary(env, role);
      const files = planSetupFiles(s.values, env, hash);
      expect(files.map((f) => f.path)).toEqual(["/tmp/x/etc/cluster.key", "/tmp/x/etc/bmc-host-a.password", "/tmp/x/etc/bmc-host-b.password", "/tmp/x/etc/appliance.yaml", "/tmp/x/etc/hapd.yaml"]);
      const cfg = parseConfig(files[4]!.data, "/tmp/x/etc/hapd.yaml");
      expect(cfg.node).toBe(role === "r" ? "arb" : `host-${role}`);
      expect(cfg.cluster.key_file).toBe("/tmp/x/etc/cluster.key");
      expect(cfg.state_dir).toBe("/tmp/x/etc/state");
      expect(cfg.nodes.find((n) => n.name === "arb")!.bmc).toBeUndefined();
      expect(cfg.nodes.find((n) => n.name === "host-b")!.bmc).toMatchObject({ address: "10.0.0.12", port: 623, username: "admin", cipher: 17, password_file: "/tmp/x/etc/bmc-host-b.password" });
      expect(cfg.serial === undefined).toBe(role === "r");
      expect(cfg.watchdog).toEqual({ kind: "softdog", load_module: true, timeout_s: 10 });
      for (const f of files.slice(0, 4)) expect(f.mode).toBe(0o600);
      const app = parse(files[3]!.data);
      expect(app.admin_password).toEqual(hash);
      expect(files[0]!.data).toBe(`hapd-cluster-key-v1 ${Buffer.from(env.newKey).toString("base64")}\n`);
    });
  }

  it("puts state, sockets and the log in the standard places for /etc/hapd", () => {
    const env = testEnv("/etc/hapd/hapd.yaml");
    const files = planSetupFiles(toSummary(env, "a").values, env, hash);
    const cfg = parseConfig(files[4]!.data, "/etc/hapd/hapd.yaml");
    expect([cfg.state_dir, cfg.run_dir, cfg.log_file]).toEqual(["/var/lib/hapd", "/run/hapd", "/var/log/hapd/hapd.log"]);
  });

  it("refuses (throws with the field) rather than write a configuration the node would refuse", () => {
    const env = testEnv("/tmp/x/hapd.yaml");
    const s = toSummary(env, "a");
    expect(() => planSetupFiles({ ...s.values, "cluster.name": "Bad Name" }, env, hash)).toThrow(/cluster\.name/);
  });
});

describe("the watchdog section", () => {
  it("follows the driver chosen", async () => {
    const { watchdogSection } = await import("./setup-files.ts");
    expect(watchdogSection({ "watchdog.driver": "/dev/watchdog0", "watchdog.timeout": "30" })).toEqual({ kind: "linux", device: "/dev/watchdog0", timeout_s: 30 });
    expect(watchdogSection({ "watchdog.driver": "none" })).toEqual({ kind: "none" });
    expect(watchdogSection({ role: "host-b", "watchdog.driver": "ipmi", "watchdog.timeout": "5", "bmc.host-b.address": "10.0.0.12:624", "bmc.host-b.user": "root", "bmc.host-b.cipher": "3" })).toEqual({
      kind: "ipmi",
      address: "10.0.0.12",
      port: 624,
      username: "root",
      password_file: "bmc-host-b.password",
      cipher: 3,
      timeout_s: 5,
    });
  });
});
