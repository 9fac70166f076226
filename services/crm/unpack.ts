// From the resource model to the scheduler's working set: cluster options, nodes (online,
// unclean, standby, ...), resources (meta-attributes inherited from parents and rsc_defaults,
// clone instances), and the status section (each resource's role per node, failures, fail counts,
// migrations in progress), including which nodes must be fenced.
import { type ClusterInput, type NodeStatus, type OpDef, type OpRecord, type PrimitiveDef, type ResourceDef, type ResourceHistory, featureSetLess } from "./model.ts";
import {
  type Action,
  type NoQuorumPolicy,
  type WNode,
  type WRsc,
  type WorkingSet,
  A_OPTIONAL,
  INFINITY,
  OnFail,
  R_ALLOW_MIGRATE,
  R_BLOCK,
  R_CRITICAL,
  R_FAILED,
  R_FAILURE_IGNORED,
  R_FENCE_DEVICE,
  R_MAINTENANCE,
  R_MANAGED,
  R_NEEDS_FENCING,
  R_NEEDS_QUORUM,
  R_NOTIFY,
  R_ORPHAN,
  R_PROMOTABLE,
  R_PROVISIONAL,
  R_START_PENDING,
  R_STOP,
  R_UNIQUE,
  Recovery,
  Role,
  Variant,
  addScores,
  crmIsTrue,
  durationMs,
  isAnonClone,
  resourceActions,
  resourceLocation,
  rscLocation,
  roleFromName,
  scoreOf,
  uberParent,
} from "./sched-core.ts";
import { canFence, customAction, demoteAction, fenceNode, stopAction, unpackOpConfig } from "./actions.ts";

// OCF / executor codes used while reading history.
const OCF_OK = 0;
const OCF_NOT_RUNNING = 7;
const OCF_RUNNING_PROMOTED = 8;
const OCF_FAILED_PROMOTED = 9;
const OCF_DEGRADED = 190;
const OCF_DEGRADED_PROMOTED = 191;
const OCF_UNIMPLEMENT_FEATURE = 3;
const OCF_INSUFFICIENT_PRIV = 4;
const OCF_NOT_INSTALLED = 5;
const OCF_NOT_CONFIGURED = 6;
const OCF_INVALID_PARAM = 2;

const EXEC_PENDING = -1;
const EXEC_DONE = 0;
const EXEC_CANCELLED = 1;
const EXEC_TIMEOUT = 2;
const EXEC_NOT_SUPPORTED = 3;
const EXEC_ERROR = 4;
const EXEC_ERROR_HARD = 5;
const EXEC_ERROR_FATAL = 6;
const EXEC_NOT_INSTALLED = 7;
const EXEC_NOT_CONNECTED = 8;
const EXEC_INVALID = 9;
const EXEC_NO_FENCE_DEVICE = 10;
const EXEC_NO_SECRETS = 11;

/** The raw status, indexed for the look-ups migration handling needs. */
export interface StatusIndex {
  byNode: Map<string, Map<string, ResourceHistory>>;
}

// --- configuration ---------------------------------------------------------------------------


function boolOpt(props: Record<string, string>, name: string, dflt: boolean): boolean {
  const v = props[name];
  if (v === undefined) return dflt;
  if (/^(true|on|yes|y|1)$/i.test(v.trim())) return true;
  if (/^(false|off|no|n|0)$/i.test(v.trim())) return false;
  return dflt;
}

export function newWorkingSet(input: ClusterInput, now_s: number): WorkingSet {
  const p = input.config.properties;
  const stonithEnabled = boolOpt(p, "stonith-enabled", true);
  let nqp = (p["no-quorum-policy"] ?? "stop").toLowerCase();
  if (!["stop", "freeze", "ignore", "demote", "suicide"].includes(nqp)) nqp = "stop";
  if (nqp === "suicide" && !stonithEnabled) nqp = "stop";
  if (nqp === "suicide" && !input.status.haveQuorum && !input.status.noQuorumPanic) nqp = "stop";
  let stonithAction = (p["stonith-action"] ?? "reboot").toLowerCase();
  if (stonithAction === "poweroff") stonithAction = "off";
  if (stonithAction !== "reboot" && stonithAction !== "off") stonithAction = "reboot";
  let placement = (p["placement-strategy"] ?? "default").toLowerCase();
  if (!["default", "utilization", "minimal", "balanced"].includes(placement)) placement = "default";
  return {
    now_s,
    stonithEnabled,
    // The appliance fences with its own service (IPMI, then the watchdog), not a stonith resource:
    // the node runtime says so with this property (services/crm/cib-input.ts).
    haveStonithResource: boolOpt(p, "hapd-builtin-fencing", false),
    symmetric: boolOpt(p, "symmetric-cluster", true),
    haveQuorum: input.status.haveQuorum,
    maintenanceMode: boolOpt(p, "maintenance-mode", false),
    stopEverything: boolOpt(p, "stop-all-resources", false),
    startupFencing: stonithEnabled && boolOpt(p, "startup-fencing", true),
    concurrentFencing: boolOpt(p, "concurrent-fencing", false),
    startFailureFatal: boolOpt(p, "start-failure-is-fatal", true),
    stopOrphanResources: boolOpt(p, "stop-orphan-resources", true),
    stopOrphanActions: boolOpt(p, "stop-orphan-actions", true),
    noQuorumPolicy: nqp as NoQuorumPolicy,
    stonithAction,
    placementStrategy: placement,
    legacyFailcounts: featureSetLess(input.status.crmFeatureSet, "3.0.13", true),
    crmFeatureSet: input.status.crmFeatureSet,
    nodes: [],
    resources: [],
    byId: new Map(),
    actions: [],
    singletons: new Map(),
    orderings: [],
    colocations: [],
    locations: [],
    nextActionId: 0,
    nextOrderId: 1,
    opDefaults: new Map(Object.entries(input.config.opDefaults)),
    rscDefaults: new Map(Object.entries(input.config.rscDefaults)),
    warnings: [],
    expiredRecurring: new Set(),
  };
}

// --- nodes -----------------------------------------------------------------------------------

/** pcmk__numeric_strcasecmp(): case-insensitive, digit runs compared as numbers. */
export function numericStrcasecmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  const digit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
  while (i < a.length && j < b.length) {
    if (digit(a[i]) && digit(b[j])) {
      let ei = i;
      while (digit(a[ei])) ei++;
      let ej = j;
      while (digit(b[ej])) ej++;
      const n1 = Number(a.slice(i, ei));
      const n2 = Number(b.slice(j, ej));
      if (n1 !== n2) return n1 < n2 ? -1 : 1;
      if (ei - i !== ej - j) return ei - i < ej - j ? -1 : 1;
      i = ei;
      j = ej;
    } else {
      const c1 = a[i]!.toLowerCase();
      const c2 = b[j]!.toLowerCase();
      if (c1 !== c2) return c1 < c2 ? -1 : 1;
      i++;
      j++;
    }
  }
  if (i >= a.length && j < b.length) return -1;
  if (i < a.length && j >= b.length) return 1;
  return 0;
}

export function unpackNodes(ws: WorkingSet, input: ClusterInput): void {
  // Pacemaker keeps its node list sorted by name.
  const sorted = [...input.config.nodes].sort((a, b) => numericStrcasecmp(a.uname, b.uname));
  sorted.forEach((def, index) => {
    const node: WNode = {
      id: def.id,
      uname: def.uname,
      ping: def.type === "ping",
      index,
      attrs: new Map(),
      utilization: new Map(Object.entries(def.utilization)),
      online: false,
      unclean: ws.startupFencing,
      shutdown: false,
      standby: false,
      standbyOnfail: false,
      maintenance: false,
      pending: false,
      expectedUp: false,
      unseen: true,
      unpacked: false,
      isDc: def.id === input.status.dcUuid,
      weight: def.score ?? 0,
      numResources: 0,
      allocated: [],
      running: [],
    };
    addNodeAttrs(node, input, def.attributes, false);
    ws.nodes.push(node);
  });
}

function addNodeAttrs(node: WNode, input: ClusterInput, attrs: Record<string, string>, overwrite: boolean): void {
  node.attrs.set("#uname", node.uname);
  node.attrs.set("#id", node.id);
  node.attrs.set("#is_dc", node.isDc ? "true" : "false");
  const cluster = input.config.properties["cluster-name"];
  if (cluster !== undefined) node.attrs.set("#cluster-name", cluster);
  for (const [k, v] of Object.entries(attrs)) {
    if (overwrite || !node.attrs.has(k)) node.attrs.set(k, v);
  }
  if (!node.attrs.has("#site-name")) {
    const site = node.attrs.get("site-name");
    if (site !== undefined) node.attrs.set("#site-name", site);
    else if (cluster !== undefined) node.attrs.set("#site-name", cluster);
  }
}

// --- resources -------------------------------------------------------------------------------

interface DefRef {
  def: ResourceDef;
  /** Explicit meta of the ancestors, nearest first. */
  ancestorsMeta: Record<string, string>[];
  /** Instance attributes of the ancestors, nearest first. */
  ancestorsParams?: Record<string, string>[];
}

function newRsc(ws: WorkingSet, id: string, baseId: string, variant: Variant, parent: WRsc | null): WRsc {
  const r: WRsc = {
    id,
    baseId,
    variant,
    cloneName: null,
    parent,
    children: [],
    meta: new Map(),
    params: new Map(),
    ops: [],
    utilization: new Map(),
    className: "",
    provider: "",
    type: "",
    flags: R_PROVISIONAL,
    role: Role.Stopped,
    nextRole: Role.Unknown,
    priority: 0,
    stickiness: 0,
    migrationThreshold: INFINITY,
    failureTimeout_s: 0,
    recovery: Recovery.StopStart,
    allowed: new Map(),
    runningOn: [],
    knownOn: new Set(),
    allocatedTo: null,
    actions: [],
    rscCons: [],
    rscConsLhs: [],
    partialMigrationSource: null,
    partialMigrationTarget: null,
    danglingMigrations: [],
    pendingTask: null,
    pendingNode: null,
    exclusiveDiscover: false,
    groupOrdered: true,
    groupColocated: true,
    cloneMax: 0,
    cloneNodeMax: 1,
    promotedMax: 1,
    promotedNodeMax: 1,
    cloneOrdered: false,
    totalClones: 0,
    cloneTemplate: null,
  };
  ws.byId.set(id, r);
  return r;
}

function buildMeta(ws: WorkingSet, own: Record<string, string>, ref: DefRef, parent: WRsc | null): Map<string, string> {
  const meta = new Map<string, string>(Object.entries(own));
  for (const am of ref.ancestorsMeta) for (const [k, v] of Object.entries(am)) if (!meta.has(k)) meta.set(k, v);
  for (const [k, v] of ws.rscDefaults) if (!meta.has(k)) meta.set(k, v);
  if (parent) for (const [k, v] of parent.meta) if (!meta.has(k)) meta.set(k, v);
  return meta;
}

function unpackRequires(ws: WorkingSet, r: WRsc, value: string | undefined): void {
  const v = value?.toLowerCase();
  if (v === "nothing") return;
  if (v === "quorum") {
    r.flags |= R_NEEDS_QUORUM;
    return;
  }
  if (v === "fencing") {
    r.flags |= R_NEEDS_FENCING;
    return;
  }
  if (v === "unfencing") {
    if ((r.flags & R_FENCE_DEVICE) !== 0 || !ws.stonithEnabled) r.flags |= R_NEEDS_QUORUM;
    else r.flags |= R_NEEDS_FENCING;
    return;
  }
  if ((r.flags & R_FENCE_DEVICE) !== 0) r.flags |= R_NEEDS_QUORUM;
  else if (ws.stonithEnabled) r.flags |= R_NEEDS_FENCING;
  else if (ws.noQuorumPolicy === "ignore") {
    /* nothing */
  } else r.flags |= R_NEEDS_QUORUM;
}

/** Common part of pe__unpack_resource(): flags and typed meta-attributes. */
function commonUnpack(ws: WorkingSet, r: WRsc, isCloneTop: boolean): void {
  const meta = r.meta;
  if (!ws.maintenanceMode) r.flags |= R_MANAGED;
  r.priority = scoreOf(meta.get("priority"));
  const crit = meta.get("critical");
  if (crit === undefined || crmIsTrue(crit)) r.flags |= R_CRITICAL;
  if (crmIsTrue(meta.get("notify"))) r.flags |= R_NOTIFY;
  if (crmIsTrue(meta.get("allow-migrate"))) r.flags |= R_ALLOW_MIGRATE;
  const managed = meta.get("is-managed");
  if (managed !== undefined && managed.toLowerCase() !== "default") {
    if (crmIsTrue(managed)) r.flags |= R_MANAGED;
    else r.flags &= ~R_MANAGED;
  }
  if (crmIsTrue(meta.get("maintenance")) || ws.maintenanceMode) {
    r.flags &= ~R_MANAGED;
    r.flags |= R_MAINTENANCE;
  }
  const top = uberParent(r);
  if (top.variant === Variant.Clone || isCloneTop) {
    if (crmIsTrue(meta.get("globally-unique"))) r.flags |= R_UNIQUE;
    if (crmIsTrue(meta.get("promotable"))) r.flags |= R_PROMOTABLE;
  } else {
    r.flags |= R_UNIQUE;
  }
  const ma = meta.get("multiple-active")?.toLowerCase();
  r.recovery = ma === "stop_only" ? Recovery.StopOnly : ma === "block" ? Recovery.Block : ma === "stop_unexpected" ? Recovery.StopUnexpected : Recovery.StopStart;
  const st = meta.get("resource-stickiness");
  if (st !== undefined && st.toLowerCase() !== "default") r.stickiness = scoreOf(st);
  const mt = meta.get("migration-threshold");
  if (mt !== undefined && mt.toLowerCase() !== "default") {
    r.migrationThreshold = scoreOf(mt);
    if (r.migrationThreshold < 0) r.migrationThreshold = 1;
  }
  if (r.className === "stonith") {
    ws.haveStonithResource = true;
    r.flags |= R_FENCE_DEVICE;
  }
  unpackRequires(ws, r, meta.get("requires"));
  const ft = meta.get("failure-timeout");
  if (ft !== undefined) r.failureTimeout_s = Math.floor((durationMs(ft) ?? 0) / 1000);
  r.nextRole = targetRole(r);
}

/** get_target_role(): Unknown when target-role is unset, "Started", invalid or implied. */
export function targetRole(r: WRsc): Role {
  const v = r.meta.get("target-role");
  if (v === undefined || /^(started|default)$/i.test(v)) return Role.Unknown;
  const role = roleFromName(v);
  if (role === Role.Unknown) return Role.Unknown;
  if (role > Role.Started) {
    if ((uberParent(r).flags & R_PROMOTABLE) !== 0) {
      if (role > Role.Unpromoted) return Role.Unknown;
    } else return Role.Unknown;
  }
  return role;
}

function unpackPrimitive(ws: WorkingSet, def: PrimitiveDef, ref: DefRef, parent: WRsc | null, instance: string | null): WRsc {
  const id = instance === null ? def.id : `${def.id}:${instance}`;
  const r = newRsc(ws, id, def.id, Variant.Primitive, parent);
  r.className = def.class;
  r.provider = def.provider ?? "";
  r.type = def.type;
  r.meta = buildMeta(ws, def.meta, ref, parent);
  r.params = new Map(Object.entries(def.params));
  for (const ap of ref.ancestorsParams ?? []) for (const [k, v] of Object.entries(ap)) if (!r.params.has(k)) r.params.set(k, v);
  r.ops = def.ops;
  r.utilization = new Map(Object.entries(def.utilization));
  commonUnpack(ws, r, false);
  if (ws.symmetric) resourceLocation(ws, r, null, 0, "symmetric_default");
  return r;
}

function unpackDef(ws: WorkingSet, def: ResourceDef, ancestorsMeta: Record<string, string>[], parent: WRsc | null, instance: string | null, ancestorsParams: Record<string, string>[] = []): WRsc {
  const ref: DefRef = { def, ancestorsMeta, ancestorsParams };
  if (def.kind === "primitive") return unpackPrimitive(ws, def, ref, parent, instance);
  if (def.kind === "group") {
    const id = instance === null ? def.id : `${def.id}:${instance}`;
    const g = newRsc(ws, id, def.id, Variant.Group, parent);
    g.meta = buildMeta(ws, def.meta, ref, parent);
    commonUnpack(ws, g, false);
    const ordered = g.meta.get("ordered");
    const coloc = g.meta.get("collocated");
    g.groupOrdered = ordered === undefined || crmIsTrue(ordered);
    g.groupColocated = coloc === undefined || crmIsTrue(coloc);
    for (const c of def.children) g.children.push(unpackDef(ws, c, [def.meta, ...ancestorsMeta], g, instance, [def.params ?? {}, ...ancestorsParams]));
    if (ws.symmetric) resourceLocation(ws, g, null, 0, "symmetric_default");
    return g;
  }
  const c = newRsc(ws, def.id, def.id, Variant.Clone, parent);
  c.meta = buildMeta(ws, def.meta, ref, parent);
  if (def.promotable) c.meta.set("promotable", "true");
  commonUnpack(ws, c, true);
  if (def.promotable) c.flags |= R_PROMOTABLE;
  const pm = c.meta.get("promoted-max") ?? c.meta.get("master-max");
  const pnm = c.meta.get("promoted-node-max") ?? c.meta.get("master-node-max");
  c.promotedMax = pm === undefined ? 1 : Math.max(0, Number.parseInt(pm, 10) || 0);
  c.promotedNodeMax = pnm === undefined ? 1 : Math.max(0, Number.parseInt(pnm, 10) || 0);
  const cnm = c.meta.get("clone-node-max");
  c.cloneNodeMax = cnm === undefined ? 1 : Math.max(0, Number.parseInt(cnm, 10) || 0);
  const cm = c.meta.get("clone-max");
  c.cloneMax = cm === undefined ? Math.max(1, ws.nodes.length) : Math.max(0, Number.parseInt(cm, 10) || 0);
  c.cloneOrdered = crmIsTrue(c.meta.get("ordered"));
  if ((c.flags & R_UNIQUE) === 0 && c.cloneNodeMax > 1) c.cloneNodeMax = 1;
  if (!c.meta.has("resource-stickiness")) c.meta.set("resource-stickiness", "1");
  c.meta.set("globally-unique", (c.flags & R_UNIQUE) !== 0 ? "true" : "false");
  c.cloneTemplate = { def: def.child, ancestorsMeta: [def.meta, ...ancestorsMeta], ancestorsParams: [def.params ?? {}, ...ancestorsParams] };
  const n = c.cloneMax <= 0 ? 1 : c.cloneMax;
  for (let i = 0; i < n; i++) createCloneChild(ws, c);
  if (ws.symmetric) resourceLocation(ws, c, null, 0, "symmetric_default");
  return c;
}

export function createCloneChild(ws: WorkingSet, clone: WRsc): WRsc {
  const tmpl = clone.cloneTemplate as { def: ResourceDef; ancestorsMeta: Record<string, string>[]; ancestorsParams: Record<string, string>[] };
  const asOrphan = clone.totalClones >= clone.cloneMax;
  const child = unpackDef(ws, tmpl.def, tmpl.ancestorsMeta, clone, String(clone.totalClones), tmpl.ancestorsParams);
  clone.totalClones++;
  clone.children.push(child);
  if (asOrphan) setFlagRecursive(child, R_ORPHAN);
  child.meta.set("clone-max", String(clone.cloneMax));
  return child;
}

function setFlagRecursive(r: WRsc, flag: number): void {
  r.flags |= flag;
  for (const c of r.children) setFlagRecursive(c, flag);
}

export function unpackResources(ws: WorkingSet, input: ClusterInput): void {
  const top: WRsc[] = [];
  for (const def of input.config.resources) top.push(unpackDef(ws, def, [], null, null));
  // Stable sort by priority, highest first.
  ws.resources = top
    .map((r, i) => ({ r, i }))
    .sort((a, b) => b.r.priority - a.r.priority || a.i - b.i)
    .map((x) => x.r);
}

// --- status ----------------------------------------------------------------------------------

export function indexStatus(input: ClusterInput): StatusIndex {
  const byNode = new Map<string, Map<string, ResourceHistory>>();
  for (const ns of input.status.nodes) {
    if (ns.history === null || byNode.has(ns.uname)) continue;
    const m = new Map<string, ResourceHistory>();
    for (const h of ns.history) if (!m.has(h.id)) m.set(h.id, h);
    byNode.set(ns.uname, m);
  }
  return { byNode };
}

function shutdownRequested(node: WNode): boolean {
  const v = node.attrs.get("shutdown");
  return v !== undefined && v !== "0" && v !== "";
}

function determineOnlineStatus(ws: WorkingSet, ns: NodeStatus, node: WNode): void {
  node.shutdown = false;
  node.expectedUp = false;
  if (shutdownRequested(node)) node.shutdown = true;
  else if ((ns.expected ?? "").toLowerCase() === "member") node.expectedUp = true;

  let online = false;
  if (node.ping) {
    node.unclean = false;
  } else if (!ws.stonithEnabled) {
    const inCluster = crmIsTrue(ns.inCcm);
    if (!inCluster) {
      /* down */
    } else if ((ns.crmd ?? "").toLowerCase() === "online") {
      if ((ns.join ?? "").toLowerCase() === "member") online = true;
    } else if (!node.expectedUp) {
      /* controller down */
    } else {
      fenceNode(ws, node, "peer is unexpectedly down", false);
    }
  } else {
    const terminate = node.attrs.get("terminate");
    let doTerminate = false;
    if (crmIsTrue(terminate)) doTerminate = true;
    else if (terminate !== undefined && terminate.length > 0 && terminate[0] !== "0" && /\d/.test(terminate[0]!)) doTerminate = true;
    online = crmIsTrue(ns.inCcm);
    const crmdOnline = (ns.crmd ?? "").toLowerCase() === "online";
    const join = (ns.join ?? "").toLowerCase();
    const exp = (ns.expected ?? "down").toLowerCase();
    if (node.shutdown) {
      online = crmdOnline;
    } else if (ns.inCcm === undefined) {
      fenceNode(ws, node, "peer has not been seen by the cluster", false);
    } else if (join === "banned") {
      fenceNode(ws, node, "peer failed Pacemaker membership criteria", false);
    } else if (!doTerminate && exp === "down") {
      if (crmIsTrue(ns.inCcm) || crmdOnline) {
        node.standby = true;
        node.pending = true;
      }
    } else if (doTerminate && join === "down" && !crmIsTrue(ns.inCcm) && !crmdOnline) {
      online = false;
    } else if (!crmIsTrue(ns.inCcm)) {
      fenceNode(ws, node, "peer is no longer part of the cluster", true);
    } else if (!crmdOnline) {
      fenceNode(ws, node, "peer process is no longer available", false);
    } else if (doTerminate) {
      fenceNode(ws, node, "termination was requested", false);
    } else if (join === "member") {
      /* active */
    } else if (join === "pending" || join === "down") {
      node.standby = true;
      node.pending = true;
    } else {
      fenceNode(ws, node, "peer was in an unknown state", false);
    }
  }
  if (online) node.online = true;
  else node.weight = -INFINITY;
  if (online && node.shutdown) node.weight = -INFINITY;
}

export function unpackStatus(ws: WorkingSet, input: ClusterInput, idx: StatusIndex): void {
  const findNode = (ns: NodeStatus) => ws.nodes.find((n) => n.id === ns.id) ?? ws.nodes.find((n) => n.uname === ns.uname);
  // First pass: node states.
  for (const ns of input.status.nodes) {
    const node = findNode(ns);
    if (!node) {
      ws.warnings.push(`ignoring recorded node state for '${ns.uname}' because it is no longer in the configuration`);
      continue;
    }
    addNodeAttrs(node, input, ns.attributes, true);
    if (crmIsTrue(node.attrs.get("standby"))) node.standby = true;
    if (crmIsTrue(node.attrs.get("maintenance"))) node.maintenance = true;
    node.unclean = false;
    node.unseen = false;
    determineOnlineStatus(ws, ns, node);
    if (!ws.haveQuorum && node.online && ws.noQuorumPolicy === "suicide") {
      fenceNode(ws, node, "cluster does not have quorum", false);
    }
  }
  // Resource histories: online nodes first when fencing is off (so active clone instances are
  // numbered first), then the rest; unseen nodes are unpacked only when fencing is on.
  const pass = (fence: boolean) => {
    for (const ns of input.status.nodes) {
      const node = findNode(ns);
      if (!node || node.unpacked) continue;
      if (!fence && !ws.stonithEnabled && !node.online) continue;
      node.unpacked = true;
      if (ns.history !== null) unpackNodeLrm(ws, node, ns.history, idx);
    }
  };
  pass(false);
  pass(ws.stonithEnabled);
}

function unpackNodeLrm(ws: WorkingSet, node: WNode, history: ResourceHistory[], idx: StatusIndex): void {
  for (const h of history) unpackLrmResource(ws, node, h, idx);
}

function cloneStrip(id: string): string {
  const m = /^(.*):\d+$/.exec(id);
  return m ? m[1]! : id;
}

function findRsc(ws: WorkingSet, id: string): WRsc | null {
  return ws.byId.get(id) ?? null;
}

/** The member of a (possibly grouped) clone instance whose configured id is baseId. */
function findInInstance(instance: WRsc, baseId: string): WRsc | null {
  if (instance.variant === Variant.Primitive) return instance.baseId === baseId ? instance : null;
  for (const c of instance.children) {
    const m = findInInstance(c, baseId);
    if (m) return m;
  }
  return null;
}

function createAnonymousOrphan(ws: WorkingSet, parent: WRsc, rscId: string): WRsc {
  const top = createCloneChild(ws, parent);
  return findInInstance(top, rscId) ?? top;
}

function findAnonymousClone(ws: WorkingSet, node: WNode, parent: WRsc, rscId: string): WRsc {
  let rsc: WRsc | null = null;
  let inactive: WRsc | null = null;
  let skipInactive = false;
  for (const child of parent.children) {
    if (rsc) break;
    const locations: WNode[] = [];
    rscLocation(child, locations, 2);
    if (locations.length > 0) {
      if (locations[0] === node) {
        rsc = findInInstance(child, rscId);
        if (rsc && rsc.runningOn.length > 0) {
          skipInactive = true;
          rsc = null;
        }
      }
    } else if (!skipInactive && !inactive && (child.flags & R_BLOCK) === 0) {
      inactive = findInInstance(child, rscId);
      if (inactive && inactive.pendingNode && inactive.pendingNode !== node) inactive = null;
    }
  }
  if (!rsc && !skipInactive && inactive) rsc = inactive;
  if (rsc && (rsc.flags & R_NEEDS_FENCING) === 0 && (!node.online || node.unclean) && parent.cloneMax < ws.nodes.length) {
    rsc = null;
  }
  if (!rsc) rsc = createAnonymousOrphan(ws, parent, rscId);
  return rsc;
}

function unpackFindResource(ws: WorkingSet, node: WNode, rscId: string): WRsc | null {
  let rsc = findRsc(ws, rscId);
  let parent: WRsc | null = null;
  if (!rsc) {
    const clone0 = findRsc(ws, `${cloneStrip(rscId)}:0`);
    if (clone0 && (clone0.flags & R_UNIQUE) === 0) {
      rsc = clone0;
      parent = uberParent(clone0);
    }
  } else if (rsc.variant !== Variant.Primitive) {
    return null;
  } else {
    parent = uberParent(rsc);
  }
  if (parent && isAnonClone(parent)) rsc = findAnonymousClone(ws, node, parent, cloneStrip(rscId));
  if (rsc && rscId !== rsc.id && rscId !== rsc.cloneName) rsc.cloneName = rscId;
  return rsc;
}

function processOrphanResource(ws: WorkingSet, h: ResourceHistory, node: WNode): WRsc {
  const def: PrimitiveDef = {
    kind: "primitive",
    id: h.id,
    class: (h.class ?? "ocf") as PrimitiveDef["class"],
    type: h.type ?? "unknown",
    params: {},
    meta: {},
    utilization: {},
    ops: [],
  };
  if (h.provider !== undefined) def.provider = h.provider;
  const r = unpackPrimitive(ws, def, { def, ancestorsMeta: [] }, null, null);
  r.flags |= R_ORPHAN;
  ws.resources.push(r);
  if (!ws.stopOrphanResources) r.flags &= ~R_MANAGED;
  else resourceLocation(ws, r, null, -INFINITY, "__orphan_do_not_run__");
  ws.warnings.push(`resource '${h.id}' has history on ${node.uname} but is not configured (orphan)`);
  return r;
}

/** Newer-first comparison of two history entries of one resource on one node. */
function compareOps(a: OpRecord, b: OpRecord): number {
  if (a.callId === -1 && b.callId === -1) return 0;
  if (a.callId >= 0 && a.callId < b.callId) return -1;
  if (b.callId >= 0 && a.callId > b.callId) return 1;
  if (a.callId >= 0 && b.callId >= 0 && a.callId === b.callId) {
    const la = a.lastRcChange ?? -1;
    const lb = b.lastRcChange ?? -1;
    if (la >= 0 && la < lb) return -1;
    if (lb >= 0 && la > lb) return 1;
    return 0;
  }
  // One pending (-1) operation: it is the newer one.
  if (a.callId === -1) return 1;
  if (b.callId === -1) return -1;
  return 0;
}

export function sortOps(ops: OpRecord[]): OpRecord[] {
  // Pacemaker builds the list by prepending, then sorts stably.
  return [...ops].reverse().sort(compareOps);
}

function isProbe(op: OpRecord): boolean {
  return op.operation === "monitor" && op.interval_ms === 0;
}

function maskProbeFailure(op: OpRecord): boolean {
  if (!isProbe(op)) return false;
  return op.rc === OCF_NOT_INSTALLED || op.rc === OCF_INVALID_PARAM || op.opStatus === EXEC_NOT_INSTALLED;
}

function setActive(r: WRsc): void {
  const top = uberParent(r);
  r.role = (top.flags & R_PROMOTABLE) !== 0 ? Role.Unpromoted : Role.Started;
}

interface LrmState {
  onFail: OnFail;
  lastFailure: OpRecord | null;
}

function unpackLrmResource(ws: WorkingSet, node: WNode, h: ResourceHistory, idx: StatusIndex): void {
  if (h.ops.length === 0) return;
  let rsc = unpackFindResource(ws, node, h.id);
  if (!rsc) rsc = processOrphanResource(ws, h, node);
  const savedRole = rsc.role;
  rsc.role = Role.Unknown;
  const sorted = sortOps(h.ops);
  const st: LrmState = { onFail: OnFail.Ignore, lastFailure: null };
  let migrateOp: OpRecord | null = null;
  for (const op of sorted) {
    if (op.operation === "migrate_from") migrateOp = op;
    unpackRscOp(ws, rsc, node, op, st, idx, h.id);
  }
  void migrateOp;
  // Active recurring operations are recreated (optional) so that they are not rescheduled.
  processRecurring(ws, node, rsc, sorted);
  processRscState(ws, rsc, node, st.onFail);
  const req = targetRole(rsc);
  if (req !== Role.Unknown) {
    if (rsc.nextRole === Role.Unknown || req < rsc.nextRole) rsc.nextRole = req;
  }
  if (savedRole > rsc.role) rsc.role = savedRole;
}

function calculateActiveOps(sorted: OpRecord[]): { start: number; stop: number } {
  let stop = -1;
  let start = -1;
  let impliedMonitorStart = -1;
  let impliedCloneStart = -1;
  sorted.forEach((op, i) => {
    if (op.operation === "stop" && op.opStatus === 0) stop = i;
    else if (op.operation === "start" || op.operation === "migrate_from") start = i;
    else if (impliedMonitorStart <= stop && op.operation === "monitor") {
      if (op.rc === 0 || op.rc === 8) impliedMonitorStart = i;
    } else if (op.operation === "promote" || op.operation === "demote") impliedCloneStart = i;
  });
  if (start === -1) {
    if (impliedCloneStart !== -1) start = impliedCloneStart;
    else if (impliedMonitorStart !== -1) start = impliedMonitorStart;
  }
  return { start, stop };
}

export { calculateActiveOps };

function processRecurring(ws: WorkingSet, node: WNode, rsc: WRsc, sorted: OpRecord[]): void {
  const { start, stop } = calculateActiveOps(sorted);
  let counter = -1;
  for (const op of sorted) {
    counter++;
    if (!node.online) break;
    if (start < stop && counter <= stop) continue;
    if (counter < start) continue;
    if (op.interval_ms === 0) continue;
    if (op.opStatus === -1) continue;
    customAction(ws, rsc, `${rsc.id}_${op.operation}_${op.interval_ms}`, op.operation, node, true, true);
  }
}

// --- fail counts -------------------------------------------------------------------------------

function failName(r: WRsc): string {
  const name = r.cloneName ?? r.id;
  return (r.flags & R_UNIQUE) !== 0 ? name : cloneStrip(name);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function blockFailure(r: WRsc, node: WNode, op: OpRecord | null, idx: StatusIndex): boolean {
  const base = cloneStrip(r.id);
  const blocking = r.ops.filter((o) => o.onFail === "block");
  for (const conf of blocking) {
    const matches = (lrm: OpRecord) => {
      if (lrm.interval_ms !== conf.interval_ms || lrm.operation !== conf.name) return false;
      if (lrm.id === `${base}_last_failure_0`) return true;
      return lrm.id === `${base}_${conf.name}_${conf.interval_ms}` && lrm.rc !== lrm.targetRc;
    };
    if (op) {
      if (matches(op)) return true;
    } else {
      const hist = idx.byNode.get(node.uname)?.get(base);
      for (const lrm of hist?.ops ?? []) if (lrm.operation === conf.name && lrm.interval_ms === conf.interval_ms && matches(lrm)) return true;
    }
  }
  return false;
}

/** pe_get_failcount(): the sum of the resource's fail counts on a node (0 once all expired). */
const failAttrsCache = new WeakMap<Map<string, string>, [string, string][]>();

/** The node's fail-count-* and last-failure-* attributes (cached per attribute map). */
function failAttrs(node: WNode): [string, string][] {
  let l = failAttrsCache.get(node.attrs);
  if (!l) {
    l = [...node.attrs].filter(([k]) => k.startsWith("fail-count-") || k.startsWith("last-failure-"));
    failAttrsCache.set(node.attrs, l);
  }
  return l;
}

export function getFailcount(ws: WorkingSet, node: WNode, r: WRsc, effective: boolean, op: OpRecord | null, idx: StatusIndex | null): { count: number; last: number } {
  const attrs = failAttrs(node);
  if (attrs.length === 0) return { count: 0, last: 0 };
  const name = escapeRe(failName(r));
  const inst = (r.flags & R_UNIQUE) !== 0 ? "" : "(:[0-9]+)?";
  const opPat = ws.legacyFailcounts ? "" : "#.+_[0-9]+";
  const fcRe = new RegExp(`^fail-count-${name}${inst}${opPat}$`);
  const lfRe = new RegExp(`^last-failure-${name}${inst}${opPat}$`);
  let count = 0;
  let last = 0;
  for (const [k, v] of attrs) {
    if (fcRe.test(k)) count = addScores(count, scoreOf(v));
    else if (lfRe.test(k)) {
      const n = Number.parseInt(v, 10);
      if (Number.isFinite(n)) last = Math.max(last, n);
    }
  }
  if (count > 0 && r.failureTimeout_s > 0 && idx && blockFailure(r, node, op, idx)) {
    ws.warnings.push(`ignoring failure timeout ${r.failureTimeout_s} for ${r.id} because it conflicts with on-fail=block`);
    r.failureTimeout_s = 0;
  }
  if (effective && count > 0 && last > 0 && r.failureTimeout_s > 0) {
    if (ws.now_s > last + r.failureTimeout_s) count = 0;
  }
  return { count, last };
}

// --- operation history -------------------------------------------------------------------------

function cmpOnFail(first: OnFail, second: OnFail): number {
  if (first === OnFail.Demote) {
    if (second === OnFail.Ignore) return 1;
    if (second === OnFail.Demote) return 0;
    return -1;
  }
  if (second === OnFail.Demote) return first === OnFail.Ignore ? -1 : 1;
  return first - second;
}

function checkOperationExpiry(ws: WorkingSet, r: WRsc, node: WNode, op: OpRecord, idx: StatusIndex): boolean {
  let expired = false;
  if (r.failureTimeout_s > 0 && op.lastRcChange !== undefined) {
    if (ws.now_s >= op.lastRcChange + r.failureTimeout_s) expired = true;
    const unexpired = getFailcount(ws, node, r, true, op, idx).count;
    if (expired) {
      if (getFailcount(ws, node, r, false, op, idx).count > 0) {
        if (unexpired === 0) {
          clearFailcount(ws, r, node);
        } else {
          expired = false;
        }
      }
    }
  }
  if (expired && op.interval_ms === 0 && op.operation === "monitor") {
    if ([OCF_OK, OCF_NOT_RUNNING, OCF_RUNNING_PROMOTED, OCF_DEGRADED, OCF_DEGRADED_PROMOTED].includes(op.rc)) expired = false;
  }
  return expired;
}

export function clearFailcount(ws: WorkingSet, r: WRsc, node: WNode): Action {
  const a = customAction(ws, r, `${r.id}_clear_failcount_0`, "clear_failcount", node, false, true);
  a.meta.set("op_no_wait", "true");
  return a;
}

function effectiveRc(rc: number): number {
  if (rc === OCF_DEGRADED) return OCF_OK;
  if (rc === OCF_DEGRADED_PROMOTED) return OCF_RUNNING_PROMOTED;
  return rc;
}

function checkRecoverable(ws: WorkingSet, r: WRsc, node: WNode, task: string): void {
  if (task !== "stop") return;
  if (canFence(ws, node)) return;
  ws.warnings.push(`no further recovery can be attempted for ${r.id} because stop on ${node.uname} failed`);
  r.flags &= ~R_MANAGED;
  r.flags |= R_BLOCK;
}


function remapOperation(ws: WorkingSet, r: WRsc, node: WNode, op: OpRecord, st: LrmState, targetRc: number, rc: number, status: number): { rc: number; status: number } {
  let task = op.operation;
  if (task === "monitor") rc = effectiveRc(rc);
  if (maskProbeFailure(op)) {
    status = EXEC_DONE;
    rc = OCF_NOT_RUNNING;
  }
  if (status !== EXEC_DONE && status !== EXEC_ERROR) return { rc, status };
  status = EXEC_DONE;
  const probe = isProbe(op);
  if (probe) task = "probe";
  if (targetRc < 0) status = EXEC_ERROR;
  else if (targetRc !== rc) status = EXEC_ERROR;
  switch (rc) {
    case OCF_OK:
      if (probe && targetRc === OCF_NOT_RUNNING) status = EXEC_DONE;
      break;
    case OCF_NOT_RUNNING:
      if (probe || targetRc === rc || (r.flags & R_MANAGED) === 0) {
        status = EXEC_DONE;
        r.role = Role.Stopped;
        st.onFail = OnFail.Ignore;
        r.nextRole = Role.Unknown;
      }
      break;
    case OCF_RUNNING_PROMOTED:
      if (probe && rc !== targetRc) status = EXEC_DONE;
      r.role = Role.Promoted;
      break;
    case OCF_DEGRADED_PROMOTED:
    case OCF_FAILED_PROMOTED:
      r.role = Role.Promoted;
      status = EXEC_ERROR;
      break;
    case OCF_NOT_CONFIGURED:
      status = EXEC_ERROR_FATAL;
      break;
    case OCF_UNIMPLEMENT_FEATURE:
      if (op.interval_ms === 0) {
        checkRecoverable(ws, r, node, task);
        status = EXEC_ERROR_HARD;
      } else status = EXEC_NOT_SUPPORTED;
      break;
    case OCF_NOT_INSTALLED:
    case OCF_INVALID_PARAM:
    case OCF_INSUFFICIENT_PRIV:
      checkRecoverable(ws, r, node, task);
      status = EXEC_ERROR_HARD;
      break;
    default:
      if (status === EXEC_DONE) status = EXEC_ERROR;
      break;
  }
  return { rc, status };
}

function actionOnFail(ws: WorkingSet, r: WRsc, key: string, task: string): { onFail: OnFail; failRole: Role } {
  const cfg = unpackOpConfig(ws, r, key, task, null);
  return { onFail: cfg.onFail, failRole: cfg.failRole };
}

function unpackRscOpFailure(ws: WorkingSet, r: WRsc, node: WNode, rc: number, op: OpRecord, st: LrmState, idx: StatusIndex, key: string): void {
  st.lastFailure = op;
  const task = op.operation;
  const cfg = actionOnFail(ws, r, key, task);
  if (cmpOnFail(st.onFail, cfg.onFail) < 0) st.onFail = cfg.onFail;
  if (task === "stop") resourceLocation(ws, r, node, -INFINITY, "__stop_fail__");
  else if (task === "migrate_to") unpackMigrateToFailure(ws, r, node, op, idx);
  else if (task === "migrate_from") unpackMigrateFromFailure(ws, r, node, op, idx);
  else if (task === "promote") r.role = Role.Promoted;
  else if (task === "demote") {
    if (cfg.onFail === OnFail.Block) {
      r.role = Role.Promoted;
      r.nextRole = Role.Stopped;
    } else if (rc === OCF_NOT_RUNNING) r.role = Role.Stopped;
    else r.role = Role.Unpromoted;
  }
  if (isProbe(op) && rc === OCF_NOT_INSTALLED) r.role = Role.Stopped;
  else if (r.role < Role.Started) setActive(r);
  if (cfg.failRole !== Role.Started && r.nextRole < cfg.failRole) r.nextRole = cfg.failRole;
  if (cfg.failRole === Role.Stopped) {
    let failRsc = r;
    if (r.parent) {
      const p = uberParent(r);
      if (p.variant === Variant.Clone && (p.flags & R_UNIQUE) === 0) failRsc = p;
    }
    failRsc.allowed = new Map();
    for (const n of ws.nodes) failRsc.allowed.set(n.id, { node: n, weight: -INFINITY, count: 0, discover: 0 });
  }
}

function updateResourceState(ws: WorkingSet, r: WRsc, node: WNode, op: OpRecord, task: string, rc: number, st: LrmState, idx: StatusIndex): void {
  let clearPast = false;
  if (rc === OCF_NOT_INSTALLED || maskProbeFailure(op)) {
    r.role = Role.Stopped;
  } else if (rc === OCF_NOT_RUNNING) {
    clearPast = true;
  } else if (task === "monitor") {
    if (st.lastFailure && keyOf(op) === keyOf(st.lastFailure)) clearPast = true;
    if (r.role < Role.Started) setActive(r);
  } else if (task === "start") {
    r.role = Role.Started;
    clearPast = true;
  } else if (task === "stop") {
    r.role = Role.Stopped;
    clearPast = true;
  } else if (task === "promote") {
    r.role = Role.Promoted;
    clearPast = true;
  } else if (task === "demote") {
    if (st.onFail === OnFail.Demote) clearPast = true;
    r.role = Role.Unpromoted;
  } else if (task === "migrate_from") {
    r.role = Role.Started;
    clearPast = true;
  } else if (task === "migrate_to") {
    unpackMigrateToSuccess(ws, r, node, op, idx);
  } else if (r.role < Role.Started) {
    setActive(r);
  }
  if (clearPast) {
    switch (st.onFail) {
      case OnFail.Stop:
      case OnFail.Fence:
      case OnFail.Migrate:
      case OnFail.Standby:
        break;
      default:
        st.onFail = OnFail.Ignore;
        r.nextRole = Role.Unknown;
    }
  }
}

/** get_op_key(): the history entry's operation_key, or its id when it has none. */
export function keyOf(op: OpRecord): string {
  return op.operationKey ?? op.id;
}

function unpackRscOp(ws: WorkingSet, r: WRsc, node: WNode, op: OpRecord, st: LrmState, idx: StatusIndex, historyId: string): void {
  let rc = op.rc;
  let status = op.opStatus;
  const targetRc = op.targetRc;
  const task = op.operation;
  if (task === "notify" || task === "meta-data") return;
  void historyId;
  const key = keyOf(op);
  let parent = r;
  if ((r.flags & R_UNIQUE) === 0) parent = uberParent(r);
  let expired = false;
  if (status !== EXEC_NOT_INSTALLED && checkOperationExpiry(ws, r, node, op, idx)) expired = true;
  const oldRc = rc;
  ({ rc, status } = remapOperation(ws, r, node, op, st, targetRc, rc, status));
  const maskable = maskProbeFailure(op);
  if (expired && maskable && oldRc !== targetRc) {
    if (r.role <= Role.Stopped) r.role = Role.Unknown;
    return;
  } else if (expired && rc !== targetRc) {
    if (op.interval_ms === 0) return;
    if (node.online && !node.unclean) {
      ws.expiredRecurring.add(op);
      return;
    }
  }
  if (maskable) {
    updateResourceState(ws, r, node, op, task, targetRc, st, idx);
    resourceLocation(ws, parent, node, -INFINITY, "masked-probe-failure");
    return;
  }
  switch (status) {
    case EXEC_CANCELLED:
      return;
    case EXEC_PENDING:
      if (task === "start") {
        r.flags |= R_START_PENDING;
        setActive(r);
      } else if (task === "promote") {
        r.role = Role.Promoted;
      } else if (task === "migrate_to" && node.unclean && op.migrateTarget !== undefined) {
        const target = ws.nodes.find((n) => n.uname === op.migrateTarget);
        if (target) stopAction(ws, r, target, false);
      }
      if (r.pendingTask === null) {
        if (op.interval_ms !== 0 || task !== "monitor") {
          r.pendingTask = task;
          r.pendingNode = node;
        }
      }
      return;
    case EXEC_DONE:
      updateResourceState(ws, r, node, op, task, rc, st, idx);
      return;
    case EXEC_NOT_INSTALLED: {
      const f = actionOnFail(ws, r, key, task);
      if (f.onFail === OnFail.Ignore) st.onFail = OnFail.Migrate;
      resourceLocation(ws, parent, node, -INFINITY, "hard-error");
      unpackRscOpFailure(ws, r, node, rc, op, st, idx, key);
      return;
    }
    case EXEC_NO_FENCE_DEVICE:
    case EXEC_NO_SECRETS:
      status = EXEC_ERROR_HARD;
      break;
    case EXEC_NOT_CONNECTED:
    case EXEC_ERROR:
    case EXEC_ERROR_HARD:
    case EXEC_ERROR_FATAL:
    case EXEC_TIMEOUT:
    case EXEC_NOT_SUPPORTED:
    case EXEC_INVALID:
      break;
    default:
      break;
  }
  const strategy = actionOnFail(ws, r, key, task).onFail;
  if (strategy === OnFail.Ignore) {
    updateResourceState(ws, r, node, op, task, targetRc, st, idx);
    r.flags |= R_FAILURE_IGNORED;
  } else {
    unpackRscOpFailure(ws, r, node, rc, op, st, idx, key);
    if (status === EXEC_ERROR_HARD) {
      resourceLocation(ws, parent, node, -INFINITY, "hard-error");
    } else if (status === EXEC_ERROR_FATAL) {
      resourceLocation(ws, parent, null, -INFINITY, "fatal-error");
    }
  }
}

// --- migrations ----------------------------------------------------------------------------

function lrmOps(idx: StatusIndex, rscId: string, node: string): OpRecord[] | null {
  const h = idx.byNode.get(node)?.get(rscId);
  return h ? h.ops : null;
}

function findLrmOp(idx: StatusIndex, rscId: string, task: string, node: string, source: string | null, targetRc: number): OpRecord | null {
  const ops = lrmOps(idx, rscId, node);
  if (!ops) return null;
  let found: OpRecord | null = null;
  for (const o of ops) {
    if (o.operation !== task) continue;
    if (source !== null && task === "migrate_to" && o.migrateTarget !== source) continue;
    if (source !== null && task === "migrate_from" && o.migrateSource !== source) continue;
    found = o;
    break;
  }
  if (found && targetRc >= 0 && (found.rc !== targetRc || found.opStatus !== EXEC_DONE)) return null;
  return found;
}

function unknownOnNode(idx: StatusIndex, rscId: string, node: string): boolean {
  const ops = lrmOps(idx, rscId, node);
  return ops === null || ops.length === 0;
}

function isNewer(a: OpRecord, b: OpRecord, sameNode: boolean): boolean {
  if (sameNode) return compareOps(a, b) > 0;
  if (a.callId >= 0 && b.callId >= 0) {
    const la = a.lastRcChange ?? -1;
    const lb = b.lastRcChange ?? -1;
    return lb >= 0 && la > lb;
  }
  return false;
}

function monitorNotRunningAfter(idx: StatusIndex, rscId: string, node: string, op: OpRecord, sameNode: boolean): boolean {
  const mon = findLrmOp(idx, rscId, "monitor", node, null, OCF_NOT_RUNNING);
  return !!mon && isNewer(mon, op, sameNode);
}

function nonMonitorAfter(idx: StatusIndex, rscId: string, node: string, op: OpRecord, sameNode: boolean): boolean {
  const ops = lrmOps(idx, rscId, node);
  if (!ops) return false;
  for (const o of ops) {
    if (o === op) continue;
    if (["start", "stop", "migrate_to", "migrate_from"].includes(o.operation) && isNewer(o, op, sameNode)) return true;
  }
  return false;
}

function newerStateAfterMigrate(idx: StatusIndex, rscId: string, node: string, migrateTo: OpRecord | null, migrateFrom: OpRecord | null): boolean {
  let op = migrateFrom ?? migrateTo;
  if (!op) return false;
  const source = op.migrateSource;
  const target = op.migrateTarget;
  let sameNode = false;
  if (node === target) {
    if (migrateFrom) {
      op = migrateFrom;
      sameNode = true;
    } else op = migrateTo!;
  } else if (node === source) {
    if (migrateTo) {
      op = migrateTo;
      sameNode = true;
    } else op = migrateFrom!;
  }
  return nonMonitorAfter(idx, rscId, node, op, sameNode) || monitorNotRunningAfter(idx, rscId, node, op, sameNode);
}

export function addRunning(ws: WorkingSet, r: WRsc, node: WNode, failed: boolean): void {
  void failed;
  if (r.runningOn.includes(node)) return;
  r.runningOn.push(node);
  if (r.variant === Variant.Primitive) {
    node.running.push(r);
    if (node.maintenance) r.flags &= ~R_MANAGED;
  }
  if ((r.flags & R_MANAGED) === 0) {
    resourceLocation(ws, r, node, INFINITY, "not_managed_default");
    let p = r.parent;
    while (p && node.online) {
      p.runningOn.push(node);
      p = p.parent;
    }
    return;
  }
  const multiply = r.variant === Variant.Primitive && r.runningOn.length > 1;
  if (multiply) {
    if (r.recovery === Recovery.StopOnly) {
      r.allowed = new Map();
      for (const n of ws.nodes) r.allowed.set(n.id, { node: n, weight: -INFINITY, count: 0, discover: 0 });
    } else if (r.recovery === Recovery.Block) {
      r.flags &= ~R_MANAGED;
      r.flags |= R_BLOCK;
      if (r.parent && r.parent.variant === Variant.Group && r.parent.recovery === Recovery.Block) {
        for (const c of r.parent.children) {
          c.flags &= ~R_MANAGED;
          c.flags |= R_BLOCK;
        }
      }
    }
  }
  if (r.parent) addRunning(ws, r.parent, node, false);
}

function unpackMigrateToSuccess(ws: WorkingSet, r: WRsc, node: WNode, op: OpRecord, idx: StatusIndex): void {
  const source = op.migrateSource;
  const target = op.migrateTarget;
  if (source === undefined || target === undefined || source !== node.uname) return;
  const sourceNewerOp = nonMonitorAfter(idx, r.id, source, op, true);
  const migrateFrom = findLrmOp(idx, r.id, "migrate_from", target, source, -1);
  if (sourceNewerOp && migrateFrom) return;
  const targetNewerState = newerStateAfterMigrate(idx, r.id, target, op, migrateFrom);
  if (sourceNewerOp && targetNewerState) return;
  r.role = Role.Started;
  const targetNode = ws.nodes.find((n) => n.uname === target) ?? null;
  const sourceNode = ws.nodes.find((n) => n.uname === source) ?? null;
  if (migrateFrom && migrateFrom.rc === OCF_OK && migrateFrom.opStatus === EXEC_DONE) {
    r.role = Role.Stopped;
    r.danglingMigrations.unshift(node);
  } else if (migrateFrom && migrateFrom.opStatus !== EXEC_PENDING) {
    if (!targetNewerState && targetNode && targetNode.online) {
      addRunning(ws, r, targetNode, true);
    } else {
      r.flags |= R_FAILED | R_STOP;
      r.flags &= ~R_ALLOW_MIGRATE;
    }
  } else {
    if (!targetNewerState && targetNode && targetNode.online) {
      addRunning(ws, r, targetNode, false);
      if (sourceNode && sourceNode.online) {
        r.partialMigrationTarget = targetNode;
        r.partialMigrationSource = sourceNode;
      }
    } else if (!sourceNewerOp) {
      r.flags |= R_FAILED | R_STOP;
      r.flags &= ~R_ALLOW_MIGRATE;
    }
  }
}

function unpackMigrateToFailure(ws: WorkingSet, r: WRsc, node: WNode, op: OpRecord, idx: StatusIndex): void {
  const source = op.migrateSource;
  const target = op.migrateTarget;
  if (source === undefined || target === undefined || source !== node.uname) return;
  r.role = Role.Started;
  const targetMigrateFrom = findLrmOp(idx, r.id, "migrate_from", target, source, OCF_OK);
  if (!unknownOnNode(idx, r.id, target) && !newerStateAfterMigrate(idx, r.id, target, op, targetMigrateFrom)) {
    const targetNode = ws.nodes.find((n) => n.uname === target);
    if (targetNode && targetNode.online) addRunning(ws, r, targetNode, false);
  } else if (!nonMonitorAfter(idx, r.id, source, op, true)) {
    r.danglingMigrations.unshift(node);
  }
}

function unpackMigrateFromFailure(ws: WorkingSet, r: WRsc, node: WNode, op: OpRecord, idx: StatusIndex): void {
  const source = op.migrateSource;
  const target = op.migrateTarget;
  if (source === undefined || target === undefined || target !== node.uname) return;
  r.role = Role.Started;
  const sourceMigrateTo = findLrmOp(idx, r.id, "migrate_to", source, target, OCF_OK);
  if (!unknownOnNode(idx, r.id, source) && !newerStateAfterMigrate(idx, r.id, source, sourceMigrateTo, op)) {
    const sourceNode = ws.nodes.find((n) => n.uname === source);
    if (sourceNode && sourceNode.online) addRunning(ws, r, sourceNode, true);
  }
}

// --- the resource's state on one node ----------------------------------------------------------

function processRscState(ws: WorkingSet, r: WRsc, node: WNode, onFailIn: OnFail): void {
  let onFail = onFailIn;
  if (r.role !== Role.Unknown) {
    let iter: WRsc | null = r;
    while (iter) {
      iter.knownOn.add(node.id);
      if ((iter.flags & R_UNIQUE) !== 0) break;
      iter = iter.parent;
    }
  }
  if (r.role > Role.Stopped && !node.online && !node.maintenance && (r.flags & R_MANAGED) !== 0) {
    if (ws.stonithEnabled) fenceNode(ws, node, `${r.id} is thought to be active there`, false);
  }
  const saveOnFail = onFail;
  if (node.unclean) onFail = OnFail.Ignore;
  switch (onFail) {
    case OnFail.Ignore:
      break;
    case OnFail.Demote:
      r.flags |= R_FAILED;
      demoteAction(ws, r, node, false);
      break;
    case OnFail.Fence:
      fenceNode(ws, node, `${r.id} failed there`, false);
      break;
    case OnFail.Standby:
      node.standby = true;
      node.standbyOnfail = true;
      break;
    case OnFail.Block:
      r.flags &= ~R_MANAGED;
      r.flags |= R_BLOCK;
      break;
    case OnFail.Migrate:
      resourceLocation(ws, r, node, -INFINITY, "__action_migration_auto__");
      break;
    case OnFail.Stop:
      r.nextRole = Role.Stopped;
      break;
    case OnFail.Recover:
      if (r.role !== Role.Stopped && r.role !== Role.Unknown) {
        r.flags |= R_FAILED | R_STOP;
        stopAction(ws, r, node, false);
      }
      break;
  }
  if (r.role !== Role.Stopped && r.role !== Role.Unknown) {
    if ((r.flags & R_ORPHAN) !== 0 && (r.flags & R_MANAGED) === 0) {
      ws.warnings.push(`resource '${r.id}' must be stopped manually on ${node.uname} because the cluster is configured not to stop active orphans`);
    }
    addRunning(ws, r, node, saveOnFail !== OnFail.Ignore);
    switch (onFail) {
      case OnFail.Ignore:
        break;
      case OnFail.Demote:
      case OnFail.Block:
        r.flags |= R_FAILED;
        break;
      default:
        r.flags |= R_FAILED | R_STOP;
    }
  } else if (r.cloneName && r.cloneName.includes(":")) {
    r.cloneName = null;
  } else {
    for (const stop of resourceActions(r, node, "stop", false)) stop.flags |= A_OPTIONAL;
  }
  if (r.role === Role.Stopped && r.partialMigrationSource === node && r.partialMigrationTarget && r.runningOn.length > 0) {
    r.role = Role.Started;
  }
}

export type { OpDef };
