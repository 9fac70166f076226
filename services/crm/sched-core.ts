// The scheduler's working set: nodes, resources and actions with the flags the allocation and
// ordering passes read and write. It lives only inside one schedule() call (scheduler.ts), so the
// scheduler stays a pure function of its input.
//
// The structure follows Pacemaker's scheduler on purpose: agreeing with crm_simulate needs the same
// intermediate state (allowed-node scores per resource, "optional"/"runnable" action flags,
// ordering edges with their types). List orders matter where Pacemaker's do (newest-first action
// lists, for example) and are noted where they are reproduced.
import { INFINITY, type OpDef, addScores, isoDuration_ms } from "./model.ts";

export { INFINITY, addScores };

export const enum Role {
  Unknown = 0,
  Stopped = 1,
  Started = 2,
  Unpromoted = 3,
  Promoted = 4,
}

export const ROLE_TEXT = ["Unknown", "Stopped", "Started", "Unpromoted", "Promoted"] as const;

export function roleFromName(name: string | undefined): Role {
  switch ((name ?? "").toLowerCase()) {
    case "stopped":
      return Role.Stopped;
    case "started":
      return Role.Started;
    case "unpromoted":
    case "slave":
      return Role.Unpromoted;
    case "promoted":
    case "master":
      return Role.Promoted;
    default:
      return Role.Unknown;
  }
}

// Action flags.
export const A_PSEUDO = 0x1;
export const A_RUNNABLE = 0x2;
export const A_OPTIONAL = 0x4;
export const A_PRINT_ALWAYS = 0x8;
export const A_IMPLIED_BY_STONITH = 0x40;
export const A_MIGRATE_RUNNABLE = 0x80;
export const A_DANGLE = 0x800;
export const A_REQUIRES_ANY = 0x1000;
export const A_DC = 0x10000;

// Ordering flags.
export const O_NONE = 0;
export const O_OPTIONAL = 0x1;
export const O_APPLY_FIRST_NON_MIGRATABLE = 0x2;
export const O_IMPLIES_FIRST = 0x10;
export const O_IMPLIES_THEN = 0x20;
export const O_PROMOTED_IMPLIES_FIRST = 0x40;
export const O_IMPLIES_FIRST_MIGRATABLE = 0x80;
export const O_RUNNABLE_LEFT = 0x100;
export const O_PSEUDO_LEFT = 0x200;
export const O_IMPLIES_THEN_ON_NODE = 0x400;
export const O_PROBE = 0x800;
export const O_RESTART = 0x1000;
export const O_SERIALIZE_ONLY = 0x4000;
export const O_SAME_NODE = 0x8000;
export const O_IMPLIES_FIRST_PRINTED = 0x10000;
export const O_IMPLIES_THEN_PRINTED = 0x20000;
export const O_ASYMMETRICAL = 0x100000;
export const O_LOAD = 0x200000;
export const O_ONE_OR_MORE = 0x400000;
export const O_ANTI_COLOCATION = 0x800000;
export const O_PRESERVE = 0x1000000;
export const O_THEN_CANCELS_FIRST = 0x2000000;

// Resource flags.
export const R_ORPHAN = 0x1;
export const R_MANAGED = 0x2;
export const R_BLOCK = 0x4;
export const R_UNIQUE = 0x8;
export const R_NOTIFY = 0x10;
export const R_FENCE_DEVICE = 0x20;
export const R_PROMOTABLE = 0x40;
export const R_PROVISIONAL = 0x100;
export const R_ALLOCATING = 0x200;
export const R_MERGING = 0x400;
export const R_RESTARTING = 0x800;
export const R_STOP = 0x1000;
export const R_FAILED = 0x10000;
export const R_START_PENDING = 0x20000;
export const R_ALLOW_MIGRATE = 0x100000;
export const R_FAILURE_IGNORED = 0x200000;
export const R_MAINTENANCE = 0x400000;
export const R_NEEDS_QUORUM = 0x2000000;
export const R_NEEDS_FENCING = 0x4000000;
export const R_CRITICAL = 0x8000000;
export const R_STOP_UNEXPECTED = 0x10000000;
export const R_RELOAD = 0x20000000;
export const R_RESTART_TYPE = 0x40000000;

export const enum Variant {
  Primitive = 0,
  Group = 1,
  Clone = 2,
}

export const enum OnFail {
  Ignore = 0,
  Demote = 1,
  Recover = 2,
  Migrate = 3,
  Block = 4,
  Stop = 5,
  Standby = 6,
  Fence = 7,
}

export const enum Recovery {
  StopStart,
  StopOnly,
  Block,
  StopUnexpected,
}

export type Needs = "nothing" | "quorum" | "fencing";

export type NoQuorumPolicy = "stop" | "freeze" | "ignore" | "demote" | "suicide";

export interface WNode {
  readonly id: string;
  readonly uname: string;
  readonly ping: boolean;
  /** Position in the configuration (node lists are kept in this order). */
  readonly index: number;
  attrs: Map<string, string>;
  utilization: Map<string, number>;
  online: boolean;
  unclean: boolean;
  shutdown: boolean;
  standby: boolean;
  standbyOnfail: boolean;
  maintenance: boolean;
  pending: boolean;
  expectedUp: boolean;
  unseen: boolean;
  unpacked: boolean;
  isDc: boolean;
  /** Base score of the node (its "score" attribute, or -INFINITY once it is out of contention). */
  weight: number;
  numResources: number;
  allocated: WRsc[];
  running: WRsc[];
}

/** A node as one resource sees it: its score for that resource and, for clones, the instance count. */
export interface NodeScore {
  readonly node: WNode;
  weight: number;
  count: number;
  discover: number; // 0 always, 1 never, 2 exclusive
}

export interface Colocation {
  id: string;
  dependent: WRsc;
  primary: WRsc;
  score: number;
  dependentRole: Role;
  primaryRole: Role;
  nodeAttribute: string | null;
  influence: boolean;
}

export interface Location {
  id: string;
  rsc: WRsc;
  roleFilter: Role;
  discover: number;
  /** The nodes the constraint names, each with its score. */
  nodes: { node: WNode; weight: number }[];
}

export interface Ordering {
  id: number;
  flags: number;
  firstRsc: WRsc | null;
  thenRsc: WRsc | null;
  firstAction: Action | null;
  thenAction: Action | null;
  firstTask: string | null;
  thenTask: string | null;
}

export interface Wrapper {
  action: Action;
  type: number;
}

export interface Action {
  readonly id: number;
  readonly uuid: string;
  readonly task: string;
  readonly rsc: WRsc | null;
  node: WNode | null;
  flags: number;
  reason: string | null;
  needs: Needs;
  onFail: OnFail;
  failRole: Role;
  interval_ms: number;
  meta: Map<string, string>;
  op: OpDef | null;
  /** Ordering inputs and outputs, oldest first (Pacemaker prepends; we append and iterate backwards). */
  before: Wrapper[];
  after: Wrapper[];
  runnableBefore: number;
  requiredRunnableBefore: number;
  priority: number;
}

export interface WRsc {
  readonly id: string;
  /** Id without a clone instance suffix. */
  readonly baseId: string;
  readonly variant: Variant;
  cloneName: string | null;
  parent: WRsc | null;
  children: WRsc[];
  meta: Map<string, string>;
  params: Map<string, string>;
  ops: OpDef[];
  utilization: Map<string, number>;
  className: string;
  provider: string;
  type: string;
  flags: number;
  role: Role;
  nextRole: Role;
  priority: number;
  stickiness: number;
  migrationThreshold: number;
  failureTimeout_s: number;
  recovery: Recovery;
  allowed: Map<string, NodeScore>;
  runningOn: WNode[];
  knownOn: Set<string>;
  allocatedTo: NodeScore | null;
  /** Newest first, as Pacemaker's rsc->actions. */
  actions: Action[];
  rscCons: Colocation[];
  rscConsLhs: Colocation[];
  partialMigrationSource: WNode | null;
  partialMigrationTarget: WNode | null;
  danglingMigrations: WNode[];
  pendingTask: string | null;
  pendingNode: WNode | null;
  exclusiveDiscover: boolean;
  // group data
  groupOrdered: boolean;
  groupColocated: boolean;
  // clone data
  cloneMax: number;
  cloneNodeMax: number;
  promotedMax: number;
  promotedNodeMax: number;
  cloneOrdered: boolean;
  totalClones: number;
  /** The configuration of the cloned child, to create orphan instances from. */
  cloneTemplate: unknown;
}

export interface WorkingSet {
  now_s: number;
  stonithEnabled: boolean;
  haveStonithResource: boolean;
  symmetric: boolean;
  haveQuorum: boolean;
  maintenanceMode: boolean;
  stopEverything: boolean;
  startupFencing: boolean;
  concurrentFencing: boolean;
  startFailureFatal: boolean;
  stopOrphanResources: boolean;
  stopOrphanActions: boolean;
  noQuorumPolicy: NoQuorumPolicy;
  stonithAction: string;
  placementStrategy: string;
  legacyFailcounts: boolean;
  /** The CIB's crm_feature_set (digest rules depend on it). */
  crmFeatureSet: string | undefined;
  nodes: WNode[];
  /** Top-level resources, sorted by priority (stable), then orphans in discovery order. */
  resources: WRsc[];
  /** Every resource by id (instances and members included). */
  byId: Map<string, WRsc>;
  /** In creation order (Pacemaker's list is newest first; iterate backwards to match it). */
  actions: Action[];
  singletons: Map<string, Action>;
  orderings: Ordering[];
  colocations: Colocation[];
  /** In creation order (Pacemaker applies them newest first). */
  locations: Location[];
  nextActionId: number;
  nextOrderId: number;
  opDefaults: Map<string, string>;
  rscDefaults: Map<string, string>;
  warnings: string[];
  /** History entries whose failure expired: their monitor is rescheduled (Pacemaker rewrites the entry's restart digest). */
  expiredRecurring: Set<object>;
}

// --- nodes ---------------------------------------------------------------------------------

export function nodeAvailable(n: NodeScore | WNode | null | undefined, considerScore: boolean): boolean {
  if (!n) return false;
  const node = "node" in n ? n.node : n;
  if (!node.online || node.shutdown || node.unclean || node.standby || node.maintenance) return false;
  if (considerScore && "node" in n && n.weight < 0) return false;
  return true;
}

export function copyScores(m: Map<string, NodeScore>): Map<string, NodeScore> {
  const out = new Map<string, NodeScore>();
  for (const [k, v] of m) out.set(k, { node: v.node, weight: v.weight, count: v.count, discover: v.discover });
  return out;
}

export function anyNodeAvailable(m: Map<string, NodeScore>): boolean {
  for (const v of m.values()) if (nodeAvailable(v, true)) return true;
  return false;
}

function strcmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export { strcmp };

/** Pacemaker's node ordering for placement: score, then capacity, then load, then the current node, then name. */
export function sortNodes(ws: WorkingSet, nodes: NodeScore[], active: WNode | null): NodeScore[] {
  return nodes.sort((a, b) => compareNodes(ws, a, b, active));
}

/** Sorts a resource's allowed node table as Pacemaker does (exactly, for the "balanced" strategy). */
export function sortAllowed(ws: WorkingSet, table: Map<string, NodeScore>, active: WNode | null): NodeScore[] {
  if (ws.placementStrategy !== "balanced") return sortNodes(ws, [...table.values()], active);
  return glibMergeSort(glibValues(ws, table), (a, b) => compareNodes(ws, a, b, active));
}

export function compareNodes(ws: WorkingSet, a: NodeScore, b: NodeScore, active: WNode | null): number {
  const w1 = nodeAvailable(a.node, false) ? a.weight : -INFINITY;
  const w2 = nodeAvailable(b.node, false) ? b.weight : -INFINITY;
  if (w1 > w2) return -1;
  if (w1 < w2) return 1;
  if (ws.placementStrategy !== "minimal") {
    if (ws.placementStrategy === "balanced") {
      const r = compareCapacities(a.node, b.node);
      if (r < 0) return -1;
      if (r > 0) return 1;
    }
    if (a.node.numResources < b.node.numResources) return -1;
    if (a.node.numResources > b.node.numResources) return 1;
    if (active) {
      if (active === a.node) return -1;
      if (active === b.node) return 1;
    }
  }
  return strcmp(a.node.uname, b.node.uname);
}

/** Negative when node1 has more free capacity than node2 (per utilization attribute, counted). */
export function compareCapacities(n1: WNode, n2: WNode): number {
  let result = 0;
  for (const [key, v1] of n1.utilization) {
    const v2 = n2.utilization.get(key) ?? 0;
    if (v1 > v2) result--;
    else if (v1 < v2) result++;
  }
  for (const [key, v2] of n2.utilization) {
    if (n1.utilization.has(key)) continue;
    if (0 > v2) result--;
    else if (0 < v2) result++;
  }
  return result;
}

// --- resources -----------------------------------------------------------------------------

export function uberParent(r: WRsc): WRsc {
  let p = r;
  while (p.parent) p = p.parent;
  return p;
}

export function isClone(r: WRsc | null | undefined): boolean {
  return !!r && r.variant === Variant.Clone;
}

export function isAnonClone(r: WRsc | null | undefined): boolean {
  return !!r && r.variant === Variant.Clone && (r.flags & R_UNIQUE) === 0;
}

export function isParent(rsc: WRsc | null, ancestor: WRsc | null): boolean {
  // Pacemaker's is_parent(child, rsc): true when rsc is an ancestor of child.
  if (!rsc || !ancestor) return false;
  let p = rsc.parent;
  while (p) {
    if (p === ancestor) return true;
    p = p.parent;
  }
  return false;
}

/** Where a resource is active: the migration source, else the first clean node, else the first. */
export function findActiveOn(r: WRsc): { node: WNode | null; all: number; clean: number } {
  let active: WNode | null = null;
  let all = 0;
  let clean = 0;
  for (const node of r.runningOn) {
    const happy = node.online && !node.unclean;
    all++;
    if (happy) clean++;
    if (r.partialMigrationSource) {
      if (node === r.partialMigrationSource) active = node;
    } else if ((r.flags & R_NEEDS_FENCING) === 0) {
      if (happy && (!active || !active.online || active.unclean)) active = node;
    }
    if (active === null) active = node;
  }
  return { node: active, all, clean };
}

export function currentNode(r: WRsc): WNode | null {
  // Without counting, Pacemaker stops at the first node unless it keeps looking for a clean one.
  let active: WNode | null = null;
  for (const node of r.runningOn) {
    let keepLooking = false;
    const happy = node.online && !node.unclean;
    if (r.partialMigrationSource) {
      if (node === r.partialMigrationSource) active = node;
      else keepLooking = true;
    } else if ((r.flags & R_NEEDS_FENCING) === 0) {
      if (happy && (!active || !active.online || active.unclean)) active = node;
      else keepLooking = true;
    }
    if (active === null) active = node;
    if (!keepLooking) break;
  }
  return active;
}

/** rsc->fns->state(): a collective's role is the highest of its children's. */
export function rscState(r: WRsc, current: boolean): Role {
  if (r.variant === Variant.Primitive) return current ? r.role : r.nextRole;
  let role = Role.Unknown;
  for (const c of r.children) {
    const cr = rscState(c, current);
    if (cr > role) role = cr;
  }
  return role;
}

/** rsc->fns->location(): nodes where the resource is (current) or will be; the node when exactly one. */
export function rscLocation(r: WRsc, list: WNode[] | null, current: number): WNode | null {
  const result: WNode[] = [];
  if (r.children.length > 0) {
    for (const c of r.children) rscLocation(c, result, current);
  } else if (current) {
    result.push(...r.runningOn);
    if (current === 2 && r.pendingNode && !result.includes(r.pendingNode)) result.push(r.pendingNode);
  } else if (r.allocatedTo) {
    result.push(r.allocatedTo.node);
  }
  if (list) {
    for (const n of result) if (!list.includes(n)) list.push(n);
  }
  return result.length === 1 ? result[0]! : null;
}

export function rscActive(r: WRsc): boolean {
  if (r.variant !== Variant.Primitive) {
    return r.children.some((c) => rscActive(c));
  }
  for (const n of r.runningOn) {
    if (n.unclean) return true;
    if (!n.online && (r.flags & R_MANAGED) !== 0) continue;
    return true;
  }
  return false;
}

export function isSetRecursive(r: WRsc, flag: number, any: boolean): boolean {
  let all = !any;
  if ((r.flags & flag) !== 0) {
    if (any) return true;
  } else if (!any) return false;
  for (const c of r.children) {
    if (isSetRecursive(c, flag, any)) {
      if (any) return true;
    } else if (!any) all = false;
  }
  return all;
}

export function setNextRole(r: WRsc, role: Role): void {
  r.nextRole = role;
}

/** Adds a score for a resource (and its children) on one node, creating the entry when needed. */
export function resourceNodeScore(r: WRsc, node: WNode, score: number, tag: string): void {
  if ((r.exclusiveDiscover || false) && tag === "symmetric_default") return;
  for (const c of r.children) resourceNodeScore(c, node, score, tag);
  let m = r.allowed.get(node.id);
  if (!m) {
    m = { node, weight: node.weight, count: 0, discover: 0 };
    r.allowed.set(node.id, m);
  }
  m.weight = addScores(m.weight, score);
}

export function resourceLocation(ws: WorkingSet, r: WRsc, node: WNode | null, score: number, tag: string): void {
  if (node) resourceNodeScore(r, node, score, tag);
  else for (const n of ws.nodes) resourceNodeScore(r, n, score, tag);
  if (node === null && score === -INFINITY && r.allocatedTo) {
    r.allocatedTo = null;
  }
}

// --- actions -------------------------------------------------------------------------------

export function opKey(rscId: string, task: string, interval_ms: number): string {
  return `${rscId}_${task}_${interval_ms}`;
}

/** Splits "rsc_task_interval" (rsc may contain '_'; tasks known to contain '_' are matched first). */
export function parseOpKey(key: string): { rsc: string; task: string; interval_ms: number } | null {
  const m = /^(.*)_(\d+)$/.exec(key);
  if (!m) return null;
  const rest = m[1]!;
  const interval_ms = Number(m[2]);
  for (const t of ["migrate_to", "migrate_from", "cancel", "reload-agent"]) {
    if (rest.endsWith(`_${t}`)) return { rsc: rest.slice(0, -t.length - 1), task: t, interval_ms };
  }
  // Notify keys ("rsc_pre_notify_start") and confirmed-* are not produced by this scheduler.
  const i = rest.lastIndexOf("_");
  if (i <= 0) return null;
  return { rsc: rest.slice(0, i), task: rest.slice(i + 1), interval_ms };
}

/** find_actions(): matching uuid, and node when given (an action without a node takes it). Result in Pacemaker's order. */
export function findActions(list: Action[], key: string, node: WNode | null): Action[] {
  const result: Action[] = [];
  for (const a of list) {
    if (a.uuid !== key) continue;
    if (node === null) result.unshift(a);
    else if (a.node === null) {
      a.node = node;
      result.unshift(a);
    } else if (a.node === node) result.unshift(a);
  }
  return result;
}

export function findActionsExact(list: Action[], key: string, node: WNode | null): Action[] {
  const result: Action[] = [];
  if (node === null) return result;
  for (const a of list) {
    if (a.node !== null && a.uuid === key && a.node.id === node.id) result.unshift(a);
  }
  return result;
}

export function findFirstAction(list: Action[], uuid: string | null, task: string | null, node: WNode | null): Action | null {
  for (const a of list) {
    if (uuid !== null && a.uuid !== uuid) continue;
    if (task !== null && a.task !== task) continue;
    if (node === null) return a;
    if (a.node === null) continue;
    if (a.node === node) return a;
  }
  return null;
}

export function resourceActions(r: WRsc, node: WNode | null, task: string, requireNode: boolean): Action[] {
  const key = opKey(r.id, task, 0);
  return requireNode ? findActionsExact(r.actions, key, node) : findActions(r.actions, key, node);
}

export function setReason(a: Action, reason: string | null, overwrite: boolean): void {
  if (a.reason !== null && !overwrite) return;
  a.reason = reason;
}

export function actionToReason(a: Action, flag: number): string {
  const change = flag === A_OPTIONAL ? "required" : "unrunnable";
  return `${change}${a.rsc ? ` ${a.rsc.id}` : ""} ${a.task}`;
}

export function clearFlagBecause(a: Action, flag: number, reason: Action): void {
  if ((a.flags & flag) === 0) return;
  a.flags &= ~flag;
  if (a.rsc !== reason.rsc) {
    setReason(a, actionToReason(reason, flag), flag === A_MIGRATE_RUNNABLE);
  }
}

/** order_actions(): records "first then then" unless an edge of an overlapping type exists. */
export function orderActions(first: Action | null, then: Action | null, type: number): boolean {
  if (type === O_NONE || !first || !then) return false;
  if (first === then) throw new Error(`scheduler bug: ordering ${first.uuid} after itself`);
  for (const w of first.after) if (w.action === then && (w.type & type) !== 0) return false;
  first.after.push({ action: then, type });
  then.before.push({ action: first, type });
  return true;
}

/** Milliseconds from a Pacemaker duration; null for an invalid one. */
export function durationMs(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim();
  if (/^P/i.test(t)) return isoDuration_ms(t);
  const m = /^(\d+)\s*(ms|msec|us|usec|s|sec|m|min|h|hr)?$/i.exec(t);
  if (!m) return null;
  const value = Number(m[1]);
  const unit = (m[2] ?? "s").toLowerCase();
  if (unit === "us" || unit === "usec") return Math.floor(value / 1000);
  const factor = unit === "ms" || unit === "msec" ? 1 : unit === "m" || unit === "min" ? 60_000 : unit === "h" || unit === "hr" ? 3_600_000 : 1000;
  return value * factor;
}

export function scoreOf(text: string | undefined): number {
  if (text === undefined) return 0;
  const t = text.trim();
  if (/^-infinity$/i.test(t)) return -INFINITY;
  if (/^\+?infinity$/i.test(t)) return INFINITY;
  if (/^red$/i.test(t)) return -INFINITY;
  if (/^yellow$/i.test(t) || /^green$/i.test(t)) return 0;
  const n = Number.parseInt(t, 10);
  if (!Number.isFinite(n)) return 0;
  return Math.max(-INFINITY, Math.min(INFINITY, n));
}

export function crmIsTrue(v: string | undefined): boolean {
  return v !== undefined && /^(true|on|yes|y|1)$/i.test(v.trim());
}


// --- glib compatibility ----------------------------------------------------------------------
//
// Pacemaker keeps each resource's allowed nodes in a glib hash table and sorts
// g_hash_table_get_values() with glib's merge sort. With a total order the result does not
// depend on either; the "balanced" placement strategy's capacity comparison is not transitive,
// so there the order of the hash table and the exact merge sort decide ties. These reproduce
// both (Pacemaker's string hash, glib 2.x's index = hash * 11 mod prime, quadratic probing,
// values listed by prepending in bucket order).

const PRIME_MOD = [1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521];

/** pcmk__str_hash(): Pacemaker's string hash for its tables (h = h * 31 + c over signed chars). */
function strHash(s: string): number {
  let h = 0;
  const bytes = Buffer.from(s, "utf8");
  for (const b of bytes) {
    const c = b >= 128 ? b - 256 : b;
    h = (Math.imul(h, 31) + c) >>> 0;
  }
  return h;
}

/** The keys in bucket order after inserting them, in this order, into a fresh glib string table. */
export function glibBucketOrder(keys: readonly string[]): string[] {
  let shift = 3;
  let size = 1 << shift;
  let slots: (string | null)[] = new Array<string | null>(size).fill(null);
  let hashes: number[] = new Array<number>(size).fill(0);
  const place = (key: string, hash: number) => {
    const mod = PRIME_MOD[shift]!;
    let index = (Math.imul(hash, 11) >>> 0) % mod; // guint arithmetic wraps
    let step = 0;
    while (slots[index] !== null) {
      if (slots[index] === key) return;
      step++;
      index = (index + step) & (size - 1);
    }
    slots[index] = key;
    hashes[index] = hash;
  };
  let count = 0;
  for (const key of keys) {
    let h = strHash(key);
    if (h < 2) h = 2;
    place(key, h);
    count++;
    if (size <= count + Math.floor(count / 16)) {
      const oldSlots = slots;
      const oldHashes = hashes;
      shift++;
      size = 1 << shift;
      slots = new Array<string | null>(size).fill(null);
      hashes = new Array<number>(size).fill(0);
      for (let i = 0; i < oldSlots.length; i++) if (oldSlots[i] !== null) place(oldSlots[i]!, oldHashes[i]!);
    }
  }
  return slots.filter((s): s is string => s !== null);
}

/** glib's g_list_sort(): top-down merge sort, first half floor(n/2), ties keep the left element. */
export function glibMergeSort<T>(list: T[], cmp: (a: T, b: T) => number): T[] {
  if (list.length <= 1) return list;
  const half = Math.floor(list.length / 2);
  const l1 = glibMergeSort(list.slice(0, half), cmp);
  const l2 = glibMergeSort(list.slice(half), cmp);
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < l1.length && j < l2.length) {
    if (cmp(l1[i]!, l2[j]!) <= 0) out.push(l1[i++]!);
    else out.push(l2[j++]!);
  }
  while (i < l1.length) out.push(l1[i++]!);
  while (j < l2.length) out.push(l2[j++]!);
  return out;
}

/** A resource's allowed nodes in the order Pacemaker's g_hash_table_get_values() lists them. */
export function glibValues(ws: WorkingSet, table: Map<string, NodeScore>): NodeScore[] {
  const keys = ws.nodes.map((n) => n.id).filter((id) => table.has(id));
  for (const k of table.keys()) if (!keys.includes(k)) keys.push(k);
  return glibBucketOrder(keys)
    .reverse()
    .map((k) => table.get(k)!);
}

/** Bucket order (ascending), as GHashTableIter walks a table. */
export function glibIter(ws: WorkingSet, table: Map<string, NodeScore>): NodeScore[] {
  return glibValues(ws, table).reverse();
}
