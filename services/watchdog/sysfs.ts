// What sysfs tells about a Linux watchdog device that its ioctls do not: whether nowayout is set
// (close can never stop it), whether the timer is running after we closed it, and which
// watchdogN is softdog. drivers/watchdog/watchdog_dev.c publishes the class attributes when the
// kernel has CONFIG_WATCHDOG_SYSFS.

import { basename } from "node:path";
import type { HostPort } from "./host-port.ts";
import { SOFTDOG_IDENTITY } from "./linux-uapi.ts";

const CLASS_DIR = "/sys/class/watchdog";

/**
 * watchdogN for /dev/watchdogN; watchdog0 for the legacy /dev/watchdog (watchdog_dev.c registers
 * the misc device only for the watchdog with id 0). Follows one udev symlink. Null when the name
 * says nothing.
 */
export function sysfsName(device: string, host: HostPort): string | null {
  const target = host.readLink(device);
  const name = basename(target ?? device);
  if (name === "watchdog") return "watchdog0";
  return /^watchdog\d+$/.test(name) ? name : null;
}

export type Nowayout = { nowayout: boolean | null; source: string };

function parseFlag(text: string | null): boolean | null {
  if (text === null) return null;
  const t = text.trim();
  if (t === "1" || t === "Y" || t === "y") return true;
  if (t === "0" || t === "N" || t === "n") return false;
  return null;
}

/**
 * nowayout from the class attribute, else from the driver module's parameter (named by the
 * device's driver link, or by `moduleHint` for softdog, which has no parent device). Many drivers
 * declare the parameter with mode 0, so it is often not visible: then null, and callers assume
 * the worst (close cannot disarm).
 */
export function readNowayout(name: string | null, host: HostPort, moduleHint: string | null): Nowayout {
  if (name) {
    const attribute = `${CLASS_DIR}/${name}/nowayout`;
    const value = parseFlag(host.readText(attribute));
    if (value !== null) return { nowayout: value, source: attribute };
  }
  const modules = new Set<string>();
  if (name) {
    const link = host.readLink(`${CLASS_DIR}/${name}/device/driver/module`);
    if (link) modules.add(basename(link));
  }
  if (moduleHint) modules.add(moduleHint);
  for (const module of modules) {
    const parameter = `/sys/module/${module}/parameters/nowayout`;
    const value = parseFlag(host.readText(parameter));
    if (value !== null) return { nowayout: value, source: parameter };
  }
  return { nowayout: null, source: "neither the sysfs nowayout attribute nor a module parameter is readable" };
}

/** "active" / "inactive" from the class attribute, or null when the kernel does not publish it. */
export function readState(name: string | null, host: HostPort): "active" | "inactive" | null {
  if (!name) return null;
  const state = host.readText(`${CLASS_DIR}/${name}/state`);
  return state === "active" || state === "inactive" ? state : null;
}

/** The /dev node of the watchdog whose identity is softdog's, or null. */
export function findSoftdog(host: HostPort): string | null {
  for (const name of host.listDir(CLASS_DIR).sort()) {
    if (host.readText(`${CLASS_DIR}/${name}/identity`) === SOFTDOG_IDENTITY) return `/dev/${name}`;
  }
  return null;
}
