// `hapd demo`: builds the three-node lab on this machine and tears it down again.
//
// netns mode (root): namespaces host-a, host-b and arb, each with veths ring0 and ring1 into two
// bridges that live in their own namespace (hapd-sw), and a socat pty pair as the serial line
// between the hosts. loopback mode (not root, or no namespaces): 127.0.0.1 with distinct ports.
// What was made is recorded in lab.json so that --down removes exactly that, and a second
// `hapd demo` sees a running lab and says so.
import { type SpawnOptions, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { writeKeyFile } from "../shared/keyfile.ts";
import { queryStatus } from "../node/status-client.ts";
import type { StatusReport } from "../node/status.ts";
import { renderStatus } from "../node/status.ts";
import { randomBytes } from "node:crypto";
import { dirname } from "node:path";
import { readSecretFile } from "../fencing/ipmi-device.ts";
import { LAB_VOLUME, type LabMode, type LabNode, type LabPlan, hostCmdScript, labVolumes, initScriptPath, machineArgv, netnsCommands, nodeConfigYaml, nodeInitScript, planLab } from "./plan.ts";
import { kernelHasNetem } from "./impair.ts";

export interface LabState {
  version: 1;
  mode: LabMode;
  dir: string;
  prefix: string;
  namespaces: string[];
  pids: Record<string, number>;
  started: string;
  command: string[];
  /** The bmc-sim script that runs the hosts' simulated BMCs, when the lab has them. */
  bmcSim?: string;
}

/** ../shared/peers/ipmi/bmc-sim, found from the environment, the binary or the working directory. */
export function findBmcSim(): string | null {
  const candidates = [
    process.env.HAPD_BMC_SIM,
    join(dirname(process.execPath), "../../shared/peers/ipmi/bmc-sim"),
    join(process.cwd(), "../shared/peers/ipmi/bmc-sim"),
    process.argv[1] ? join(dirname(process.argv[1]), "../../../shared/peers/ipmi/bmc-sim") : undefined,
  ];
  for (const c of candidates) if (c && existsSync(c)) return c;
  return null;
}

function haveIpmiSim(): boolean {
  return spawnSync("ipmi_sim", ["--version"], { encoding: "utf8" }).error === undefined && spawnSync("ipmitool", ["-V"], { encoding: "utf8" }).status === 0;
}

/** The argv of a process, or null if it is gone (or a kernel thread). */
function cmdlineOf(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (raw === "") return null;
    return raw.replace(/\0$/, "").split("\0");
  } catch {
    return null;
  }
}

function procPids(): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** Launchers whose argv carries the node's command line only until they exec or fork it. */
const LAUNCHERS = new Set(["ip", "unshare", "nsenter", "setsid", "bash", "sh"]);

/**
 * The root-namespace pid of a lab node's `hapd node` supervisor. Found by its command line
 * (`... node --config <that node's config>`), not a pid file: in netns mode hapd runs inside the
 * node's own PID namespace, where the pid it knows itself by means nothing out here, and a stale
 * pid file could name a recycled pid.
 */
export function nodePid(state: LabState, name: string): number | undefined {
  const config = join(state.dir, name, "hapd.yaml");
  for (const pid of procPids()) {
    const argv = cmdlineOf(pid);
    if (!argv || argv.length < 3) continue;
    const [a, b, c] = argv.slice(-3);
    if (a !== "node" || b !== "--config" || c !== config) continue;
    if (LAUNCHERS.has(basename(argv[0]!))) continue;
    if (alive(pid)) return pid;
  }
  return undefined;
}

/** Whether `pid` is PID 1 of a nested PID namespace (its NSpid line ends in 1). */
function isNamespaceInit(pid: number): boolean {
  try {
    const line = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]?.trim().split(/\s+/) ?? [];
    return line.length > 1 && line[line.length - 1] === "1";
  } catch {
    return false;
  }
}

/**
 * The root-namespace pid of a lab node's PID 1 (netns mode: the bash running its init.sh);
 * undefined in loopback mode or while the node is powered off.
 */
export function machineInitPid(state: LabState, name: string): number | undefined {
  if (state.mode !== "netns") return undefined;
  const init = join(state.dir, name, "init.sh");
  for (const pid of procPids()) {
    const argv = cmdlineOf(pid);
    if (!argv || argv[argv.length - 1] !== init || basename(argv[0]!) !== "bash") continue;
    if (isNamespaceInit(pid) && alive(pid)) return pid;
  }
  return undefined;
}

/** Root-namespace pids of every process of a lab node (its PID namespace), init included. */
export function labNodePids(state: LabState, name: string): number[] {
  const init = machineInitPid(state, name);
  if (init === undefined) return [];
  let ns: string;
  try {
    ns = readlinkSync(`/proc/${init}/ns/pid`);
  } catch {
    return [];
  }
  return procPids().filter((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/ns/pid`) === ns;
    } catch {
      return false;
    }
  });
}

/**
 * The root-namespace pid of a process that a lab node reports by its own pid (status reports the
 * supervisor's services with the pids they have inside the node's PID namespace). In loopback
 * mode the two are the same.
 */
export function labRootPid(state: LabState, name: string, nodeLocalPid: number): number | undefined {
  if (state.mode !== "netns") return nodeLocalPid;
  for (const pid of labNodePids(state, name)) {
    try {
      const ns = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]?.trim().split(/\s+/) ?? [];
      if (ns[ns.length - 1] === String(nodeLocalPid)) return pid;
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/**
 * Run a command inside a lab node, as a process of that machine: its network, PID, mount and UTS
 * namespaces (netns mode), so it sees the node's processes and hostname. In loopback mode the
 * node is this machine and the command simply runs. A command that leaves a daemon behind must
 * detach it from stdout/stderr (`setsid -f CMD >/dev/null 2>&1 </dev/null`): the call returns
 * when its output pipes close.
 */
export function labExec(state: LabState, name: string, argv: string[], opts: { input?: string; timeout_ms?: number } = {}): { code: number; stdout: string; stderr: string } {
  let full = argv;
  if (state.mode === "netns") {
    const init = machineInitPid(state, name);
    if (init === undefined) throw new Error(`${name} is not running (no PID 1 for its machine)`);
    full = ["nsenter", "-t", String(init), "-p", "-m", "-u", "-n", "--", ...argv];
  }
  const r = spawnSync(full[0]!, full.slice(1), { encoding: "utf8", input: opts.input ?? "", timeout: opts.timeout_ms ?? 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: `${r.stderr ?? ""}${r.error ? r.error.message : ""}` };
}

export { defaultLabDir, labSocket } from "./paths.ts";
import { defaultLabDir, labSocket } from "./paths.ts";

export { selfCommand } from "../shared/self-command.ts";
import { selfCommand } from "../shared/self-command.ts";

export function readLabState(dir: string): LabState | null {
  try {
    return JSON.parse(readFileSync(join(dir, "lab.json"), "utf8")) as LabState;
  } catch {
    return null;
  }
}

function writeLabState(s: LabState): void {
  writeFileSync(join(s.dir, "lab.json"), `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
}

export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped) still answers kill 0; it is not running.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return true;
  }
}

function ip(args: string[], tolerate = false): boolean {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0 && !tolerate) throw new Error(`ip ${args.join(" ")}: ${(r.stderr || r.error?.message || "failed").trim()}`);
  return r.status === 0;
}

function netnsExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`);
}

function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).status === 0;
}

function haveSocat(): boolean {
  return spawnSync("socat", ["-V"], { encoding: "utf8" }).status === 0;
}

function spawnDetached(argv: string[], logFile: string, opts: SpawnOptions = {}): number {
  const fd = openSync(logFile, "a", 0o640);
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error("empty command");
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${cmd}`);
  return child.pid;
}

/** How a node without a BMC (the arbitrator) is started: a whole machine in netns mode. */
export function nodeArgv(state: Pick<LabState, "mode" | "command">, node: LabNode): string[] {
  return state.mode === "netns" ? machineArgv(node) : [...state.command, "node", "--config", node.config];
}

export function planOf(state: LabState): LabPlan {
  return planLab({ mode: state.mode, dir: state.dir, prefix: state.prefix, serial: state.pids.socat !== undefined, bmc: state.bmcSim !== undefined });
}

/**
 * Run an action on a lab host's simulated BMC with hapd's own fence agent, inside the switch
 * namespace where the BMCs live (netns mode). Parameters go on standard input (the fence-agents
 * key=value protocol), so the password is never in an argv. Returns the agent's exit code:
 * 0 done (for status: on), 2 status off, 1 failure.
 */
export function labBmcAction(state: LabState, name: string, action: "on" | "off" | "reboot" | "status"): { code: number; output: string } {
  const node = planOf(state).nodes.find((n) => n.name === name);
  if (!node?.bmc) throw new Error(`${name} has no BMC`);
  const input = [
    `ip=${node.bmc.address}`,
    `ipport=${node.bmc.port}`,
    "username=admin",
    `password=${readSecretFile(node.bmc.passwordFile)}`,
    "lanplus=1",
    "cipher=3",
    `action=${action}`,
    "",
  ].join("\n");
  const argv = [...state.command, "fence"];
  const full = state.mode === "netns" ? ["ip", "netns", "exec", `${state.prefix}hapd-sw`, ...argv] : argv;
  const r = spawnSync(full[0]!, full.slice(1), { input, encoding: "utf8", timeout: 60_000 });
  return { code: r.status ?? 1, output: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
}

/** The chassis power of a lab host as its simulated BMC reports it. */
export function labPower(state: LabState, name: string): "on" | "off" {
  const r = labBmcAction(state, name, "status");
  if (r.code === 0) return "on";
  if (r.code === 2) return "off";
  throw new Error(`power status of ${name}: ${r.output}`);
}

/**
 * Start a lab node again. A host behind a BMC is powered on (or power-cycled, if its chassis is
 * on but hapd is dead), as an operator would do; the arbitrator is simply started.
 */
export async function startLabNode(state: LabState, name: string): Promise<number> {
  const node = planOf(state).nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no lab node ${name}`);
  const old = nodePid(state, name);
  if (alive(old)) throw new Error(`${name} is already running (pid ${old})`);
  if (node.bmc) {
    const r = labBmcAction(state, name, labPower(state, name) === "off" ? "on" : "reboot");
    if (r.code !== 0) throw new Error(`powering ${name} on through its BMC failed: ${r.output}`);
    return waitFor(`${name} to boot`, 15_000, async () => {
      const pid = nodePid(state, name);
      return pid !== undefined && pid !== old && alive(pid) ? pid : null;
    });
  }
  if (state.mode === "netns") {
    // A machine whose hapd was killed runs on (with whatever hapd started): a restart without a
    // BMC is a power cycle, so cut it first.
    const oldInit = machineInitPid(state, name);
    if (oldInit !== undefined) {
      process.kill(oldInit, "SIGKILL");
      await waitFor(`${name}'s old machine to stop`, 5000, async () => (alive(oldInit) ? null : true));
    }
    // The machine (unshare) is recorded so --down can reach it; hapd's own pid is found by nodePid.
    state.pids[name] = spawnDetached(nodeArgv(state, node), join(node.dir, "machine.log"));
    writeLabState(state);
    return waitFor(`${name} to boot`, 15_000, async () => nodePid(state, name) ?? null);
  }
  const pid = spawnDetached(nodeArgv(state, node), join(node.dir, "node.log"));
  state.pids[name] = pid;
  writeLabState(state);
  return pid;
}

function startBmc(state: LabState, plan: LabPlan, node: LabNode): void {
  const bmc = node.bmc!;
  const script = join(node.dir, "host-cmd.sh");
  writeFileSync(script, hostCmdScript(plan, node, state.command), { mode: 0o700 });
  const args = [state.bmcSim!, "start", "--port", String(bmc.port), "--state-dir", bmc.stateDir, "--user", "admin", "--password", readSecretFile(bmc.passwordFile), "--addr", bmc.address, "--power", "on", "--host-cmd", `bash ${script}`];
  if (plan.mode === "netns") args.push("--netns", plan.switchNs);
  const r = spawnSync("bash", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bmc-sim start for ${node.name}: ${(r.stderr || r.stdout).trim()}`);
  state.pids[`bmc-${node.name}`] = Number(r.stdout.trim().split("\n").pop());
  writeLabState(state);
}

export async function waitFor<T>(what: string, timeout_ms: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeout_ms;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== null) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeout_ms} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}


export async function labStatus(dir: string, name: string): Promise<StatusReport> {
  return queryStatus(labSocket(dir, name));
}

export interface UpOptions {
  dir: string;
  prefix: string;
  mode: "auto" | LabMode;
  out: (line: string) => void;
  command?: string[];
  /** Extra YAML fields per node (tests use it for timing). */
  extra?: Record<string, unknown>;
  /** false: no simulated BMCs even where ipmi_sim is installed. */
  bmc?: boolean;
  /** Configure the demo service (an HTTP responder the cluster keeps running). */
  service?: boolean;
  /**
   * Give each host the replicated volume `vol0` (plan.ts LAB_VOLUME): its volume service runs,
   * and the metadata is created clean on both sides (two all-zero sparse files are identical),
   * so the resource manager can promote it at once.
   */
  volumes?: boolean;
}

/**
 * What `hapd demo --volumes` suggests to configure (and the lab test uses): vol0 as a promotable
 * clone of hapd:volume, and a resource that follows its Primary, started after the promotion.
 * The promotion score (master-vol0-r) is published by the volume service, as DRBD's agent does.
 * No recurring monitor on the clone yet: the DC aborts every transition that starts a monitor of
 * an anonymous clone instance (its own result looks like an outside change, docs/replication.md
 * "Volumes in the lab"), which after a failover keeps it from ever promoting the survivor.
 */
export function labVolumeCrmYaml(): string {
  return `# hapd demo --volumes: vol0 replicated between the hosts, Primary where "disk-user" runs
defaults:
  resource: { stickiness: 100 }
resources:
  - clone: vol0
    promotable: true
    clone_max: 2
    promoted_max: 1
    resource:
      id: vol0-r
      agent: "hapd:volume"
      params: { volume: vol0 }
      operations:
        - { name: monitor, interval: 3s, timeout: 10s, role: Unpromoted }
        - { name: monitor, interval: 2s, timeout: 10s, role: Promoted }
  - id: disk-user
    agent: "hapd:marker"
    # The machine's private /run: a path in the (shared) lab directory would make it run everywhere.
    params: { path: /run/hapd-disk-user.state }
    operations:
      - { name: monitor, interval: 5s, timeout: 5s }
constraints:
  - { colocation: user-on-primary, resource: disk-user, with: vol0, with_role: Promoted, score: INFINITY }
  - { order: promote-then-user, first: vol0, first_action: promote, then: disk-user, then_action: start }
  - { location: user-prefers-a, resource: disk-user, node: host-a, score: 50 }
`;
}

/** The demo's service: what bench/failover and the lab's tests run, in the operator's YAML. */
export const DEMO_SERVICE_YAML = `# hapd demo --service: an HTTP responder that answers with the host's name
defaults:
  resource: { stickiness: 100, migration_threshold: 2 }
resources:
  - id: web
    agent: "ocf:heartbeat:anything"
    params:
      binfile: /usr/bin/socat
      cmdline_options: "TCP-LISTEN:8080,reuseaddr,fork SYSTEM:'echo HTTP/1.0 200 OK; echo; hostname'"
      monitor_hook: "echo GET | socat -T1 - TCP:127.0.0.1:8080 | grep -q 'HTTP/1.0 200 OK'"
    operations:
      - { name: monitor, interval: 2s, timeout: 10s }
constraints:
  - { location: web-prefers-host-a, resource: web, node: host-a, score: 50 }
`;

/** Commit the demo service and wait until it runs somewhere; null when it did, else why not. */
async function startDemoService(dir: string): Promise<string | null> {
  if (!existsSync("/usr/lib/ocf/resource.d/heartbeat/anything")) return "resource-agents is not installed (apt-get install resource-agents)";
  const { requestNode } = await import("../node/status-client.ts");
  const r = await requestNode(labSocket(dir, "host-a"), { cmd: "crm-configure", yaml: DEMO_SERVICE_YAML, source: "demo service" });
  if (!r.ok) return r.error ?? "refused";
  try {
    await waitFor("the demo service to start", 30_000, async () => {
      const s = await labStatus(dir, "host-a");
      return s.crm?.resources.find((x) => x.id === "web")?.active.length ? true : null;
    });
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

export async function labUp(o: UpOptions): Promise<number> {
  const existing = readLabState(o.dir);
  if (existing) {
    const pids: Array<[string, number | undefined]> = [...Object.entries(existing.pids), ...["host-a", "host-b", "arb"].map((n): [string, number | undefined] => [n, nodePid(existing, n)])];
    const running = pids.filter(([, pid]) => alive(pid));
    const nsLeft = existing.namespaces.filter(netnsExists);
    if (running.length > 0 || nsLeft.length > 0) {
      o.out(`A lab is already running in ${o.dir} (started ${existing.started}, ${running.map(([n, p]) => `${n}=${p}`).join(" ")}).`);
      o.out("Watch it with `hapd status --node host-a`, or remove it first with `hapd demo --down`.");
      return 1;
    }
    rmSync(o.dir, { recursive: true, force: true });
  }
  let mode: LabMode = o.mode === "auto" ? (canUseNetns() ? "netns" : "loopback") : o.mode;
  if (mode === "netns" && !canUseNetns()) {
    o.out("network namespaces need root and iproute2; falling back to loopback addresses");
    mode = "loopback";
  }
  const serial = haveSocat();
  if (!serial) o.out("socat not found: the lab runs without the serial line (apt-get install socat)");
  const bmcSim = o.bmc === false ? null : findBmcSim();
  if (o.bmc !== false && !bmcSim) o.out("bmc-sim (../shared/peers/ipmi) not found: the lab runs without BMCs and without fencing");
  else if (bmcSim && !haveIpmiSim()) throw new Error("ipmi_sim or ipmitool missing: apt-get install openipmi ipmitool (or pass --no-bmc)");
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const plan = planLab({ mode, dir: o.dir, prefix: o.prefix, serial, bmc: bmcSim !== null });
  const state: LabState = {
    version: 1,
    mode,
    dir: o.dir,
    prefix: o.prefix,
    namespaces: [],
    pids: {},
    started: new Date().toISOString(),
    command: o.command ?? selfCommand(),
    ...(bmcSim ? { bmcSim } : {}),
  };
  writeLabState(state);
  try {
    if (mode === "netns") {
      for (const ns of [plan.switchNs, ...plan.nodes.map((n) => n.netns)]) {
        if (netnsExists(ns)) throw new Error(`network namespace ${ns} already exists; remove it (ip netns del ${ns}) or use --prefix`);
      }
      for (const args of netnsCommands(plan)) {
        ip(args);
        if (args[0] === "netns" && args[1] === "add" && args[2]) {
          state.namespaces.push(args[2]);
          writeLabState(state);
        }
      }
    }
    writeKeyFile(plan.keyFile, true);
    for (const n of plan.nodes) {
      mkdirSync(n.dir, { recursive: true, mode: 0o700 });
      // ipmi_sim takes at most 19 characters and no quotes.
      if (n.bmc) writeFileSync(n.bmc.passwordFile, `${randomBytes(12).toString("base64url").slice(0, 16)}\n`, { mode: 0o600 });
      const volumes = o.volumes ? labVolumes(n) : [];
      writeFileSync(n.config, nodeConfigYaml(plan, n, volumes.length > 0 ? { ...o.extra, volumes } : o.extra), { mode: 0o600 });
      if (mode === "netns") writeFileSync(initScriptPath(n), nodeInitScript(plan, n, state.command), { mode: 0o700 });
      if (volumes.length > 0) {
        // Before the node starts: `volume create` works without a service (it writes the sparse
        // backing file and the metadata). Both files are all zeros, hence identical: assume-clean
        // starts both sides UpToDate with one generation, and no initial full sync is needed.
        const argv = [...state.command, "volume", "create", LAB_VOLUME.name, "--assume-clean", "--config", n.config];
        const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 30_000 });
        if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${(r.stderr || r.stdout || r.error?.message || "failed").trim()}`);
      }
    }
    if (o.volumes) writeFileSync(join(o.dir, "volumes.yaml"), labVolumeCrmYaml(), { mode: 0o600 });
    if (plan.serialPair) {
      const [a, b] = plan.serialPair;
      state.pids.socat = spawnDetached(["socat", "-d", "-d", `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], join(o.dir, "socat.log"));
      writeLabState(state);
      await waitFor("the serial pty pair", 5000, async () => (existsSync(a) && existsSync(b) ? true : null));
    }
    for (const n of plan.nodes) {
      if (n.bmc) startBmc(state, plan, n);
      else await startLabNode(state, n.name);
    }
    await waitFor("all three nodes to form one quorate view", 20_000, async () => {
      const all = await Promise.all(plan.nodes.map((n) => labStatus(o.dir, n.name)));
      return all.every((s) => s.view.members.length === 3 && s.quorum.quorate) ? all : null;
    });
  } catch (e) {
    o.out(`lab failed to start: ${(e as Error).message}`);
    o.out(`logs are in ${o.dir}; removing what was made`);
    await labDown({ dir: o.dir, out: o.out, keepDir: true });
    return 1;
  }
  const serviceProblem = o.service && mode === "netns" ? await startDemoService(o.dir) : o.service ? "needs the netns lab (root, iproute2)" : null;
  const s = await labStatus(o.dir, "host-a");
  o.out(renderStatus(s));
  const hapd = state.command.join(" ");
  const custom = o.dir !== defaultLabDir();
  const at = custom ? ` --lab-dir ${o.dir}` : "";
  if (o.service) {
    if (serviceProblem) o.out(`demo service not started: ${serviceProblem}`);
    else {
      const sw = `${o.prefix}hapd-sw`;
      o.out("The cluster runs the demo service `web` (an HTTP responder on port 8080 of the host running it):");
      o.out(`  ask it:   ip netns exec ${sw} socat -T1 - TCP:10.70.0.1:8080 <<< ''   (host-a; 10.70.0.2 is host-b)`);
      o.out(`  fail it:  kill -9 $(pgrep -xf '${[...state.command, "node", "--config", plan.nodes[0]!.config].join(" ")}')`);
      o.out("            host-b fences host-a through its BMC, then web answers on 10.70.0.2");
      o.out(`  move it:  ${hapd} resource move web host-b --node host-a${at}`);
      o.out(`  where:    ${hapd} resource status --node host-b${at}`);
    }
  }
  if (o.volumes) {
    o.out(`Each host has the replicated volume ${LAB_VOLUME.name} (${LAB_VOLUME.size_mib} MiB, protocol C over ring0), both sides UpToDate:`);
    o.out(`  manage it:  ${hapd} crm configure ${join(o.dir, "volumes.yaml")} --node host-a${at}   (promotable clone + a resource on its Primary)`);
    o.out(`  its state:  ${hapd} volume status --config ${plan.nodes[0]!.config}`);
    o.out(`  write:      qemu-io -f raw -c 'write -P 0x5a 0 1M' 'nbd+unix:///${LAB_VOLUME.name}?socket=<run_dir of the Primary>/nbd-${LAB_VOLUME.name}.sock'`);
  }
  o.out(`Lab is up (${mode} mode) in ${o.dir}.`);
  o.out(`  status:  ${hapd} status --node host-b${at}        (add --json for the machine view)`);
  o.out(`  watch:   watch -n1 ${hapd} status --node host-a${at}`);
  o.out(`  logs:    tail -f ${o.dir}/*/node.log`);
  if (mode === "netns") {
    o.out(`  faults:  ip -n ${plan.nodes[0]!.netns} link set ring0 down`);
    if (kernelHasNetem()) o.out(`           tc -n ${plan.nodes[0]!.netns} qdisc add dev ring0 root netem loss 20% delay 50ms 50ms`);
    else o.out(`           ip netns exec ${plan.nodes[0]!.netns} nft add table inet t \\; add chain inet t o '{ type filter hook output priority 0; }' \\; add rule inet t o oifname ring0 numgen random mod 100 '<' 20 drop   (this kernel has no netem)`);
  }
  const b = plan.nodes[1]!;
  o.out(`  kill:    kill -9 $(pgrep -xf '${[...state.command, "node", "--config", b.config].join(" ")}')`);
  if (mode === "netns") o.out(`  inside:  nsenter -t $(pgrep -xf 'bash ${initScriptPath(b)}') -p -m -u -n ps -ef`);
  o.out(`  restart: ${hapd} demo --restart host-b${custom ? ` --dir ${o.dir}` : ""}`);
  o.out(`  remove:  ${hapd} demo --down${custom ? ` --dir ${o.dir}` : ""}`);
  return 0;
}

export async function labDown(o: { dir: string; out: (line: string) => void; keepDir?: boolean }): Promise<number> {
  const state = readLabState(o.dir);
  if (!state) {
    o.out(`no lab in ${o.dir}`);
    return 0;
  }
  // BMCs first: stopping one powers its host off, which takes the host's hapd down with it.
  if (state.bmcSim) {
    for (const n of planOf(state).nodes) {
      if (n.bmc) spawnSync("bash", [state.bmcSim, "stop", "--state-dir", n.bmc.stateDir], { encoding: "utf8" });
    }
  }
  for (const name of ["host-a", "host-b", "arb"]) {
    const pid = nodePid(state, name);
    if (pid !== undefined) state.pids[`node-${name}`] = pid;
  }
  const pids = Object.entries(state.pids).filter(([, pid]) => alive(pid));
  for (const [, pid] of pids) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 3000;
  while (pids.some(([, pid]) => alive(pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const [, pid] of pids) {
    if (!alive(pid)) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  // Whatever still runs in a node's machine (a daemon a resource agent detached, a node whose
  // hapd did not stop) goes with its PID 1: SIGKILL of the init kills the whole PID namespace.
  const inits = ["host-a", "host-b", "arb"].map((n) => machineInitPid(state, n)).filter((p): p is number => p !== undefined);
  for (const pid of inits) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  const initDeadline = Date.now() + 3000;
  while (inits.some((p) => alive(p)) && Date.now() < initDeadline) await new Promise((r) => setTimeout(r, 50));
  for (const ns of state.namespaces) if (netnsExists(ns)) ip(["netns", "del", ns], true);
  if (!o.keepDir) rmSync(o.dir, { recursive: true, force: true });
  o.out(`lab in ${o.dir} removed (${pids.length} processes stopped, ${state.namespaces.length} namespaces deleted)`);
  return 0;
}
