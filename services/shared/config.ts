// The node configuration: one YAML file per node, validated before anything starts.
//
// Every error names the file, the field (a dotted path) and what is wrong, and the CLI exits 2
// with it: a typo must never become a silent default.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseDocument } from "yaml";
import * as z from "zod";
import { type WatchdogConfig, parseWatchdogConfig } from "../watchdog/config.ts";

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${file}: ${field ? `${field}: ` : ""}${reason}`);
    this.name = "ConfigError";
  }
}

const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

const endpoint = z
  .object({
    address: z.string().regex(IPV4, "must be an IPv4 address like 10.70.0.1"),
    port: z.number().int().min(1).max(65535),
  })
  .strict();

const nodeSchema = z
  .object({
    name: z.string().regex(NAME, "must be lower-case letters, digits and '-', starting with a letter"),
    id: z.number().int().min(1).max(8),
    role: z.enum(["host", "arbitrator"]),
    votes: z.number().int().min(0).max(1).default(1),
    ring0: endpoint,
    ring1: endpoint.optional(),
    /** The node's BMC, as its peers reach it for fencing (used by the fencing service). */
    bmc: z
      .object({
        address: z.string().regex(IPV4, "must be an IPv4 address"),
        port: z.number().int().min(1).max(65535).default(623),
        username: z.string().min(1).max(16),
        password_file: z.string().min(1),
        cipher: z.union([z.literal(17), z.literal(3)]).default(17),
        privilege: z.enum(["administrator", "operator"]).default("administrator"),
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * A replicated volume (docs/replication.md). Only the two hosts hold volumes; the peer is the
 * other host and the link runs between the hosts' ring0 addresses on `peer_port`.
 */
const volumeSchema = z
  .object({
    name: z.string().regex(NAME, "must be lower-case letters, digits and '-', starting with a letter"),
    /** The backing file or block device. */
    backing: z.string().min(1),
    /** The metadata file (two checksummed slots; `hapd volume create` writes it). */
    meta: z.string().min(1),
    /** Size for `create` when the backing file does not exist yet (then created sparse). */
    size_mib: z.number().int().min(1).max(64 * 1024 * 1024).optional(),
    /** The volume's identity; defaults to one derived from the cluster and volume names, the same on both hosts. */
    uuid: z
      .string()
      .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "must be a lower-case uuid like 0b0e...-....")
      .optional(),
    peer_port: z.number().int().min(1).max(65535),
    protocol: z.enum(["A", "B", "C"]).default("C"),
    split_brain: z.enum(["disconnect", "discard-zero-changes"]).default("disconnect"),
    /** Resync bandwidth cap in MiB/s; 0 = as fast as the in-flight window allows. */
    resync_rate_mib_s: z.number().int().min(0).max(100_000).default(0),
    /**
     * Let both hosts be Primary at once, on explicit request (`hapd volume primary NAME
     * --allow-two-primaries`), for a live migration's window; protocol C only. Set it on both hosts.
     */
    allow_two_primaries: z.boolean().default(false),
    /**
     * Encrypt the replication link (AES-256-GCM, default) or only authenticate it (the same
     * GCM tag over the plaintext, DRBD's default): on a private backplane, the cheaper choice
     * (docs/replication.md, benchmark). Both hosts must agree, or the link does not come up.
     */
    link_encryption: z.boolean().default(true),
    /**
     * Checksum-based resync (DRBD's csums-alg): the resync source sends a SHA-256 per 16 KiB
     * block first and transfers only blocks that differ. Costs a read and hashing on both sides
     * and a round trip per region; pays off when marked regions are mostly equal (scattered
     * small writes during a disconnect, a full sync of disks already nearly identical).
     */
    csums: z.boolean().default(false),
  })
  .strict();

const schema = z
  .object({
    cluster: z
      .object({
        name: z.string().regex(NAME, "must be lower-case letters, digits and '-'"),
        key_file: z.string().min(1),
        wait_for_all: z.boolean().default(true),
        heartbeat_interval_ms: z.number().int().min(10).max(5000).default(100),
        lost_timeout_ms: z.number().int().min(50).max(60_000).default(600),
      })
      .strict(),
    node: z.string().regex(NAME, "must name one of the nodes"),
    state_dir: z.string().min(1),
    run_dir: z.string().min(1).optional(),
    log_file: z.string().min(1).optional(),
    nodes: z.array(nodeSchema).min(1).max(8),
    fencing: z
      .object({
        /** Wait this long before fencing the named host: the fence race without an arbitrator. */
        delay_ms: z.record(z.string(), z.number().int().min(0).max(120_000)).default({}),
        power_timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
        attempt_timeout_ms: z.number().int().min(500).max(120_000).default(15_000),
        attempts_per_level: z.number().int().min(1).max(20).default(3),
        /** After losing quorum, the longest this node may take to stop its resources before it self-fences. */
        self_fence_stop_timeout_ms: z.number().int().min(100).max(600_000).default(10_000),
      })
      .strict()
      .default({ delay_ms: {}, power_timeout_ms: 10_000, attempt_timeout_ms: 15_000, attempts_per_level: 3, self_fence_stop_timeout_ms: 10_000 }),
    /** Validated by the watchdog layer's own schema (services/watchdog/config.ts). */
    watchdog: z.unknown().optional(),
    supervisor: z
      .object({
        heartbeat_interval_ms: z.number().int().min(10).max(10_000).default(100),
        missed_heartbeats: z.number().int().min(2).max(20).default(3),
        max_restarts: z.number().int().min(1).max(100).default(5),
        window_ms: z.number().int().min(1000).max(3_600_000).default(60_000),
        on_exhausted: z.enum(["leave", "reset"]).default("reset"),
      })
      .strict()
      .default({ heartbeat_interval_ms: 100, missed_heartbeats: 3, max_restarts: 5, window_ms: 60_000, on_exhausted: "reset" }),
    /** Replicated volumes of this host; the supervisor runs the volume service when there are any. */
    volumes: z.array(volumeSchema).max(64).optional(),
    serial: z
      .object({
        device: z.string().min(1),
        peer: z.string().regex(NAME),
        baud: z.number().int().default(115200),
      })
      .strict()
      .optional(),
  })
  .strict();

export type NodeEntry = z.infer<typeof nodeSchema>;
export type VolumeConfig = z.infer<typeof volumeSchema>;
export type Config = Omit<z.infer<typeof schema>, "watchdog"> & { file: string; run_dir: string; watchdog: WatchdogConfig | null };

function pathOf(path: ReadonlyArray<PropertyKey>, doc: unknown): string {
  // "nodes.1.ring0.port" reads better as "nodes[1] (host-b).ring0.port".
  let out = "";
  let cursor: unknown = doc;
  for (const p of path) {
    if (typeof p === "number") {
      const item = Array.isArray(cursor) ? cursor[p] : undefined;
      const name = item && typeof item === "object" && "name" in item ? ` (${String((item as { name: unknown }).name)})` : "";
      out += `[${p}]${name}`;
    } else {
      out += out ? `.${String(p)}` : String(p);
    }
    cursor = cursor && typeof cursor === "object" ? (cursor as Record<PropertyKey, unknown>)[p] : undefined;
  }
  return out;
}

export function parseConfig(text: string, file: string): Config {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0];
    throw new ConfigError(file, line ? `line ${line.line}` : "", `YAML syntax: ${e.message.split("\n")[0]}`);
  }
  const raw: unknown = doc.toJS();
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(file, pathOf(issue.path, raw), issue.message);
  }
  const c = parsed.data;
  const watchdog = c.watchdog === undefined ? null : parseWatchdogConfig(c.watchdog, file, "watchdog");
  const base = dirname(resolve(file));
  const abs = (p: string) => resolve(base, p);
  const cfg: Config = {
    ...c,
    cluster: { ...c.cluster, key_file: abs(c.cluster.key_file) },
    state_dir: abs(c.state_dir),
    run_dir: abs(c.run_dir ?? c.state_dir),
    ...(c.log_file ? { log_file: abs(c.log_file) } : {}),
    nodes: c.nodes.map((n) => (n.bmc ? { ...n, bmc: { ...n.bmc, password_file: abs(n.bmc.password_file) } } : n)),
    ...(c.volumes ? { volumes: c.volumes.map((v) => ({ ...v, backing: abs(v.backing), meta: abs(v.meta) })) } : {}),
    watchdog: watchdog && watchdog.kind === "ipmi" ? { ...watchdog, password_file: abs(watchdog.password_file) } : watchdog,
    file,
  };
  checkSemantics(cfg);
  return cfg;
}

function checkSemantics(c: Config): void {
  const names = new Set<string>();
  const ids = new Set<number>();
  c.nodes.forEach((n, i) => {
    if (names.has(n.name)) throw new ConfigError(c.file, `nodes[${i}].name`, `"${n.name}" appears twice`);
    if (ids.has(n.id)) throw new ConfigError(c.file, `nodes[${i}] (${n.name}).id`, `id ${n.id} appears twice`);
    names.add(n.name);
    ids.add(n.id);
    if (n.role === "arbitrator" && n.bmc) throw new ConfigError(c.file, `nodes[${i}] (${n.name}).bmc`, "the arbitrator runs no resources and is not fenced");
  });
  const self = c.nodes.find((n) => n.name === c.node);
  if (!self) throw new ConfigError(c.file, "node", `"${c.node}" is not one of nodes: ${[...names].join(", ")}`);
  const hasRing1 = c.nodes.filter((n) => n.ring1).length;
  if (hasRing1 !== 0 && hasRing1 !== c.nodes.length) throw new ConfigError(c.file, "nodes", "ring1 must be configured on every node or on none");
  if (c.serial) {
    const peer = c.nodes.find((n) => n.name === c.serial?.peer);
    if (!peer) throw new ConfigError(c.file, "serial.peer", `"${c.serial.peer}" is not one of nodes`);
    if (peer.name === self.name) throw new ConfigError(c.file, "serial.peer", "must be the other host, not this node");
    if (self.role !== "host" || peer.role !== "host") throw new ConfigError(c.file, "serial.peer", "the serial line joins the two hosts; the arbitrator has none");
    if (![9600, 19200, 38400, 57600, 115200, 230400].includes(c.serial.baud)) throw new ConfigError(c.file, "serial.baud", `${c.serial.baud} is not a standard rate`);
  }
  for (const name of Object.keys(c.fencing.delay_ms)) {
    if (!names.has(name)) throw new ConfigError(c.file, `fencing.delay_ms.${name}`, `"${name}" is not one of nodes`);
  }
  if (c.volumes && c.volumes.length > 0) {
    if (self.role !== "host") throw new ConfigError(c.file, "volumes", "only a host holds replicated volumes; the arbitrator has none");
    if (c.nodes.filter((n) => n.role === "host").length !== 2) throw new ConfigError(c.file, "volumes", "a replicated volume needs exactly two hosts in nodes");
    const seen = new Map<string, string>();
    c.volumes.forEach((v, i) => {
      const at = `volumes[${i}] (${v.name})`;
      for (const [what, key] of [["name", v.name], ["peer_port", `port ${v.peer_port}`], ["backing", v.backing], ["meta", v.meta]] as const) {
        const prev = seen.get(`${what}:${key}`);
        if (prev) throw new ConfigError(c.file, `${at}.${what}`, `also used by ${prev}`);
        seen.set(`${what}:${key}`, at);
      }
      if (v.backing === v.meta) throw new ConfigError(c.file, `${at}.meta`, "must not be the backing device itself");
    });
  }
  if (c.cluster.lost_timeout_ms < c.cluster.heartbeat_interval_ms * 3) {
    throw new ConfigError(c.file, "cluster.lost_timeout_ms", `must be at least 3 heartbeat intervals (${c.cluster.heartbeat_interval_ms * 3} ms)`);
  }
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(file, "", `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseConfig(text, file);
}

export const DEFAULT_CONFIG = "/etc/hapd/hapd.yaml";
