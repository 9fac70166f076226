// The one wire format of the cluster: versioned, length-prefixed, sealed with the cluster key.
//
// Layout (big-endian), 28-byte header then ciphertext and a 16-byte GCM tag:
//
//   0  magic        u16   0x4841 ("HA")
//   2  version      u8    WIRE_VERSION; decoders accept WIRE_VERSION and WIRE_VERSION-1
//   3  type         u8    MessageType
//   4  key id       u32   fingerprint of the cluster key (not secret; lets a receiver say
//                         "this peer has another key" instead of a bare auth failure)
//   8  sender       u8    node id of the sender
//   9  link         u8    link id the packet was sent on (ring0, ring1, serial)
//  10  incarnation  u64   sender's incarnation, strictly increasing across restarts
//  18  seq          u64   per (sender, incarnation, link) counter, starts at 1
//  26  length       u16   ciphertext length
//  28  ciphertext, then 16-byte tag
//
// The header is the AEAD's associated data, so every header field is authenticated. The AES-GCM
// key is derived per (sender, incarnation) with HKDF from the cluster key; the nonce is
// link || seq. A nonce therefore never repeats under one key as long as an incarnation is never
// reused, which the node guarantees by persisting its incarnation (see node/incarnation.ts).
import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from "node:crypto";
import { ByteReader, ByteWriter, DecodeError } from "./codec.ts";

export const WIRE_MAGIC = 0x4841;
export const WIRE_VERSION = 1;
/** Oldest version this build still decodes, so a fleet can roll one release at a time. */
export const WIRE_VERSION_MIN = 1;
export const HEADER_BYTES = 28;
export const TAG_BYTES = 16;
/** Upper bound of a payload; a peer can never make us allocate more than this per packet. */
export const MAX_PAYLOAD_BYTES = 60_000;

export enum MessageType {
  Heartbeat = 1,
  /** A cluster service's message (fencing events, ...), carried by membership: JSON, validated by the service. */
  Service = 2,
}

export interface Header {
  version: number;
  type: number;
  keyId: number;
  sender: number;
  link: number;
  incarnation: number;
  seq: number;
  length: number;
}

export type DropReason = "garbage" | "version" | "wrong-key" | "auth" | "replay" | "stale-incarnation" | "unknown-sender";

export type OpenResult =
  | { ok: true; header: Header; payload: Uint8Array }
  | { ok: false; reason: DropReason; detail: string; header?: Header };

export class ClusterKey {
  readonly keyId: number;
  private readonly derived = new Map<string, Buffer>();
  private static readonly MAX_DERIVED = 64;

  constructor(private readonly secret: Uint8Array) {
    if (secret.byteLength !== 32) throw new RangeError(`cluster key must be 32 bytes, got ${secret.byteLength}`);
    this.keyId = createHmac("sha256", secret).update("hapd key id").digest().readUInt32BE(0);
  }

  /** The per-(sender, incarnation) AES-256 key. Bounded cache: a peer cannot grow it without limit. */
  private last: { sender: number; incarnation: number; key: Buffer } | null = null;

  keyFor(sender: number, incarnation: number): Buffer {
    // Most packets come from the same few (sender, incarnation) pairs: skip the map for a repeat.
    const l = this.last;
    if (l && l.sender === sender && l.incarnation === incarnation) return l.key;
    const key = this.derive(sender, incarnation);
    this.last = { sender, incarnation, key };
    return key;
  }

  private derive(sender: number, incarnation: number): Buffer {
    const name = `${sender}:${incarnation}`;
    const hit = this.derived.get(name);
    if (hit) return hit;
    const salt = new ByteWriter(9).u8(sender).u53(incarnation).finish();
    const key = Buffer.from(hkdfSync("sha256", this.secret, salt, "hapd wire v1", 32));
    if (this.derived.size >= ClusterKey.MAX_DERIVED) {
      const oldest = this.derived.keys().next().value;
      if (oldest !== undefined) this.derived.delete(oldest);
    }
    this.derived.set(name, key);
    return key;
  }

  /** HMAC of arbitrary data under the cluster key, for tokens and other non-wire uses. */
  mac(label: string, data: Uint8Array): Buffer {
    return createHmac("sha256", this.secret).update(label).update(data).digest();
  }
}

function nonceOf(link: number, seq: number): Buffer {
  const w = new ByteWriter(12).u8(link).u8(0).u8(0).u8(0).u53(seq);
  return Buffer.from(w.finish());
}

export function encodeHeader(h: Header): Uint8Array {
  return new ByteWriter(HEADER_BYTES)
    .u16(WIRE_MAGIC)
    .u8(h.version)
    .u8(h.type)
    .u32(h.keyId)
    .u8(h.sender)
    .u8(h.link)
    .u53(h.incarnation)
    .u53(h.seq)
    .u16(h.length)
    .finish();
}

export function decodeHeader(r: ByteReader): Header {
  const magic = r.u16("magic");
  if (magic !== WIRE_MAGIC) throw new DecodeError(`bad magic 0x${magic.toString(16)}`);
  return {
    version: r.u8("version"),
    type: r.u8("type"),
    keyId: r.u32("key id"),
    sender: r.u8("sender"),
    link: r.u8("link"),
    incarnation: r.u53("incarnation"),
    seq: r.u53("seq"),
    length: r.u16("length"),
  };
}

export interface SealInput {
  type: MessageType;
  sender: number;
  link: number;
  incarnation: number;
  seq: number;
  payload: Uint8Array;
}

export function seal(key: ClusterKey, m: SealInput): Uint8Array {
  if (m.payload.byteLength > MAX_PAYLOAD_BYTES) throw new RangeError(`payload of ${m.payload.byteLength} bytes is over the limit`);
  const header = encodeHeader({
    version: WIRE_VERSION,
    type: m.type,
    keyId: key.keyId,
    sender: m.sender,
    link: m.link,
    incarnation: m.incarnation,
    seq: m.seq,
    length: m.payload.byteLength,
  });
  const cipher = createCipheriv("aes-256-gcm", key.keyFor(m.sender, m.incarnation), nonceOf(m.link, m.seq));
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(m.payload), cipher.final()]);
  const tag = cipher.getAuthTag();
  const out = new Uint8Array(HEADER_BYTES + body.byteLength + TAG_BYTES);
  out.set(header, 0);
  out.set(body, HEADER_BYTES);
  out.set(tag, HEADER_BYTES + body.byteLength);
  return out;
}

/** Authenticates and decrypts one packet. Stateless: replay protection is ReplayGuard's job. */
export function open(key: ClusterKey, packet: Uint8Array): OpenResult {
  let header: Header;
  try {
    header = decodeHeader(new ByteReader(packet));
  } catch (e) {
    return { ok: false, reason: "garbage", detail: (e as Error).message };
  }
  if (header.version < WIRE_VERSION_MIN || header.version > WIRE_VERSION) {
    return { ok: false, reason: "version", detail: `wire version ${header.version} not in ${WIRE_VERSION_MIN}..${WIRE_VERSION}`, header };
  }
  if (packet.byteLength !== HEADER_BYTES + header.length + TAG_BYTES) {
    return { ok: false, reason: "garbage", detail: `length field ${header.length} does not match packet of ${packet.byteLength} bytes`, header };
  }
  if (header.keyId !== key.keyId) {
    return {
      ok: false,
      reason: "wrong-key",
      detail: `sender uses cluster key ${hex32(header.keyId)}, ours is ${hex32(key.keyId)}`,
      header,
    };
  }
  try {
    const decipher = createDecipheriv("aes-256-gcm", key.keyFor(header.sender, header.incarnation), nonceOf(header.link, header.seq));
    decipher.setAAD(packet.subarray(0, HEADER_BYTES));
    decipher.setAuthTag(packet.subarray(HEADER_BYTES + header.length));
    const body = decipher.update(packet.subarray(HEADER_BYTES, HEADER_BYTES + header.length));
    const payload = Buffer.concat([body, decipher.final()]);
    return { ok: true, header, payload: new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength) };
  } catch {
    return { ok: false, reason: "auth", detail: "authentication tag mismatch", header };
  }
}

export function hex32(v: number): string {
  return v.toString(16).padStart(8, "0");
}

/**
 * Replay protection per (sender, link): a packet is accepted once, and only from the newest
 * incarnation seen. A 64-entry window below the highest sequence number tolerates reordering.
 * Call accept() only after authentication succeeded, so forged packets cannot move the window.
 */
export class ReplayGuard {
  private readonly streams = new Map<number, { incarnation: number; highest: number; window: bigint }>();
  static readonly WINDOW = 64;

  accept(sender: number, link: number, incarnation: number, seq: number): { ok: true } | { ok: false; reason: "replay" | "stale-incarnation" } {
    const id = sender * 256 + link;
    const s = this.streams.get(id);
    if (!s || incarnation > s.incarnation) {
      this.streams.set(id, { incarnation, highest: seq, window: 1n });
      return { ok: true };
    }
    if (incarnation < s.incarnation) return { ok: false, reason: "stale-incarnation" };
    if (seq > s.highest) {
      const shift = seq - s.highest;
      s.window = shift >= ReplayGuard.WINDOW ? 1n : ((s.window << BigInt(shift)) | 1n) & ((1n << 64n) - 1n);
      s.highest = seq;
      return { ok: true };
    }
    const back = s.highest - seq;
    if (back >= ReplayGuard.WINDOW) return { ok: false, reason: "replay" };
    const bit = 1n << BigInt(back);
    if (s.window & bit) return { ok: false, reason: "replay" };
    s.window |= bit;
    return { ok: true };
  }
}
