// Ports for in-process tests: the machine is FIXED_SYSTEM, the node's status is whatever the test
// says, BMC and restart answers are scripted, files are really written (to a temp dir).
import type { CrmReport, StatusReport, VolumeReport } from "../../services/node/status.ts";
import type { BmcTarget, CommandReply, ConsolePorts, NodeFlags, ResourceCommand } from "../ports.ts";
import { hashPassword, verifyPassword } from "../setup/password-hash.ts";
import { writeFileSet } from "../setup/write-file-set.ts";
import { FIXED_SYSTEM } from "./fixed-system.ts";

export interface FakeState {
  status: StatusReport | Error;
  bmc: (t: BmcTarget) => Promise<string>;
  restarts: number;
  queries: number;
  /** Every node-flags / resource command sent, in order. */
  commands: SentCommand[];
  /** The node's answer to a command (default: done). Throw for "no answer". */
  reply: (c: SentCommand) => CommandReply | Promise<CommandReply>;
}

export type SentCommand = { cmd: "node-flags"; socket: string; node: string; flags: NodeFlags } | { cmd: "resource"; socket: string; command: ResourceCommand };

export function fakePorts(state: Partial<FakeState> = {}): ConsolePorts & { state: FakeState } {
  const s: FakeState = { status: new Error("no node is running there"), bmc: async () => "power is on (cipher 17)", restarts: 0, queries: 0, commands: [], reply: () => ({ ok: true }), ...state };
  const send = async (c: SentCommand): Promise<CommandReply> => {
    s.commands.push(c);
    return s.reply(c);
  };
  return {
    state: s,
    probeSystem: () => FIXED_SYSTEM,
    randomKey: () => new Uint8Array(32).fill(9),
    testBmc: (t) => s.bmc(t),
    testWatchdog: async (cfg) => `test double: would arm ${cfg.kind} with ${cfg.timeout_s} s (tests never arm a real watchdog)`,
    hashPassword: (p) => hashPassword(p, { N: 1024, r: 8, p: 1, key_bytes: 32 }),
    verifyPassword,
    writeFiles: (files) => writeFileSet(files),
    queryStatus: async () => {
      s.queries++;
      if (s.status instanceof Error) throw s.status;
      return structuredClone(s.status);
    },
    restartServices: async () => {
      s.restarts++;
      return "hapd.service restarted";
    },
    setNodeFlags: (socket, node, flags) => send({ cmd: "node-flags", socket, node, flags }),
    resourceCommand: (socket, command) => send({ cmd: "resource", socket, command }),
  };
}

export function sampleStatus(over: Partial<StatusReport> = {}): StatusReport {
  return {
    node: "host-a",
    cluster: "prod",
    version: "0.1.0",
    incarnation: 1,
    uptime_s: 42,
    view: { id: 7, members: ["host-a", "host-b", "arb"] },
    quorum: { quorate: true, votes: 3, expected: 3, needed: 2, reason: "", wait_for_all: true, established: true },
    nodes: [
      { name: "host-a", id: 1, role: "host", state: "online", reachable: true, links: { ring0: "up", ring1: "up", serial: "up" }, self: true },
      { name: "host-b", id: 2, role: "host", state: "online", reachable: true, links: { ring0: "up", ring1: "up", serial: "up" } },
      { name: "arb", id: 3, role: "arbitrator", state: "online", reachable: true, links: { ring0: "up", ring1: "up" } },
    ],
    counters: { sent: 1200, received: 2300, dropped: {} },
    ...over,
  };
}

/** A resource manager report: a promotable clone on both hosts, a VM that failed once on host-b
 * and was moved back to host-a, a stopped address. */
export function sampleCrm(over: Partial<CrmReport> = {}): CrmReport {
  return {
    config_version: 4,
    dc: true,
    transition: { state: "idle", actions: 0, last_outcome: "complete" },
    resources: [
      { id: "vol-r0", agent: "hapd:volume", parent: "vol-r0-clone", active: [{ node: "host-a", role: "Promoted" }, { node: "host-b", role: "Unpromoted" }], fail_counts: {}, last_failure: null, managed: true, target_role: null, moved_to: null },
      {
        id: "vm-db",
        agent: "ocf:heartbeat:VirtualDomain",
        parent: null,
        active: [{ node: "host-a", role: "Started" }],
        fail_counts: { "host-b": 1 },
        last_failure: { node: "host-b", op: "monitor", rc: 7, reason: "not running", at_ms: Date.UTC(2026, 10, 22, 9, 14, 5) },
        managed: true,
        target_role: null,
        moved_to: "host-a",
      },
      { id: "vm-web", agent: "ocf:heartbeat:VirtualDomain", parent: null, active: [{ node: "host-b", role: "Started" }], fail_counts: {}, last_failure: null, managed: true, target_role: null, moved_to: null },
      { id: "ip-mgmt", agent: "ocf:heartbeat:IPaddr2", parent: null, active: [], fail_counts: {}, last_failure: null, managed: true, target_role: "Stopped", moved_to: null },
    ],
    node_flags: { "host-a": { standby: false, maintenance: false }, "host-b": { standby: true, maintenance: false }, arb: { standby: false, maintenance: false } },
    warnings: [],
    ...over,
  };
}

export function sampleVolume(over: Partial<VolumeReport> = {}): VolumeReport {
  return { name: "r0", role: "Primary", disk: "UpToDate", peer_disk: "Inconsistent", connection: "SyncSource", sync_percent: 45.2, eta_s: 192, ...over };
}
