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
  /** The host's simulated BMC (hosts only, when ipmi_sim is available). */
  bmc?: { address: string; port: number; stateDir: string; passwordFile: string };
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

export const BMC_PORT = 9620;

/** `hapd demo --volumes`: the replicated volume every host gets. */
export const LAB_VOLUME = { name: "vol0", size_mib: 256, peer_port: 7789 } as const;

/**
 * The `volumes:` entry of a lab host (none for the arbitrator): a sparse backing file and its
 * metadata in the node's directory, replicated over ring0 (the volume service's default).
 */
export function labVolumes(node: LabNode): Array<Record<string, unknown>> {
  if (node.role !== "host") return [];
  return [
    {
      name: LAB_VOLUME.name,
      backing: join(node.dir, `${LAB_VOLUME.name}.img`),
      meta: join(node.dir, `${LAB_VOLUME.name}.meta`),
      size_mib: LAB_VOLUME.size_mib,
      peer_port: LAB_VOLUME.peer_port,
      protocol: "C",
    },
  ];
}

export function planLab(opts: { mode: LabMode; dir: string; prefix?: string; serial: boolean; basePort?: number; bmc?: boolean }): LabPlan {
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
    if (opts.bmc && s.role === "host") {
      node.bmc = {
        // In netns mode the BMCs sit on the ring0 bridge in the switch namespace: cutting a node's
        // own links leaves its BMC reachable, as a separate management network would.
        address: netns ? `${RING_SUBNETS.ring0}.${100 + s.id}` : "127.0.0.1",
        // Distinct ports even in netns mode: both BMCs share the switch namespace (and bmc-sim its TCP port).
        port: netns ? BMC_PORT + s.id : base + 40 + s.id,
        stateDir: join(dir, "bmc"),
        passwordFile: join(opts.dir, `bmc-${s.name}.password`),
      };
    }
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
    nodes: plan.nodes.map((n) => ({
      name: n.name,
      id: n.id,
      role: n.role,
      ring0: n.ring0,
      ring1: n.ring1,
      // ipmi_sim speaks cipher suite 3 only (no SHA-256): the lab says so explicitly.
      ...(n.bmc ? { bmc: { address: n.bmc.address, port: n.bmc.port, username: "admin", password_file: n.bmc.passwordFile, cipher: 3 } } : {}),
    })),
    ...(node.serial ? { serial: { device: node.serial, peer: peerOf(node), baud: 115200 } } : {}),
    // Each host's watchdog is its own simulated BMC's IPMI watchdog: the lab shows the whole
    // hierarchy (service -> supervisor -> BMC). ipmi_sim 2.0.33 needs a messaging pre-timeout and
    // pets at least 1 s apart (its Reset does not re-arm a running countdown otherwise).
    watchdog: node.bmc
      ? { kind: "ipmi", address: node.bmc.address, port: node.bmc.port, username: "admin", password_file: node.bmc.passwordFile, cipher: 3, action: "hard_reset", timeout_s: 5 }
      : { kind: "none" },
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
  for (const n of plan.nodes) if (n.bmc) cmds.push(["-n", sw, "addr", "add", `${n.bmc.address}/24`, "dev", "br-ring0"]);
  return cmds;
}

/** Where the lab writes a node's PID-1 script (netns mode). */
export function initScriptPath(node: LabNode): string {
  return join(node.dir, "init.sh");
}

/**
 * The argv that "powers on" a node in netns mode: its own PID, mount and UTS namespaces inside its
 * network namespace, with init.sh as PID 1. --kill-child makes unshare's death take the machine
 * with it; SIGKILL of the init makes the kernel kill every process of the node at once, which is
 * what a power cut does to daemons that resource agents detached (the reference harness does the
 * same: ../shared/peers/pacemaker/node-boot.sh).
 */
export function machineArgv(node: LabNode): string[] {
  return ["ip", "netns", "exec", node.netns, "unshare", "-p", "-m", "-u", "--fork", "--kill-child", "--mount-proc", "bash", initScriptPath(node)];
}

/**
 * PID 1 of a simulated machine (netns mode). It names the host, starts `hapd node`, reaps the
 * orphans that detached daemons leave (bash's SIGCHLD handler collects any child, not only its
 * jobs), and exits with hapd's status when hapd exits with a status: a clean stop or an exit 2
 * ends the "machine" too, so nothing hapd started outlives it. hapd killed by a signal leaves
 * the machine running (see below): that is the crashed-daemon case that fencing exists for.
 */
export function nodeInitScript(plan: LabPlan, node: LabNode, command: string[]): string {
  const run = [...command, "node", "--config", node.config].map(shellQuote).join(" ");
  // A private /run and /dev/shm, as each real machine has: resource agents keep pid files there
  // (ocf:heartbeat:anything's /run/anything_<id>.pid), and a shared /run would let host-b's probe
  // read host-a's pid file and `kill -0` an unrelated process of its own. The lab directory
  // usually lives under /run itself, so the new tmpfs is built aside (in the node's directory),
  // the lab directory bound into it, and then moved over /run.
  const underRun = plan.dir.startsWith("/run/") ? plan.dir.slice("/run/".length) : null;
  const scratch = join(node.dir, ".run");
  const privateRun = underRun
    ? [
        `mkdir -p ${shellQuote(scratch)}`,
        `mount -n -t tmpfs -o mode=755 tmpfs ${shellQuote(scratch)}`,
        `mkdir -p ${shellQuote(join(scratch, underRun))} ${shellQuote(join(scratch, "lock"))}`,
        `mount -n --bind ${shellQuote(plan.dir)} ${shellQuote(join(scratch, underRun))}`,
        `mount -n --move ${shellQuote(scratch)} /run`,
      ]
    : ["mount -n -t tmpfs -o mode=755 tmpfs /run", "mkdir -p /run/lock"];
  return [
    "#!/bin/bash",
    `# PID 1 of the simulated machine ${node.name} (written by hapd demo).`,
    `echo ${shellQuote(node.name)} > /proc/sys/kernel/hostname`,
    ...privateRun,
    "mount -n -t tmpfs -o mode=1777 tmpfs /dev/shm",
    // Its own session: the BMC's power-off TERMs host-cmd.sh's process group, and hapd must not
    // see that as a clean stop; the power cut is the SIGKILL of this init.
    `setsid ${run} >> ${shellQuote(join(node.dir, "node.log"))} 2>&1 < /dev/null &`,
    "main=$!",
    // A PID 1 that ignores TERM/HUP/INT: only SIGKILL (the power cut) or hapd's exit ends it.
    "trap '' TERM HUP INT",
    "while :; do",
    "  sleep 5 & tick=$!",
    '  wait -n -p done $main "$tick"; rc=$?',
    '  if [ -n "$main" ] && [ "${done:-}" = "$main" ]; then',
    // Killed by a signal (kill -9, a crash) hapd is gone but the machine runs on, its resources
    // too, as a real one would until it is fenced or its watchdog resets it.
    '    if [ "$rc" -lt 128 ]; then kill "$tick" 2>/dev/null; exit "$rc"; fi',
    "    main=",
    "  fi",
    "done",
    "",
  ].join("\n");
}

/**
 * The script sim-host runs while the chassis is on: it starts the node. In netns mode the node is
 * a whole machine (machineArgv); a power-off TERMs this script, which SIGKILLs the machine's PID 1
 * and waits until the kernel has killed every process in it. In loopback mode (no namespaces) hapd
 * runs in its own session and is killed with SIGKILL, as before.
 */
export function hostCmdScript(plan: LabPlan, node: LabNode, command: string[]): string {
  if (plan.mode === "netns") {
    return [
      "#!/bin/bash",
      "# Run by the simulated host while its chassis is on (written by hapd demo). Power-off TERMs",
      "# this script: SIGKILL of the machine's PID 1 is the power cut (unshare waits for it, and",
      "# the kernel reaps the whole PID namespace before PID 1 is gone).",
      `trap 'i=$(cat /proc/$pid/task/$pid/children 2>/dev/null); kill -9 \${i:-$pid} 2>/dev/null; wait "$pid"; exit 0' TERM`,
      `${machineArgv(node).map(shellQuote).join(" ")} >> ${shellQuote(join(node.dir, "machine.log"))} 2>&1 < /dev/null &`,
      "pid=$!",
      `echo "$pid" > ${shellQuote(join(node.dir, "machine.pid"))}`,
      `wait "$pid"`,
      "",
    ].join("\n");
  }
  const run = [...command, "node", "--config", node.config].map(shellQuote).join(" ");
  return [
    "#!/bin/bash",
    "# Run by the simulated host while its chassis is on. A power-off TERMs this script; hapd runs",
    "# in its own session and is then killed with SIGKILL, as a power cut would, not stopped cleanly.",
    `trap 'kill -9 "$pid" 2>/dev/null; exit 0' TERM`,
    `setsid ${run} >> ${shellQuote(join(node.dir, "node.log"))} 2>&1 < /dev/null &`,
    "pid=$!",
    `echo "$pid" > ${shellQuote(join(node.dir, "node.pid"))}`,
    `wait "$pid"`,
    "",
  ].join("\n");
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}
