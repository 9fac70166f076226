// Everything the console does to the world goes through these ports: the real ones are here,
// tests pass their own. Screens stay pure; controllers call ports and dispatch the outcomes.
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { IpmiClient } from "../ipmi/client.ts";
import { queryStatus, requestNode } from "../services/node/status-client.ts";
import type { StatusReport } from "../services/node/status.ts";
import { hashPassword, type PasswordHash, verifyPassword } from "./setup/password-hash.ts";
import type { PlannedFile } from "./setup/setup-files.ts";
import { type SystemSnapshot, probeSystem } from "./setup/system-probe.ts";
import { testWatchdogDriver } from "./setup/watchdog-test.ts";
import type { DriverConfig } from "../services/watchdog/index.ts";
import { writeFileSet } from "./setup/write-file-set.ts";

export interface BmcTarget {
  address: string;
  port: number;
  user: string;
  password: string;
  cipher: 17 | 3;
}

/** What `node-flags` sets; an absent flag is left as the CIB has it (online = both false). */
export interface NodeFlags {
  standby?: boolean;
  maintenance?: boolean;
}

/** The resource commands of the node's socket (`{cmd: "resource", action, ...}`). */
export type ResourceCommand =
  | { action: "move"; resource: string; node: string }
  | { action: "clear"; resource: string }
  | { action: "cleanup"; resource: string; node?: string }
  | { action: "restart"; resource: string };

/** The node's answer to a command: done, or refused with its reason. A node that cannot be asked
 * at all is a rejected promise instead, so the screen can tell "refused" from "no answer". */
export type CommandReply = { ok: true } | { ok: false; error: string };

export interface ConsolePorts {
  probeSystem(): SystemSnapshot;
  randomKey(): Uint8Array;
  /** Asks the BMC for its power status. Resolves with a short line; rejects with the reason. */
  testBmc(t: BmcTarget): Promise<string>;
  /** Arms the watchdog and disarms it again. Resolves with a short line; rejects with the reason.
   * `bmcPassword` is the BMC password typed in the wizard (the file is not written yet). */
  testWatchdog(config: DriverConfig, bmcPassword: string | null): Promise<string>;
  hashPassword(password: string): Promise<PasswordHash>;
  verifyPassword(password: string, stored: PasswordHash): Promise<boolean>;
  writeFiles(files: PlannedFile[]): void;
  queryStatus(socket: string): Promise<StatusReport>;
  /** Restarts the node's services through its supervisor. Resolves with what happened; rejects with the reason. */
  restartServices(config: { run_dir: string }): Promise<string>;
  /** Records standby / maintenance of a node in the CIB through this node's socket. */
  setNodeFlags(socket: string, node: string, flags: NodeFlags): Promise<CommandReply>;
  /** Moves, clears the move of, cleans up or restarts a resource through this node's socket. */
  resourceCommand(socket: string, command: ResourceCommand): Promise<CommandReply>;
}

export async function testBmcWithIpmi(t: BmcTarget): Promise<string> {
  const client = await IpmiClient.open({
    host: t.address,
    port: t.port,
    username: t.user,
    password: t.password,
    cipher: t.cipher,
    request_timeout_ms: 1000,
    max_attempts: 3,
    login_timeout_ms: 6000,
    command_timeout_ms: 4000,
  });
  try {
    const power = await client.powerStatus();
    return `power is ${power} (cipher ${client.cipherSuite ?? t.cipher})`;
  } finally {
    await client.close();
  }
}

async function restartThroughSupervisor(config: { run_dir: string }): Promise<string> {
  const { requestRestart } = await import("../services/supervisor/client.ts");
  const names = await requestRestart(join(config.run_dir, "supervisor.sock"));
  return names.length ? `restarting ${names.join(", ")}: they leave the cluster cleanly and come back` : "no service was running to restart";
}

async function commandNode(socket: string, request: Record<string, unknown>): Promise<CommandReply> {
  // The node answers once the CIB has committed the change (or refused it): this can take a few
  // seconds while a DC is elected, hence requestNode's long default timeout; a restart waits for
  // the resource to stop (up to 120 s on the node) before it answers.
  const r = await requestNode(socket, request, request.action === "restart" ? 150_000 : undefined);
  return r.ok ? { ok: true } : { ok: false, error: r.error ?? "refused, without a reason" };
}

export const realPorts: ConsolePorts = {
  probeSystem,
  randomKey: () => new Uint8Array(randomBytes(32)),
  testBmc: testBmcWithIpmi,
  testWatchdog: testWatchdogDriver,
  hashPassword: (p) => hashPassword(p),
  verifyPassword,
  writeFiles: (files) => writeFileSet(files),
  queryStatus: (socket) => queryStatus(socket, 2000),
  restartServices: restartThroughSupervisor,
  setNodeFlags: (socket, node, flags) => commandNode(socket, { cmd: "node-flags", node, ...flags }),
  resourceCommand: (socket, command) => commandNode(socket, { cmd: "resource", ...command }),
};
