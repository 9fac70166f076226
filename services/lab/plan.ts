// The three-node lab as data: which namespaces, links, addresses and node configurations it
// has. Pure, so the plan is testable without root; lab.ts carries it out.
import { join } from "node:path";
import { stringify } from "yaml";

export type LabMode = "netns" | "loopback";

export interface LabNode {
  name: "host-a" | "host-b" | "arb";
  id: number;
  role: "host" | "arbitrator";
  /** Network namespace, in netns mode. */
  netns: string;
  ring0: { address: string; port: number };
  ring1: { address: string; port: number };
  dir: string;
  config: string;
  serial?: string;
}

export interface LabPlan {
  mode: LabMode;
  dir: string;
  prefix: string;
  switchNs: string;
  keyFile: string;
  nodes: LabNode[];
  serialPair: [string, string] | null;
}

export const RING_SUBNETS = { ring0: "10.70.0", ring1: "10.71.0" } as const;
export const RING_PORT = 5405;

export function planLab(opts: { mode: LabMode; dir: string; prefix?: string; serial: boolean; basePort?: number }): LabPlan {
  const prefix = opts.prefix ?? "";
  const base = opts.basePort ?? 15400;
  const spec = [
    { name: "host-a", id: 1, role: "host" },
    { name: "host-b", id: 2, role: "host" },
    { name: "arb", id: 3, role: "arbitrator" },
  ] as const;
  const serialPair: [string, string] | null = opts.serial ? [join(opts.dir, "serial-host-a"), join(opts.dir, "serial-host-b")] : null;
  const nodes: LabNode[] = spec.map((s) => {
    const netns = opts.mode === "netns";
    const dir = join(opts.dir, s.name);
    const node: LabNode = {
      name: s.name,
      id: s.id,
      role: s.role,
      netns: `${prefix}${s.name}`,
      ring0: netns ? { address: `${RING_SUBNETS.ring0}.${s.id}`, port: RING_PORT } : { address: "127.0.0.1", port: base + s.id * 2 },
      ring1: netns ? { address: `${RING_SUBNETS.ring1}.${s.id}`, port: RING_PORT } : { address: "127.0.0.1", port: base + s.id * 2 + 1 },
      dir,
      config: join(dir, "hapd.yaml"),
    };
    if (serialPair && s.name === "host-a") node.serial = serialPair[0];
    if (serialPair && s.name === "host-b") node.serial = serialPair[1];
    return node;
  });
  return { mode: opts.mode, dir: opts.dir, prefix, switchNs: `${prefix}hapd-sw`, keyFile: join(opts.dir, "cluster.key"), nodes, serialPair };
}

export function nodeConfigYaml(plan: LabPlan, node: LabNode, extra: Record<string, unknown> = {}): string {
  const peerOf = (n: LabNode) => (n.name === "host-a" ? "host-b" : "host-a");
  const doc: Record<string, unknown> = {
    cluster: {
      name: "lab",
      key_file: plan.keyFile,
      wait_for_all: true,
      heartbeat_interval_ms: 100,
      lost_timeout_ms: 600,
    },
    node: node.name,
    state_dir: join(node.dir, "state"),
    run_dir: join(node.dir, "run"),
    nodes: plan.nodes.map((n) => ({ name: n.name, id: n.id, role: n.role, ring0: n.ring0, ring1: n.ring1 })),
    ...(node.serial ? { serial: { device: node.serial, peer: peerOf(node), baud: 115200 } } : {}),
    ...extra,
  };
  return `# hapd lab node ${node.name} (written by hapd demo)\n${stringify(doc)}`;
}

/** The shell-free command list that builds the netns topology: every entry is one `ip` argv. */
export function netnsCommands(plan: LabPlan): string[][] {
  const cmds: string[][] = [];
  const sw = plan.switchNs;
  cmds.push(["netns", "add", sw], ["-n", sw, "link", "set", "lo", "up"]);
  for (const ring of ["ring0", "ring1"] as const) {
    cmds.push(["-n", sw, "link", "add", `br-${ring}`, "type", "bridge", "stp_state", "0", "forward_delay", "0"]);
    cmds.push(["-n", sw, "link", "set", `br-${ring}`, "up"]);
  }
  for (const n of plan.nodes) {
    cmds.push(["netns", "add", n.netns], ["-n", n.netns, "link", "set", "lo", "up"]);
    for (const ring of ["ring0", "ring1"] as const) {
      const swSide = `${n.name}-${ring === "ring0" ? "r0" : "r1"}`;
      cmds.push(["link", "add", "name", ring, "netns", n.netns, "type", "veth", "peer", "name", swSide, "netns", sw]);
      cmds.push(["-n", n.netns, "addr", "add", `${n[ring].address}/24`, "dev", ring]);
      cmds.push(["-n", n.netns, "link", "set", ring, "up"]);
      cmds.push(["-n", sw, "link", "set", swSide, "master", `br-${ring}`]);
      cmds.push(["-n", sw, "link", "set", swSide, "up"]);
    }
  }
  return cmds;
}
