// Writes realistic Pacemaker 2.1 CIBs from a small description: nodes with their membership
// state, resources with where they run and what failed, constraints. The status section looks
// like a running cluster wrote it (probes everywhere, start/monitor history with operation keys,
// transition keys, call ids and correct operation digests), so that both schedulers see exactly
// the situation the scenario describes and nothing else (a missing digest would mean "definition
// changed, restart").
import { digestParams, opDigest } from "../../services/crm/digest.ts";

export type NodeState = "online" | "lost" | "down" | "crmd-down" | "pending" | "unseen";

export interface NodeSpec {
  name: string;
  state?: NodeState;
  standby?: boolean;
  maintenance?: boolean;
  /** Permanent node attributes (<nodes> section). */
  attrs?: Record<string, string>;
  /** Transient attributes (status section), e.g. master-drbd. */
  transient?: Record<string, string>;
  utilization?: Record<string, number>;
}

export type RoleName = "Started" | "Promoted" | "Unpromoted";

export interface Failure {
  node: string;
  op: "monitor" | "start" | "stop" | "promote" | "demote";
  /** OCF exit code recorded (7 = not running, 1 = generic error, 5 = not installed). */
  rc: number;
  /** Failures counted in the fail count (default 1; INFINITY for start failures). */
  count?: number;
  /** Seconds before "now" when it happened (default 30). */
  age_s?: number;
}

export interface PrimitiveSpec {
  kind?: "primitive";
  id: string;
  class?: "ocf" | "stonith" | "lsb";
  provider?: string;
  type?: string;
  params?: Record<string, string>;
  meta?: Record<string, string>;
  utilization?: Record<string, number>;
  /** Recurring monitors; the first is the plain one, roles for promotable resources. */
  monitors?: { interval_s: number; timeout_s?: number; role?: "Promoted" | "Unpromoted"; onFail?: string; depth?: number }[];
  /** Where it is active now, and in which role. */
  running?: { node: string; role?: RoleName }[];
  failures?: Failure[];
  /** Nodes where it was never probed (state unknown). */
  unprobed?: string[];
  /** A completed live migration history: source -> target. */
  migrated?: { from: string; to: string };
}

export interface GroupSpec {
  kind: "group";
  id: string;
  meta?: Record<string, string>;
  members: PrimitiveSpec[];
}

export interface CloneSpec {
  kind: "clone";
  id: string;
  promotable?: boolean;
  meta?: Record<string, string>;
  child: PrimitiveSpec | GroupSpec;
}

export type ResourceSpec = PrimitiveSpec | GroupSpec | CloneSpec;

export interface ConstraintSpec {
  xml: string;
}

export interface ClusterSpec {
  name?: string;
  nodes: NodeSpec[];
  resources: ResourceSpec[];
  constraints?: string[];
  properties?: Record<string, string>;
  rscDefaults?: Record<string, string>;
  opDefaults?: Record<string, string>;
  haveQuorum?: boolean;
  dc?: string;
  now_s: number;
}

const UUID = "2668bbeb-06d5-4ad4-8b32-9a3d5d4a9f01";
const FEATURE_SET = "3.16.1";

function esc(v: string): string {
  return v.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function nvset(tag: string, id: string, values: Record<string, string | number> | undefined, indent: string): string {
  if (!values || Object.keys(values).length === 0) return "";
  const pairs = Object.entries(values)
    .map(([k, v]) => `${indent}  <nvpair id="${esc(id)}-${esc(k)}" name="${esc(k)}" value="${esc(String(v))}"/>`)
    .join("\n");
  return `${indent}<${tag} id="${esc(id)}">\n${pairs}\n${indent}</${tag}>\n`;
}

interface Prim {
  spec: PrimitiveSpec;
  /** Id in the history (clone instances are recorded under the base id). */
  historyId: string;
  promotable: boolean;
  cloneInstance: boolean;
}

function monitorsOf(p: PrimitiveSpec, promotable: boolean): NonNullable<PrimitiveSpec["monitors"]> {
  if (p.monitors) return p.monitors;
  if (p.class === "stonith") return [{ interval_s: 60 }];
  return promotable
    ? [
        { interval_s: 10, role: "Promoted" },
        { interval_s: 11, role: "Unpromoted" },
      ]
    : [{ interval_s: 10 }];
}

function primitiveXml(p: PrimitiveSpec, promotable: boolean, indent: string): string {
  const cls = p.class ?? "ocf";
  const provider = cls === "ocf" ? ` provider="${p.provider ?? "pacemaker"}"` : "";
  const type = p.type ?? (cls === "stonith" ? "fence_ipmilan" : "Dummy");
  let out = `${indent}<primitive id="${esc(p.id)}" class="${cls}"${provider} type="${type}">\n`;
  out += nvset("instance_attributes", `${p.id}-instance_attributes`, p.params, `${indent}  `);
  out += nvset("meta_attributes", `${p.id}-meta_attributes`, p.meta, `${indent}  `);
  out += nvset("utilization", `${p.id}-utilization`, p.utilization, `${indent}  `);
  const ops = monitorsOf(p, promotable);
  out += `${indent}  <operations>\n`;
  for (const m of ops) {
    const role = m.role ? ` role="${m.role}"` : "";
    const onFail = m.onFail ? ` on-fail="${m.onFail}"` : "";
    const timeout = ` timeout="${m.timeout_s ?? 20}s"`;
    const depth = m.depth !== undefined ? `\n${indent}      <instance_attributes id="${p.id}-monitor-${m.interval_s}-ia"><nvpair id="${p.id}-monitor-${m.interval_s}-depth" name="OCF_CHECK_LEVEL" value="${m.depth}"/></instance_attributes>\n${indent}    ` : "";
    const close = depth ? `>${depth}</op>` : "/>";
    out += `${indent}    <op id="${esc(p.id)}-monitor-${m.interval_s}s" name="monitor" interval="${m.interval_s}s"${timeout}${role}${onFail}${close}\n`;
  }
  out += `${indent}  </operations>\n${indent}</primitive>\n`;
  return out;
}

function resourceXml(r: ResourceSpec, indent: string): string {
  if (r.kind === "group") {
    let out = `${indent}<group id="${esc(r.id)}">\n`;
    out += nvset("meta_attributes", `${r.id}-meta_attributes`, r.meta, `${indent}  `);
    for (const m of r.members) out += primitiveXml(m, false, `${indent}  `);
    return `${out}${indent}</group>\n`;
  }
  if (r.kind === "clone") {
    const meta = { ...(r.promotable ? { promotable: "true" } : {}), ...(r.meta ?? {}) };
    let out = `${indent}<clone id="${esc(r.id)}">\n`;
    out += nvset("meta_attributes", `${r.id}-meta_attributes`, meta, `${indent}  `);
    out += r.child.kind === "group" ? resourceXml(r.child, `${indent}  `) : primitiveXml(r.child, !!r.promotable, `${indent}  `);
    return `${out}${indent}</clone>\n`;
  }
  return primitiveXml(r, false, indent);
}

function allPrimitives(spec: ClusterSpec): Prim[] {
  const out: Prim[] = [];
  for (const r of spec.resources) {
    if (r.kind === "group") for (const m of r.members) out.push({ spec: m, historyId: m.id, promotable: false, cloneInstance: false });
    else if (r.kind === "clone") {
      const c = r.child;
      if (c.kind === "group") for (const m of c.members) out.push({ spec: m, historyId: m.id, promotable: !!r.promotable, cloneInstance: true });
      else out.push({ spec: c, historyId: c.id, promotable: !!r.promotable, cloneInstance: true });
    }
    else out.push({ spec: r, historyId: r.id, promotable: false, cloneInstance: false });
  }
  return out;
}

class History {
  private callId = 10;
  private transition = 1;
  constructor(
    private readonly node: string,
    private readonly now_s: number,
  ) {}

  op(
    p: Prim,
    key: { id: string; task: string; interval_ms: number },
    rc: number,
    target: number,
    age_s: number,
    extra: { timeout_ms?: number; migrate?: { from: string; to: string }; opStatus?: number } = {},
  ): string {
    const call = this.callId++;
    const action = this.transition++;
    const tkey = `${action}:1:${target}:${UUID}`;
    const params = p.spec.params ?? {};
    const digestTask = key.interval_ms === 0 ? 0 : key.interval_ms;
    const monitor = monitorsOf(p.spec, p.promotable).find((m) => m.interval_s * 1000 === key.interval_ms);
    const opParams: Record<string, string> = monitor?.depth !== undefined ? { OCF_CHECK_LEVEL: String(monitor.depth) } : {};
    const digest = opDigest(digestParams(params, opParams, digestTask, extra.timeout_ms ?? 20000));
    const t = this.now_s - age_s;
    const mig = extra.migrate ? ` migrate_source="${extra.migrate.from}" migrate_target="${extra.migrate.to}"` : "";
    const status = extra.opStatus ?? 0;
    return `          <lrm_rsc_op id="${esc(key.id)}" operation_key="${esc(`${p.historyId}_${key.task}_${key.interval_ms}`)}" operation="${key.task}" crm-debug-origin="do_update_resource" crm_feature_set="${FEATURE_SET}" transition-key="${tkey}" transition-magic="${status}:${rc};${tkey}" exit-reason="" on_node="${this.node}" call-id="${call}" rc-code="${rc}" op-status="${status}" interval="${key.interval_ms}" last-rc-change="${t}" exec-time="10" queue-time="0" op-digest="${digest}"${mig}/>\n`;
  }
}

function failAttrs(p: Prim, f: Failure, now_s: number): Record<string, string> {
  const monitor = monitorsOf(p.spec, p.promotable)[0];
  const interval_ms = f.op === "monitor" ? (monitor?.interval_s ?? 10) * 1000 : 0;
  const name = `${p.historyId}#${f.op}_${interval_ms}`;
  const count = f.count ?? (f.op === "start" ? "INFINITY" : 1);
  return {
    [`fail-count-${name}`]: String(count),
    [`last-failure-${name}`]: String(now_s - (f.age_s ?? 30)),
  };
}

function lrmResource(p: Prim, node: string, h: History, now_s: number): string {
  const s = p.spec;
  if (s.unprobed?.includes(node)) return "";
  const id = p.historyId;
  const cls = s.class ?? "ocf";
  const provider = cls === "ocf" ? ` provider="${s.provider ?? "pacemaker"}"` : "";
  const type = s.type ?? (cls === "stonith" ? "fence_ipmilan" : "Dummy");
  let body = "";
  const run = s.running?.find((r) => r.node === node);
  const failures = (s.failures ?? []).filter((f) => f.node === node);
  const monitors = monitorsOf(s, p.promotable);
  const last = (task: string) => ({ id: `${id}_last_0`, task, interval_ms: 0 });
  const mon = (m: { interval_s: number }) => ({ id: `${id}_monitor_${m.interval_s * 1000}`, task: "monitor", interval_ms: m.interval_s * 1000 });
  const startFail = failures.find((f) => f.op === "start");
  const stopFail = failures.find((f) => f.op === "stop");
  if (s.migrated && s.migrated.from === node) {
    body += h.op(p, { id: `${id}_migrate_to_0`, task: "migrate_to", interval_ms: 0 }, 0, 0, 120, { migrate: s.migrated });
    body += h.op(p, last("stop"), 0, 0, 110);
  } else if (s.migrated && s.migrated.to === node) {
    body += h.op(p, { id: `${id}_last_0`, task: "migrate_from", interval_ms: 0 }, 0, 0, 115, { migrate: s.migrated });
    const m = monitors[0]!;
    body += h.op(p, mon(m), 0, 0, 100, { timeout_ms: (m.timeout_s ?? 20) * 1000 });
  } else if (startFail) {
    body += h.op(p, last("start"), startFail.rc, 0, startFail.age_s ?? 30);
    body += h.op(p, { id: `${id}_last_failure_0`, task: "start", interval_ms: 0 }, startFail.rc, 0, startFail.age_s ?? 30);
  } else if (stopFail) {
    body += h.op(p, last("stop"), stopFail.rc, 0, stopFail.age_s ?? 30);
    body += h.op(p, { id: `${id}_last_failure_0`, task: "stop", interval_ms: 0 }, stopFail.rc, 0, stopFail.age_s ?? 30);
  } else if (run) {
    const role = run.role ?? (p.promotable ? "Unpromoted" : "Started");
    body += h.op(p, last(role === "Promoted" ? "promote" : "start"), 0, 0, 600);
    const wanted = p.promotable ? monitors.filter((m) => m.role === role) : monitors.filter((m) => m.role === undefined);
    for (const m of wanted) {
      const failure = failures.find((f) => f.op === "monitor");
      const target = role === "Promoted" ? 8 : 0;
      if (failure) {
        body += h.op(p, mon(m), failure.rc, target, failure.age_s ?? 30, { timeout_ms: (m.timeout_s ?? 20) * 1000 });
        body += h.op(p, { id: `${id}_last_failure_0`, task: "monitor", interval_ms: m.interval_s * 1000 }, failure.rc, target, failure.age_s ?? 30, { timeout_ms: (m.timeout_s ?? 20) * 1000 });
      } else {
        body += h.op(p, mon(m), target, target, 590, { timeout_ms: (m.timeout_s ?? 20) * 1000 });
      }
    }
  } else {
    body += h.op(p, last("monitor"), 7, 7, 900);
  }
  void now_s;
  return `        <lrm_resource id="${esc(id)}" class="${cls}"${provider} type="${type}">\n${body}        </lrm_resource>\n`;
}

function nodeStateAttrs(state: NodeState): string {
  switch (state) {
    case "online":
      return `in_ccm="true" crmd="online" join="member" expected="member"`;
    case "lost":
      return `in_ccm="false" crmd="offline" join="down" expected="member"`;
    case "crmd-down":
      return `in_ccm="true" crmd="offline" join="down" expected="member"`;
    case "down":
      return `in_ccm="false" crmd="offline" join="down" expected="down"`;
    case "pending":
      return `in_ccm="true" crmd="online" join="pending" expected="member"`;
    case "unseen":
      return "";
  }
}

/** The CIB as XML. */
export function buildCib(spec: ClusterSpec): string {
  const props: Record<string, string> = { "stonith-enabled": "true", "no-quorum-policy": "stop", "cluster-name": spec.name ?? "lab", ...(spec.properties ?? {}) };
  const dc = spec.dc ?? spec.nodes.find((n) => (n.state ?? "online") === "online")?.name ?? spec.nodes[0]!.name;
  const quorum = spec.haveQuorum ?? true;
  let out = `<cib crm_feature_set="${FEATURE_SET}" validate-with="pacemaker-3.9" epoch="10" num_updates="5" admin_epoch="0" have-quorum="${quorum ? 1 : 0}" dc-uuid="${dc}">\n`;
  out += `  <configuration>\n    <crm_config>\n${nvset("cluster_property_set", "cib-bootstrap-options", props, "      ")}    </crm_config>\n`;
  out += `    <nodes>\n`;
  for (const n of spec.nodes) {
    const permanent: Record<string, string> = { ...(n.attrs ?? {}) };
    if (n.standby) permanent["standby"] = "on";
    if (n.maintenance) permanent["maintenance"] = "true";
    const inner = nvset("instance_attributes", `nodes-${n.name}`, permanent, "        ") + nvset("utilization", `nodes-${n.name}-utilization`, n.utilization, "        ");
    out += inner ? `      <node id="${n.name}" uname="${n.name}">\n${inner}      </node>\n` : `      <node id="${n.name}" uname="${n.name}"/>\n`;
  }
  out += `    </nodes>\n    <resources>\n`;
  for (const r of spec.resources) out += resourceXml(r, "      ");
  out += `    </resources>\n    <constraints>\n`;
  for (const c of spec.constraints ?? []) out += `      ${c}\n`;
  out += `    </constraints>\n`;
  if (spec.rscDefaults) out += `    <rsc_defaults>\n${nvset("meta_attributes", "rsc-options", spec.rscDefaults, "      ")}    </rsc_defaults>\n`;
  if (spec.opDefaults) out += `    <op_defaults>\n${nvset("meta_attributes", "op-options", spec.opDefaults, "      ")}    </op_defaults>\n`;
  out += `  </configuration>\n  <status>\n`;
  const prims = allPrimitives(spec);
  for (const n of spec.nodes) {
    const state = n.state ?? "online";
    if (state === "unseen") continue;
    const transient: Record<string, string> = { ...(n.transient ?? {}) };
    for (const p of prims) for (const f of p.spec.failures ?? []) if (f.node === n.name) Object.assign(transient, failAttrs(p, f, spec.now_s));
    out += `    <node_state id="${n.name}" uname="${n.name}" ${nodeStateAttrs(state)} crm-debug-origin="do_update_resource">\n`;
    if (Object.keys(transient).length > 0) {
      out += `      <transient_attributes id="${n.name}">\n${nvset("instance_attributes", `status-${n.name}`, transient, "        ")}      </transient_attributes>\n`;
    }
    const h = new History(n.name, spec.now_s);
    out += `      <lrm id="${n.name}">\n        <lrm_resources>\n`;
    for (const p of prims) out += lrmResource(p, n.name, h, spec.now_s).replace(/^ {8}/gm, "          ");
    out += `        </lrm_resources>\n      </lrm>\n    </node_state>\n`;
  }
  out += `  </status>\n</cib>\n`;
  return out;
}
