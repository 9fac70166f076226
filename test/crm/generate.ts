// Seeded generator of cluster situations for the differential tests against crm_simulate. Each
// scenario kind is one of the failure stories the appliance must handle; the seed picks the
// details (how many guests, where they run, scores, which node fails, thresholds, ...). The same
// seed always gives the same CIB, so a disagreement is replayed with its seed.
import { type ClusterSpec, type NodeSpec, type PrimitiveSpec, type ResourceSpec, buildCib } from "./cib-builder.ts";
import { seededRandom as rng } from "../../services/shared/random.ts";

export const KINDS = [
  "node-loss",
  "failed-monitor",
  "standby",
  "migration",
  "stickiness",
  "groups",
  "chains",
  "promotable",
  "maintenance",
  "quorum",
  "utilization",
  "clones",
] as const;

export type Kind = (typeof KINDS)[number];

export { rng };

class Pick {
  constructor(private readonly r: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.r() * (hi - lo + 1));
  }
  bool(p = 0.5): boolean {
    return this.r() < p;
  }
  one<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)]!;
  }
  shuffle<T>(xs: readonly T[]): T[] {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.r() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }
}

export interface Scenario {
  name: string;
  kind: Kind;
  seed: number;
  xml: string;
  spec: ClusterSpec;
}

const SCORES = [0, 10, 50, 100, 200, 1000, "INFINITY"] as const;

function byName(nodes: NodeSpec[], name: string): NodeSpec {
  const n = nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
}

function hosts(p: Pick, n?: number): string[] {
  const count = n ?? p.int(2, 3);
  return ["host-a", "host-b", "host-c", "host-d"].slice(0, count);
}

function fence(p: Pick, on: string): PrimitiveSpec {
  return { id: "fence-ipmi", class: "stonith", type: "fence_ipmilan", params: { ip: "10.72.0.1", username: "admin" }, running: [{ node: on }], meta: p.bool(0.2) ? { "resource-stickiness": "100" } : {} };
}

function guest(id: string, p: Pick, running: string | null, extra: Partial<PrimitiveSpec> = {}): PrimitiveSpec {
  const spec: PrimitiveSpec = { id, type: p.one(["Dummy", "Stateful"]) === "Dummy" ? "Dummy" : "Dummy", ...extra };
  if (running) spec.running = [{ node: running }];
  return spec;
}

function locPrefs(p: Pick, ids: string[], nodes: string[], prob = 0.5): string[] {
  const out: string[] = [];
  for (const id of ids) {
    if (!p.bool(prob)) continue;
    const node = p.one(nodes);
    const score = p.one(SCORES);
    out.push(`<rsc_location id="loc-${id}-${node}" rsc="${id}" node="${node}" score="${score}"/>`);
  }
  return out;
}

function arbitratorBan(ids: string[], arb: string | null): string[] {
  if (!arb) return [];
  return ids.map((id) => `<rsc_location id="ban-${id}-arb" rsc="${id}" node="${arb}" score="-INFINITY"/>`);
}

function base(p: Pick, now_s: number): { nodes: NodeSpec[]; hostNames: string[]; arb: string | null; spec: Partial<ClusterSpec> } {
  const hostNames = hosts(p);
  const arb = p.bool(0.4) ? "arb" : null;
  const nodes: NodeSpec[] = hostNames.map((n) => ({ name: n }));
  if (arb) nodes.push({ name: arb });
  const rscDefaults: Record<string, string> = {};
  if (p.bool(0.6)) rscDefaults["resource-stickiness"] = String(p.one([0, 1, 50, 100, 1000, "INFINITY"]));
  if (p.bool(0.2)) rscDefaults["migration-threshold"] = String(p.int(1, 3));
  return { nodes, hostNames, arb, spec: { rscDefaults, now_s } };
}

function finish(kind: Kind, seed: number, spec: ClusterSpec): Scenario {
  return { name: `${kind}-${seed}`, kind, seed, spec, xml: buildCib(spec) };
}

function nodeLoss(p: Pick, seed: number, now_s: number): Scenario {
  const { nodes, hostNames, arb, spec } = base(p, now_s);
  const n = p.int(2, 5);
  const ids = Array.from({ length: n }, (_, i) => `vm${i + 1}`);
  const resources: ResourceSpec[] = [fence(p, p.one(hostNames))];
  for (const id of ids) {
    const allowMigrate = p.bool(0.3);
    resources.push(guest(id, p, p.one(hostNames), { meta: allowMigrate ? { "allow-migrate": "true" } : {} }));
  }
  const lost = p.one(hostNames);
  const lostNode = nodes.find((x) => x.name === lost)!;
  if (p.bool(0.15)) lostNode.transient = { shutdown: String(now_s - 5) };
  else lostNode.state = p.one(["lost", "lost", "lost", "crmd-down", "unseen"] as const);
  const constraints = [...locPrefs(p, ids, hostNames), ...arbitratorBan(["fence-ipmi", ...ids], arb)];
  const props: Record<string, string> = {};
  if (p.bool(0.2)) props["stonith-action"] = "off";
  const dc = p.bool(0.3) ? lost : hostNames.find((h) => h !== lost)!;
  return finish("node-loss", seed, { ...spec, nodes, resources, constraints, properties: props, dc, now_s } as ClusterSpec);
}

function failedMonitor(p: Pick, seed: number, now_s: number): Scenario {
  const { nodes, hostNames, arb, spec } = base(p, now_s);
  const n = p.int(1, 4);
  const ids = Array.from({ length: n }, (_, i) => `svc${i + 1}`);
  const resources: ResourceSpec[] = [fence(p, p.one(hostNames))];
  const victim = p.one(ids);
  for (const id of ids) {
    const where = p.one(hostNames);
    const meta: Record<string, string> = {};
    let onFail: string | undefined;
    const failures: PrimitiveSpec["failures"] = [];
    if (id === victim) {
      if (p.bool(0.7)) meta["migration-threshold"] = String(p.int(1, 4));
      if (p.bool(0.3)) meta["failure-timeout"] = "60s";
      if (p.bool(0.35)) onFail = p.one(["restart", "block", "stop", "standby", "fence", "ignore"]);
      failures.push({ node: where, op: "monitor", rc: p.one([7, 7, 1]), count: p.int(1, 4), age_s: p.one([5, 20, 3600]) });
    }
    const spec1: PrimitiveSpec = { id, running: [{ node: where }], meta, failures };
    if (onFail) spec1.monitors = [{ interval_s: 10, onFail }];
    resources.push(spec1);
  }
  const constraints = [...locPrefs(p, ids, hostNames, 0.4), ...arbitratorBan(["fence-ipmi", ...ids], arb)];
  if (p.bool(0.3)) {
    // Also a failed start elsewhere (start-failure-is-fatal bans that node).
    const other = p.one(ids);
    const r = resources.find((x) => x.id === other) as PrimitiveSpec;
    const node = hostNames.find((h) => !r.running?.some((x) => x.node === h));
    if (node) r.failures = [...(r.failures ?? []), { node, op: "start", rc: 1 }];
  }
  return finish("failed-monitor", seed, { ...spec, nodes, resources, constraints, now_s } as ClusterSpec);
}

function standby(p: Pick, seed: number, now_s: number): Scenario {
  const { nodes, hostNames, arb, spec } = base(p, now_s);
  const ids = Array.from({ length: p.int(2, 5) }, (_, i) => `vm${i + 1}`);
  const resources: ResourceSpec[] = [fence(p, p.one(hostNames))];
  for (const id of ids) resources.push(guest(id, p, p.bool(0.85) ? p.one(hostNames) : null));
  const s = p.one(hostNames);
  const sn = nodes.find((x) => x.name === s)!;
  if (p.bool(0.5)) sn.standby = true;
  else sn.transient = { standby: "on" };
  const constraints = [...locPrefs(p, ids, hostNames), ...arbitratorBan(["fence-ipmi", ...ids], arb)];
  return finish("standby", seed, { ...spec, nodes, resources, constraints, now_s } as ClusterSpec);
}

function migration(p: Pick, seed: number, now_s: number): Scenario {
  const { nodes, hostNames, arb, spec } = base(p, now_s);
  const ids = Array.from({ length: p.int(1, 4) }, (_, i) => `vm${i + 1}`);
  const resources: ResourceSpec[] = [fence(p, p.one(hostNames))];
  const constraints: string[] = [...arbitratorBan(["fence-ipmi", ...ids], arb)];
  for (const id of ids) {
    const from = p.one(hostNames);
    const r = guest(id, p, from, { meta: { "allow-migrate": p.bool(0.8) ? "true" : "false" } });
    if (p.bool(0.25)) {
      const to = hostNames.find((h) => h !== from)!;
      r.migrated = { from, to };
      r.running = [{ node: to }];
    }
    resources.push(r);
    const target = p.one(hostNames);
    constraints.push(`<rsc_location id="prefer-${id}" rsc="${id}" node="${target}" score="${p.one([100, 1000, "INFINITY"])}"/>`);
  }
  if (ids.length > 1 && p.bool(0.4)) {
    const [a, b] = p.shuffle(ids);
    constraints.push(`<rsc_order id="order-${a}-${b}" first="${a}" then="${b}" kind="${p.one(["Mandatory", "Optional"])}"/>`);
  }
  if (p.bool(0.3)) byName(nodes, p.one(hostNames)).standby = true;
  return finish("migration", seed, { ...spec, nodes, resources, constraints, now_s } as ClusterSpec);
}

function stickiness(p: Pick, seed: number, now_s: number): Scenario {
  const { nodes, hostNames, arb, spec } = base(p, now_s);
  const ids = Array.from({ length: p.int(2, 6) }, (_, i) => `app${i + 1}`);
  const resources: ResourceSpec[] = [fence(p, p.one(hostNames))];
  for (const id of ids) {
    const meta: Record<string, string> = {};
    if (p.bool(0.4)) meta["resource-stickiness"] = String(p.one([0, 10, 100, 500, "INFINITY"]));
    if (p.bool(0.15)) meta["priority"] = String(p.int(1, 10));
    resources.push(guest(id, p, p.bool(0.8) ? p.one(hostNames) : null, { meta }));
  }
  const constraints = [...locPrefs(p, ids, hostNames, 0.8), ...arbitratorBan(["fence-ipmi", ...ids], arb)];
  if (p.bool(0.3)) constraints.push(`<rsc_location id="avoid-${ids[0]}" rsc="${ids[0]}" node="${p.one(hostNames)}" score="-${p.one([10, 100, "INFINITY"])}"/>`);
  return finish("stickiness", seed, { ...spec, nodes, resources, constraints, now_s } as ClusterSpec);
}

function groups(p: Pick, seed: number, now_s: number): Scenario {
  const { nodes, hostNames, arb, spec } = base(p, now_s);
  const resources: ResourceSpec[] = [fence(p, p.one(hostNames))];
  const groupIds: string[] = [];
  const nGroups = p.int(1, 2);
  for (let g = 0; g < nGroups; g++) {
    const gid = `grp${g + 1}`;
    groupIds.push(gid);
    const where = p.bool(0.8) ? p.one(hostNames) : null;
    const size = p.int(2, 3);
    const members: PrimitiveSpec[] = [];
    for (let m = 0; m < size; m++) {
      const id = `${gid}-r${m + 1}`;
      const partial = where !== null && !(m === size - 1 && p.bool(0.2));
      const mem: PrimitiveSpec = { id };
      if (partial && where) mem.running = [{ node: where }];
      if (where && partial && p.bool(0.15)) mem.failures = [{ node: where, op: "monitor", rc: 7 }];
      members.push(mem);
    }
    const meta: Record<string, string> = {};
    if (p.bool(0.2)) meta["target-role"] = "Stopped";
    resources.push({ kind: "group", id: gid, members, meta });
  }
  const constraints = [...locPrefs(p, groupIds, hostNames, 0.7), ...arbitratorBan(["fence-ipmi", ...groupIds], arb)];
  if (groupIds.length === 2 && p.bool(0.5)) {
    constraints.push(`<rsc_colocation id="col-g" rsc="grp2" with-rsc="grp1" score="${p.one(["INFINITY", "-INFINITY", "100"])}"/>`);
  }
  if (p.bool(0.3)) byName(nodes, p.one(hostNames)).standby = true;
  return finish("groups", seed, { ...spec, nodes, resources, constraints, now_s } as ClusterSpec);
}

function chains(p: Pick, seed: number, now_s: number): Scenario {
  const { nodes, hostNames, arb, spec } = base(p, now_s);
  const ids = Array.from({ length: p.int(3, 5) }, (_, i) => `r${i + 1}`);
  const resources: ResourceSpec[] = [fence(p, p.one(hostNames))];
  const anchor = p.one(hostNames);
  for (const id of ids) {
    const r = guest(id, p, p.bool(0.7) ? (p.bool(0.7) ? anchor : p.one(hostNames)) : null);
    if (p.bool(0.12)) r.meta = { "target-role": "Stopped" };
    if (r.running && p.bool(0.15)) r.failures = [{ node: r.running[0]!.node, op: "monitor", rc: 7 }];
    resources.push(r);
  }
  const constraints: string[] = [...arbitratorBan(["fence-ipmi", ...ids], arb)];
  for (let i = 1; i < ids.length; i++) {
    if (p.bool(0.75)) {
      const kind = p.one(["Mandatory", "Mandatory", "Optional"]);
      const sym = p.bool(0.15) ? ` symmetrical="false"` : "";
      constraints.push(`<rsc_order id="o-${ids[i - 1]}-${ids[i]}" first="${ids[i - 1]}" then="${ids[i]}" kind="${kind}"${sym}/>`);
    }
    if (p.bool(0.6)) {
      constraints.push(`<rsc_colocation id="c-${ids[i]}-${ids[i - 1]}" rsc="${ids[i]}" with-rsc="${ids[i - 1]}" score="${p.one(["INFINITY", "INFINITY", "100", "-INFINITY", "-100"])}"/>`);
    }
  }
  constraints.push(...locPrefs(p, ids, hostNames, 0.3));
  if (p.bool(0.25)) {
    const victim = p.one(hostNames);
    const r = resources.find((x) => x.id === ids[0]) as PrimitiveSpec;
    r.failures = [...(r.failures ?? []), { node: victim, op: "start", rc: 1 }];
    r.running = undefined;
  }
  return finish("chains", seed, { ...spec, nodes, resources, constraints, now_s } as ClusterSpec);
}

function promotable(p: Pick, seed: number, now_s: number): Scenario {
  const { nodes, hostNames, arb, spec } = base(p, now_s);
  const two = hostNames.slice(0, 2);
  const promotedOn = p.one(two);
  const resources: ResourceSpec[] = [fence(p, p.one(hostNames))];
  const drbd: PrimitiveSpec = {
    id: "drbd",
    running: two.map((h) => ({ node: h, role: h === promotedOn ? "Promoted" : "Unpromoted" })),
  };
  if (p.bool(0.2)) drbd.failures = [{ node: promotedOn, op: "monitor", rc: p.one([7, 1]) }];
  resources.push({ kind: "clone", id: "drbd-clone", promotable: true, meta: { "clone-max": "2", "clone-node-max": "1", "promoted-max": "1", notify: "false" }, child: drbd });
  for (const n of nodes) {
    if (two.includes(n.name)) n.transient = { ...(n.transient ?? {}), "master-drbd": String(n.name === promotedOn ? p.one([10, 100, 5]) : p.one([5, 10, 100])) };
  }
  const guests = Array.from({ length: p.int(1, 3) }, (_, i) => `vm${i + 1}`);
  const constraints: string[] = [...arbitratorBan(["fence-ipmi", "drbd-clone", ...guests], arb)];
  for (const g of guests) {
    resources.push(guest(g, p, p.bool(0.85) ? promotedOn : null));
    constraints.push(`<rsc_colocation id="col-${g}-drbd" rsc="${g}" with-rsc="drbd-clone" with-rsc-role="Promoted" score="INFINITY"/>`);
    constraints.push(`<rsc_order id="ord-drbd-${g}" first="drbd-clone" first-action="promote" then="${g}" then-action="start" kind="Mandatory"/>`);
  }
  const third = hostNames[2];
  if (third) constraints.push(`<rsc_location id="drbd-not-${third}" rsc="drbd-clone" node="${third}" score="-INFINITY"/>`);
  const event = p.one(["none", "loss", "standby", "prefer"] as const);
  if (event === "loss") nodes.find((x) => x.name === promotedOn)!.state = "lost";
  else if (event === "standby") nodes.find((x) => x.name === promotedOn)!.standby = true;
  else if (event === "prefer") constraints.push(`<rsc_location id="drbd-promote-pref" rsc="drbd-clone" role="Promoted" node="${two.find((h) => h !== promotedOn)}" score="${p.one([50, 500, "INFINITY"])}"/>`);
  return finish("promotable", seed, { ...spec, nodes, resources, constraints, now_s } as ClusterSpec);
}

function maintenance(p: Pick, seed: number, now_s: number): Scenario {
  const { nodes, hostNames, arb, spec } = base(p, now_s);
  const ids = Array.from({ length: p.int(2, 4) }, (_, i) => `svc${i + 1}`);
  const resources: ResourceSpec[] = [fence(p, p.one(hostNames))];
  for (const id of ids) {
    const meta: Record<string, string> = {};
    if (p.bool(0.3)) meta["is-managed"] = "false";
    resources.push(guest(id, p, p.bool(0.8) ? p.one(hostNames) : null, { meta }));
  }
  const properties: Record<string, string> = {};
  const what = p.one(["node", "cluster", "unmanaged"] as const);
  if (what === "node") byName(nodes, p.one(hostNames)).maintenance = true;
  else if (what === "cluster") properties["maintenance-mode"] = "true";
  const constraints = [...locPrefs(p, ids, hostNames), ...arbitratorBan(["fence-ipmi", ...ids], arb)];
  if (p.bool(0.3)) byName(nodes, p.one(hostNames)).standby = true;
  return finish("maintenance", seed, { ...spec, nodes, resources, constraints, properties, now_s } as ClusterSpec);
}

function quorum(p: Pick, seed: number, now_s: number): Scenario {
  const { nodes, hostNames, arb, spec } = base(p, now_s);
  const ids = Array.from({ length: p.int(2, 4) }, (_, i) => `vm${i + 1}`);
  const resources: ResourceSpec[] = [fence(p, p.one(hostNames))];
  for (const id of ids) resources.push(guest(id, p, p.bool(0.6) ? p.one(hostNames) : null));
  const policy = p.one(["stop", "freeze", "ignore", "demote"]);
  const lost = p.one(hostNames);
  nodes.find((x) => x.name === lost)!.state = p.one(["lost", "down"] as const);
  const constraints = [...locPrefs(p, ids, hostNames), ...arbitratorBan(["fence-ipmi", ...ids], arb)];
  return finish("quorum", seed, { ...spec, nodes, resources, constraints, properties: { "no-quorum-policy": policy }, haveQuorum: false, dc: hostNames.find((h) => h !== lost)!, now_s } as ClusterSpec);
}

function utilization(p: Pick, seed: number, now_s: number): Scenario {
  const { nodes, hostNames, arb, spec } = base(p, now_s);
  for (const n of nodes) if (hostNames.includes(n.name)) n.utilization = { cpu: p.int(2, 8), memory: p.one([2048, 4096, 8192]) };
  if (arb) nodes.find((x) => x.name === arb)!.utilization = { cpu: 1, memory: 512 };
  const ids = Array.from({ length: p.int(2, 6) }, (_, i) => `vm${i + 1}`);
  const resources: ResourceSpec[] = [fence(p, p.one(hostNames))];
  for (const id of ids) resources.push(guest(id, p, p.bool(0.5) ? p.one(hostNames) : null, { utilization: { cpu: p.int(1, 3), memory: p.one([512, 1024, 2048]) } }));
  const constraints = [...locPrefs(p, ids, hostNames, 0.3), ...arbitratorBan(["fence-ipmi", ...ids], arb)];
  return finish("utilization", seed, { ...spec, nodes, resources, constraints, properties: { "placement-strategy": p.one(["utilization", "minimal", "balanced"]) }, now_s } as ClusterSpec);
}

function clones(p: Pick, seed: number, now_s: number): Scenario {
  const { nodes, hostNames, arb, spec } = base(p, now_s);
  const resources: ResourceSpec[] = [fence(p, p.one(hostNames))];
  const runOn = hostNames.filter(() => p.bool(0.8));
  const ping: PrimitiveSpec = { id: "ping", running: runOn.map((h) => ({ node: h })) };
  if (runOn.length > 0 && p.bool(0.2)) ping.failures = [{ node: p.one(runOn), op: "monitor", rc: 7 }];
  const meta: Record<string, string> = {};
  if (p.bool(0.3)) meta["clone-max"] = String(p.int(1, hostNames.length));
  if (p.bool(0.3)) meta["interleave"] = "true";
  if (p.bool(0.3)) {
    // A cloned group: the base services every host runs, in order.
    const second: PrimitiveSpec = { id: "ping-agent", running: ping.running?.filter(() => p.bool(0.9)) ?? [] };
    resources.push({ kind: "clone", id: "ping-clone", meta, child: { kind: "group", id: "base", members: [ping, second] } });
  } else {
    resources.push({ kind: "clone", id: "ping-clone", meta, child: ping });
  }
  const ids = Array.from({ length: p.int(1, 3) }, (_, i) => `web${i + 1}`);
  const constraints: string[] = [...arbitratorBan(["fence-ipmi", "ping-clone", ...ids], arb)];
  for (const id of ids) {
    resources.push(guest(id, p, p.bool(0.7) ? p.one(hostNames) : null));
    constraints.push(`<rsc_colocation id="col-${id}-ping" rsc="${id}" with-rsc="ping-clone" score="${p.one(["INFINITY", "100"])}"/>`);
    constraints.push(`<rsc_order id="ord-ping-${id}" first="ping-clone" then="${id}" kind="${p.one(["Mandatory", "Optional"])}"/>`);
  }
  constraints.push(...locPrefs(p, ids, hostNames, 0.4));
  if (p.bool(0.35)) byName(nodes, p.one(hostNames)).state = p.one(["lost", "down"] as const);
  return finish("clones", seed, { ...spec, nodes, resources, constraints, now_s } as ClusterSpec);
}

const GENERATORS: Record<Kind, (p: Pick, seed: number, now_s: number) => Scenario> = {
  "node-loss": nodeLoss,
  "failed-monitor": failedMonitor,
  standby,
  migration,
  stickiness,
  groups,
  chains,
  promotable,
  maintenance,
  quorum,
  utilization,
  clones,
};

/** The scenario for a seed: the kind cycles through KINDS, the details come from the seed. */
export function generate(seed: number, now_s: number, kind?: Kind): Scenario {
  const k = kind ?? KINDS[seed % KINDS.length]!;
  return GENERATORS[k](new Pick(rng(seed * 7919 + 17)), seed, now_s);
}
