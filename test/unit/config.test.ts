// Bad configuration gets an error that names the file, the field and what is wrong.
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../services/shared/config.ts";
import { nodeConfigYaml, planLab } from "../../services/lab/plan.ts";

const plan = planLab({ mode: "netns", dir: "/tmp/lab", serial: true });
const good = nodeConfigYaml(plan, plan.nodes[0]!);

function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, "/etc/hapd/hapd.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("configuration", () => {
  it("accepts the lab's configuration", () => {
    const c = parseConfig(good, "/tmp/lab/host-a/hapd.yaml");
    expect(c.node).toBe("host-a");
    expect(c.nodes).toHaveLength(3);
    expect(c.serial?.peer).toBe("host-b");
    expect(c.cluster.lost_timeout_ms).toBe(600);
  });

  it.each([
    ["a port out of range", good.replace("port: 5405", "port: 70000"), /nodes\[0\] \(host-a\)\.ring0\.port/],
    ["a bad address", good.replace("address: 10.70.0.2", "address: 10.70.0.300"), /nodes\[1\] \(host-b\)\.ring0\.address: must be an IPv4 address/],
    ["an unknown field", good.replace("wait_for_all: true", "wait_for_all: true\n  wait_for_al: true"), /cluster: .*wait_for_al/],
    ["a node that is not listed", good.replace("node: host-a", "node: host-c"), /node: "host-c" is not one of nodes/],
    ["a duplicate id", good.replace("id: 2", "id: 1"), /nodes\[1\] \(host-b\)\.id: id 1 appears twice/],
    ["a serial peer that is the arbitrator", good.replace("peer: host-b", "peer: arb"), /serial\.peer: the serial line joins the two hosts/],
    ["a loss timeout below three heartbeats", good.replace("lost_timeout_ms: 600", "lost_timeout_ms: 200"), /cluster\.lost_timeout_ms: must be at least 3 heartbeat intervals/],
    ["a wrong type", good.replace("wait_for_all: true", "wait_for_all: yes please"), /cluster\.wait_for_all/],
    ["broken YAML", `${good}\n  - [unclosed`, /line \d+.*YAML syntax/],
  ])("rejects %s, naming the field", (_what, text, pattern) => {
    const e = errorOf(text);
    expect(e.file).toBe("/etc/hapd/hapd.yaml");
    expect(e.message).toMatch(pattern);
  });
});
