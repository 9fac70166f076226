// `hapd volume …`: the operator's commands for replicated volumes. Each one is a request to the
// running volume service (`run_dir/volume.sock`); `create` also works with no service running
// (it only writes the metadata file), as DRBD's create-md does.
//
// Exit codes as everywhere in hapd: 2 = refused because of the input or the volume's state (an
// Outdated promotion, a size mismatch, another volume's metadata, a checksum failure), 1 = the
// service failed or does not run.
import type { Command } from "commander";
import type { VolumeCommand, VolumeDetail, VolumeReply } from "../replication/status-client.ts";

const out = (line: string) => process.stdout.write(line.endsWith("\n") ? line : `${line}\n`);
const fail = (code: number, line: string) => {
  process.stderr.write(`hapd: ${line}\n`);
  process.exitCode = code;
};

interface CommonOpts {
  config: string;
  runDir?: string;
  json?: boolean;
  force?: boolean;
  assumeClean?: boolean;
  discardLocal?: boolean;
  allowTwoPrimaries?: boolean;
}

const ACTIONS: ReadonlyArray<{ name: string; args: string; about: string }> = [
  { name: "create", args: "<volume>", about: "write fresh metadata (Inconsistent; --assume-clean: UpToDate on identical disks)" },
  { name: "up", args: "<volume>", about: "attach the volume as Secondary and connect to the peer" },
  { name: "down", args: "<volume>", about: "disconnect and detach (a Primary must be demoted first)" },
  { name: "attach", args: "<volume>", about: "attach a disk detached after an I/O error (Diskless) once it is fixed; a full resync from the peer follows" },
  { name: "primary", args: "<volume>", about: "promote here and export it over NBD (refused when Outdated/Inconsistent unless --force)" },
  { name: "secondary", args: "<volume>", about: "close the NBD export and demote" },
  { name: "status", args: "[volume]", about: "roles, disk and connection states, resync progress, what to do next" },
  { name: "verify", args: "<volume>", about: "online verify against the peer (run on the Primary); the result shows in status" },
  { name: "invalidate", args: "<volume>", about: "discard this node's data and take a full copy from the peer" },
  { name: "connect", args: "<volume>", about: "reconnect to the peer (after disconnect or a split brain)" },
  { name: "disconnect", args: "<volume>", about: "stop replicating until connect" },
  { name: "resolve-split-brain", args: "<volume>", about: "on the victim, with --discard-local: keep a copy of its divergent regions, then resync from the peer" },
];

export function registerVolumeCli(program: Command, defaultConfig: string): void {
  const vol = program.command("volume").description("replicated volumes: create, up/down, primary/secondary, status, verify, split-brain resolution");
  for (const a of ACTIONS) {
    const c = vol
      .command(a.name)
      .description(a.about)
      .argument(a.args, "the volume's name (volumes: in the node configuration)")
      .option("-c, --config <file>", "node configuration", defaultConfig)
      .option("--run-dir <dir>", "the node's run directory (default: run_dir of the configuration)");
    if (a.name === "status") c.option("--json", "machine-readable output");
    if (a.name === "primary") {
      c.option("--force", "promote an Outdated or Inconsistent disk: writes the peer acknowledged may be LOST");
      c.option("--allow-two-primaries", "become Primary beside a Primary peer (live-migration window; needs allow_two_primaries: true on both hosts, the peers in sync, protocol C)");
    }
    if (a.name === "create") c.option("--force", "replace existing metadata").option("--assume-clean", "both hosts' disks are already identical (e.g. zeroed): skip the initial full sync");
    if (a.name === "resolve-split-brain") c.option("--discard-local", "this node is the victim: its changes since the split are replaced by the peer's");
    c.action(async (volume: string | undefined, o: CommonOpts) => {
      await runAction(a.name, volume, o);
    });
  }
}

async function runAction(action: string, volume: string | undefined, o: CommonOpts): Promise<void> {
  const { ConfigError, loadConfig } = await import("../shared/config.ts");
  let cfg: Awaited<ReturnType<typeof loadConfig>>;
  try {
    cfg = loadConfig(o.config);
  } catch (e) {
    if (e instanceof ConfigError) return fail(2, `invalid configuration: ${e.message}`);
    throw e;
  }
  const runDir = o.runDir ?? cfg.run_dir;
  const names = (cfg.volumes ?? []).map((v) => v.name);
  if (volume !== undefined && !names.includes(volume)) return fail(2, `no volume "${volume}" in ${o.config} (configured: ${names.join(", ") || "none"})`);
  let req: VolumeCommand;
  switch (action) {
    case "status":
      req = { cmd: "status" };
      break;
    case "create":
      req = { cmd: "create", volume: volume!, force: o.force ?? false, assume_clean: o.assumeClean ?? false };
      break;
    case "primary":
      req = { cmd: "primary", volume: volume!, force: o.force ?? false, allow_two_primaries: o.allowTwoPrimaries ?? false };
      if (o.force) process.stderr.write(`hapd: WARNING: forcing ${volume} Primary: if this disk is Outdated or Inconsistent, writes the peer acknowledged are lost, and a split brain follows when the peers meet\n`);
      break;
    case "resolve-split-brain":
      if (!o.discardLocal) return fail(2, `resolve-split-brain ${volume}: run it on the victim with --discard-local (its changes since the split are replaced by the peer's, after a copy of its divergent regions is saved); on the survivor run \`hapd volume connect ${volume}\``);
      req = { cmd: "resolve-split-brain", volume: volume!, discard: "local" };
      break;
    default:
      req = { cmd: action as "up", volume: volume! };
  }
  const { VolumeServiceDown, requestVolume } = await import("../replication/status-client.ts");
  let r: VolumeReply;
  try {
    r = await requestVolume(runDir, req);
  } catch (e) {
    if (!(e instanceof VolumeServiceDown)) return fail(1, (e as Error).message);
    if (req.cmd !== "create") return fail(1, `${(e as Error).message}: volumes run under \`hapd node\` when the configuration has volumes`);
    r = await createOffline(cfg, req);
  }
  if (!r.ok) return fail(r.invalid ? 2 : 1, r.error);
  if (req.cmd !== "status") {
    out(r.message ?? "done");
    return;
  }
  const list = (r.volumes ?? []).filter((v) => volume === undefined || v.name === volume);
  if (o.json) out(JSON.stringify(list, null, 2));
  else for (const v of list) out(renderVolume(v));
}

/** `create` with no service running: the same code the service runs, on the metadata file only. */
async function createOffline(cfg: import("../shared/config.ts").Config, req: VolumeCommand & { cmd: "create" }): Promise<VolumeReply> {
  const { VolumeService } = await import("../replication/service.ts");
  const { ClusterKey } = await import("../shared/wire.ts");
  const { createLogger } = await import("../shared/log.ts");
  // No link is opened by create: a placeholder key is enough (the real one is checked by the service).
  const svc = new VolumeService({ cfg, key: new ClusterKey(new Uint8Array(32)), log: createLogger(cfg.node, { level: "warn" }) });
  return svc.handleLine(JSON.stringify(req));
}

export function renderVolume(v: VolumeDetail): string {
  const lines: string[] = [];
  if (!v.up) {
    lines.push(`${v.name}: down${v.last_error ? ` (${v.last_error})` : ""}`);
  } else {
    const mib = (v.out_of_sync_regions * v.region_bytes) / (1024 * 1024);
    lines.push(`${v.name}: ${v.role} ${v.disk}, ${v.connection}, peer ${v.peer_disk}, out of sync ${v.out_of_sync_regions} regions (${mib} MiB)`);
    if (v.sync_percent !== null) lines.push(`  resync ${v.sync_percent}%${v.eta_s !== null ? `, about ${v.eta_s}s left` : ""}`);
    if (v.resync_skipped_bytes > 0) lines.push(`  last resync from here: ${v.resync_sent_bytes} bytes sent, ${v.resync_skipped_bytes} skipped (equal by checksum)`);
    if (v.nbd_socket) lines.push(`  NBD export: nbd+unix:///${v.name}?socket=${v.nbd_socket}`);
    if (v.io_frozen) lines.push(`  I/O FROZEN: ${v.fencing}`);
    if (v.last_verify) lines.push(`  last verify: ${v.last_verify.checked} regions checked, ${v.last_verify.out_of_sync.length} out of sync${v.last_verify.complete ? "" : " (stopped early)"}`);
    for (const p of v.preserved) lines.push(`  divergent regions saved: ${p}`);
  }
  if (v.hint && v.hint !== v.last_error) lines.push(`  what to do: ${v.hint}`);
  return lines.join("\n");
}
