import { describe, expect, it } from "vitest";
import { CrmConfigError, parseCrmYaml } from "./yaml-config.ts";

const good = `
cluster:
  stonith: true
  no_quorum_policy: stop
nodes:
  - name: host-a
    utilization: { cpu: 8 }
  - name: host-b
defaults:
  resource: { stickiness: 100, migration_threshold: 3 }
resources:
  - id: fence-ipmi
    agent: stonith:fence_ipmilan
    params: { ip: 10.72.0.1 }
  - id: vm1
    agent: hapd:vm
    allow_migrate: true
    utilization: { cpu: 2 }
    operations:
      - { name: monitor, interval: 10s, timeout: 20s, depth: 10 }
  - group: web
    members:
      - { id: ip, agent: "ocf:heartbeat:IPaddr2", params: { ip: 10.70.0.100 } }
      - { id: httpd, agent: "ocf:heartbeat:anything", failure_timeout: 60s }
  - clone: drbd
    promotable: true
    promoted_max: 1
    resource: { id: drbd-r, agent: "ocf:linbit:drbd" }
constraints:
  - { location: web-prefers-a, resource: web, node: host-a, score: 50 }
  - { colocation: vm1-on-primary, resource: vm1, with: drbd, with_role: Promoted, score: INFINITY }
  - { order: promote-then-vm1, first: drbd, first_action: promote, then: vm1, then_action: start }
`;

function err(text: string): CrmConfigError {
  try {
    parseCrmYaml(text, "crm.yaml");
  } catch (e) {
    if (e instanceof CrmConfigError) return e;
    throw e;
  }
  throw new Error("expected an error");
}

describe("the project's resource configuration (YAML)", () => {
  it("parses into the model", () => {
    const c = parseCrmYaml(good, "crm.yaml");
    expect(c.properties).toMatchObject({ "stonith-enabled": "true", "no-quorum-policy": "stop" });
    expect(c.rscDefaults).toEqual({ "resource-stickiness": "100", "migration-threshold": "3" });
    const vm = c.resources[1]!;
    expect(vm).toMatchObject({ kind: "primitive", class: "hapd", type: "vm", meta: { "allow-migrate": "true" } });
    expect(vm.kind === "primitive" && vm.ops[0]).toMatchObject({ name: "monitor", interval_ms: 10_000, params: { OCF_CHECK_LEVEL: "10" } });
    expect(c.resources[3]).toMatchObject({ kind: "clone", promotable: true, meta: { "promoted-max": "1", promotable: "true" } });
    expect(c.constraints[1]).toMatchObject({ kind: "colocation", withRscRole: "Promoted", score: 1_000_000 });
  });

  it("names the path of a bad value", () => {
    expect(err(good.replace("interval: 10s", "interval: often")).message).toBe("crm.yaml: resources[1].operations[0].interval: 'often' is not a duration (e.g. 10s, 500ms, 2m)");
    expect(err(good.replace("score: 50", "score: lots")).message).toBe("crm.yaml: constraints[0].score: 'lots' is not a score (an integer, INFINITY or -INFINITY)");
    expect(err(good.replace("agent: hapd:vm", "agent: vm")).message).toMatch(/^crm\.yaml: resources\[1\]\.agent: must be class:provider:type/);
    expect(err(good.replace("allow_migrate: true", "allow_migrate: true\n    colour: blue")).message).toMatch(/^crm\.yaml: resources\[1\]: Unrecognized key/);
  });

  it("rejects loops at configure time and names the loop", () => {
    const loop = `${good}  - { order: vm1-then-ip, first: vm1, then: web }\n  - { order: web-then-vm1, first: web, then: vm1 }\n`;
    expect(err(loop).message).toMatch(/ordering loop: .*vm1 start.*web/);
    const col = `${good}  - { colocation: a, resource: web, with: vm1, score: 10 }\n  - { colocation: b, resource: vm1, with: web, score: 10 }\n`;
    expect(err(col).message).toMatch(/colocation loop: (vm1 -> web -> vm1|web -> vm1 -> web)/);
  });

  it("rejects a migratable guest depending on a resource that cannot migrate", () => {
    const bad = `${good}  - { order: httpd-then-vm1, first: web, then: vm1 }\n`;
    expect(err(bad).message).toMatch(/constraints\[3\] \(order 'httpd-then-vm1'\): migratable resource 'vm1' may depend only on migratable resources, but 'web' cannot migrate/);
  });

  it("reports YAML syntax errors with their position", () => {
    expect(err("resources:\n  - id: a\n   agent: x").message).toMatch(/^crm\.yaml: line \d+, column \d+: /);
  });
});
