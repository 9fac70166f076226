// `hapd service volume`: runs this host's replicated volumes (docs/replication.md). Per volume a
// `Volume` (replication core + backing file + metadata + peer link) while it is up, and an NBD
// export on `run_dir/nbd-<name>.sock` while it is Primary. Operators, the hapd:volume agent and
// the node's status talk to it on `run_dir/volume.sock` (status-client.ts).
//
// Resource-level fencing goes through the cluster: a Primary that loses its peer records the
// node attribute `volume-outdated-<volume>` = its new generation on the peer (through the cluster
// service's socket, committed in the replicated CIB) before it acknowledges another write; until
// the cluster confirms, I/O stays frozen. A node reads its own attribute when it brings a volume
// up and before a promotion, and refuses to promote while it is set.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { type Server, createServer } from "node:net";
import { join } from "node:path";
import * as z from "zod";
import type { Config, VolumeConfig } from "../shared/config.ts";
import type { Logger } from "../shared/log.ts";
import type { ClusterKey } from "../shared/wire.ts";
import { requestNode } from "../node/status-client.ts";
import { FileBackend } from "./backend.ts";
import { hex } from "./handshake.ts";
import { FdMetaDevice, Flag, MetaStore, MetadataError } from "./metadata.ts";
import { NbdServer } from "./nbd/server.ts";
import { type VolumeDetail, type VolumeReply, nbdSocketPath, volumeSocketPath } from "./status-client.ts";
import { Volume, newGeneration } from "./volume.ts";

const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const volumeName = z.string().regex(NAME, "must name a configured volume");
const requestSchema = z.discriminatedUnion("cmd", [
  z.object({ cmd: z.literal("status") }).strict(),
  z.object({ cmd: z.literal("create"), volume: volumeName, force: z.boolean().default(false), assume_clean: z.boolean().default(false) }).strict(),
  z
    .object({
      cmd: z.literal("up"),
      volume: volumeName,
      /** The node attribute that carries this node's promotion score (`master-<primitive>`), kept by the service from now on. */
      promotion_attr: z.string().regex(/^master-[A-Za-z0-9_.-]{1,64}$/, "must be master-<primitive id>").optional(),
    })
    .strict(),
  z.object({ cmd: z.enum(["down", "attach", "secondary", "connect", "disconnect", "verify", "invalidate"]), volume: volumeName }).strict(),
  z.object({ cmd: z.literal("primary"), volume: volumeName, force: z.boolean().default(false), allow_two_primaries: z.boolean().default(false) }).strict(),
  z.object({ cmd: z.literal("resolve-split-brain"), volume: volumeName, discard: z.literal("local") }).strict(),
]);
type Request = z.infer<typeof requestSchema>;

export const outdatedAttr = (volume: string): string => `volume-outdated-${volume}`;

/** The promotion score of an UpToDate disk (the figure DRBD's agent uses). */
export const UPTODATE_PROMOTION_SCORE = "10000";

/** The same on both hosts without coordination: both compute it from the names in the config. */
export function volumeUuid(cluster: string, v: VolumeConfig): string {
  if (v.uuid) return v.uuid;
  const h = createHash("sha256").update(`hapd-volume\0${cluster}\0${v.name}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * `--assume-clean` needs one generation on both hosts (they start identical, so the handshake
 * must see equal generations); derived from the uuid. Without it each host draws a random one,
 * so a forced first promotion makes the other side "never in sync" and it takes a full copy.
 */
function cleanGeneration(uuid: string): bigint {
  return createHash("sha256").update(`hapd-gen\0${uuid}`).digest().readBigUInt64BE(0) | 1n;
}

class Refused extends Error {}

/** The cluster service's node attributes (the lead's `node-attr` / `node-attr-get` commands). */
export class ClusterAttrs {
  constructor(private readonly socket: string) {}

  async get(node: string, name: string): Promise<string | null> {
    const r = await requestNode(this.socket, { cmd: "node-attr-get", node, name }, 5000);
    if (!r.ok) throw new Error(r.error ?? "the cluster refused");
    const v = r["value"];
    return typeof v === "string" ? v : null;
  }

  /** Resolves once the attribute is committed in the replicated CIB. */
  async set(node: string, name: string, value: string | null): Promise<void> {
    const r = await requestNode(this.socket, { cmd: "node-attr", node, name, value }, 10_000);
    if (!r.ok) throw new Error(r.error ?? "the cluster refused");
  }
}

interface Managed {
  cfg: VolumeConfig;
  vol: Volume | null;
  nbd: NbdServer | null;
  attachError: string;
  splitBrain: string | null;
  lastVerify: VolumeDetail["last_verify"];
  preserved: string[];
  sync: { total: number; t0_ms: number } | null;
  /** What this node last recorded about the peer in the cluster: a generation, null (cleared), or unknown. */
  peerMark: string | null | undefined;
  fencing: string;
  /** A request to clear the peer's mark is queued or in flight. */
  clearing: boolean;
  /** When this node last asked the cluster about its own mark while away from the peer. */
  lastMarkPoll_ms: number;
  /** Commands on one volume run one at a time. */
  chain: Promise<unknown>;
  /**
   * Writes of the peer's mark run one at a time, in order: a clear still in flight when the
   * link drops must reach the cluster before the new mark, never after it.
   */
  attrChain: Promise<unknown>;
  /** Bumped when the volume goes down, so a retry loop of an older attachment stops. */
  epoch: number;
  /**
   * The resource manager's promotion score for this volume on this node (`master-<primitive>`,
   * named by the hapd:volume agent at start and kept in the up marker): the service publishes it
   * whenever the disk state changes, as DRBD's agent does with crm_master, so the scheduler only
   * proposes an UpToDate disk for promotion and notices at once when a disk becomes one.
   */
  promotionAttr: string | null;
  /** The score last committed in the cluster (undefined: not known yet). */
  publishedScore: string | null | undefined;
  scorePublishing: boolean;
  /** Whether the cluster has answered whether this disk is Outdated since the volume came up. */
  markKnown: boolean;
}

export interface VolumeServiceOptions {
  cfg: Config;
  key: ClusterKey;
  log: Logger;
  /** The cluster service's socket; default run_dir/hapd.sock. */
  clusterSocket?: string;
  /** Bring up the volumes that were up when the service last stopped (default true). */
  restore?: boolean;
  /** How often the fencing request is retried while the cluster does not answer (ms). */
  fenceRetry_ms?: number;
  /** How long a volume brought back at start waits for the cluster to say whether it is Outdated (ms). */
  restoreWait_ms?: number;
}

export class VolumeService {
  private readonly volumes = new Map<string, Managed>();
  private readonly attrs: ClusterAttrs;
  private server: Server | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly self: { id: number; name: string };
  private readonly peer: { id: number; name: string };
  private readonly listenHost: string;
  private readonly upDir: string;

  constructor(private readonly o: VolumeServiceOptions) {
    const c = o.cfg;
    const hosts = c.nodes.filter((n) => n.role === "host");
    const self = c.nodes.find((n) => n.name === c.node)!;
    const peer = hosts.find((n) => n.name !== c.node);
    if (!peer || self.role !== "host") throw new Refused(`${c.file}: volumes need this node and one other host`);
    this.self = { id: self.id, name: self.name };
    this.peer = { id: peer.id, name: peer.name };
    // PeerLink: the lower id listens on its own ring0 address, the higher dials it.
    this.listenHost = (self.id < peer.id ? self : peer).ring0.address;
    this.attrs = new ClusterAttrs(o.clusterSocket ?? join(c.run_dir, "hapd.sock"));
    this.upDir = join(c.state_dir, "volumes");
    for (const v of c.volumes ?? []) {
      this.volumes.set(v.name, { cfg: v, vol: null, nbd: null, attachError: "", splitBrain: null, lastVerify: null, preserved: [], sync: null, peerMark: undefined, fencing: "", clearing: false, lastMarkPoll_ms: 0, chain: Promise.resolve(), attrChain: Promise.resolve(), epoch: 0, promotionAttr: null, publishedScore: undefined, scorePublishing: false, markKnown: false });
    }
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.upDir, { recursive: true, mode: 0o700 });
    await this.listen();
    this.timer = setInterval(() => this.tick(), 500);
    if (this.o.restore ?? true) {
      // A restarted service (crash, upgrade) brings back what was up, as Secondary: promotion
      // is the resource manager's (or the operator's) decision, never automatic.
      // In the background: the cluster service starts beside this one, and whether the peer
      // outdated this disk while it was away is the cluster's answer (up() waits for it a while).
      for (const m of this.volumes.values()) {
        const marker = this.upMarker(m);
        if (!fs.existsSync(marker)) continue;
        const attr = fs.readFileSync(marker, "utf8").trim();
        if (/^master-[A-Za-z0-9_.-]{1,64}$/.test(attr)) m.promotionAttr = attr;
        void this.serial(m, () => this.up(m, { waitForCluster_ms: this.o.restoreWait_ms ?? 20_000 })).catch((e: Error) => this.o.log.error("volume", `${m.cfg.name}: not brought back up: ${e.message}`));
      }
    }
    this.o.log.info("volume", `volume service ready: ${[...this.volumes.keys()].join(", ") || "no volumes"} (peer ${this.peer.name})`);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.server?.close();
    fs.rmSync(volumeSocketPath(this.o.cfg.run_dir), { force: true });
    for (const m of this.volumes.values()) {
      m.epoch++;
      await m.nbd?.close();
      m.nbd = null;
      if (m.vol) {
        // A clean stop leaves a clean Secondary; a Primary with I/O in flight stays marked
        // Primary, so its activity log is resynced at the next start, as after a crash.
        if (m.vol.core.role === "Primary") m.vol.demote();
        await m.vol.close();
        m.vol = null;
      }
    }
  }

  private upMarker(m: Managed): string {
    return join(this.upDir, `${m.cfg.name}.up`);
  }

  private serial<T>(m: Managed, f: () => Promise<T>): Promise<T> {
    const next = m.chain.then(f, f);
    m.chain = next.catch(() => undefined);
    return next;
  }

  private attrSerial<T>(m: Managed, f: () => Promise<T>): Promise<T> {
    const next = m.attrChain.then(f, f);
    m.attrChain = next.catch(() => undefined);
    return next;
  }

  // ---- control socket ----

  private listen(): Promise<void> {
    fs.mkdirSync(this.o.cfg.run_dir, { recursive: true, mode: 0o700 });
    const path = volumeSocketPath(this.o.cfg.run_dir);
    fs.rmSync(path, { force: true });
    return new Promise((resolve, reject) => {
      const server = createServer((sock) => {
        let buf = "";
        sock.setEncoding("utf8");
        sock.on("data", (d: string) => {
          buf += d;
          if (buf.length > 65_536) return sock.destroy();
          const nl = buf.indexOf("\n");
          if (nl < 0) return;
          const line = buf.slice(0, nl);
          buf = "";
          void this.handleLine(line).then((reply) => sock.end(`${JSON.stringify(reply)}\n`));
        });
        sock.on("error", () => undefined);
      });
      server.on("error", reject);
      server.listen(path, () => {
        // Promotion and discarding data are root's decisions.
        fs.chmodSync(path, 0o600);
        this.server = server;
        resolve();
      });
    });
  }

  async handleLine(line: string): Promise<VolumeReply> {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      return { ok: false, error: "request is not JSON", invalid: true };
    }
    const p = requestSchema.safeParse(raw);
    if (!p.success) {
      const i = p.error.issues[0]!;
      return { ok: false, error: `bad request: ${i.path.join(".") || "cmd"}: ${i.message}`, invalid: true };
    }
    try {
      return await this.handle(p.data);
    } catch (e) {
      if (e instanceof Refused || e instanceof MetadataError) return { ok: false, error: e.message, invalid: true };
      return { ok: false, error: (e as Error).message };
    }
  }

  async handle(req: Request): Promise<VolumeReply> {
    if (req.cmd === "status") return { ok: true, volumes: [...this.volumes.values()].map((m) => this.detail(m)) };
    const m = this.volumes.get(req.volume);
    if (!m) throw new Refused(`no volume "${req.volume}" in ${this.o.cfg.file} (configured: ${[...this.volumes.keys()].join(", ") || "none"})`);
    return this.serial(m, async (): Promise<VolumeReply> => {
      switch (req.cmd) {
        case "create":
          return { ok: true, message: this.create(m, req.force, req.assume_clean) };
        case "up":
          if (req.promotion_attr !== undefined && req.promotion_attr !== m.promotionAttr) {
            m.promotionAttr = req.promotion_attr;
            m.publishedScore = undefined;
          }
          return { ok: true, message: await this.up(m) };
        case "down":
          return { ok: true, message: await this.down(m) };
        case "attach":
          return { ok: true, message: await this.attach(m) };
        case "primary":
          return { ok: true, message: await this.primary(m, req.force, req.allow_two_primaries) };
        case "secondary":
          return { ok: true, message: await this.secondary(m) };
        case "connect":
          this.attached(m).connect();
          return { ok: true, message: `${m.cfg.name}: connecting to ${this.peer.name}` };
        case "disconnect":
          this.attached(m).disconnect("operator disconnect");
          return { ok: true, message: `${m.cfg.name}: disconnected (StandAlone) until \`hapd volume connect ${m.cfg.name}\`` };
        case "verify": {
          const r = this.attached(m).verify();
          if (!r.ok) throw new Refused(r.message);
          return { ok: true, message: `${m.cfg.name}: online verify started; \`hapd volume status\` shows the result` };
        }
        case "invalidate": {
          const r = this.attached(m).invalidate();
          if (!r.ok) throw new Refused(r.message);
          return { ok: true, message: `${m.cfg.name}: ${r.message}` };
        }
        case "resolve-split-brain":
          return { ok: true, message: this.resolveSplitBrain(m) };
      }
    });
  }

  /** The attached Volume of a configured volume, or null (in-process callers and tests). */
  volume(name: string): Volume | null {
    return this.volumes.get(name)?.vol ?? null;
  }

  private attached(m: Managed): Volume {
    if (!m.vol) throw new Refused(`volume ${m.cfg.name} is down: \`hapd volume up ${m.cfg.name}\` first`);
    return m.vol;
  }

  // ---- commands ----

  /** Writes fresh metadata (and a sparse backing file when size_mib is set and the file is missing). */
  create(m: Managed, force: boolean, assumeClean: boolean): string {
    const v = m.cfg;
    if (m.vol) throw new Refused(`volume ${v.name} is up; \`hapd volume down ${v.name}\` before re-creating its metadata`);
    let size_bytes: number;
    if (!fs.existsSync(v.backing)) {
      if (!v.size_mib) throw new Refused(`volume ${v.name}: backing ${v.backing} does not exist and no size_mib is configured to create it`);
      size_bytes = v.size_mib * 1024 * 1024;
      fs.writeFileSync(v.backing, "", { mode: 0o600 });
      fs.truncateSync(v.backing, size_bytes);
    } else {
      size_bytes = backingSize(v.backing);
      if (v.size_mib && v.size_mib * 1024 * 1024 !== size_bytes) {
        throw new Refused(`volume ${v.name}: size mismatch: size_mib ${v.size_mib} is ${v.size_mib * 1024 * 1024} bytes, ${v.backing} has ${size_bytes}`);
      }
    }
    if (size_bytes <= 0) throw new Refused(`volume ${v.name}: backing ${v.backing} is empty`);
    if (!force && fs.existsSync(v.meta)) {
      const existing = readMeta(v.name, v.meta, size_bytes);
      if (existing.ok) throw new Refused(`volume ${v.name}: ${v.meta} already holds metadata (uuid ${existing.uuid}); --force replaces it and forgets what is in sync`);
    }
    const uuid = volumeUuid(this.o.cfg.cluster.name, v);
    Volume.format(v.meta, v.name, { uuid, size_bytes, current: assumeClean ? cleanGeneration(uuid) : newGeneration(), assumeClean });
    this.o.log.info("volume", `${v.name}: metadata created (uuid ${uuid}, ${size_bytes} bytes, ${assumeClean ? "assumed clean: UpToDate" : "Inconsistent until the first sync"})`);
    return assumeClean
      ? `${v.name}: metadata created, UpToDate (assume-clean: both hosts must hold identical data, e.g. both zeroed)`
      : `${v.name}: metadata created, Inconsistent; after \`up\` on both hosts, \`hapd volume primary ${v.name} --force\` on the host whose data is the reference starts the initial full sync`;
  }

  async up(m: Managed, opts: { waitForCluster_ms?: number } = {}): Promise<string> {
    const v = m.cfg;
    if (m.vol) {
      if (m.promotionAttr) fs.writeFileSync(this.upMarker(m), `${m.promotionAttr}\n`);
      return `${v.name}: already up`;
    }
    m.attachError = "";
    m.markKnown = false;
    try {
      if (!fs.existsSync(v.meta)) throw new Refused(`volume ${v.name}: no metadata at ${v.meta}: \`hapd volume create ${v.name}\` first`);
      if (!fs.existsSync(v.backing)) throw new Refused(`volume ${v.name}: backing ${v.backing} does not exist`);
      const size_bytes = backingSize(v.backing);
      const meta = readMeta(v.name, v.meta, size_bytes);
      if (!meta.ok) throw meta.error;
      const uuid = volumeUuid(this.o.cfg.cluster.name, v);
      if (meta.uuid !== uuid) throw new Refused(`volume ${v.name}: ${v.meta} holds another volume's metadata (uuid ${meta.uuid}, expected ${uuid}); refusing to attach`);
      // The peer may have outdated us while we were down: the local flag must say so before the
      // core starts (a handshake or promotion reads it).
      const mark = await this.markWithin(v.name, opts.waitForCluster_ms ?? 0).then(
        (value) => {
          m.markKnown = true;
          return value;
        },
        (e: Error) => {
          this.o.log.warn("volume", `${v.name}: cannot ask the cluster whether the peer outdated this disk: ${e.message}`);
          return null;
        },
      );
      if (mark !== null) markOutdated(v.name, v.meta, size_bytes, this.o.log, mark);
      const epoch = ++m.epoch;
      m.vol = await Volume.open({
        name: v.name,
        dataPath: v.backing,
        metaPath: v.meta,
        nodeId: this.self.id,
        peerId: this.peer.id,
        key: this.o.key,
        peerAddress: { host: this.listenHost, port: v.peer_port },
        config: { protocol: v.protocol, splitBrain: v.split_brain, allowTwoPrimaries: v.allow_two_primaries, csums: v.csums },
        resyncRate_bytes_s: v.resync_rate_mib_s * 1024 * 1024,
        linkEncryption: v.link_encryption,
        outdatePeer: () => this.outdatePeer(m, epoch),
        log: (level, message) => {
          if (level === "error") this.o.log.error("volume", message);
          else if (level === "warn") this.o.log.warn("volume", message);
          else this.o.log.info("volume", message);
        },
        observe: (e) => {
          if (e.kind === "split-brain") m.splitBrain = e.reason;
          else if (e.kind === "verify-done") m.lastVerify = { checked: e.checked, out_of_sync: e.outOfSync, complete: e.complete, at_ms: Date.now() };
          else if (e.path) m.preserved.push(e.path);
        },
      });
    } catch (e) {
      m.attachError = (e as Error).message;
      throw e;
    }
    fs.writeFileSync(this.upMarker(m), m.promotionAttr ? `${m.promotionAttr}\n` : "");
    return `${v.name}: up (Secondary, ${m.vol.core.diskState}), connecting to ${this.peer.name}`;
  }

  async down(m: Managed): Promise<string> {
    const vol = m.vol;
    if (!vol) {
      fs.rmSync(this.upMarker(m), { force: true });
      return `${m.cfg.name}: already down`;
    }
    if (vol.core.role === "Primary") throw new Refused(`volume ${m.cfg.name} is Primary: \`hapd volume secondary ${m.cfg.name}\` first`);
    m.epoch++;
    m.vol = null;
    m.sync = null;
    await vol.close();
    fs.rmSync(this.upMarker(m), { force: true });
    // A stopped instance must not keep a promotion score behind (best effort: the next up or
    // the resource manager's stop of the node's instances supersede it).
    this.publishScore(m);
    return `${m.cfg.name}: down`;
  }

  /**
   * After the operator fixed a disk that was detached on an I/O error: attach it again. The
   * metadata written at the detach says Inconsistent with every region out of sync, so the
   * handshake makes this side the target of a full resync (with `csums: true` only blocks that
   * differ travel). A Diskless Primary must be demoted first: a Primary cannot be a sync target.
   */
  async attach(m: Managed): Promise<string> {
    const vol = m.vol;
    const name = m.cfg.name;
    if (!vol) return this.up(m);
    if (vol.core.diskFailure === null) return `${name}: disk already attached (${vol.core.diskState})`;
    if (vol.core.role === "Primary") throw new Refused(`volume ${name} is a Diskless Primary (its I/O goes to ${this.peer.name}): \`hapd volume secondary ${name}\` first (or move the Primary to ${this.peer.name}), then attach`);
    const why = vol.core.diskFailure;
    await this.down(m);
    const up = await this.up(m);
    this.o.log.info("volume", `${name}: disk attached again after "${why}"; a full resync from ${this.peer.name} follows`);
    return `${up}; the disk failed earlier (${why}): a full resync from ${this.peer.name} follows`;
  }

  async primary(m: Managed, force: boolean, twoPrimaries = false): Promise<string> {
    const vol = this.attached(m);
    const name = m.cfg.name;
    if (vol.core.role === "Primary") return `${name}: already Primary`;
    if (twoPrimaries && vol.core.peerRole !== "Primary") this.o.log.info("volume", `${name}: --allow-two-primaries requested, but ${this.peer.name} is not Primary: an ordinary promotion`);
    const withPeer = vol.core.conn === "Connected" && vol.core.repl !== "Off";
    if (!withPeer) {
      // Away from the peer, only the cluster knows whether the peer went on writing without us.
      let mark: string | null;
      try {
        mark = await this.myMark(name);
      } catch (e) {
        if (!force) throw new Refused(`volume ${name}: refusing promotion: the peer is not connected and the cluster cannot say whether it outdated this disk (${(e as Error).message}). Use --force to accept losing writes the peer may have acknowledged`);
        this.o.log.error("volume", `${name}: FORCED promotion without asking the cluster: ${(e as Error).message}`);
        mark = null;
      }
      if (mark !== null && vol.core.diskState === "UpToDate") {
        this.o.log.warn("volume", `${name}: the cluster marks this disk Outdated (peer generation ${mark})`);
        vol.outdate();
      }
    }
    const r = vol.promote(force, twoPrimaries && vol.core.peerRole === "Primary");
    if (!r.ok) throw new Refused(r.message);
    if (vol.core.peerRole === "Primary") this.o.log.warn("volume", `${name}: DUAL-PRIMARY with ${this.peer.name} on explicit request: both may write; demote one as soon as the migration is over`);
    if (force && r.message !== "promoted") this.o.log.error("volume", `${name}: ${r.message}: writes acknowledged by the peer after it lost this node may be lost; a split brain is reported when they meet`);
    m.nbd = new NbdServer({ socketPath: nbdSocketPath(this.o.cfg.run_dir, name), exportName: name, backend: vol, log: (l) => this.o.log.warn("volume", l) });
    await m.nbd.listen();
    return `${name}: ${r.message}; NBD export at ${nbdSocketPath(this.o.cfg.run_dir, name)}${vol.core.suspended ? " (I/O frozen until the cluster records the peer Outdated)" : ""}`;
  }

  async secondary(m: Managed): Promise<string> {
    const vol = this.attached(m);
    if (vol.core.role === "Secondary") return `${m.cfg.name}: already Secondary`;
    // Clients first: no new request may arrive between the check for I/O in flight and the demotion.
    await m.nbd?.close();
    m.nbd = null;
    let r = vol.demote();
    for (let i = 0; i < 100 && !r.ok && !vol.core.suspended; i++) {
      await new Promise((res) => setTimeout(res, 50));
      r = vol.demote();
    }
    if (!r.ok) throw new Refused(`${r.message}${vol.core.suspended ? " (I/O is frozen until the cluster records the peer Outdated)" : ""}`);
    return `${m.cfg.name}: Secondary`;
  }

  private resolveSplitBrain(m: Managed): string {
    const vol = this.attached(m);
    if (vol.core.role === "Primary") throw new Refused(`volume ${m.cfg.name} is Primary here: demote it (\`hapd volume secondary ${m.cfg.name}\`) before discarding its changes`);
    if (vol.core.conn === "Connected") throw new Refused(`volume ${m.cfg.name} is connected to its peer: there is no split brain to resolve`);
    vol.discardLocalData();
    m.splitBrain = null;
    return `${m.cfg.name}: this node's changes since the split will be replaced by ${this.peer.name}'s; its divergent regions are copied to ${m.cfg.backing}.d/ first. On ${this.peer.name}, run \`hapd volume connect ${m.cfg.name}\` if it is StandAlone`;
  }

  // ---- fencing through the cluster ----

  private myMark(volume: string): Promise<string | null> {
    return this.attrs.get(this.self.name, outdatedAttr(volume));
  }

  /** myMark, retried for up to `wait_ms` while the cluster does not answer (it may be starting). */
  private async markWithin(volume: string, wait_ms: number): Promise<string | null> {
    const deadline = Date.now() + wait_ms;
    for (;;) {
      try {
        return await this.myMark(volume);
      } catch (e) {
        if (Date.now() >= deadline) throw e;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The promotion score this node's disk deserves now: only a disk known UpToDate gets one. */
  private wantedScore(m: Managed): string | null {
    const vol = m.vol;
    if (!vol || !m.markKnown || m.splitBrain !== null) return null;
    return vol.core.diskState === "UpToDate" ? UPTODATE_PROMOTION_SCORE : null;
  }

  /** Publishes the promotion score when it changed; retried by the next tick when the cluster cannot commit it. */
  private publishScore(m: Managed): void {
    const attr = m.promotionAttr;
    if (!attr || m.scorePublishing) return;
    const want = this.wantedScore(m);
    if (want === m.publishedScore) return;
    m.scorePublishing = true;
    void this.attrSerial(m, () => this.attrs.set(this.self.name, attr, want))
      .then(
        () => {
          m.publishedScore = want;
          this.o.log.info("volume", `${m.cfg.name}: promotion score ${want ?? "removed"} (${attr})`);
        },
        () => undefined,
      )
      .finally(() => {
        m.scorePublishing = false;
      });
  }

  /**
   * The Volume's fencing hook. Retries until the cluster commits the mark: a Primary that cannot
   * reach the cluster keeps its I/O frozen rather than risk the peer being promoted with older data.
   */
  private async outdatePeer(m: Managed, epoch: number): Promise<boolean> {
    const gen = m.vol ? hex(m.vol.core.generations.current) : "unknown";
    let lastError = "";
    for (;;) {
      if (m.epoch !== epoch) return false;
      try {
        m.fencing = `outdating ${this.peer.name} through the cluster`;
        await this.attrSerial(m, () => this.attrs.set(this.peer.name, outdatedAttr(m.cfg.name), gen));
        m.peerMark = gen;
        m.fencing = `${this.peer.name} recorded Outdated (generation ${gen})`;
        this.o.log.warn("volume", `${m.cfg.name}: the cluster recorded ${this.peer.name} Outdated (generation ${gen}); I/O resumes`);
        return m.epoch === epoch;
      } catch (e) {
        const why = (e as Error).message;
        m.fencing = `cannot outdate ${this.peer.name}: ${why}; I/O frozen`;
        if (why !== lastError) this.o.log.error("volume", `${m.cfg.name}: cannot record ${this.peer.name} Outdated in the cluster: ${why}; I/O stays frozen, retrying`);
        lastError = why;
      }
      await new Promise((r) => setTimeout(r, this.o.fenceRetry_ms ?? 500));
    }
  }

  /** Periodic: resync progress, and clearing the peer's Outdated mark once it is UpToDate again. */
  private tick(): void {
    for (const m of this.volumes.values()) {
      this.publishScore(m);
      const vol = m.vol;
      if (!vol) continue;
      if (!m.markKnown && vol.core.role === "Secondary" && vol.core.conn !== "Connected") {
        // Came up while the cluster could not answer: until it does, this disk is not proposed for promotion.
        const epoch = m.epoch;
        void this.myMark(m.cfg.name).then(
          (mark) => {
            if (m.epoch !== epoch || m.vol !== vol) return;
            if (mark !== null && vol.core.diskState === "UpToDate" && vol.core.conn !== "Connected" && vol.core.role === "Secondary") vol.outdate();
            m.markKnown = true;
          },
          () => undefined,
        );
      } else if (!m.markKnown && vol.core.conn === "Connected") {
        // Connected: the handshake with the peer settled who is newer.
        m.markKnown = true;
      }
      const syncing = vol.core.repl === "SyncSource" || vol.core.repl === "SyncTarget";
      if (syncing && !m.sync) m.sync = { total: Math.max(1, vol.core.outOfSyncRegions), t0_ms: Date.now() };
      if (!syncing) m.sync = null;
      const now = Date.now();
      if (vol.core.conn !== "Connected" && vol.core.role === "Secondary" && vol.core.diskState === "UpToDate" && now - m.lastMarkPoll_ms >= 1000) {
        // Away from the peer, the cluster is where the peer says it went on without us: take the
        // mark into the local state, so status is truthful and the next start knows it too.
        m.lastMarkPoll_ms = now;
        const epoch = m.epoch;
        void this.myMark(m.cfg.name).then(
          (mark) => {
            if (mark === null || m.epoch !== epoch || m.vol !== vol || vol.core.conn === "Connected" || vol.core.role !== "Secondary" || vol.core.diskState !== "UpToDate") return;
            this.o.log.warn("volume", `${m.cfg.name}: the cluster marks this disk Outdated (the peer wrote generation ${mark} without it)`);
            vol.outdate();
          },
          () => undefined,
        );
      }
      if (vol.core.repl === "Established" && m.peerMark !== null && !vol.core.suspended && !m.clearing) {
        // Established means the peer's disk is UpToDate: its mark (if this node set one) is void.
        // Cleared by the node that set it, in the same queue, so a newer mark is never erased by an older clear.
        const epoch = m.epoch;
        m.clearing = true;
        void this.attrSerial(m, async () => {
          if (m.epoch !== epoch || m.peerMark === null || vol.core.repl !== "Established") return;
          await this.attrs.set(this.peer.name, outdatedAttr(m.cfg.name), null);
          m.peerMark = null;
          m.fencing = "";
        })
          .catch(() => undefined)
          .finally(() => {
            m.clearing = false;
          });
      }
    }
  }

  // ---- status ----

  detail(m: Managed): VolumeDetail {
    const vol = m.vol;
    const name = m.cfg.name;
    if (!vol) {
      return {
        name,
        role: "Secondary",
        disk: m.attachError ? "Failed" : "Diskless",
        peer_disk: "DUnknown",
        connection: "Down",
        sync_percent: null,
        eta_s: null,
        up: false,
        conn: "down",
        repl: "Off",
        peer_role: null,
        out_of_sync_regions: 0,
        region_bytes: 0,
        resync_sent_bytes: 0,
        resync_skipped_bytes: 0,
        generation: "",
        io_frozen: false,
        fencing: m.fencing,
        last_error: m.attachError,
        split_brain: null,
        last_verify: m.lastVerify,
        preserved: m.preserved,
        nbd_socket: null,
        hint: m.attachError ? m.attachError : `down: \`hapd volume up ${name}\``,
      };
    }
    const c = vol.core;
    const remaining = c.outOfSyncRegions;
    let sync_percent: number | null = null;
    let eta_s: number | null = null;
    if (m.sync && (c.repl === "SyncSource" || c.repl === "SyncTarget")) {
      const done = Math.max(0, m.sync.total - remaining);
      sync_percent = Math.min(100, Math.floor((100 * done) / m.sync.total));
      const elapsed_s = (Date.now() - m.sync.t0_ms) / 1000;
      eta_s = done > 0 && elapsed_s > 0 ? Math.round((remaining * elapsed_s) / done) : null;
    }
    const peer_disk: VolumeDetail["peer_disk"] =
      c.conn !== "Connected" ? (m.peerMark ? "Outdated" : "DUnknown") : c.repl === "SyncSource" ? "Inconsistent" : "UpToDate";
    const connection = c.conn === "Connected" ? c.repl : m.splitBrain && c.conn === "StandAlone" ? "StandAlone (split brain)" : c.conn;
    let hint = "";
    if (c.diskFailure !== null) hint = `Diskless: the local disk failed (${c.diskFailure}) and was detached; ${c.role === "Primary" ? (c.conn === "Connected" && c.repl === "Established" ? `I/O goes through ${this.peer.name}. ` : "I/O FAILS (no UpToDate peer). ") : ""}Fix the disk, then ${c.role === "Primary" ? `\`hapd volume secondary ${name}\` and ` : ""}\`hapd volume attach ${name}\` (a full resync from ${this.peer.name} follows)`;
    else if (m.splitBrain && c.conn !== "Connected") hint = `split brain, nothing discarded: on the node whose changes must go, \`hapd volume secondary ${name}\` then \`hapd volume resolve-split-brain ${name} --discard-local\` (its divergent regions are saved first); on the other, \`hapd volume connect ${name}\``;
    else if (c.suspended) hint = `I/O frozen until the cluster records ${this.peer.name} Outdated: ${m.fencing}`;
    else if (c.diskState === "Outdated") hint = `Outdated: ${this.peer.name} has writes this disk lacks; it resyncs when connected. Promoting here needs --force and loses them`;
    else if (c.diskState === "Inconsistent" && c.repl !== "SyncTarget") hint = `Inconsistent: connect to an UpToDate peer to finish the sync`;
    else if (c.lastError && c.conn !== "Connected") hint = c.lastError;
    return {
      name,
      role: c.role,
      disk: c.diskState,
      peer_disk,
      connection,
      sync_percent,
      eta_s,
      up: true,
      conn: c.conn,
      repl: c.repl,
      peer_role: c.peerRole,
      out_of_sync_regions: remaining,
      region_bytes: vol.region_bytes,
      resync_sent_bytes: c.resyncSent_bytes,
      resync_skipped_bytes: c.resyncSkipped_bytes,
      generation: hex(c.generations.current),
      io_frozen: c.suspended,
      fencing: m.fencing,
      last_error: c.diskFailure !== null ? `local disk failed: ${c.diskFailure}` : c.lastError,
      split_brain: c.conn === "Connected" ? null : m.splitBrain,
      last_verify: m.lastVerify,
      preserved: m.preserved,
      nbd_socket: m.nbd ? nbdSocketPath(this.o.cfg.run_dir, name) : null,
      hint,
    };
  }
}

function backingSize(path: string): number {
  const st = fs.statSync(path);
  if (!st.isBlockDevice()) return st.size;
  // stat() says 0 for a block device: its end is its size.
  const fd = fs.openSync(path, "r");
  try {
    let lo = 0;
    let hi = 1;
    const b = new Uint8Array(1);
    while (fs.readSync(fd, b, 0, 1, hi * 512 - 1) === 1) hi *= 2;
    // Binary search for the last readable sector.
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (fs.readSync(fd, b, 0, 1, mid * 512 - 1) === 1) lo = mid;
      else hi = mid;
    }
    return lo * 512;
  } finally {
    fs.closeSync(fd);
  }
}

function readMeta(volume: string, path: string, size_bytes: number): { ok: true; uuid: string; flags: number } | { ok: false; error: MetadataError } {
  const fd = fs.openSync(path, "r");
  try {
    const s = MetaStore.attach(new FdMetaDevice(fs, fd), volume, { size_bytes });
    return { ok: true, uuid: s.meta.uuid, flags: s.meta.flags };
  } catch (e) {
    if (e instanceof MetadataError) return { ok: false, error: e };
    throw e;
  } finally {
    fs.closeSync(fd);
  }
}

/** Persists the cluster's Outdated mark into the metadata before the volume attaches. */
function markOutdated(volume: string, path: string, size_bytes: number, log: Logger, gen: string): void {
  const fd = fs.openSync(path, "r+");
  try {
    const s = MetaStore.attach(new FdMetaDevice(fs, fd), volume, { size_bytes });
    const meta = s.meta;
    if ((meta.flags & Flag.CONSISTENT) === 0 || (meta.flags & Flag.OUTDATED) !== 0) return;
    s.commit({ ...meta, flags: meta.flags | Flag.OUTDATED });
    log.warn("volume", `${volume}: the cluster marks this disk Outdated (the peer wrote generation ${gen} without it); it resyncs when connected`);
  } finally {
    fs.closeSync(fd);
  }
}

/** `hapd service volume`: the process the supervisor runs. Resolves when it should exit. */
export async function runVolumeService(cfg: Config): Promise<number> {
  const { createLogger } = await import("../shared/log.ts");
  const { loadKeyFile } = await import("../shared/keyfile.ts");
  const { SupervisorLink } = await import("../supervisor/client.ts");
  const log = createLogger(cfg.node, cfg.log_file ? { file: cfg.log_file, stderr: true } : {});
  const svc = new VolumeService({ cfg, key: loadKeyFile(cfg.cluster.key_file), log });
  await svc.start();
  const supervisor = await SupervisorLink.attach("volume", cfg.supervisor.heartbeat_interval_ms, (why) => {
    // Never outlive the supervisor: nothing would watch us or feed the watchdog.
    log.error("volume", `${why}: stopping`);
    process.exit(1);
  });
  if (!supervisor) log.warn("volume", "running without a supervisor (no restarts, no watchdog): use `hapd node` in production");
  return new Promise((resolve) => {
    const stop = () => void svc.stop().then(() => resolve(0));
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}
