// The wizard's steps and fields as data. Which steps and fields exist depends on what was
// already entered (a host has a serial line and disks, the arbitrator has neither; a static
// management address has a gateway, DHCP has none), so the list is recomputed from the values.
import { decodeJoinToken } from "./join-token.ts";
import type { SystemSnapshot } from "./system-probe.ts";
import { humanSize } from "./system-probe.ts";
import {
  type Check,
  checkAdminPassword,
  checkBmcPassword,
  checkBmcUser,
  checkCidr,
  checkClusterName,
  checkEndpoint,
  checkHostname,
  checkIpv4,
  checkIpv4List,
  checkPort,
  checkTimeServers,
  checkVlan,
  checkWatchdogTimeout,
  inSubnet,
  networkOf,
  parseCidr,
  parseEndpoint,
} from "./validate.ts";

export type Values = Record<string, string>;
export type FieldKind = "text" | "password" | "choice" | "multi" | "action" | "info";

export interface Option {
  value: string;
  label: string;
  /** The key that picks it (shown on screen). */
  key: string;
  /** Why it cannot be picked, shown when someone tries. */
  disabled?: string;
}

export type ActionKind = { kind: "bmc-test"; node: HostName } | { kind: "watchdog-test" };

export interface Field {
  id: string;
  label: string;
  kind: FieldKind;
  options?: Option[];
  default?: string;
  /** One line shown at the bottom while the field has the focus. */
  hint?: string;
  /** Value on its own line under the label (long values: the join token). */
  wide?: boolean;
  validate?: (value: string, values: Values) => Check;
  lines?: string[];
  action?: ActionKind;
}

export type StepId = "welcome" | "identity" | "management" | "links" | "cluster" | "peers" | "fencing" | "watchdog" | "disks" | "time" | "admin" | "summary";

export interface Step {
  id: StepId;
  title: string;
  intro: string[];
  fields: Field[];
  /** Checks across fields, run when the step is left forward; names the field to focus. */
  validateStep?: (values: Values) => { field: string; error: string } | null;
}

export type NodeName = "host-a" | "host-b" | "arb";
export type HostName = "host-a" | "host-b";
export const NODES: ReadonlyArray<{ name: NodeName; id: number; role: "host" | "arbitrator" }> = [
  { name: "host-a", id: 1, role: "host" },
  { name: "host-b", id: 2, role: "host" },
  { name: "arb", id: 3, role: "arbitrator" },
];
export const HOSTS: readonly HostName[] = ["host-a", "host-b"];
export const DEFAULT_RING_PORT = "5405";
export const DEFAULT_BMC_PORT = 623;

export interface WizardEnv {
  system: SystemSnapshot;
  /** The cluster key this wizard generated (used when creating a cluster), and its join token. */
  newKey: Uint8Array;
  newToken: string;
  configPath: string;
}

export const isHost = (v: Values) => v.role === "host-a" || v.role === "host-b";

const digitKeys = "123456789abcdefghijklmnopqrstuvwxyz";

function interfaceOptions(env: WizardEnv, withNone: boolean): Option[] {
  const opts: Option[] = env.system.interfaces.map((i, n) => ({ value: i.name, label: i.name, key: digitKeys[n] ?? "" }));
  if (withNone) opts.push({ value: "none", label: "none", key: "0" });
  return opts;
}

function requiredChoice(what: string) {
  return (v: string) => (v === "" ? `choose ${what}` : null);
}

export function buildSteps(v: Values, env: WizardEnv): Step[] {
  const steps: Step[] = [];
  const host = isHost(v);
  steps.push({
    id: "welcome",
    title: "Welcome",
    intro: [
      "This box has no configuration yet. These steps set it up as one of the three",
      "boxes of a hapd cluster: two hosts (host-a, host-b) that run the guests, and",
      "an arbitrator that only votes. Nothing is written until the summary, where",
      "Apply writes every file at once.",
      "",
      `Configuration: ${env.configPath}`,
    ],
    fields: [],
  });
  steps.push({
    id: "identity",
    title: "This box",
    intro: ["The host name of this box, and its place in the cluster."],
    fields: [
      { id: "hostname", label: "Host name", kind: "text", default: /^[a-z][a-z0-9-]{0,62}$/.test(env.system.hostname) ? env.system.hostname : "", validate: checkHostname, hint: "lower-case letters, digits and '-', e.g. hapd-a" },
      {
        id: "role",
        label: "Role",
        kind: "choice",
        default: "",
        options: [
          { value: "host-a", label: "host-a", key: "a" },
          { value: "host-b", label: "host-b", key: "b" },
          { value: "arb", label: "arbitrator", key: "r" },
        ],
        validate: requiredChoice("the role: a, b or r"),
        hint: "a: first host, b: second host, r: arbitrator (votes only)",
      },
    ],
  });
  const mgmt: Field[] = [
    { id: "mgmt.iface", label: "Interface", kind: "choice", options: interfaceOptions(env, false), default: env.system.interfaces[0]?.name ?? "", validate: requiredChoice("an interface"), hint: "the port the operators reach this box on" },
    {
      id: "mgmt.mode",
      label: "Address",
      kind: "choice",
      default: "dhcp",
      options: [
        { value: "dhcp", label: "DHCP", key: "d" },
        { value: "static", label: "static", key: "s" },
      ],
    },
  ];
  if (v["mgmt.mode"] === "static") {
    mgmt.push(
      { id: "mgmt.address", label: "Address/prefix", kind: "text", validate: checkCidr, hint: "e.g. 192.168.10.21/24" },
      {
        id: "mgmt.gateway",
        label: "Gateway",
        kind: "text",
        hint: "the router on that network",
        validate: (g, all) => {
          const c = checkIpv4(g, "gateway");
          if (c) return c;
          const net = parseCidr(all["mgmt.address"] ?? "");
          if (net && !inSubnet(g, net)) return `${g} is not in ${networkOf(net)}`;
          if (net && g === net.address) return "the gateway cannot be this box's own address";
          return null;
        },
      },
      { id: "mgmt.dns", label: "DNS servers", kind: "text", validate: (d) => checkIpv4List(d, "DNS", 3), hint: "up to 3 addresses, separated by ','" },
    );
  }
  mgmt.push({ id: "mgmt.vlan", label: "VLAN (optional)", kind: "text", default: "", validate: checkVlan, hint: "802.1Q VLAN id 1-4094, or empty for an untagged port" });
  steps.push({ id: "management", title: "Management network", intro: ["How operators reach this box."], fields: mgmt });

  const links: Field[] = [
    { id: "ring0.iface", label: "ring0 interface", kind: "choice", options: interfaceOptions(env, false), default: env.system.interfaces[1]?.name ?? env.system.interfaces[0]?.name ?? "", validate: requiredChoice("an interface") },
    { id: "ring0.address", label: "ring0 address/prefix", kind: "text", validate: checkCidr, hint: "this box on the first cluster network, e.g. 10.70.0.1/24" },
    {
      id: "ring1.iface",
      label: "ring1 interface",
      kind: "choice",
      options: interfaceOptions(env, true),
      default: env.system.interfaces[2]?.name ?? "none",
      validate: (i, all) => (i !== "none" && i === all["ring0.iface"] ? "ring1 must use another interface than ring0 (or 0: none)" : null),
      hint: "a second, independent network; 0 = none (not recommended)",
    },
  ];
  if ((v["ring1.iface"] ?? "none") !== "none") {
    links.push({
      id: "ring1.address",
      label: "ring1 address/prefix",
      kind: "text",
      hint: "this box on the second cluster network, e.g. 10.71.0.1/24",
      validate: (a, all) => {
        const c = checkCidr(a);
        if (c) return c;
        const r0 = parseCidr(all["ring0.address"] ?? "");
        const r1 = parseCidr(a)!;
        if (r0 && networkOf(r0) === networkOf(r1)) return `ring1 must be another network than ring0 (${networkOf(r0)})`;
        return null;
      },
    });
  }
  links.push({ id: "ring.port", label: "UDP port", kind: "text", default: DEFAULT_RING_PORT, validate: checkPort, hint: "the same on every box; 5405 unless it is taken" });
  if (host) {
    links.push({ id: "serial.device", label: "Serial line device", kind: "text", default: env.system.serialDefault, validate: (p) => env.system.checkSerial(p), hint: "the null-modem cable to the other host, e.g. /dev/ttyS1" });
  }
  steps.push({ id: "links", title: "Cluster links", intro: ["The networks the boxes watch each other over" + (host ? ", and the serial line between the hosts." : ".")], fields: links });

  const cluster: Field[] = [
    {
      id: "cluster.mode",
      label: "Cluster",
      kind: "choice",
      default: "",
      options: [
        { value: "create", label: "create a new one", key: "c" },
        { value: "join", label: "join one", key: "j" },
      ],
      validate: requiredChoice("c (create) or j (join)"),
      hint: "create on the first box; join on the other two, with the token",
    },
    { id: "cluster.name", label: "Cluster name", kind: "text", validate: checkClusterName, hint: "the same on every box, e.g. prod" },
  ];
  if (v["cluster.mode"] === "create") {
    cluster.push({
      id: "cluster.token-info",
      label: "Join token",
      kind: "info",
      lines: ["A new cluster key was made. Type this token on the other two boxes:", env.newToken, "(shown again on the summary, and under J in the console menu)"],
    });
  } else if (v["cluster.mode"] === "join") {
    cluster.push(
      { id: "cluster.token", label: "Join token", kind: "text", wide: true, validate: (t) => { const r = decodeJoinToken(t); return r.ok ? null : r.error; }, hint: "as shown on the first box; case, '-' and spaces do not matter" },
      { id: "cluster.peer", label: "A member's address", kind: "text", validate: (p) => checkEndpoint(p, Number(DEFAULT_RING_PORT)), hint: "ring0 address of a box already set up, e.g. 10.70.0.1" },
    );
  }
  steps.push({ id: "cluster", title: "Cluster", intro: ["Every box of a cluster shares one secret key; the join token carries it."], fields: cluster });

  const me = v.role ?? "";
  const ring1 = (v["ring1.iface"] ?? "none") !== "none";
  const peers: Field[] = [];
  for (const n of NODES) {
    if (n.name === me) continue;
    const ringField = (ring: "ring0" | "ring1"): Field => ({
      id: `peer.${n.name}.${ring}`,
      label: `${n.name} ${ring} address`,
      kind: "text",
      hint: `${n.name === "arb" ? "the arbitrator" : n.name}'s address on ${ring}`,
      validate: (a, all) => {
        const c = checkIpv4(a);
        if (c) return c;
        const net = parseCidr(all[`${ring}.address`] ?? "");
        if (net && !inSubnet(a, net)) return `${a} is not in ${ring}'s network ${networkOf(net)}`;
        if (net && a === net.address) return `${a} is this box's own ${ring} address`;
        return null;
      },
    });
    peers.push(ringField("ring0"));
    if (ring1) peers.push(ringField("ring1"));
  }
  steps.push({
    id: "peers",
    title: "The other boxes",
    intro: ["Where this box finds the other two on each cluster network."],
    fields: peers,
    validateStep: (all) => {
      const seen = new Map<string, string>();
      for (const f of peers) {
        const a = all[f.id] ?? "";
        const dup = seen.get(a);
        if (dup) return { field: f.id, error: `${a} is already ${dup}'s address` };
        seen.set(a, f.label.split(" ")[0]!);
      }
      if (all["cluster.mode"] === "join") {
        const peer = parseEndpoint(all["cluster.peer"] ?? "", Number(DEFAULT_RING_PORT));
        if (peer && !peers.some((f) => all[f.id] === peer.address)) {
          return { field: peers[0]!.id, error: `the member you join through (${peer.address}) is none of these` };
        }
      }
      return null;
    },
  });

  const fencing: Field[] = [];
  for (const hn of HOSTS) {
    fencing.push(
      { id: `bmc.${hn}.address`, label: `${hn} BMC address`, kind: "text", validate: (a) => checkEndpoint(a, DEFAULT_BMC_PORT), hint: `${hn}'s BMC (IPMI over LAN): address, optionally :port (623)` },
      { id: `bmc.${hn}.user`, label: `${hn} BMC user`, kind: "text", validate: checkBmcUser },
      { id: `bmc.${hn}.password`, label: `${hn} BMC password`, kind: "password", validate: checkBmcPassword, hint: "stored in a file only root can read" },
      {
        id: `bmc.${hn}.cipher`,
        label: `${hn} cipher suite`,
        kind: "choice",
        default: "17",
        options: [
          { value: "17", label: "17 (SHA-256, AES)", key: "7" },
          { value: "3", label: "3 (SHA-1, AES)", key: "3" },
        ],
        hint: "17 where the BMC has it; 3 for older BMCs",
      },
      { id: `bmc.${hn}.test`, label: `${hn} BMC`, kind: "action", action: { kind: "bmc-test", node: hn }, hint: "t asks the BMC for its power status (nothing is switched)" },
    );
  }
  steps.push({ id: "fencing", title: "Fencing", intro: ["Each host's BMC, so that a surviving box can power off a failed host."], fields: fencing });

  const wdOptions = env.system.watchdogs.filter((w) => host || w.value !== "ipmi");
  const watchdog: Field[] = [
    {
      id: "watchdog.driver",
      label: "Driver",
      kind: "choice",
      options: wdOptions.map((w, i) => ({ value: w.value, label: w.label, key: digitKeys[i] ?? "" })),
      default: wdOptions[0]?.value ?? "softdog",
      validate: requiredChoice("a watchdog driver"),
      hint: host ? "a hardware timer if the box has one; the BMC's uses the host's own BMC (above)" : "a hardware timer if the box has one, else softdog",
    },
  ];
  if (v["watchdog.driver"] !== "none") {
    watchdog.push(
      { id: "watchdog.timeout", label: "Timeout (seconds)", kind: "text", default: "10", validate: checkWatchdogTimeout, hint: "the box resets this long after its services stop feeding the timer" },
      { id: "watchdog.test", label: "Watchdog", kind: "action", action: { kind: "watchdog-test" }, hint: "t arms the watchdog and disarms it again" },
    );
  }
  steps.push({ id: "watchdog", title: "Watchdog", intro: ["The timer that resets this box if its services hang."], fields: watchdog });

  if (host) {
    steps.push({
      id: "disks",
      title: "Disks for replicated volumes",
      intro: ["Disks this host gives to replicated volumes (their contents will be lost)."],
      fields: [
        {
          id: "disks",
          label: "Disks",
          kind: "multi",
          default: "",
          options: env.system.disks.map((d, i) => ({
            value: d.path,
            label: `${d.name.padEnd(8)} ${humanSize(d.size_bytes).padStart(8)}  ${d.model}${d.inUse ? ` (in use: ${d.inUse})` : ""}`.trimEnd(),
            key: digitKeys[i] ?? "",
            ...(d.inUse ? { disabled: `${d.name} is in use: ${d.inUse}` } : {}),
          })),
          hint: env.system.disks.length ? "Space or the number toggles a disk; none is allowed (add volumes later)" : "no disks found besides the system disk",
        },
      ],
    });
  }

  steps.push({
    id: "time",
    title: "Time",
    intro: ["Clocks matter for logs and leases: NTP servers for this box."],
    fields: [{ id: "time.servers", label: "Time servers", kind: "text", validate: checkTimeServers, hint: "names or addresses, separated by ',' (up to 4)" }],
  });
  steps.push({
    id: "admin",
    title: "Admin password",
    intro: ["The password that unlocks this console. Stored only as an scrypt hash."],
    fields: [
      { id: "admin.password", label: "Password", kind: "password", validate: checkAdminPassword, hint: "at least 8 characters" },
      { id: "admin.confirm", label: "Again", kind: "password", validate: (c, all) => (c === all["admin.password"] ? null : "does not match the password above") },
    ],
  });
  steps.push({ id: "summary", title: "Summary", intro: [], fields: [] });
  return steps;
}

export function focusable(f: Field): boolean {
  return f.kind !== "info";
}
