// The `volumes:` section of the node configuration: every mistake names the file and the field.
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../services/shared/config.ts";

const base = (node: string, volumes: string, hosts = 2) => `cluster: { name: t, key_file: k }
node: ${node}
state_dir: /tmp/s
nodes:
  - { name: ha, id: 1, role: host, ring0: { address: 10.0.0.1, port: 5405 } }
${hosts === 2 ? "  - { name: hb, id: 2, role: host, ring0: { address: 10.0.0.2, port: 5405 } }\n" : ""}  - { name: arb, id: 3, role: arbitrator, ring0: { address: 10.0.0.3, port: 5405 } }
volumes:
${volumes}`;

const vol = (name: string, port: number, extra = "") => `  - { name: ${name}, backing: /d/${name}.img, meta: /d/${name}.meta, peer_port: ${port}${extra} }\n`;

function error(text: string): string {
  try {
    parseConfig(text, "n.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  return "";
}

describe("volumes in the node configuration", () => {
  it("accepts a volume with defaults (protocol C, disconnect on split brain, unpaced resync, one Primary)", () => {
    const c = parseConfig(base("ha", vol("vm1", 7789)), "/etc/hapd/n.yaml");
    expect(c.volumes).toEqual([{ name: "vm1", backing: "/d/vm1.img", meta: "/d/vm1.meta", peer_port: 7789, protocol: "C", split_brain: "disconnect", resync_rate_mib_s: 0, allow_two_primaries: false, link_encryption: true, csums: false }]);
    expect(parseConfig(base("ha", vol("vm1", 7789, ", csums: true")), "/etc/hapd/n.yaml").volumes?.[0]?.csums).toBe(true);
  });
  it("refuses what cannot work, naming the field", () => {
    expect(error(base("arb", vol("vm1", 7789)))).toMatch(/n\.yaml: volumes: only a host holds replicated volumes/);
    expect(error(base("ha", vol("vm1", 7789), 1))).toMatch(/volumes: a replicated volume needs exactly two hosts/);
    expect(error(base("ha", vol("vm1", 7789) + vol("vm2", 7789)))).toMatch(/volumes\[1\] \(vm2\)\.peer_port: also used by volumes\[0\] \(vm1\)/);
    expect(error(base("ha", vol("vm1", 7789) + vol("vm1", 7790)))).toMatch(/volumes\[1\] \(vm1\)\.name: also used by/);
    expect(error(base("ha", vol("vm1", 7789, ", protocol: D")))).toMatch(/volumes\[0\] \(vm1\)\.protocol/);
    expect(error(base("ha", vol("vm1", 7789, ", split_brain: discard-older")))).toMatch(/volumes\[0\] \(vm1\)\.split_brain/);
    expect(error(base("ha", vol("vm1", 7789, ", uuid: nope")))).toMatch(/volumes\[0\] \(vm1\)\.uuid: must be a lower-case uuid/);
    expect(error(base("ha", vol("vm1", 7789, ", sizze_mib: 5")))).toMatch(/volumes\[0\] \(vm1\)/);
    expect(error(base("ha", vol("vm1", 7789, ", csums: yes-please")))).toMatch(/volumes\[0\] \(vm1\)\.csums/);
  });
});
