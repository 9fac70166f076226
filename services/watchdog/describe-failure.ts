// describeFailure: a watchdog failure as one sentence an operator can act on — what is wrong,
// with which device and setting, and what to do. Status and the node's refusal to run resources
// without a watchdog show this text.

import { completionCodeText } from "../../ipmi/commands.ts";
import { IpmiError } from "../../ipmi/errors.ts";
import { WatchdogError } from "./driver.ts";
import { Errno, errnoName } from "./errno.ts";

export function describeFailure(error: unknown): string {
  if (error instanceof WatchdogError) return describeWatchdogError(error);
  if (error instanceof IpmiError) return describeIpmi(error, error.bmc || "the BMC");
  if (error instanceof Error) return error.message;
  return String(error);
}

function describeWatchdogError(e: WatchdogError): string {
  switch (e.reason) {
    case "errno":
      return describeErrno(e);
    case "timeout_refused":
      return `${what(e)} refuses the timeout (${e.setting}): ${detail(e)}. Configure a timeout this hardware supports (watchdog.timeout_s).`;
    case "setting_refused":
      return `${what(e)} cannot take ${e.setting}: ${detail(e)}. Fix the watchdog configuration.`;
    case "not_a_watchdog":
      return e.kind === "gpio"
        ? `${chipOf(e)} is not a GPIO chip: it does not answer ${e.op} (${errnoName(e.errno ?? 0)}). Check watchdog.chip.`
        : `${e.device} is not a watchdog device: it does not answer ${e.op} (${errnoName(e.errno ?? 0)}). Check watchdog.device.`;
    case "unavailable":
      return e.kind === "softdog"
        ? `${e.message}. This kernel needs CONFIG_SOFT_WATCHDOG (or the softdog module), or configure a hardware watchdog.`
        : `${e.message}.`;
    case "verify_failed":
      return `${what(e)} did not keep ${e.setting}: ${detail(e)}. Check the register map in the watchdog configuration.`;
    case "ipmi":
      return e.cause instanceof IpmiError ? describeIpmi(e.cause, e.device, e.op, e.setting) : `${e.message}.`;
    case "state":
      return `${e.message}.`;
  }
}

function describeErrno(e: WatchdogError): string {
  const errno = e.errno ?? 0;
  const at = `(${e.op}, ${e.setting}: ${errnoName(errno)})`;
  switch (errno) {
    case Errno.ENOENT:
    case Errno.ENODEV:
      if (e.kind === "gpio") return `GPIO chip ${chipOf(e)} does not exist ${at}: the GPIO driver is not loaded or watchdog.chip is wrong (list them with ls /dev/gpiochip*).`;
      if (e.kind === "i2c") return `I2C bus ${busOf(e)} does not exist ${at}: load i2c-dev and the bus driver, or fix watchdog.bus (list them with ls /dev/i2c-*).`;
      return `watchdog device ${e.device} does not exist ${at}: its driver is not loaded or watchdog.device is wrong (list them with ls /dev/watchdog*).`;
    case Errno.EBUSY:
      if (e.kind === "gpio") return `${e.setting} of ${chipOf(e)} is in use by another consumer ${at}: find it with gpioinfo and release it, or choose another line.`;
      if (e.kind === "i2c") return `${e.setting} on ${busOf(e)} is claimed by a kernel driver ${at}: unbind that driver from the chip, or fix watchdog.address.`;
      if (e.op === "open") return `watchdog device ${e.device} is busy: another process holds it open ${at}, and a watchdog admits one opener. Find it with fuser -v ${e.device} (often systemd's RuntimeWatchdogSec= or a watchdog daemon) and stop it.`;
      return `watchdog device ${e.device} refused ${e.setting} because it is busy ${at}: nowayout forbids stopping it.`;
    case Errno.EACCES:
    case Errno.EPERM:
    case Errno.EROFS:
      return `permission denied on ${e.kind === "gpio" ? chipOf(e) : e.kind === "i2c" ? busOf(e) : e.device} ${at}: hapd's supervisor must run as root or be given write access to the device.`;
    case Errno.EINVAL:
      return `${what(e)} refuses ${e.setting} ${at}: the value is outside what the hardware accepts. Fix the watchdog configuration.`;
    case Errno.ENOTTY:
      return `${e.device} does not understand ${e.op} ${at}: it is not the kind of device watchdog.kind=${e.kind} expects.`;
    case Errno.ENXIO:
    case Errno.EREMOTEIO:
    case Errno.ETIMEDOUT:
      if (e.kind === "i2c") return `no chip answers at ${e.device} ${at}: check watchdog.address, the wiring and that the chip is powered.`;
      return `${what(e)} does not respond ${at}.`;
    case Errno.EOPNOTSUPP:
      return `${what(e)} does not support ${e.op} ${at}.`;
    default:
      return `${e.message}.`;
  }
}

function describeIpmi(e: IpmiError, device: string, op?: string, setting?: string): string {
  const step = op ? ` at ${op}${setting ? ` (${setting})` : ""}` : "";
  switch (e.code) {
    case "timeout":
      return `the BMC watchdog at ${device} does not answer${step}: ${e.message}. Check watchdog.address and port and the management network; an unreachable BMC watchdog is a driver failure, not a quiet no-op.`;
    case "auth_failed":
      return `the BMC at ${device} refused the login${step}: check watchdog.username and watchdog.password_file.`;
    case "privilege":
      return `the BMC at ${device} refused the privilege level${step}: the watchdog needs an operator or administrator user (watchdog.privilege).`;
    case "cipher":
      return `the BMC at ${device} does not offer the configured cipher suite${step}: ${e.message}. Set watchdog.cipher to one it offers (3 for ipmi_sim).`;
    case "completion_code": {
      const cc = e.completion_code ?? 0;
      if (cc === 0x80) return `the BMC at ${device} says its watchdog was never set (${completionCodeText(cc)})${step}: it lost its settings, e.g. after a BMC reboot.`;
      if (cc === 0xd4) return `the BMC at ${device} refuses watchdog control to this user (${completionCodeText(cc)})${step}: it needs operator privilege.`;
      if (cc === 0xcc || cc === 0xc9) {
        return `the BMC at ${device} refuses the watchdog settings${step}: ${completionCodeText(cc)}. Some BMCs refuse NMI/SMI pre-timeouts, and ipmi_sim refuses a hard-reset action until its host has started once.`;
      }
      return `the BMC at ${device} answered ${completionCodeText(cc)}${step}.`;
    }
    default:
      return `the BMC watchdog at ${device} failed${step}: ${e.message}.`;
  }
}

/** "the watchdog /dev/watchdog0", "the GPIO watchdog /dev/gpiochip0:17", ... */
function what(e: WatchdogError): string {
  const noun = { linux: "watchdog", softdog: "softdog watchdog", gpio: "GPIO watchdog", i2c: "I2C watchdog", ipmi: "BMC watchdog" }[e.kind];
  return `the ${noun} ${e.device}`;
}

/** The message without its "device: " prefix, so the sentence does not name the device twice. */
function detail(e: WatchdogError): string {
  for (const prefix of [`${e.device}: `, `BMC watchdog ${e.device}: `]) {
    if (e.message.startsWith(prefix)) return e.message.slice(prefix.length);
  }
  return e.message;
}

function chipOf(e: WatchdogError): string {
  return e.device.replace(/:\d+$/, "");
}

function busOf(e: WatchdogError): string {
  return e.device.replace(/@0x[0-9a-f]+$/, "");
}
