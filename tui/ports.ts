// Everything the console does to the world goes through these ports: the real ones are here,
// tests pass their own. Screens stay pure; controllers call ports and dispatch the outcomes.
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { IpmiClient } from "../ipmi/client.ts";
import { queryStatus } from "../services/node/status-client.ts";
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
}

export class NotInThisBuild extends Error {
  constructor(what: string) {
    super(`not available in this build: ${what}`);
  }
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
};
