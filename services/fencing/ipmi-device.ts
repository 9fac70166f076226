// Level-1 fence device: the target's BMC over IPMI (RMCP+). An attempt succeeds only when the
// chassis reads back "off"; everything else (wrong password, unreachable BMC, a chassis that
// stays on) is a failed attempt with the reason.
import { statSync, readFileSync } from "node:fs";
import { IpmiClient } from "../../ipmi/client.ts";

export interface IpmiDeviceConfig {
  address: string;
  port: number;
  username: string;
  password_file: string;
  cipher: 17 | 3;
  privilege: "administrator" | "operator";
  /** How long to wait for the chassis to read off after the power-off command. */
  power_timeout_ms: number;
  /** Overall budget for one attempt, login included. */
  attempt_timeout_ms: number;
}

export function readSecretFile(file: string): string {
  const mode = statSync(file).mode;
  if ((mode & 0o077) !== 0) throw new Error(`${file}: mode ${(mode & 0o777).toString(8)} lets others read a BMC password; chmod 600 it`);
  return readFileSync(file, "utf8").replace(/\r?\n$/, "");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Power the target off and confirm it. Resolves with a detail line; rejects with the reason. */
export async function ipmiFenceOff(cfg: IpmiDeviceConfig): Promise<string> {
  const started = performance.now();
  const password = readSecretFile(cfg.password_file);
  const budget = (spent: number) => Math.max(100, cfg.attempt_timeout_ms - spent);
  const client = await IpmiClient.open({
    host: cfg.address,
    port: cfg.port,
    username: cfg.username,
    password,
    cipher: cfg.cipher,
    privilege: cfg.privilege,
    request_timeout_ms: 300,
    max_attempts: 3,
    login_timeout_ms: budget(0),
    command_timeout_ms: Math.min(2000, budget(0)),
  });
  try {
    if ((await client.powerStatus()) === "off") return `chassis already off (suite ${client.cipherSuite})`;
    await client.powerOff();
    const deadline = performance.now() + cfg.power_timeout_ms;
    for (;;) {
      if ((await client.powerStatus()) === "off") {
        return `chassis confirmed off after ${Math.round(performance.now() - started)} ms (suite ${client.cipherSuite})`;
      }
      if (performance.now() > deadline) throw new Error(`chassis still on ${cfg.power_timeout_ms} ms after power off`);
      await sleep(50);
    }
  } finally {
    await client.close().catch(() => undefined);
  }
}
