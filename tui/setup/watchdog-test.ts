// The wizard's watchdog Test: arm the chosen driver with the chosen timeout, read what it says
// about itself, and disarm it again.
//
// Arming a timer that cannot be stopped would reset the box a few seconds later, so for Linux
// watchdogs (softdog included) the Test first reads nowayout from sysfs, as the driver does, and
// refuses to arm when it is set or cannot be read. A BMC watchdog can always be stopped.
import { type DriverConfig, WatchdogError, createWatchdog, describeFailure } from "../../services/watchdog/index.ts";
import { type HostPort, realHost } from "../../services/watchdog/host-port.ts";
import { findSoftdog, readNowayout, sysfsName } from "../../services/watchdog/sysfs.ts";

/** The device a Linux or softdog configuration would open, loading softdog if asked. */
function linuxDevice(cfg: DriverConfig, host: HostPort): string {
  if (cfg.kind === "linux") return cfg.device;
  if (cfg.kind !== "softdog") throw new Error("not a Linux watchdog");
  if (cfg.device) return cfg.device;
  const found = findSoftdog(host);
  if (found) return found;
  const loaded = host.modprobe("softdog");
  const after = findSoftdog(host);
  if (after) return after;
  throw new WatchdogError({ kind: "softdog", device: "softdog", setting: "device", reason: "unavailable", op: "modprobe", message: `softdog is not available on this kernel: ${loaded.ok ? "no softdog device appeared" : `modprobe softdog failed: ${loaded.message}`}` });
}

/** Null when it is safe to arm; otherwise why the Test does not. */
export function whyNotArm(cfg: DriverConfig, host: HostPort = realHost): string | null {
  if (cfg.kind !== "linux" && cfg.kind !== "softdog") return null;
  const device = linuxDevice(cfg, host);
  const nowayout = readNowayout(sysfsName(device, host), host, cfg.kind === "softdog" ? "softdog" : null);
  if (nowayout.nowayout === false) return null;
  const what = nowayout.nowayout ? `nowayout is set (${nowayout.source})` : `whether nowayout is set cannot be read (${nowayout.source})`;
  return `not armed: ${what}, so the Test could not stop ${device} again and the box would reset in ${cfg.timeout_s} s`;
}

export async function testWatchdogDriver(cfg: DriverConfig, bmcPassword: string | null, host: HostPort = realHost): Promise<string> {
  try {
    const refusal = whyNotArm(cfg, host);
    if (refusal) throw new Error(refusal);
    const driver = createWatchdog(cfg, { host, readSecret: () => bmcPassword ?? "" });
    await driver.open(cfg.timeout_s);
    let identity = "";
    try {
      const info = await driver.info();
      identity = `${info.identity}, ${info.timeout_s} s${info.warnings.length ? `; ${info.warnings.join("; ")}` : ""}`;
    } finally {
      const outcome = await driver.close({ disarm: true });
      if (!outcome.disarmed) throw new Error(`ARMED AND NOT DISARMED: ${outcome.warning ?? "the timer keeps running"}; start hapd now or the box resets`);
    }
    return `armed and disarmed ${driver.device} (${identity})`;
  } catch (e) {
    throw new Error(describeFailure(e));
  }
}
