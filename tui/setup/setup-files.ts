// From the wizard's values to the files it writes. Pure: the caller hashes the admin password
// first and writes the files with write-file-set.ts.
//
//   <config>            the node configuration (services/shared/config.ts), checked with parseConfig
//   cluster.key         the cluster key, mode 0600 (services/shared/keyfile.ts format)
//   bmc-host-X.password each host's BMC password, mode 0600 (the config's bmc.password_file)
//   appliance.yaml      what the node configuration has no place for: host name, management
//                       network, ring interfaces and prefixes, disks, time servers, the admin
//                       password hash. Mode 0600 (the hash is a secret too).
// The watchdog choice goes into the node configuration's own `watchdog` section.
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { parseConfig } from "../../services/shared/config.ts";
import { decodeJoinToken } from "./join-token.ts";
import type { PasswordHash } from "./password-hash.ts";
import { DEFAULT_BMC_PORT, DEFAULT_RING_PORT, HOSTS, NODES, type Values, type WizardEnv, isHost } from "./steps.ts";
import { parseCidr, parseEndpoint, splitList } from "./validate.ts";

export interface PlannedFile {
  path: string;
  data: string;
  mode: number;
}

export const APPLIANCE_FILE = "appliance.yaml";
export const KEY_FILE = "cluster.key";
export const bmcPasswordFile = (node: string) => `bmc-${node}.password`;

export function appliancePath(configPath: string): string {
  return join(dirname(configPath), APPLIANCE_FILE);
}

/** Where state, sockets and the log go: the standard places for /etc/hapd, else beside the file. */
export function nodeDirs(configPath: string): { state_dir: string; run_dir: string; log_file: string } {
  if (dirname(configPath) === "/etc/hapd") return { state_dir: "/var/lib/hapd", run_dir: "/run/hapd", log_file: "/var/log/hapd/hapd.log" };
  return { state_dir: "state", run_dir: "run", log_file: "hapd.log" };
}

export function clusterKey(values: Values, env: WizardEnv): Uint8Array {
  if (values["cluster.mode"] === "join") {
    const r = decodeJoinToken(values["cluster.token"] ?? "");
    if (!r.ok) throw new Error(`join token: ${r.error}`);
    return r.key;
  }
  return env.newKey;
}

export function keyFileText(key: Uint8Array): string {
  return `hapd-cluster-key-v1 ${Buffer.from(key).toString("base64")}\n`;
}

function addressOf(cidr: string | undefined): string {
  return parseCidr(cidr ?? "")?.address ?? "";
}

/** The node configuration's watchdog section (services/watchdog/config.ts) for the choice made. */
export function watchdogSection(values: Values): Record<string, unknown> {
  const driver = values["watchdog.driver"] ?? "none";
  const timeout_s = Number(values["watchdog.timeout"] || "10");
  if (driver === "none") return { kind: "none" };
  if (driver === "softdog") return { kind: "softdog", load_module: true, timeout_s };
  if (driver === "ipmi") {
    const self = values.role ?? "";
    const ep = parseEndpoint(values[`bmc.${self}.address`] ?? "", DEFAULT_BMC_PORT);
    return {
      kind: "ipmi",
      address: ep?.address ?? "",
      port: ep?.port ?? DEFAULT_BMC_PORT,
      username: values[`bmc.${self}.user`] ?? "",
      password_file: bmcPasswordFile(self),
      cipher: Number(values[`bmc.${self}.cipher`] || "17"),
      timeout_s,
    };
  }
  return { kind: "linux", device: driver, timeout_s };
}

export function buildNodeConfig(values: Values, configPath: string): Record<string, unknown> {
  const self = values.role ?? "";
  const port = Number(values["ring.port"] || DEFAULT_RING_PORT);
  const ring1 = (values["ring1.iface"] ?? "none") !== "none";
  const nodes = NODES.map((n) => {
    const own = n.name === self;
    const r0 = own ? addressOf(values["ring0.address"]) : (values[`peer.${n.name}.ring0`] ?? "");
    const r1 = own ? addressOf(values["ring1.address"]) : (values[`peer.${n.name}.ring1`] ?? "");
    const entry: Record<string, unknown> = { name: n.name, id: n.id, role: n.role, ring0: { address: r0, port } };
    if (ring1) entry.ring1 = { address: r1, port };
    if (n.role === "host") {
      const ep = parseEndpoint(values[`bmc.${n.name}.address`] ?? "", DEFAULT_BMC_PORT);
      entry.bmc = {
        address: ep?.address ?? "",
        port: ep?.port ?? DEFAULT_BMC_PORT,
        username: values[`bmc.${n.name}.user`] ?? "",
        password_file: bmcPasswordFile(n.name),
        cipher: Number(values[`bmc.${n.name}.cipher`] || "17"),
        privilege: "administrator",
      };
    }
    return entry;
  });
  const doc: Record<string, unknown> = {
    cluster: { name: values["cluster.name"] ?? "", key_file: KEY_FILE, wait_for_all: true },
    node: self,
    ...nodeDirs(configPath),
    nodes,
    watchdog: watchdogSection(values),
  };
  if (isHost(values)) {
    doc.serial = { device: values["serial.device"] ?? "", peer: self === "host-a" ? "host-b" : "host-a", baud: 115200 };
  }
  return doc;
}

export function buildAppliance(values: Values, admin: PasswordHash): Record<string, unknown> {
  const staticMgmt = values["mgmt.mode"] === "static";
  const ring1 = (values["ring1.iface"] ?? "none") !== "none";
  const vlan = values["mgmt.vlan"] ? Number(values["mgmt.vlan"]) : null;
  return {
    version: 1,
    hostname: values.hostname ?? "",
    management: {
      interface: values["mgmt.iface"] ?? "",
      vlan,
      mode: staticMgmt ? "static" : "dhcp",
      ...(staticMgmt ? { address: values["mgmt.address"] ?? "", gateway: values["mgmt.gateway"] ?? "", dns: splitList(values["mgmt.dns"] ?? "") } : {}),
    },
    links: {
      ring0: { interface: values["ring0.iface"] ?? "", address: values["ring0.address"] ?? "" },
      ...(ring1 ? { ring1: { interface: values["ring1.iface"] ?? "", address: values["ring1.address"] ?? "" } } : {}),
    },
    join: values["cluster.mode"] === "join" ? { via: values["cluster.peer"] ?? "" } : null,
    disks: isHost(values) ? (values.disks ?? "").split(",").filter(Boolean) : [],
    time_servers: splitList(values["time.servers"] ?? ""),
    admin_password: admin,
  };
}

/** Every file Apply writes, the node configuration last (its presence means "set up"). Throws
 * with the reason when the result would not be a valid node configuration. */
export function planSetupFiles(values: Values, env: WizardEnv, admin: PasswordHash): PlannedFile[] {
  const dir = dirname(env.configPath);
  const configYaml = `# hapd node configuration, written by the hapd console setup\n${stringify(buildNodeConfig(values, env.configPath))}`;
  // The same check `hapd node` makes before it starts: a wizard bug must not leave a box that
  // cannot boot its services.
  parseConfig(configYaml, env.configPath);
  const files: PlannedFile[] = [{ path: join(dir, KEY_FILE), data: keyFileText(clusterKey(values, env)), mode: 0o600 }];
  for (const hn of HOSTS) files.push({ path: join(dir, bmcPasswordFile(hn)), data: `${values[`bmc.${hn}.password`] ?? ""}\n`, mode: 0o600 });
  files.push({ path: appliancePath(env.configPath), data: `# hapd appliance settings, written by the hapd console setup\n${stringify(buildAppliance(values, admin))}`, mode: 0o600 });
  files.push({ path: env.configPath, data: configYaml, mode: 0o640 });
  return files;
}
