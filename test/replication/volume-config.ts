// Node configurations with a replicated volume, for the volume service tests.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface VolNodeOpts {
  dir: string;
  node: "hv-a" | "hv-b";
  addresses: { a: string; b: string };
  ringPorts?: { a: number; b: number };
  peerPort: number;
  sizeMib: number;
  protocol?: "A" | "B" | "C";
  splitBrain?: "disconnect" | "discard-zero-changes";
  resyncRateMib?: number;
  allowTwoPrimaries?: boolean;
}

/** Writes DIR/<node>/hapd.yaml (and its state/run dirs live there too); returns the file. */
export function writeVolumeConfig(o: VolNodeOpts): string {
  const base = join(o.dir, o.node);
  const rp = o.ringPorts ?? { a: 5405, b: 5405 };
  const yaml = `cluster:
  name: voltest
  key_file: ${join(o.dir, "cluster.key")}
node: ${o.node}
state_dir: ${join(base, "state")}
run_dir: ${join(base, "run")}
nodes:
  - { name: hv-a, id: 1, role: host, ring0: { address: ${o.addresses.a}, port: ${rp.a} } }
  - { name: hv-b, id: 2, role: host, ring0: { address: ${o.addresses.b}, port: ${rp.b} } }
  - { name: hv-arb, id: 3, role: arbitrator, ring0: { address: ${o.addresses.a}, port: ${rp.a + 1} } }
volumes:
  - name: vol0
    backing: ${join(base, "vol0.img")}
    meta: ${join(base, "vol0.meta")}
    size_mib: ${o.sizeMib}
    peer_port: ${o.peerPort}
    protocol: ${o.protocol ?? "C"}
    split_brain: ${o.splitBrain ?? "disconnect"}
    resync_rate_mib_s: ${o.resyncRateMib ?? 0}
${o.allowTwoPrimaries ? "    allow_two_primaries: true\n" : ""}`;
  const file = join(base, "hapd.yaml");
  writeFileSync(file, yaml);
  return file;
}
