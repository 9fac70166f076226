// createWatchdog: a validated configuration in, the driver out. The real ports are the defaults;
// tests pass their fake kernel and host. Nothing is opened here: open() arms.

import { readFileSync } from "node:fs";
import type { DriverConfig } from "./config.ts";
import { WatchdogError, type WatchdogDriver } from "./driver.ts";
import { errnoText } from "./errno.ts";
import { GpioWatchdog } from "./gpio-watchdog.ts";
import { realHost, type HostPort } from "./host-port.ts";
import { I2cWatchdog } from "./i2c-watchdog.ts";
import { IpmiWatchdog, type IpmiWatchdogPort } from "./ipmi-watchdog.ts";
import type { KernelPort } from "./kernel-port.ts";
import { libcKernel } from "./libc.ts";
import { LinuxWatchdog } from "./linux-watchdog.ts";
import { SoftdogWatchdog } from "./softdog.ts";

export type WatchdogPorts = {
  kernel?: KernelPort;
  host?: HostPort;
  /** Reads the BMC password file; the file's first line is the password. */
  readSecret?: (path: string) => string;
  connectIpmi?: () => Promise<IpmiWatchdogPort>;
  sleep_ms?: (ms: number) => Promise<void>;
  now_ms?: () => number;
  log?: (line: string) => void;
};

export function createWatchdog(config: DriverConfig, ports: WatchdogPorts = {}): WatchdogDriver {
  const kernel = ports.kernel ?? libcKernel;
  const host = ports.host ?? realHost;
  switch (config.kind) {
    case "linux":
      return new LinuxWatchdog({ device: config.device, kind: "linux", kernel, host });
    case "softdog":
      return new SoftdogWatchdog({ device: config.device ?? null, load_module: config.load_module, kernel, host });
    case "gpio":
      return new GpioWatchdog({
        chip: config.chip,
        line: config.line,
        active_low: config.active_low,
        pulse_high_ms: config.pulse_high_ms,
        pulse_low_ms: config.pulse_low_ms,
        hardware_timeout_s: config.hardware_timeout_s,
        enable: config.enable ?? null,
        drive: config.drive,
        kernel,
        ...(ports.sleep_ms ? { sleep_ms: ports.sleep_ms } : {}),
      });
    case "i2c":
      return new I2cWatchdog({ bus: config.bus, address: config.address, timeout: config.timeout, kick: config.kick, enable: config.enable ?? null, disable: config.disable ?? null, verify_timeout: config.verify_timeout, kernel });
    case "ipmi":
      return new IpmiWatchdog({
        host: config.address,
        port: config.port,
        username: config.username,
        password: readPassword(config.password_file, `${config.address}:${config.port}`, ports.readSecret),
        cipher: config.cipher,
        privilege: config.privilege,
        action: config.action,
        pretimeout: config.pretimeout,
        min_pet_interval_ms: config.min_pet_interval_ms,
        request_timeout_ms: config.request_timeout_ms,
        max_attempts: config.max_attempts,
        ...(ports.connectIpmi ? { connect: ports.connectIpmi } : {}),
        ...(ports.now_ms ? { now_ms: ports.now_ms } : {}),
        ...(ports.log ? { log: ports.log } : {}),
      });
  }
}

function readPassword(path: string, device: string, read?: (path: string) => string): string {
  let text: string;
  try {
    text = read ? read(path) : readFileSync(path, "utf8");
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).errno;
    const why = typeof errno === "number" ? errnoText(Math.abs(errno)) : (error as Error).message;
    throw new WatchdogError({ kind: "ipmi", device, setting: "password_file", reason: "unavailable", op: "read", message: `BMC watchdog ${device}: cannot read password_file ${path}: ${why}` });
  }
  const password = text.split("\n")[0]!.replace(/\r$/, "");
  if (password.length === 0) throw new WatchdogError({ kind: "ipmi", device, setting: "password_file", reason: "unavailable", op: "read", message: `BMC watchdog ${device}: password_file ${path} is empty` });
  return password;
}
