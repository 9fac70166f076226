// What the wizard offers is read from the machine: network interfaces, disks, watchdog devices,
// serial devices. Everything here is a snapshot taken when the wizard starts; tests pass their own.
import { existsSync, readFileSync, readdirSync, realpathSync, statSync } from "node:fs";
import { hostname as osHostname, networkInterfaces } from "node:os";
import type { Check } from "./validate.ts";

export interface NetInterface {
  name: string;
  /** "up", "down", "unknown" (operstate). */
  state: string;
  mac: string;
  virtual: boolean;
}

export interface Disk {
  name: string;
  path: string;
  size_bytes: number;
  model: string;
  /** Why it cannot be used for a replicated volume (mounted, swap, held by LVM...), or null. */
  inUse: string | null;
}

export interface WatchdogOption {
  /** What is stored: "softdog", "ipmi" or a device path. */
  value: string;
  label: string;
}

export interface SystemSnapshot {
  hostname: string;
  interfaces: NetInterface[];
  disks: Disk[];
  watchdogs: WatchdogOption[];
  /** Checks that a path is a serial device this box has. */
  checkSerial(path: string): Check;
  /** The first serial device that exists, to offer as the default. */
  serialDefault: string;
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
}

export function listInterfaces(sysNet = "/sys/class/net"): NetInterface[] {
  let names: string[] = [];
  try {
    names = readdirSync(sysNet);
  } catch {
    names = Object.keys(networkInterfaces());
  }
  return names
    .filter((n) => n !== "lo")
    .sort()
    .map((name) => {
      let virtual = false;
      try {
        virtual = realpathSync(`${sysNet}/${name}`).includes("/virtual/");
      } catch {
        virtual = false;
      }
      return { name, state: read(`${sysNet}/${name}/operstate`) || "unknown", mac: read(`${sysNet}/${name}/address`), virtual };
    });
}

const NOT_A_DISK = /^(loop|ram|zram|sr|fd|nbd|dm-)/;

export function listDisks(sysBlock = "/sys/block", procMounts = "/proc/mounts", procSwaps = "/proc/swaps"): Disk[] {
  let names: string[] = [];
  try {
    names = readdirSync(sysBlock);
  } catch {
    return [];
  }
  const mounts = read(procMounts)
    .split("\n")
    .map((l) => l.split(" "))
    .filter((f) => f[0]?.startsWith("/dev/"))
    .map((f) => ({ dev: f[0]!.slice(5), at: f[1] ?? "?" }));
  const swaps = read(procSwaps)
    .split("\n")
    .slice(1)
    .map((l) => l.split(/\s+/)[0] ?? "")
    .filter((d) => d.startsWith("/dev/"))
    .map((d) => d.slice(5));
  const disks: Disk[] = [];
  for (const name of names.sort()) {
    if (NOT_A_DISK.test(name)) continue;
    const size_bytes = Number(read(`${sysBlock}/${name}/size`) || "0") * 512;
    if (size_bytes === 0) continue;
    let parts: string[] = [];
    try {
      parts = readdirSync(`${sysBlock}/${name}`).filter((p) => p.startsWith(name));
    } catch {
      parts = [];
    }
    const devs = [name, ...parts];
    let inUse: string | null = null;
    const m = mounts.find((x) => devs.includes(x.dev));
    if (m) inUse = `mounted at ${m.at}`;
    else if (swaps.some((s) => devs.includes(s))) inUse = "used as swap";
    else {
      for (const d of devs) {
        const base = d === name ? `${sysBlock}/${name}` : `${sysBlock}/${name}/${d}`;
        let holders: string[] = [];
        try {
          holders = readdirSync(`${base}/holders`);
        } catch {
          holders = [];
        }
        if (holders.length > 0) {
          inUse = `held by ${holders.join(", ")} (LVM, RAID or crypt)`;
          break;
        }
      }
    }
    disks.push({ name, path: `/dev/${name}`, size_bytes, model: read(`${sysBlock}/${name}/device/model`), inUse });
  }
  return disks;
}

export function listWatchdogs(sysWatchdog = "/sys/class/watchdog"): WatchdogOption[] {
  const out: WatchdogOption[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(sysWatchdog).sort();
  } catch {
    names = [];
  }
  for (const n of names) {
    const identity = read(`${sysWatchdog}/${n}/identity`) || "unknown driver";
    out.push({ value: `/dev/${n}`, label: `/dev/${n} (${identity})` });
  }
  out.push({ value: "softdog", label: "softdog (kernel timer)" });
  out.push({ value: "ipmi", label: "BMC (IPMI)" });
  out.push({ value: "none", label: "none" });
  return out;
}

export function checkSerialDevice(path: string): Check {
  if (path === "") return "required: the serial device of the host-to-host line, e.g. /dev/ttyS1";
  if (!path.startsWith("/dev/")) return `"${path}" is not under /dev`;
  try {
    if (!statSync(path).isCharacterDevice()) return `${path} is not a character device`;
  } catch (e) {
    return `${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such device on this box" : (e as Error).message}`;
  }
  return null;
}

export function humanSize(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 || u === 0 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

export function probeSystem(): SystemSnapshot {
  const serialDefault = ["/dev/ttyS1", "/dev/ttyS0", "/dev/ttyUSB0", "/dev/ttyAMA0"].find((p) => existsSync(p)) ?? "";
  return {
    hostname: osHostname(),
    interfaces: listInterfaces(),
    disks: listDisks(),
    watchdogs: listWatchdogs(),
    checkSerial: checkSerialDevice,
    serialDefault,
  };
}
