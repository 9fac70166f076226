// `hapd crm import`: a Pacemaker CIB's configuration as this project's YAML (yaml-config.ts), so a
// Pacemaker cluster can move onto the appliance. The status section is runtime state and is not
// imported. The result is parsed back through the same schema and model checks before it is
// returned, so an import never yields a file `hapd crm configure` would refuse.
import { stringify } from "yaml";
import type { ClusterConfig, ClusterInput, Constraint, GroupDef, OpDef, PrimitiveDef, ResourceDef } from "./model.ts";
import { INFINITY, ModelError, parseDuration_ms, parseScore } from "./model.ts";
import { CrmConfigError, parseCrmYaml } from "./yaml-config.ts";

/** Cluster options that describe the running cluster rather than its configuration. */
const RUNTIME_PROPERTIES = new Set(["dc-version", "cluster-infrastructure", "have-watchdog", "last-lrm-refresh", "cluster-recheck-interval"]);

const ON_FAIL = new Set(["ignore", "block", "stop", "restart", "standby", "fence", "demote"]);

type Obj = Record<string, unknown>;

function score(v: string): number | string {
  const n = parseScore(v);
  if (n === null) return v;
  if (n >= INFINITY) return "INFINITY";
  if (n <= -INFINITY) return "-INFINITY";
  return n;
}

function bool(v: string): boolean | undefined {
  if (/^(true|on|yes|y|1)$/i.test(v)) return true;
  if (/^(false|off|no|n|0)$/i.test(v)) return false;
  return undefined;
}

/** Typed resource fields from meta-attributes; what has no typed field stays in meta. */
function metaFields(meta: Record<string, string>, out: Obj, notes: string[], where: string): void {
  const rest: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) {
    switch (k) {
      case "resource-stickiness":
        out["stickiness"] = score(v);
        break;
      case "migration-threshold": {
        const n = Number.parseInt(v, 10);
        if (Number.isFinite(n) && n >= 0) out["migration_threshold"] = n;
        else if (/^inf/i.test(v)) out["migration_threshold"] = 1_000_000;
        else rest[k] = v;
        break;
      }
      case "failure-timeout":
        out["failure_timeout"] = v;
        break;
      case "target-role":
        if (/^(stopped|started|unpromoted|promoted|slave|master)$/i.test(v)) {
          const r = v.toLowerCase();
          out["target_role"] = r === "slave" ? "Unpromoted" : r === "master" ? "Promoted" : r[0]!.toUpperCase() + r.slice(1);
        } else rest[k] = v;
        break;
      case "is-managed":
      case "maintenance":
      case "critical":
      case "allow-migrate": {
        const b = bool(v);
        const name = k === "is-managed" ? "managed" : k === "allow-migrate" ? "allow_migrate" : k;
        if (b === undefined) rest[k] = v;
        else out[name] = b;
        break;
      }
      case "priority":
        if (/^-?\d+$/.test(v)) out["priority"] = Number(v);
        else rest[k] = v;
        break;
      case "requires":
        if (["nothing", "quorum", "fencing"].includes(v)) out["requires"] = v;
        else rest[k] = v;
        break;
      case "multiple-active":
        if (["stop_start", "stop_only", "block", "stop_unexpected"].includes(v)) out["multiple_active"] = v;
        else rest[k] = v;
        break;
      default:
        rest[k] = v;
    }
  }
  if (Object.keys(rest).length > 0) out["meta"] = rest;
  void notes;
  void where;
}

function operation(o: OpDef, notes: string[], rsc: string): Obj {
  const out: Obj = { name: o.name };
  if (o.interval_ms > 0 || o.intervalText !== "0") out["interval"] = o.intervalText;
  if (o.timeout !== undefined) {
    if (parseDuration_ms(o.timeout) === null) notes.push(`${rsc}: operation ${o.id} has timeout='${o.timeout}', which is not a duration; Pacemaker uses the default (20s), so it was left out`);
    else out["timeout"] = o.timeout;
  }
  const params = { ...o.params };
  if (params["OCF_CHECK_LEVEL"] !== undefined && /^\d+$/.test(params["OCF_CHECK_LEVEL"])) {
    out["depth"] = Number(params["OCF_CHECK_LEVEL"]);
    delete params["OCF_CHECK_LEVEL"];
  }
  if (o.role !== undefined) out["role"] = o.role;
  const meta: Record<string, string> = { ...o.meta, ...o.attrs };
  if (o.onFail !== undefined) {
    if (ON_FAIL.has(o.onFail)) out["on_fail"] = o.onFail;
    else meta["on-fail"] = o.onFail;
  }
  if (o.enabled !== undefined) out["enabled"] = o.enabled;
  if (Object.keys(params).length > 0) out["params"] = params;
  if (Object.keys(meta).length > 0) out["meta"] = meta;
  return out;
}

function primitive(p: PrimitiveDef, notes: string[]): Obj {
  const out: Obj = { id: p.id, agent: p.class === "ocf" ? `ocf:${p.provider}:${p.type}` : `${p.class}:${p.type}` };
  if (Object.keys(p.params).length > 0) out["params"] = p.params;
  metaFields(p.meta, out, notes, p.id);
  if (Object.keys(p.utilization).length > 0) out["utilization"] = p.utilization;
  if (p.ops.length > 0) out["operations"] = p.ops.map((o) => operation(o, notes, p.id));
  return out;
}

function group(g: GroupDef, notes: string[]): Obj {
  const out: Obj = { group: g.id };
  const meta = { ...g.meta };
  for (const [k, name] of [
    ["ordered", "ordered"],
    ["collocated", "colocated"],
  ] as const) {
    const b = meta[k] !== undefined ? bool(meta[k]!) : undefined;
    if (b !== undefined) {
      out[name] = b;
      delete meta[k];
    }
  }
  metaFields(meta, out, notes, g.id);
  if (g.params && Object.keys(g.params).length > 0) out["params"] = g.params;
  out["members"] = g.children.map((c) => primitive(c, notes));
  return out;
}

function resource(r: ResourceDef, notes: string[]): Obj {
  if (r.kind === "primitive") return primitive(r, notes);
  if (r.kind === "group") return group(r, notes);
  const out: Obj = { clone: r.id };
  const meta = { ...r.meta };
  delete meta["promotable"];
  if (r.promotable) out["promotable"] = true;
  const ints: [string, string][] = [
    ["clone-max", "clone_max"],
    ["clone-node-max", "clone_node_max"],
    ["promoted-max", "promoted_max"],
    ["master-max", "promoted_max"],
    ["promoted-node-max", "promoted_node_max"],
    ["master-node-max", "promoted_node_max"],
  ];
  for (const [k, name] of ints) {
    const v = meta[k];
    if (v !== undefined && /^\d+$/.test(v)) {
      out[name] = Number(v);
      delete meta[k];
    }
  }
  for (const k of ["interleave", "ordered", "notify"]) {
    const v = meta[k];
    const b = v !== undefined ? bool(v) : undefined;
    if (b !== undefined) {
      out[k] = b;
      delete meta[k];
    }
  }
  metaFields(meta, out, notes, r.id);
  if (r.params && Object.keys(r.params).length > 0) out["params"] = r.params;
  out["resource"] = r.child.kind === "group" ? group(r.child, notes) : primitive(r.child, notes);
  return out;
}

function constraint(c: Constraint): Obj {
  if (c.kind === "location") {
    const out: Obj = { location: c.id, resource: c.rsc };
    if (c.node !== undefined) {
      out["node"] = c.node;
      out["score"] = score(String(c.score ?? 0));
    }
    if (c.role !== undefined) out["role"] = c.role;
    if (c.discovery !== undefined) out["discovery"] = c.discovery;
    if (c.rules.length > 0) {
      out["rules"] = c.rules.map((r) => {
        const o: Obj = { id: r.id };
        if (r.score !== undefined) o["score"] = score(String(r.score));
        if (r.scoreAttribute !== undefined) o["score_attribute"] = r.scoreAttribute;
        if (r.booleanOp !== "and") o["boolean"] = r.booleanOp;
        if (r.role !== undefined) o["role"] = r.role;
        o["expressions"] = r.expressions.map((e) => {
          const x: Obj = { attribute: e.attribute, op: e.operation };
          if (e.value !== undefined) x["value"] = e.value;
          if (e.type !== undefined) x["type"] = e.type;
          return x;
        });
        return o;
      });
    }
    return out;
  }
  if (c.kind === "colocation") {
    const out: Obj = { colocation: c.id, resource: c.rsc, with: c.withRsc, score: score(String(c.score)) };
    if (c.rscRole !== undefined) out["role"] = c.rscRole;
    if (c.withRscRole !== undefined) out["with_role"] = c.withRscRole;
    if (c.nodeAttribute !== undefined) out["node_attribute"] = c.nodeAttribute;
    if (c.influence !== undefined) out["influence"] = c.influence;
    return out;
  }
  const out: Obj = { order: c.id, first: c.first, then: c.then };
  if (c.firstAction !== "start") out["first_action"] = c.firstAction;
  if (c.thenAction !== c.firstAction) out["then_action"] = c.thenAction;
  if (c.orderKind !== "Mandatory") out["kind"] = c.orderKind;
  if (c.symmetrical !== undefined) out["symmetrical"] = c.symmetrical;
  return out;
}

function toYamlObject(cfg: ClusterConfig, notes: string[]): Obj {
  const cluster: Obj = {};
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(cfg.properties)) {
    const b = bool(v);
    if (RUNTIME_PROPERTIES.has(k)) {
      notes.push(`cluster option ${k}=${v} describes the running Pacemaker cluster and was not imported`);
    } else if (k === "stonith-enabled" && b !== undefined) cluster["stonith"] = b;
    else if (k === "symmetric-cluster" && b !== undefined) cluster["symmetric"] = b;
    else if (k === "maintenance-mode" && b !== undefined) cluster["maintenance_mode"] = b;
    else if (k === "start-failure-is-fatal" && b !== undefined) cluster["start_failure_is_fatal"] = b;
    else if (k === "no-quorum-policy" && ["stop", "freeze", "ignore", "demote", "suicide"].includes(v)) cluster["no_quorum_policy"] = v;
    else if (k === "placement-strategy" && ["default", "utilization", "minimal", "balanced"].includes(v)) cluster["placement_strategy"] = v;
    else if (k === "stonith-action" && (v === "reboot" || v === "off" || v === "poweroff")) cluster["stonith_action"] = v === "poweroff" ? "off" : v;
    else if (k === "default-resource-stickiness") {
      notes.push(`default-resource-stickiness=${v} is ignored by Pacemaker 2.1 (use rsc_defaults); it is kept as a cluster property with no effect`);
      properties[k] = v;
    } else properties[k] = v;
  }
  if (Object.keys(properties).length > 0) cluster["properties"] = properties;
  const out: Obj = {};
  if (Object.keys(cluster).length > 0) out["cluster"] = cluster;
  if (cfg.nodes.length > 0) {
    out["nodes"] = cfg.nodes.map((n) => {
      const o: Obj = { name: n.uname };
      if (n.id !== n.uname) o["id"] = n.id;
      const attrs = { ...n.attributes };
      for (const k of ["standby", "maintenance"] as const) {
        const v = attrs[k] !== undefined ? bool(attrs[k]!) : undefined;
        if (v !== undefined) {
          o[k] = v;
          delete attrs[k];
        }
      }
      if (Object.keys(attrs).length > 0) o["attributes"] = attrs;
      if (Object.keys(n.utilization).length > 0) o["utilization"] = n.utilization;
      if (n.score !== undefined) notes.push(`node ${n.uname}: the node score attribute is not imported`);
      return o;
    });
  }
  const defaults: Obj = {};
  if (Object.keys(cfg.rscDefaults).length > 0) {
    const r: Obj = {};
    metaFields(cfg.rscDefaults, r, notes, "rsc_defaults");
    defaults["resource"] = r;
  }
  if (Object.keys(cfg.opDefaults).length > 0) {
    const o: Obj = {};
    const meta = { ...cfg.opDefaults };
    if (meta["timeout"] !== undefined) {
      o["timeout"] = meta["timeout"];
      delete meta["timeout"];
    }
    if (Object.keys(meta).length > 0) o["meta"] = meta;
    defaults["operation"] = o;
  }
  if (Object.keys(defaults).length > 0) out["defaults"] = defaults;
  if (cfg.resources.length > 0) out["resources"] = cfg.resources.map((r) => resource(r, notes));
  if (cfg.constraints.length > 0) out["constraints"] = cfg.constraints.map(constraint);
  return out;
}

/** The YAML for a CIB's configuration, with notes about what was left out. Throws ModelError when the project would refuse it. */
export function importCib(input: ClusterInput): { yaml: string; notes: string[] } {
  const notes: string[] = [];
  const obj = toYamlObject(input.config, notes);
  const text = `# Imported from a Pacemaker CIB by hapd crm import.\n${stringify(obj, { lineWidth: 0 })}`;
  try {
    parseCrmYaml(text, "imported configuration");
  } catch (e) {
    if (e instanceof CrmConfigError) throw new ModelError(e.path || "configuration", `cannot import: ${e.reason}`);
    throw e;
  }
  return { yaml: text, notes };
}
