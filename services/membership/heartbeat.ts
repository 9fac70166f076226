// The heartbeat payload: the only membership message. Everything the view protocol needs rides
// on it (rows of the connectivity gossip, the sender's installed and accepted views, the
// coordinator's proposal, echoes that renew quorum leases), so a lost heartbeat is repaired by
// the next one and no message needs its own retransmission.
import { ByteReader, ByteWriter, DecodeError } from "../shared/codec.ts";

/** Node ids are 1..MAX_NODES; a set of them travels as a 16-bit mask. */
export const MAX_NODES = 8;

export interface ViewRef {
  id: number;
  /** Bit (id - 1) set for each member. */
  members: number;
}

export interface Row {
  node: number;
  incarnation: number;
  /** Increases with every heartbeat of that incarnation: the freshest row wins. */
  version: number;
  /** Nodes this node hears on at least one link, itself included. */
  heard: number;
  /** Resources the node runs; the tie-break prefers the side that holds them. */
  resources: number;
  /** Wait-for-all satisfied (the node has seen the whole cluster, or joined a cluster that had). */
  established: boolean;
  /** The node holds quorum now; the tie-break keeps the quorate side where it is. */
  quorate: boolean;
}

export interface Echo {
  node: number;
  /** The send time (in that node's clock) of the newest heartbeat we received from it. */
  time_ms: number;
}

export interface Heartbeat {
  sendTime_ms: number;
  maxViewId: number;
  installed: ViewRef;
  accepted: ViewRef | null;
  proposal: ViewRef | null;
  rows: Row[];
  echoes: Echo[];
}

const FLAG_ESTABLISHED = 1;
const FLAG_QUORATE = 2;
const VIEW_ID_MAX = 0xffff_ffff;

function writeView(w: ByteWriter, v: ViewRef | null): void {
  w.u32(v ? v.id : 0).u16(v ? v.members : 0);
}

function readView(r: ByteReader, what: string): ViewRef | null {
  const id = r.u32(`${what} id`);
  const members = r.u16(`${what} members`);
  if (id === 0 && members === 0) return null;
  checkMask(members, what);
  return { id, members };
}

function checkMask(mask: number, what: string): void {
  if (mask >>> MAX_NODES !== 0) throw new DecodeError(`${what}: member mask names a node above ${MAX_NODES}`);
}

function checkNode(node: number, what: string): void {
  if (node < 1 || node > MAX_NODES) throw new DecodeError(`${what}: node id ${node} outside 1..${MAX_NODES}`);
}

export function encodeHeartbeat(h: Heartbeat): Uint8Array {
  const w = new ByteWriter(64 + h.rows.length * 24 + h.echoes.length * 9);
  w.f64(h.sendTime_ms).u32(h.maxViewId);
  writeView(w, h.installed);
  writeView(w, h.accepted);
  writeView(w, h.proposal);
  w.u8(h.rows.length);
  for (const row of h.rows) {
    w.u8(row.node).u53(row.incarnation).u32(row.version).u16(row.heard).u16(row.resources);
    w.u8((row.established ? FLAG_ESTABLISHED : 0) | (row.quorate ? FLAG_QUORATE : 0));
  }
  w.u8(h.echoes.length);
  for (const e of h.echoes) w.u8(e.node).f64(e.time_ms);
  return w.finish();
}

export function decodeHeartbeat(bytes: Uint8Array): Heartbeat {
  const r = new ByteReader(bytes);
  const sendTime_ms = r.f64("send time");
  const maxViewId = r.u32("max view id");
  const installed = readView(r, "installed view");
  if (!installed) throw new DecodeError("installed view: missing");
  const accepted = readView(r, "accepted view");
  const proposal = readView(r, "proposal");
  const rowCount = r.u8("row count");
  if (rowCount > MAX_NODES) throw new DecodeError(`row count ${rowCount} above ${MAX_NODES}`);
  const rows: Row[] = [];
  for (let i = 0; i < rowCount; i++) {
    const node = r.u8("row node");
    checkNode(node, "row");
    const incarnation = r.u53("row incarnation");
    const version = r.u32("row version");
    const heard = r.u16("row heard");
    checkMask(heard, "row heard");
    const resources = r.u16("row resources");
    const flags = r.u8("row flags");
    rows.push({ node, incarnation, version, heard, resources, established: (flags & FLAG_ESTABLISHED) !== 0, quorate: (flags & FLAG_QUORATE) !== 0 });
  }
  const echoCount = r.u8("echo count");
  if (echoCount > MAX_NODES) throw new DecodeError(`echo count ${echoCount} above ${MAX_NODES}`);
  const echoes: Echo[] = [];
  for (let i = 0; i < echoCount; i++) {
    const node = r.u8("echo node");
    checkNode(node, "echo");
    echoes.push({ node, time_ms: r.f64("echo time") });
  }
  r.end("heartbeat");
  if (maxViewId > VIEW_ID_MAX) throw new DecodeError("max view id out of range");
  return { sendTime_ms, maxViewId, installed, accepted, proposal, rows, echoes };
}

export function bit(node: number): number {
  return 1 << (node - 1);
}

export function maskOf(nodes: Iterable<number>): number {
  let m = 0;
  for (const n of nodes) m |= bit(n);
  return m;
}

export function nodesOf(mask: number): number[] {
  const out: number[] = [];
  for (let n = 1; n <= MAX_NODES; n++) if (mask & bit(n)) out.push(n);
  return out;
}

export function has(mask: number, node: number): boolean {
  return (mask & bit(node)) !== 0;
}

export function popcount(mask: number): number {
  let c = 0;
  for (let m = mask; m; m &= m - 1) c++;
  return c;
}
