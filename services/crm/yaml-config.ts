// The project's resource configuration in YAML (what `hapd crm configure FILE` accepts and what
// `hapd crm import` writes), validated with zod. Every error names the path in the document
// ("resources[1].operations[0].interval: ...") and the reason; the model's own checks (unknown
// references, ordering and colocation loops, migratable resources depending on non-migratable
// ones) run after the schema. The schema is documented in docs/scheduler.md.
import { LineCounter, parseDocument } from "yaml";
import * as z from "zod";
import {
  type ClusterConfig,
  type Constraint,
  type GroupDef,
  ModelError,
  type OpDef,
  type PrimitiveDef,
  type ResourceClass,
  type ResourceDef,
  type RoleName,
  formatScore,
  parseDuration_ms,
  parseScore,
  validateConfig,
} from "./model.ts";

const ID = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;
const id = z.string().regex(ID, "must be an identifier (letters, digits, '_', '.', ':', '-'; not starting with a digit)");
const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const text = typeof v === "number" ? `${v}s` : v;
  const ms = parseDuration_ms(text);
  if (ms === null) {
    ctx.addIssue({ code: "custom", message: `'${v}' is not a duration (e.g. 10s, 500ms, 2m)` });
    return z.NEVER;
  }
  return { text, ms };
});
const score = z.union([z.number().int(), z.string()]).transform((v, ctx) => {
  const s = typeof v === "number" ? Math.max(-1_000_000, Math.min(1_000_000, v)) : parseScore(v);
  if (s === null) {
    ctx.addIssue({ code: "custom", message: `'${v}' is not a score (an integer, INFINITY or -INFINITY)` });
    return z.NEVER;
  }
  return s;
});
const role = z.enum(["Stopped", "Started", "Unpromoted", "Promoted"]);
const strMap = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v)));
const intMap = z.record(z.string(), z.number().int());

const operation = z
  .object({
    name: z.string().regex(/^[a-z][a-z_-]*$/, "must be an operation name such as monitor, start, stop"),
    interval: duration.optional(),
    timeout: duration.optional(),
    /** OCF_CHECK_LEVEL: how deep the monitor checks. */
    depth: z.number().int().min(0).optional(),
    role: role.optional(),
    on_fail: z.enum(["ignore", "block", "stop", "restart", "standby", "fence", "demote"]).optional(),
    enabled: z.boolean().optional(),
    params: strMap.optional(),
    meta: strMap.optional(),
  })
  .strict();

const resourceMetaFields = {
  stickiness: score.optional(),
  migration_threshold: z.number().int().min(0).optional(),
  failure_timeout: duration.optional(),
  target_role: role.optional(),
  managed: z.boolean().optional(),
  maintenance: z.boolean().optional(),
  priority: z.number().int().optional(),
  requires: z.enum(["nothing", "quorum", "fencing"]).optional(),
  multiple_active: z.enum(["stop_start", "stop_only", "block", "stop_unexpected"]).optional(),
  critical: z.boolean().optional(),
  allow_migrate: z.boolean().optional(),
  meta: strMap.optional(),
};

const AGENT = /^(ocf:[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+|(stonith|hapd|lsb|systemd|service):[^\s:]+)$/;

const primitive = z
  .object({
    id,
    agent: z.string().regex(AGENT, "must be class:provider:type for ocf (ocf:heartbeat:IPaddr2) or class:type (lsb:apache, stonith:fence_ipmilan, hapd:vm)"),
    params: strMap.optional(),
    utilization: intMap.optional(),
    operations: z.array(operation).optional(),
    ...resourceMetaFields,
  })
  .strict();

const group = z
  .object({
    group: id,
    members: z.array(primitive).min(1, "a group needs at least one member"),
    /** Instance attributes every member inherits. */
    params: strMap.optional(),
    ordered: z.boolean().optional(),
    colocated: z.boolean().optional(),
    ...resourceMetaFields,
  })
  .strict();

const clone = z
  .object({
    clone: id,
    promotable: z.boolean().optional(),
    clone_max: z.number().int().min(0).optional(),
    clone_node_max: z.number().int().min(0).optional(),
    promoted_max: z.number().int().min(0).optional(),
    promoted_node_max: z.number().int().min(0).optional(),
    interleave: z.boolean().optional(),
    ordered: z.boolean().optional(),
    notify: z.boolean().optional(),
    params: strMap.optional(),
    resource: z.unknown(),
    ...resourceMetaFields,
  })
  .strict();

/** A resource entry is a group (key "group"), a clone (key "clone") or a primitive. */
function resourceSchema(v: unknown) {
  if (v !== null && typeof v === "object") {
    if ("group" in v) return group;
    if ("clone" in v) return clone;
  }
  return primitive;
}

/** A constraint entry is named by its kind: location, colocation or order. */
function constraintSchema(v: unknown) {
  if (v !== null && typeof v === "object") {
    if ("colocation" in v) return colocation;
    if ("order" in v) return order;
  }
  return location;
}

const expression = z
  .object({
    attribute: z.string().min(1),
    op: z.enum(["lt", "gt", "lte", "gte", "eq", "ne", "defined", "not_defined"]),
    value: z.union([z.string(), z.number()]).transform((v) => String(v)).optional(),
    type: z.enum(["string", "integer", "number", "version"]).optional(),
  })
  .strict();

const rule = z
  .object({
    id: id.optional(),
    score: score.optional(),
    score_attribute: z.string().optional(),
    boolean: z.enum(["and", "or"]).optional(),
    role: role.optional(),
    expressions: z.array(expression).min(1),
  })
  .strict();

const location = z
  .object({
    location: id,
    resource: id,
    node: z.string().optional(),
    score: score.optional(),
    role: role.optional(),
    rules: z.array(rule).optional(),
    discovery: z.enum(["always", "never", "exclusive"]).optional(),
  })
  .strict();

const colocation = z
  .object({
    colocation: id,
    resource: id,
    with: id,
    score,
    role: role.optional(),
    with_role: role.optional(),
    node_attribute: z.string().optional(),
    influence: z.boolean().optional(),
  })
  .strict();

const action = z.enum(["start", "stop", "promote", "demote"]);
const order = z
  .object({
    order: id,
    first: id,
    then: id,
    first_action: action.optional(),
    then_action: action.optional(),
    kind: z.enum(["Mandatory", "Optional", "Serialize"]).optional(),
    symmetrical: z.boolean().optional(),
  })
  .strict();

const node = z
  .object({
    name: z.string().min(1),
    id: z.string().optional(),
    attributes: strMap.optional(),
    utilization: intMap.optional(),
    standby: z.boolean().optional(),
    maintenance: z.boolean().optional(),
  })
  .strict();

export const crmSchema = z
  .object({
    cluster: z
      .object({
        stonith: z.boolean().optional(),
        no_quorum_policy: z.enum(["stop", "freeze", "ignore", "demote", "suicide"]).optional(),
        symmetric: z.boolean().optional(),
        maintenance_mode: z.boolean().optional(),
        placement_strategy: z.enum(["default", "utilization", "minimal", "balanced"]).optional(),
        stonith_action: z.enum(["reboot", "off"]).optional(),
        start_failure_is_fatal: z.boolean().optional(),
        /** Any other Pacemaker cluster option, verbatim. */
        properties: strMap.optional(),
      })
      .strict()
      .optional(),
    nodes: z.array(node).optional(),
    defaults: z
      .object({
        resource: z.object(resourceMetaFields).strict().optional(),
        operation: z.object({ timeout: duration.optional(), meta: strMap.optional() }).strict().optional(),
      })
      .strict()
      .optional(),
    resources: z.array(z.unknown()).optional(),
    constraints: z.array(z.unknown()).optional(),
  })
  .strict();

type TopParsed = z.output<typeof crmSchema>;
type ResourceOut = z.output<typeof primitive> | z.output<typeof group> | (Omit<z.output<typeof clone>, "resource"> & { resource: z.output<typeof primitive> | z.output<typeof group> });
type ConstraintOut = z.output<typeof location> | z.output<typeof colocation> | z.output<typeof order>;
type Parsed = Omit<TopParsed, "resources" | "constraints"> & { resources?: ResourceOut[]; constraints?: ConstraintOut[] };

interface Issue {
  path: PropertyKey[];
  message: string;
}

/** Parses one list element with the schema its keys select, so errors name the right fields. */
function parseElement<T>(schema: z.ZodType<T>, v: unknown, path: PropertyKey[]): { ok: true; value: T } | { ok: false; issue: Issue } {
  const r = schema.safeParse(v);
  if (r.success) return { ok: true, value: r.data };
  const i = r.error.issues[0]!;
  return { ok: false, issue: { path: [...path, ...i.path], message: i.message } };
}

function parseAll(raw: unknown): { ok: true; value: Parsed } | { ok: false; issue: Issue } {
  const top = crmSchema.safeParse(raw);
  if (!top.success) {
    const i = top.error.issues[0]!;
    return { ok: false, issue: { path: i.path, message: i.message } };
  }
  const resources: ResourceOut[] = [];
  for (const [idx, r] of (top.data.resources ?? []).entries()) {
    const schema = resourceSchema(r);
    const p = parseElement(schema as z.ZodType<unknown>, r, ["resources", idx]);
    if (!p.ok) return p;
    if (schema === clone) {
      const c = p.value as z.output<typeof clone>;
      const innerSchema = (resourceSchema(c.resource) === group ? group : primitive) as z.ZodType<unknown>;
      const inner = parseElement(innerSchema, c.resource, ["resources", idx, "resource"]);
      if (!inner.ok) return inner;
      if (resourceSchema(c.resource) === clone) return { ok: false, issue: { path: ["resources", idx, "resource"], message: "a clone holds a primitive or a group, not another clone" } };
      resources.push({ ...c, resource: inner.value as z.output<typeof primitive> | z.output<typeof group> });
    } else resources.push(p.value as ResourceOut);
  }
  const constraints: ConstraintOut[] = [];
  for (const [idx, c] of (top.data.constraints ?? []).entries()) {
    const p = parseElement(constraintSchema(c) as z.ZodType<unknown>, c, ["constraints", idx]);
    if (!p.ok) return p;
    constraints.push(p.value as ConstraintOut);
  }
  const out: Parsed = { ...top.data, resources, constraints };
  return { ok: true, value: out };
}
type PrimitiveIn = z.output<typeof primitive>;
type GroupIn = z.output<typeof group>;
type MetaIn = { [K in keyof typeof resourceMetaFields]?: z.output<(typeof resourceMetaFields)[K]> };

export class CrmConfigError extends Error {
  constructor(
    readonly source: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${source}: ${path ? `${path}: ` : ""}${reason}`);
    this.name = "CrmConfigError";
  }
}

function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out;
}

function metaOf(m: MetaIn): Record<string, string> {
  const meta: Record<string, string> = { ...(m.meta ?? {}) };
  if (m.stickiness !== undefined) meta["resource-stickiness"] = formatScore(m.stickiness);
  if (m.migration_threshold !== undefined) meta["migration-threshold"] = String(m.migration_threshold);
  if (m.failure_timeout !== undefined) meta["failure-timeout"] = m.failure_timeout.text;
  if (m.target_role !== undefined) meta["target-role"] = m.target_role;
  if (m.managed !== undefined) meta["is-managed"] = String(m.managed);
  if (m.maintenance !== undefined) meta["maintenance"] = String(m.maintenance);
  if (m.priority !== undefined) meta["priority"] = String(m.priority);
  if (m.requires !== undefined) meta["requires"] = m.requires;
  if (m.multiple_active !== undefined) meta["multiple-active"] = m.multiple_active;
  if (m.critical !== undefined) meta["critical"] = String(m.critical);
  if (m.allow_migrate !== undefined) meta["allow-migrate"] = String(m.allow_migrate);
  return meta;
}

function toPrimitive(p: PrimitiveIn): PrimitiveDef {
  const parts = p.agent.split(":");
  const cls = parts[0] as ResourceClass;
  const meta = metaOf(p);
  const ops: OpDef[] = (p.operations ?? []).map((o, i) => {
    const params: Record<string, string> = { ...(o.params ?? {}) };
    if (o.depth !== undefined) params["OCF_CHECK_LEVEL"] = String(o.depth);
    const interval = o.interval ?? { text: "0", ms: 0 };
    const op: OpDef = {
      id: `${p.id}-${o.name}-${interval.ms / 1000}s${i > 0 && (p.operations ?? []).slice(0, i).some((x) => x.name === o.name && (x.interval?.ms ?? 0) === interval.ms) ? `-${i}` : ""}`,
      name: o.name,
      interval_ms: interval.ms,
      intervalText: interval.text,
      attrs: {},
      meta: { ...(o.meta ?? {}) },
      params,
    };
    if (o.timeout !== undefined) op.timeout = o.timeout.text;
    if (o.role !== undefined) op.role = o.role as RoleName;
    if (o.on_fail !== undefined) op.onFail = o.on_fail;
    if (o.enabled !== undefined) op.enabled = o.enabled;
    return op;
  });
  const def: PrimitiveDef = { kind: "primitive", id: p.id, class: cls, type: parts[parts.length - 1]!, params: { ...(p.params ?? {}) }, meta, utilization: { ...(p.utilization ?? {}) }, ops };
  if (cls === "ocf") def.provider = parts[1]!;
  return def;
}

function toGroup(g: GroupIn): GroupDef {
  const meta = metaOf(g);
  if (g.ordered !== undefined) meta["ordered"] = String(g.ordered);
  if (g.colocated !== undefined) meta["collocated"] = String(g.colocated);
  const out: GroupDef = { kind: "group", id: g.group, meta, children: g.members.map(toPrimitive) };
  if (g.params && Object.keys(g.params).length > 0) out.params = { ...g.params };
  return out;
}

function toModel(d: Parsed): ClusterConfig {
  const properties: Record<string, string> = { ...(d.cluster?.properties ?? {}) };
  const c = d.cluster;
  if (c?.stonith !== undefined) properties["stonith-enabled"] = String(c.stonith);
  if (c?.no_quorum_policy !== undefined) properties["no-quorum-policy"] = c.no_quorum_policy;
  if (c?.symmetric !== undefined) properties["symmetric-cluster"] = String(c.symmetric);
  if (c?.maintenance_mode !== undefined) properties["maintenance-mode"] = String(c.maintenance_mode);
  if (c?.placement_strategy !== undefined) properties["placement-strategy"] = c.placement_strategy;
  if (c?.stonith_action !== undefined) properties["stonith-action"] = c.stonith_action;
  if (c?.start_failure_is_fatal !== undefined) properties["start-failure-is-fatal"] = String(c.start_failure_is_fatal);
  const resources: ResourceDef[] = (d.resources ?? []).map((r) => {
    if ("group" in r) return toGroup(r);
    if ("clone" in r) {
      const meta = metaOf(r);
      const numeric: [keyof typeof r, string][] = [
        ["clone_max", "clone-max"],
        ["clone_node_max", "clone-node-max"],
        ["promoted_max", "promoted-max"],
        ["promoted_node_max", "promoted-node-max"],
        ["interleave", "interleave"],
        ["ordered", "ordered"],
        ["notify", "notify"],
      ];
      for (const [k, name] of numeric) if (r[k] !== undefined) meta[name] = String(r[k]);
      if (r.promotable) meta["promotable"] = "true";
      const child = "group" in r.resource ? toGroup(r.resource) : toPrimitive(r.resource);
      const def: ResourceDef = { kind: "clone", id: r.clone, meta, promotable: !!r.promotable, child };
      if (r.params && Object.keys(r.params).length > 0) def.params = { ...r.params };
      return def;
    }
    return toPrimitive(r);
  });
  const constraints: Constraint[] = (d.constraints ?? []).map((k) => {
    if ("location" in k) {
      const loc: Constraint = { kind: "location", id: k.location, rsc: k.resource, rules: [] };
      if (k.node !== undefined) {
        loc.node = k.node;
        loc.score = k.score ?? 0;
      }
      if (k.role !== undefined) loc.role = k.role;
      if (k.discovery !== undefined) loc.discovery = k.discovery;
      loc.rules = (k.rules ?? []).map((r, i) => {
        const out: (typeof loc.rules)[number] = {
          id: r.id ?? `${k.location}-rule-${i}`,
          booleanOp: r.boolean ?? "and",
          expressions: r.expressions.map((e) => {
            const ex: (typeof out.expressions)[number] = { attribute: e.attribute, operation: e.op };
            if (e.value !== undefined) ex.value = e.value;
            if (e.type !== undefined) ex.type = e.type;
            return ex;
          }),
        };
        if (r.score !== undefined) out.score = r.score;
        else if (r.score_attribute !== undefined) out.scoreAttribute = r.score_attribute;
        else out.score = 0;
        if (r.role !== undefined) out.role = r.role;
        return out;
      });
      return loc;
    }
    if ("colocation" in k) {
      const col: Constraint = { kind: "colocation", id: k.colocation, rsc: k.resource, withRsc: k.with, score: k.score };
      if (k.role !== undefined) col.rscRole = k.role;
      if (k.with_role !== undefined) col.withRscRole = k.with_role;
      if (k.node_attribute !== undefined) col.nodeAttribute = k.node_attribute;
      if (k.influence !== undefined) col.influence = k.influence;
      return col;
    }
    const firstAction = k.first_action ?? "start";
    const ord: Constraint = { kind: "order", id: k.order, first: k.first, then: k.then, firstAction, thenAction: k.then_action ?? firstAction, orderKind: k.kind ?? "Mandatory" };
    if (k.symmetrical !== undefined) ord.symmetrical = k.symmetrical;
    return ord;
  });
  const rd = d.defaults?.resource;
  const od = d.defaults?.operation;
  const opDefaults: Record<string, string> = { ...(od?.meta ?? {}) };
  if (od?.timeout !== undefined) opDefaults["timeout"] = od.timeout.text;
  return {
    properties,
    nodes: (d.nodes ?? []).map((n) => {
      const attributes: Record<string, string> = { ...(n.attributes ?? {}) };
      if (n.standby !== undefined) attributes["standby"] = n.standby ? "on" : "off";
      if (n.maintenance !== undefined) attributes["maintenance"] = String(n.maintenance);
      return { id: n.id ?? n.name, uname: n.name, type: "member" as const, attributes, utilization: { ...(n.utilization ?? {}) } };
    }),
    resources,
    constraints,
    rscDefaults: rd ? metaOf(rd) : {},
    opDefaults,
  };
}

/** Parses and validates the YAML text; throws CrmConfigError naming the path and the reason. */
/**
 * `clusterNodes`: the appliance's own node names (from the node configuration), added to the
 * configuration's nodes when it does not list them, so constraints may name them.
 */
export function parseCrmYaml(text: string, source = "config", clusterNodes: readonly string[] = []): ClusterConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
    throw new CrmConfigError(source, pos ? `line ${pos.line}, column ${pos.col}` : "", e.message.split("\n")[0]!);
  }
  const parsed = parseAll(doc.toJS() ?? {});
  if (!parsed.ok) throw new CrmConfigError(source, pathText(parsed.issue.path), parsed.issue.message);
  const config = toModel(parsed.value);
  for (const name of clusterNodes) {
    if (!config.nodes.some((n) => n.uname === name)) config.nodes.push({ id: name, uname: name, type: "member", attributes: {}, utilization: {} });
  }
  try {
    validateConfig(config);
  } catch (e) {
    if (e instanceof ModelError) throw new CrmConfigError(source, e.path, e.reason);
    throw e;
  }
  return config;
}
