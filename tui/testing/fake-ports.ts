// Ports for in-process tests: the machine is FIXED_SYSTEM, the node's status is whatever the test
// says, BMC and restart answers are scripted, files are really written (to a temp dir).
import type { StatusReport } from "../../services/node/status.ts";
import type { BmcTarget, ConsolePorts } from "../ports.ts";
import { hashPassword, verifyPassword } from "../setup/password-hash.ts";
import { writeFileSet } from "../setup/write-file-set.ts";
import { FIXED_SYSTEM } from "./fixed-system.ts";

export interface FakeState {
  status: StatusReport | Error;
  bmc: (t: BmcTarget) => Promise<string>;
  restarts: number;
  queries: number;
}

export function fakePorts(state: Partial<FakeState> = {}): ConsolePorts & { state: FakeState } {
  const s: FakeState = { status: new Error("no node is running there"), bmc: async () => "power is on (cipher 17)", restarts: 0, queries: 0, ...state };
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
