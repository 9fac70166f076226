// Reading a Pacemaker 2.1 CIB (configuration and status) into the resource model.
//
// What the model does not cover is refused with an error naming the element, never silently
// dropped: bundles, resource templates, resource sets, rsc_ticket, rules inside attribute sets,
// rsc-pattern locations. Invalid values (a score that is not a number, an interval that is not a
// duration, a colocation naming an unknown resource) name the element and the reason too.
import {
  type ClusterConfig,
  type ClusterInput,
  type ClusterStatus,
  type CloneDef,
  type ColocationConstraint,
  type Constraint,
  type GroupDef,
  type LocationConstraint,
  type LocationRule,
  type NodeDef,
  type NodeStatus,
  type OpDef,
  type OpRecord,
  type OrderAction,
  type OrderConstraint,
  type OrderKind,
  type PrimitiveDef,
  type ResourceClass,
  type ResourceDef,
  type ResourceHistory,
  type RoleName,
  type RuleExpression,
  isTrue,
  parseDuration_ms,
  parseScore,
  roleFromText,
} from "./model.ts";
import { type XmlElement, XmlError, child, childrenNamed, parseXml } from "./xml.ts";

export { XmlError as CibError };

function fail(e: XmlElement, reason: string): never {
  throw new XmlError(e.path, reason);
}

function req(e: XmlElement, attr: string): string {
  const v = e.attrs[attr];
  if (v === undefined || v === "") fail(e, `missing attribute '${attr}'`);
  return v;
}

function score(e: XmlElement, attr: string): number {
  const text = req(e, attr);
  const s = parseScore(text);
  if (s === null) fail(e, `${attr}='${text}' is not a score (an integer or ±INFINITY)`);
  return s;
}

function role(e: XmlElement, attr: string): RoleName | undefined {
  const text = e.attrs[attr];
  if (text === undefined) return undefined;
  const r = roleFromText(text);
  if (r === undefined) fail(e, `${attr}='${text}' is not a role (Stopped, Started, Unpromoted, Promoted)`);
  return r;
}

/** Name/value pairs of every <setName> child of e, first value wins (Pacemaker's order). */
function nvsets(e: XmlElement, setName: string, into: Record<string, string> = {}, firstId?: string): Record<string, string> {
  let sets = childrenNamed(e, setName);
  if (firstId !== undefined) {
    sets = [...sets.filter((s) => s.attrs["id"] === firstId), ...sets.filter((s) => s.attrs["id"] !== firstId)];
  }
  for (const set of sets) {
    if (set.attrs["id-ref"] !== undefined) fail(set, "id-ref attribute sets are not supported");
    for (const c of set.children) {
      if (c.name === "rule") fail(c, "rules inside attribute sets are not supported");
      if (c.name !== "nvpair") continue;
      if (c.attrs["id-ref"] !== undefined) fail(c, "id-ref name/value pairs are not supported");
      const name = req(c, "name");
      if (!(name in into)) into[name] = c.attrs["value"] ?? "";
    }
  }
  return into;
}

function utilization(e: XmlElement): Record<string, number> {
  const raw = nvsets(e, "utilization");
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw)) {
    const n = parseScore(v);
    if (n === null) fail(child(e, "utilization") ?? e, `utilization ${k}='${v}' is not an integer`);
    out[k] = n;
  }
  return out;
}

const CLASSES: ReadonlySet<string> = new Set(["ocf", "lsb", "stonith", "systemd", "service", "hapd"]);

function primitive(e: XmlElement): PrimitiveDef {
  const id = req(e, "id");
  if (e.attrs["template"] !== undefined) fail(e, "resource templates are not supported");
  const cls = req(e, "class");
  if (!CLASSES.has(cls)) fail(e, `class='${cls}' is not supported (ocf, lsb, stonith, systemd, service, hapd)`);
  if (cls === "ocf" && e.attrs["provider"] === undefined) fail(e, "an ocf resource needs a provider");
  const ops: OpDef[] = [];
  const opsEl = child(e, "operations");
  if (opsEl) {
    if (opsEl.attrs["id-ref"] !== undefined) fail(opsEl, "id-ref operations are not supported");
    for (const o of childrenNamed(opsEl, "op")) {
      const intervalText = o.attrs["interval"] ?? "0";
      const interval_ms = parseDuration_ms(intervalText);
      if (interval_ms === null) fail(o, `interval='${intervalText}' is not a duration`);
      const attrs: Record<string, string> = {};
      for (const [k, v] of Object.entries(o.attrs)) {
        if (!["id", "name", "interval", "timeout", "role", "on-fail", "enabled"].includes(k)) attrs[k] = v;
      }
      const r = role(o, "role");
      const op: OpDef = {
        id: req(o, "id"),
        name: req(o, "name"),
        interval_ms,
        intervalText,
        attrs,
        meta: nvsets(o, "meta_attributes"),
        params: nvsets(o, "instance_attributes"),
      };
      if (o.attrs["timeout"] !== undefined) op.timeout = o.attrs["timeout"];
      if (r !== undefined) op.role = r;
      if (o.attrs["on-fail"] !== undefined) op.onFail = o.attrs["on-fail"];
      if (o.attrs["enabled"] !== undefined) op.enabled = isTrue(o.attrs["enabled"]);
      ops.push(op);
    }
  }
  const def: PrimitiveDef = {
    kind: "primitive",
    id,
    class: cls as ResourceClass,
    type: req(e, "type"),
    params: nvsets(e, "instance_attributes"),
    meta: nvsets(e, "meta_attributes"),
    utilization: utilization(e),
    ops,
  };
  if (e.attrs["provider"] !== undefined) def.provider = e.attrs["provider"];
  if (cls === "ocf" && def.provider === "pacemaker" && def.type === "remote") fail(e, "Pacemaker Remote connections are not supported");
  checkMeta(e, def.meta);
  return def;
}

/** Meta-attributes that select features outside the model are refused by name. */
function checkMeta(e: XmlElement, meta: Record<string, string>): void {
  for (const k of ["remote-node", "container", "remote-port", "remote-addr"]) {
    if (meta[k] !== undefined) fail(e, `meta-attribute '${k}' (guest nodes and containers) is not supported`);
  }
  if (meta["requires"] === "unfencing" || meta["provides"] === "unfencing") fail(e, "unfencing is not supported");
  if (meta["clone-min"] !== undefined) fail(e, "clone-min is not supported");
}

function group(e: XmlElement): GroupDef {
  const children: PrimitiveDef[] = [];
  for (const c of e.children) {
    if (c.name === "primitive") children.push(primitive(c));
    else if (!["meta_attributes", "instance_attributes", "utilization"].includes(c.name)) fail(c, `a group may hold only primitives, not <${c.name}>`);
  }
  if (children.length === 0) fail(e, "a group needs at least one primitive");
  const meta = nvsets(e, "meta_attributes");
  checkMeta(e, meta);
  const g: GroupDef = { kind: "group", id: req(e, "id"), meta, children };
  const params = nvsets(e, "instance_attributes");
  if (Object.keys(params).length > 0) g.params = params;
  return g;
}

function clone(e: XmlElement, legacyMaster: boolean): CloneDef {
  const meta = nvsets(e, "meta_attributes");
  let inner: PrimitiveDef | GroupDef | undefined;
  for (const c of e.children) {
    if (c.name === "primitive" || c.name === "group") {
      if (inner) fail(c, "a clone holds exactly one primitive or group");
      inner = c.name === "primitive" ? primitive(c) : group(c);
    } else if (!["meta_attributes", "instance_attributes", "utilization"].includes(c.name)) {
      fail(c, `a clone may hold a primitive or a group, not <${c.name}>`);
    }
  }
  if (!inner) fail(e, "a clone needs a primitive or a group");
  checkMeta(e, meta);
  const c: CloneDef = { kind: "clone", id: req(e, "id"), meta, promotable: legacyMaster || isTrue(meta["promotable"]), child: inner };
  const params = nvsets(e, "instance_attributes");
  if (Object.keys(params).length > 0) c.params = params;
  return c;
}

function resources(e: XmlElement): ResourceDef[] {
  const out: ResourceDef[] = [];
  for (const c of e.children) {
    switch (c.name) {
      case "primitive":
        out.push(primitive(c));
        break;
      case "group":
        out.push(group(c));
        break;
      case "clone":
        out.push(clone(c, false));
        break;
      case "master":
        out.push(clone(c, true));
        break;
      case "bundle":
        fail(c, "bundles are not supported");
        break;
      case "template":
        fail(c, "resource templates are not supported");
        break;
      default:
        fail(c, `unknown resource element <${c.name}>`);
    }
  }
  return out;
}

const OPERATIONS: ReadonlySet<string> = new Set(["lt", "gt", "lte", "gte", "eq", "ne", "defined", "not_defined"]);

function rule(e: XmlElement): LocationRule {
  const r: LocationRule = { id: req(e, "id"), booleanOp: e.attrs["boolean-op"] === "or" ? "or" : "and", expressions: [] };
  if (e.attrs["score"] !== undefined) r.score = score(e, "score");
  else if (e.attrs["score-attribute"] !== undefined) r.scoreAttribute = e.attrs["score-attribute"];
  else fail(e, "a location rule needs score or score-attribute");
  const ro = role(e, "role");
  if (ro !== undefined) r.role = ro;
  for (const x of e.children) {
    if (x.name !== "expression") fail(x, `only <expression> is supported inside a location rule, not <${x.name}>`);
    const op = req(x, "operation");
    if (!OPERATIONS.has(op)) fail(x, `operation='${op}' is not supported`);
    const ex: RuleExpression = { attribute: req(x, "attribute"), operation: op as RuleExpression["operation"] };
    if (x.attrs["value"] !== undefined) ex.value = x.attrs["value"];
    else if (op !== "defined" && op !== "not_defined") fail(x, `operation '${op}' needs a value`);
    if (x.attrs["value-source"] !== undefined && x.attrs["value-source"] !== "literal") fail(x, "value-source other than literal is not supported");
    const t = x.attrs["type"];
    if (t !== undefined) {
      if (!["string", "integer", "number", "version"].includes(t)) fail(x, `type='${t}' is not supported`);
      ex.type = t as NonNullable<RuleExpression["type"]>;
    }
    r.expressions.push(ex);
  }
  return r;
}

const ACTIONS: ReadonlySet<string> = new Set(["start", "stop", "promote", "demote"]);

function orderAction(e: XmlElement, attr: string, dflt: OrderAction): OrderAction {
  const v = e.attrs[attr];
  if (v === undefined) return dflt;
  if (!ACTIONS.has(v)) fail(e, `${attr}='${v}' is not one of start, stop, promote, demote`);
  return v as OrderAction;
}

function constraints(e: XmlElement): Constraint[] {
  const out: Constraint[] = [];
  for (const c of e.children) {
    if (child(c, "resource_set")) fail(c, "resource sets are not supported");
    switch (c.name) {
      case "rsc_location": {
        if (c.attrs["rsc-pattern"] !== undefined) fail(c, "rsc-pattern is not supported");
        const loc: LocationConstraint = { kind: "location", id: req(c, "id"), rsc: req(c, "rsc"), rules: [] };
        if (c.attrs["node"] !== undefined) {
          loc.node = c.attrs["node"];
          loc.score = score(c, "score");
        } else {
          for (const r of c.children) {
            if (r.name === "rule") loc.rules.push(rule(r));
          }
          if (loc.rules.length === 0) fail(c, "a location needs node and score, or a rule");
        }
        const ro = role(c, "role");
        if (ro !== undefined) loc.role = ro;
        const d = c.attrs["resource-discovery"];
        if (d !== undefined) {
          if (d !== "always" && d !== "never" && d !== "exclusive") fail(c, `resource-discovery='${d}' is not always, never or exclusive`);
          loc.discovery = d;
        }
        out.push(loc);
        break;
      }
      case "rsc_colocation": {
        for (const a of ["rsc-instance", "with-rsc-instance"]) if (c.attrs[a] !== undefined) fail(c, `${a} is not supported`);
        const col: ColocationConstraint = {
          kind: "colocation",
          id: req(c, "id"),
          rsc: req(c, "rsc"),
          withRsc: req(c, "with-rsc"),
          score: c.attrs["score"] === undefined ? 0 : score(c, "score"),
        };
        const r1 = role(c, "rsc-role");
        const r2 = role(c, "with-rsc-role");
        if (r1 !== undefined) col.rscRole = r1;
        if (r2 !== undefined) col.withRscRole = r2;
        if (c.attrs["node-attribute"] !== undefined) col.nodeAttribute = c.attrs["node-attribute"];
        if (c.attrs["influence"] !== undefined) col.influence = isTrue(c.attrs["influence"]);
        out.push(col);
        break;
      }
      case "rsc_order": {
        for (const a of ["first-instance", "then-instance", "require-all"]) if (c.attrs[a] !== undefined) fail(c, `${a} is not supported`);
        const firstAction = orderAction(c, "first-action", "start");
        let kind: OrderKind = "Mandatory";
        let legacyScore: number | undefined;
        const k = c.attrs["kind"];
        if (k !== undefined) {
          const m = /^(mandatory|optional|serialize)$/i.exec(k);
          if (!m) fail(c, `kind='${k}' is not Mandatory, Optional or Serialize`);
          kind = (k[0]!.toUpperCase() + k.slice(1).toLowerCase()) as OrderKind;
        } else if (c.attrs["score"] !== undefined) {
          legacyScore = score(c, "score");
          if (legacyScore === 0) kind = "Optional";
        }
        const ord: OrderConstraint = {
          kind: "order",
          id: req(c, "id"),
          first: req(c, "first"),
          then: req(c, "then"),
          firstAction,
          thenAction: orderAction(c, "then-action", firstAction),
          orderKind: kind,
        };
        if (legacyScore !== undefined) ord.legacyScore = legacyScore;
        if (c.attrs["symmetrical"] !== undefined) ord.symmetrical = isTrue(c.attrs["symmetrical"]);
        out.push(ord);
        break;
      }
      case "rsc_ticket":
        fail(c, "tickets are not supported");
        break;
      default:
        fail(c, `unknown constraint element <${c.name}>`);
    }
  }
  return out;
}

function nodes(e: XmlElement): NodeDef[] {
  const out: NodeDef[] = [];
  for (const n of childrenNamed(e, "node")) {
    const type = n.attrs["type"] ?? "member";
    if (type !== "member" && type !== "ping" && type !== "normal") fail(n, `node type '${type}' is not supported (Pacemaker Remote nodes are not)`);
    const def: NodeDef = {
      id: req(n, "id"),
      uname: n.attrs["uname"] ?? req(n, "id"),
      type: type === "ping" ? "ping" : "member",
      attributes: nvsets(n, "instance_attributes"),
      utilization: utilization(n),
    };
    if (n.attrs["score"] !== undefined) def.score = score(n, "score");
    out.push(def);
  }
  return out;
}

function configuration(cfg: XmlElement): ClusterConfig {
  const crm = child(cfg, "crm_config");
  const properties = crm ? nvsets(crm, "cluster_property_set", {}, "cib-bootstrap-options") : {};
  const health = properties["node-health-strategy"];
  if (health !== undefined && health !== "none") fail(crm!, `node-health-strategy='${health}' is not supported`);
  if (isTrue(properties["shutdown-lock"])) fail(crm!, "shutdown-lock is not supported");
  if (child(cfg, "tags")) fail(child(cfg, "tags")!, "tags are not supported");
  const rd0 = child(cfg, "rsc_defaults");
  if (rd0 && childrenNamed(rd0, "meta_attributes").some((m) => m.children.some((c) => c.name === "nvpair" && (c.attrs["value"] === "unfencing")))) fail(rd0, "unfencing is not supported");
  const nodesEl = child(cfg, "nodes");
  const rscEl = child(cfg, "resources");
  const conEl = child(cfg, "constraints");
  const rd = child(cfg, "rsc_defaults");
  const od = child(cfg, "op_defaults");
  return {
    properties,
    nodes: nodesEl ? nodes(nodesEl) : [],
    resources: rscEl ? resources(rscEl) : [],
    constraints: conEl ? constraints(conEl) : [],
    rscDefaults: rd ? nvsets(rd, "meta_attributes") : {},
    opDefaults: od ? nvsets(od, "meta_attributes") : {},
  };
}

function int(e: XmlElement, attr: string, dflt: number): number {
  const v = e.attrs[attr];
  if (v === undefined) return dflt;
  if (!/^-?\d+$/.test(v.trim())) fail(e, `${attr}='${v}' is not an integer`);
  return Number.parseInt(v, 10);
}

/** "action:transition:target_rc:uuid" → target_rc, or -1 when the key is absent or malformed. */
export function targetRcFromKey(key: string | undefined): number {
  if (key === undefined) return -1;
  const parts = key.split(":");
  if (parts.length < 4) return -1;
  const n = Number.parseInt(parts[2]!, 10);
  return Number.isFinite(n) ? n : -1;
}

function opRecord(o: XmlElement): OpRecord {
  const rec: OpRecord = {
    id: req(o, "id"),
    operation: req(o, "operation"),
    callId: int(o, "call-id", 0),
    rc: int(o, "rc-code", 0),
    opStatus: int(o, "op-status", 0),
    interval_ms: int(o, "interval", 0),
    targetRc: targetRcFromKey(o.attrs["transition-key"]),
  };
  if (rec.opStatus < -1 || rec.opStatus > 11) fail(o, `op-status='${rec.opStatus}' is out of range`);
  const tk = o.attrs["transition-key"];
  if (tk !== undefined) rec.transitionKey = tk;
  const lrc = o.attrs["last-rc-change"] ?? o.attrs["last-run"];
  if (lrc !== undefined) rec.lastRcChange = int(o, o.attrs["last-rc-change"] !== undefined ? "last-rc-change" : "last-run", 0);
  const opt: [keyof OpRecord, string][] = [
    ["operationKey", "operation_key"],
    ["opDigest", "op-digest"],
    ["restartDigest", "op-restart-digest"],
    ["opForceRestart", "op-force-restart"],
    ["secureParams", "op-secure-params"],
    ["secureDigest", "op-secure-digest"],
    ["crmFeatureSet", "crm_feature_set"],
    ["migrateSource", "migrate_source"],
    ["migrateTarget", "migrate_target"],
    ["exitReason", "exit-reason"],
  ];
  for (const [k, a] of opt) {
    const v = o.attrs[a];
    if (v !== undefined) (rec as unknown as Record<string, string>)[k] = v;
  }
  return rec;
}

function nodeStatus(s: XmlElement): NodeStatus {
  const ns: NodeStatus = { id: req(s, "id"), uname: s.attrs["uname"] ?? req(s, "id"), attributes: {}, history: null };
  for (const [k, a] of [
    ["inCcm", "in_ccm"],
    ["crmd", "crmd"],
    ["join", "join"],
    ["expected", "expected"],
  ] as const) {
    const v = s.attrs[a];
    if (v !== undefined) ns[k] = v;
  }
  const ta = child(s, "transient_attributes");
  if (ta) nvsets(ta, "instance_attributes", ns.attributes);
  const lrm = child(s, "lrm");
  const lrs = lrm ? child(lrm, "lrm_resources") : undefined;
  if (lrs) {
    ns.history = [];
    for (const r of childrenNamed(lrs, "lrm_resource")) {
      const h: ResourceHistory = { id: req(r, "id"), ops: childrenNamed(r, "lrm_rsc_op").map(opRecord) };
      for (const k of ["class", "provider", "type", "container"] as const) {
        const v = r.attrs[k];
        if (v !== undefined) h[k] = v;
      }
      ns.history.push(h);
    }
  }
  return ns;
}

function status(root: XmlElement): ClusterStatus {
  const hq = root.attrs["have-quorum"];
  const st: ClusterStatus = { haveQuorum: hq === undefined ? false : isTrue(hq), nodes: [] };
  if (root.attrs["no-quorum-panic"] !== undefined) st.noQuorumPanic = isTrue(root.attrs["no-quorum-panic"]) || root.attrs["no-quorum-panic"] === "1";
  if (root.attrs["dc-uuid"] !== undefined) st.dcUuid = root.attrs["dc-uuid"];
  if (root.attrs["crm_feature_set"] !== undefined) st.crmFeatureSet = root.attrs["crm_feature_set"];
  const s = child(root, "status");
  if (s) {
    for (const c of s.children) {
      if (c.name === "node_state") st.nodes.push(nodeStatus(c));
      else if (c.name === "tickets" && c.children.length > 0) fail(c, "tickets are not supported");
    }
  }
  return st;
}

/** Reads a CIB document. Throws XmlError (exported as CibError) naming the element and reason. */
export function readCib(text: string, source = "cib"): ClusterInput {
  const root = parseXml(text, source);
  if (root.name !== "cib") throw new XmlError(root.path, `the root element must be <cib>, not <${root.name}>`);
  const cfg = child(root, "configuration");
  if (!cfg) throw new XmlError(root.path, "missing <configuration>");
  return { config: configuration(cfg), status: status(root) };
}
