// The Linux watchdog uAPI of include/uapi/linux/watchdog.h: request numbers, flags and the one
// struct. What each request does is defined by drivers/watchdog/watchdog_dev.c; the fake kernel
// in test/watchdog/fake-kernel.ts implements the same semantics.

import { ior, iowr, iocType } from "./ioctl.ts";
import { view } from "./kernel-port.ts";

/** #define WATCHDOG_IOCTL_BASE 'W' */
const WATCHDOG_IOCTL_BASE = iocType("W");

/**
 * struct watchdog_info {
 *   __u32 options;          // offset 0
 *   __u32 firmware_version; // offset 4
 *   __u8  identity[32];     // offset 8
 * };                        // sizeof 40
 */
export const WATCHDOG_INFO_SIZE = 40;
const INFO_OPTIONS = 0;
const INFO_FIRMWARE = 4;
const INFO_IDENTITY = 8;
const IDENTITY_BYTES = 32;
/** Every int-sized ioctl argument below is a C int: 4 bytes. */
export const INT_SIZE = 4;

export const WDIOC_GETSUPPORT = ior(WATCHDOG_IOCTL_BASE, 0, WATCHDOG_INFO_SIZE);
export const WDIOC_GETSTATUS = ior(WATCHDOG_IOCTL_BASE, 1, INT_SIZE);
export const WDIOC_GETBOOTSTATUS = ior(WATCHDOG_IOCTL_BASE, 2, INT_SIZE);
// SETOPTIONS and KEEPALIVE are declared _IOR in the header although userland writes the int:
// the number must match the header, not the direction the name suggests.
export const WDIOC_SETOPTIONS = ior(WATCHDOG_IOCTL_BASE, 4, INT_SIZE);
export const WDIOC_KEEPALIVE = ior(WATCHDOG_IOCTL_BASE, 5, INT_SIZE);
export const WDIOC_SETTIMEOUT = iowr(WATCHDOG_IOCTL_BASE, 6, INT_SIZE);
export const WDIOC_GETTIMEOUT = ior(WATCHDOG_IOCTL_BASE, 7, INT_SIZE);
export const WDIOC_GETTIMELEFT = ior(WATCHDOG_IOCTL_BASE, 10, INT_SIZE);

/** WDIOF_* bits of watchdog_info.options. */
export const WDIOF = {
  OVERHEAT: 0x0001,
  FANFAULT: 0x0002,
  EXTERN1: 0x0004,
  EXTERN2: 0x0008,
  POWERUNDER: 0x0010,
  CARDRESET: 0x0020,
  POWEROVER: 0x0040,
  SETTIMEOUT: 0x0080,
  MAGICCLOSE: 0x0100,
  PRETIMEOUT: 0x0200,
  ALARMONLY: 0x0400,
  KEEPALIVEPING: 0x8000,
} as const;

/** WDIOS_* values for WDIOC_SETOPTIONS. */
export const WDIOS_DISABLECARD = 0x0001;
export const WDIOS_ENABLECARD = 0x0002;

/** The magic close character: written just before close, it lets watchdog_release() stop the timer. */
export const MAGIC_CLOSE = new Uint8Array([0x56]); // 'V'

export type WatchdogSupport = { options: number; firmware_version: number; identity: string };

export function decodeWatchdogInfo(bytes: Uint8Array): WatchdogSupport {
  const v = view(bytes);
  const raw = bytes.subarray(INFO_IDENTITY, INFO_IDENTITY + IDENTITY_BYTES);
  const end = raw.indexOf(0);
  return {
    options: v.getUint32(INFO_OPTIONS, true),
    firmware_version: v.getUint32(INFO_FIRMWARE, true),
    identity: new TextDecoder().decode(end >= 0 ? raw.subarray(0, end) : raw),
  };
}

export function encodeWatchdogInfo(info: WatchdogSupport): Uint8Array {
  const bytes = new Uint8Array(WATCHDOG_INFO_SIZE);
  const v = view(bytes);
  v.setUint32(INFO_OPTIONS, info.options >>> 0, true);
  v.setUint32(INFO_FIRMWARE, info.firmware_version >>> 0, true);
  bytes.set(new TextEncoder().encode(info.identity).subarray(0, IDENTITY_BYTES - 1), INFO_IDENTITY);
  return bytes;
}

export function optionNames(options: number): string[] {
  return Object.entries(WDIOF)
    .filter(([, bit]) => (options & bit) !== 0)
    .map(([name]) => name);
}

export function intArg(value: number): Uint8Array {
  const bytes = new Uint8Array(INT_SIZE);
  view(bytes).setInt32(0, value, true);
  return bytes;
}

export function readInt(bytes: Uint8Array): number {
  return view(bytes).getInt32(0, true);
}

/** The identity softdog reports (drivers/watchdog/softdog.c: .identity = "Software Watchdog"). */
export const SOFTDOG_IDENTITY = "Software Watchdog";
export const SOFTDOG_WARNING = "softdog does not survive a kernel hang";
