// Field validators for the wizard. Each returns null when the value is good, or a short reason
// that is shown under the field (at most ~70 columns).

export type Check = string | null;

/** A typed value quoted in a message, cut so that the message stays on a line or two. */
export function q(v: string): string {
  return `"${v.length > 24 ? `${v.slice(0, 21)}...` : v}"`;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** The node names of the cluster configuration (services/shared/config.ts). */
export const NAME = /^[a-z][a-z0-9-]{0,31}$/;

export function checkHostname(v: string): Check {
  if (v === "") return "required: the name of this box, e.g. hapd-a";
  if (v.length > 63) return `${v.length} characters; at most 63`;
  if (/[A-Z]/.test(v)) return "use lower-case letters";
  if (!/^[a-z0-9-]+$/.test(v)) return "only letters a-z, digits and '-' (no dots, no spaces)";
  if (v.startsWith("-") || v.endsWith("-")) return "must not start or end with '-'";
  return null;
}

export function checkClusterName(v: string): Check {
  if (v === "") return "required, e.g. prod";
  if (!NAME.test(v)) return "lower-case letters, digits and '-', starting with a letter, max 32";
  return null;
}

export function checkIpv4(v: string, what = "address"): Check {
  if (v === "") return `required: an IPv4 ${what} like 10.0.0.1`;
  if (!IPV4.test(v)) return `${q(v)} is not an IPv4 ${what} (like 10.0.0.1)`;
  return null;
}

export function ipv4ToInt(v: string): number {
  return v.split(".").reduce((n, o) => n * 256 + Number(o), 0) >>> 0;
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

export interface Cidr {
  address: string;
  prefix: number;
}

export function parseCidr(v: string): Cidr | null {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(v);
  if (!m || !IPV4.test(m[1]!)) return null;
  const prefix = Number(m[2]);
  if (prefix < 1 || prefix > 32) return null;
  return { address: m[1]!, prefix };
}

/** "address/prefix" for an interface: a host address inside a network of 2^(32-prefix). */
export function checkCidr(v: string): Check {
  if (v === "") return "required: address/prefix, like 10.70.0.1/24";
  const slash = v.indexOf("/");
  if (slash < 0) return `${q(v)} has no /prefix (like 10.70.0.1/24)`;
  const addr = v.slice(0, slash);
  const prefix = v.slice(slash + 1);
  if (!IPV4.test(addr)) return `${q(addr)} is not an IPv4 address`;
  if (!/^\d{1,2}$/.test(prefix) || Number(prefix) < 8 || Number(prefix) > 30) return `prefix "/${prefix}" must be a number from 8 to 30`;
  const c = parseCidr(v)!;
  const host = ipv4ToInt(c.address) & hostMask(c.prefix);
  if (host === 0) return `${c.address} is the network address of /${c.prefix}, not a host`;
  if (host === hostMask(c.prefix)) return `${c.address} is the broadcast address of /${c.prefix}`;
  return null;
}

function hostMask(prefix: number): number {
  return prefix >= 32 ? 0 : (2 ** (32 - prefix) - 1) >>> 0;
}

export function networkOf(c: Cidr): string {
  return `${intToIpv4((ipv4ToInt(c.address) & ~hostMask(c.prefix)) >>> 0)}/${c.prefix}`;
}

export function inSubnet(address: string, c: Cidr): boolean {
  const mask = ~hostMask(c.prefix) >>> 0;
  return ((ipv4ToInt(address) & mask) >>> 0) === ((ipv4ToInt(c.address) & mask) >>> 0);
}

export function checkPort(v: string): Check {
  if (v === "") return "required: a UDP port, 1-65535";
  if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 65535) return `${q(v)} is not a port (1-65535)`;
  return null;
}

/** "address" or "address:port". */
export function parseEndpoint(v: string, defaultPort: number): { address: string; port: number } | null {
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(v);
  if (!m || !IPV4.test(m[1]!)) return null;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) return null;
  return { address: m[1]!, port };
}

export function checkEndpoint(v: string, defaultPort: number): Check {
  if (v === "") return `required: an IPv4 address, optionally :port (default ${defaultPort})`;
  const [addr, port, extra] = v.split(":");
  if (extra !== undefined) return `${q(v)}: one ':' at most (address:port)`;
  const a = checkIpv4(addr ?? "");
  if (a) return a;
  if (port !== undefined && checkPort(port)) return `port ${q(port)} is not a port (1-65535)`;
  return null;
}

export function checkVlan(v: string): Check {
  if (v === "") return null;
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > 4094) return `VLAN ${q(v)} must be a number from 1 to 4094 (or empty for none)`;
  return null;
}

export function splitList(v: string): string[] {
  return v
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function checkIpv4List(v: string, what: string, max: number): Check {
  const items = splitList(v);
  if (items.length === 0) return `required: one or more ${what} addresses, separated by ','`;
  if (items.length > max) return `${items.length} ${what} servers; at most ${max}`;
  for (const i of items) if (!IPV4.test(i)) return `${q(i)} is not an IPv4 address`;
  return null;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

export function checkHostOrIp(v: string): Check {
  if (/^[\d.]+$/.test(v)) return IPV4.test(v) ? null : `${q(v)} is not an IPv4 address`;
  if (v.length > 253) return `"${v.slice(0, 20)}..." is too long for a host name`;
  const labels = v.replace(/\.$/, "").split(".");
  if (labels.some((l) => !DNS_LABEL.test(l))) return `${q(v)} is not a host name or an IPv4 address`;
  return null;
}

export function checkTimeServers(v: string): Check {
  const items = splitList(v);
  if (items.length === 0) return "required: one or more NTP servers (name or address), separated by ','";
  if (items.length > 4) return `${items.length} servers; at most 4`;
  for (const i of items) {
    const c = checkHostOrIp(i);
    if (c) return c;
  }
  return null;
}

export function checkBmcUser(v: string): Check {
  if (v === "") return "required: the BMC user name";
  if (v.length > 16) return `${v.length} characters; IPMI user names have at most 16`;
  if (/\s/.test(v)) return "no spaces";
  return null;
}

export function checkBmcPassword(v: string): Check {
  if (v === "") return "required: the BMC password";
  if (v.length > 20) return `${v.length} characters; IPMI v2.0 passwords have at most 20`;
  return null;
}

export const ADMIN_PASSWORD_MIN = 8;

export function checkAdminPassword(v: string): Check {
  if (v.length < ADMIN_PASSWORD_MIN) return `at least ${ADMIN_PASSWORD_MIN} characters (this one has ${v.length})`;
  if (v.length > 128) return "at most 128 characters";
  return null;
}

export function checkWatchdogTimeout(v: string): Check {
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > 3600) return `${q(v)} must be a number of seconds from 1 to 3600`;
  return null;
}
