#!/usr/bin/env bun
// hapd: every service and tool of the appliance in one binary. Subcommands stay thin: parse
// options, call into the service, map errors to exit codes (2 = bad input, 1 = failure).
//
// Modules are imported inside the subcommand that needs them: a fence agent called by another
// stack, or `hapd status` in a watch loop, should not pay for parsing YAML schemas or loading the
// node runtime (measured: ~40 ms of a cold start otherwise).
import type { Command as CommandType } from "commander";
import { VERSION } from "../shared/version.ts";
import type { FenceEvent } from "../fencing/core.ts";
import type { Config } from "../shared/config.ts";

import { defaultLabDir, labSocket } from "../lab/paths.ts";

const DEFAULT_CONFIG = "/etc/hapd/hapd.yaml";

const out = (line: string) => process.stdout.write(line.endsWith("\n") ? line : `${line}\n`);
const err = (line: string) => process.stderr.write(line.endsWith("\n") ? line : `${line}\n`);

class ExitError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

async function configOrExit(file: string): Promise<Config> {
  const { ConfigError, loadConfig } = await import("../shared/config.ts");
  try {
    return loadConfig(file);
  } catch (e) {
    if (e instanceof ConfigError) throw new ExitError(2, `invalid configuration: ${e.message}`);
    throw e;
  }
}

/**
 * The supervisor's configuration, validated by a short-lived `hapd config-check` child: the
 * supervisor then never loads the YAML and schema libraries (~16 MiB of a Bun process), which
 * keeps the node within its memory budget. Errors are the child's, exit 2 as usual.
 */
function checkedConfig(self: string[], file: string): Config {
  const [cmd, ...args] = self;
  const r = Bun.spawnSync([cmd!, ...args, "config-check", "--json", "--config", file], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    const msg = r.stderr.toString().trim().replace(/^hapd: /, "");
    throw new ExitError(r.exitCode === 2 ? 2 : 1, msg || `config-check exited ${r.exitCode}`);
  }
  return JSON.parse(r.stdout.toString()) as Config;
}

async function socketOf(configFile: string): Promise<string> {
  const cfg = await configOrExit(configFile);
  return `${cfg.run_dir}/hapd.sock`;
}

export async function buildProgram(): Promise<CommandType> {
  const { Command } = await import("commander");
  const program = new Command("hapd")
    .description("hapd: the high-availability appliance (membership, quorum, resources, replication, fencing)")
    .version(VERSION, "-V, --version-flag", "print the version")
    .showHelpAfterError()
    .exitOverride();

  program
    .command("version")
    .description("print the version of this build")
    .action(() => {
      out(`hapd ${VERSION}`);
    });

  program
    .command("node")
    .description("run this node in the foreground (the supervisor, its services, the watchdog); or `node standby|online|maintenance NAME`")
    .argument("[action]", "standby, online or maintenance: record that node state in the replicated CIB")
    .argument("[name]", "the node to change")
    .option("-c, --config <file>", "node configuration", DEFAULT_CONFIG)
    .option("--node <name>", "with an action: ask this lab node (hapd demo) to make the change")
    .option("--lab-dir <dir>", "the lab's directory", defaultLabDir())
    .action(async (action: string | undefined, name: string | undefined, o: { config: string; node?: string; labDir: string }) => {
      if (action !== undefined) {
        const flags: Record<string, Record<string, boolean>> = { standby: { standby: true }, online: { standby: false, maintenance: false }, maintenance: { maintenance: true } };
        const f = flags[action];
        if (!f) throw new ExitError(2, `unknown node action "${action}": standby, online or maintenance`);
        if (!name) throw new ExitError(2, `node ${action} needs the node's name`);
        await ask(o, { cmd: "node-flags", node: name, ...f });
        const what: Record<string, string> = {
          standby: "its resources move to the other host",
          online: "it may run resources again (stickiness keeps them where they are)",
          maintenance: "its resources are left alone: not monitored, not stopped, not moved",
        };
        out(`${name}: ${action} recorded in the CIB; ${what[action]}`);
        return;
      }
      const { selfCommand } = await import("../shared/self-command.ts");
      const cfg = checkedConfig(selfCommand(), o.config);
      const { Supervisor } = await import("../supervisor/runtime.ts");
      const { KeyFileError } = await import("../shared/keyfile.ts");
      try {
        process.exitCode = await new Supervisor(cfg, selfCommand()).run();
      } catch (e) {
        if (e instanceof KeyFileError) throw new ExitError(2, `cluster key: ${e.message}`);
        throw new ExitError(1, `supervisor failed to start: ${(e as Error).message}`);
      }
    });

  program
    .command("config-check")
    .description("validate a node configuration; --json prints it as the services see it")
    .option("-c, --config <file>", "node configuration", DEFAULT_CONFIG)
    .option("--json", "print the validated configuration as JSON")
    .action(async (o: { config: string; json?: boolean }) => {
      const cfg = await configOrExit(o.config);
      out(o.json ? JSON.stringify(cfg) : `${o.config}: valid (node ${cfg.node}, ${cfg.nodes.length} nodes, cluster ${cfg.cluster.name})`);
    });

  program
    .command("service", { hidden: true })
    .description("run one service of the node (started by the supervisor)")
    .argument("<name>", "the service: cluster")
    .option("-c, --config <file>", "node configuration", DEFAULT_CONFIG)
    .action(async (name: string, o: { config: string }) => {
      if (name !== "cluster" && name !== "volume") throw new ExitError(2, `unknown service ${name}; the services are: cluster, volume`);
      const cfg = await configOrExit(o.config);
      if (name === "volume") {
        const { runVolumeService } = await import("../replication/service.ts");
        const { KeyFileError } = await import("../shared/keyfile.ts");
        process.exitCode = await runVolumeService(cfg).catch((e: Error) => {
          throw new ExitError(e instanceof KeyFileError ? 2 : 1, `volume service: ${e.message}`);
        });
        return;
      }
      const { NodeRuntime } = await import("../node/runtime.ts");
      const { KeyFileError } = await import("../shared/keyfile.ts");
      const rt = new NodeRuntime(cfg);
      try {
        await rt.start();
      } catch (e) {
        if (e instanceof KeyFileError) throw new ExitError(2, `cluster key: ${e.message}`);
        throw new ExitError(1, `node failed to start: ${(e as Error).message}`);
      }
      await new Promise<void>((resolve) => {
        const stop = () => {
          void rt.stop().then(resolve);
        };
        process.once("SIGTERM", stop);
        process.once("SIGINT", stop);
      });
    });

  program
    .command("status")
    .description("show membership, quorum and links as this node sees them")
    .option("--json", "machine-readable output")
    .option("-c, --config <file>", "node configuration (for the local node's socket)", DEFAULT_CONFIG)
    .option("--node <name>", "ask that node of the lab (hapd demo) from outside its namespace")
    .option("--lab-dir <dir>", "the lab's directory", defaultLabDir())
    .option("--socket <path>", "ask the node listening on this status socket")
    .action(async (o: { json?: boolean; config: string; node?: string; labDir: string; socket?: string }) => {
      const { StatusError, queryStatus } = await import("../node/status-client.ts");
      const { renderStatus } = await import("../node/status.ts");
      let socket = o.socket;
      if (!socket && o.node) {
        const { readLabState } = await import("../lab/lab.ts");
        if (!readLabState(o.labDir)) throw new ExitError(1, `no lab in ${o.labDir}: start one with \`hapd demo\`, or name --lab-dir`);
        socket = labSocket(o.labDir, o.node);
      }
      socket ??= await socketOf(o.config);
      try {
        const s = await queryStatus(socket);
        out(o.json ? JSON.stringify(s, null, 2) : renderStatus(s));
      } catch (e) {
        if (e instanceof StatusError) throw new ExitError(1, `status: ${e.message}`);
        throw e;
      }
    });

  program
    .command("demo")
    .description("start the three-node lab (host-a, host-b, arb) on this machine, or remove it")
    .option("--down", "stop the lab and remove everything it made")
    .option("--restart <node>", "start a lab node again (after kill -9 or a fence)")
    .option("--dir <dir>", "where the lab keeps its files", defaultLabDir())
    .option("--prefix <prefix>", "prefix for namespace names (lets tests run beside a demo)", "")
    .option("--loopback", "use loopback addresses instead of network namespaces")
    .option("--no-bmc", "run the hosts without simulated BMCs (and so without fencing)")
    .option("--service", "also configure a demo HTTP service (ocf:heartbeat:anything) that the cluster keeps running")
    .option("--volumes", "give each host a replicated volume vol0 (256 MiB, created clean on both sides)")
    .action(async (o: { down?: boolean; restart?: string; dir: string; prefix: string; loopback?: boolean; bmc: boolean; service?: boolean; volumes?: boolean }) => {
      const { labDown, labUp, readLabState, startLabNode } = await import("../lab/lab.ts");
      if (o.down) {
        process.exitCode = await labDown({ dir: o.dir, out });
        return;
      }
      if (o.restart) {
        const state = readLabState(o.dir);
        if (!state) throw new ExitError(1, `no lab in ${o.dir}`);
        try {
          out(`${o.restart} started, pid ${await startLabNode(state, o.restart)}`);
        } catch (e) {
          throw new ExitError(1, (e as Error).message);
        }
        return;
      }
      process.exitCode = await labUp({ dir: o.dir, prefix: o.prefix, mode: o.loopback ? "loopback" : "auto", out, bmc: o.bmc, service: o.service ?? false, volumes: o.volumes ?? false });
    });

  program
    .command("fence")
    .description("fence agent (fence_ipmilan-compatible options; key=value on stdin without arguments), or `fence history`")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]")
    .action(async (args: string[]) => {
      if (args[0] === "history") {
        process.exitCode = await fenceHistory(args.slice(1));
        return;
      }
      process.exitCode = await fenceAgent(args);
    });

  program
    .command("console")
    .description("the appliance console: first-boot wizard, then the status and operations menu (80x24, serial-safe)")
    .option("-c, --config <file>", "the node configuration it reads and writes", DEFAULT_CONFIG)
    .option("--serial <device>", "run on this serial device (it owns the line's settings)")
    .action(async (o: { config: string; serial?: string }) => {
      const { runConsole } = await import("../../tui/console.ts");
      process.exitCode = await runConsole({ config: o.config, ...(o.serial ? { serial: o.serial } : {}) });
    });

  const crm = program.command("crm").description("the resource manager's configuration and tools: configure, show, simulate, import");
  crm
    .command("configure")
    .description("validate a resource configuration (YAML) and commit it to the replicated CIB")
    .argument("<file>", "the configuration (see docs/scheduler.md for the schema)")
    .option("-c, --config <file>", "node configuration (for the local node's socket)", DEFAULT_CONFIG)
    .option("--node <name>", "ask this lab node (hapd demo)")
    .option("--lab-dir <dir>", "the lab's directory", defaultLabDir())
    .action(async (file: string, o: { config: string; node?: string; labDir: string }) => {
      const { readFileSync } = await import("node:fs");
      let yaml: string;
      try {
        yaml = readFileSync(file, "utf8");
      } catch (e) {
        throw new ExitError(2, `${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const r = await ask(o, { cmd: "crm-configure", yaml, source: file });
      out(`configuration version ${String(r.version)} committed to the CIB; the DC schedules it now (hapd status shows where resources run)`);
    });
  crm
    .command("show")
    .description("the resource configuration in the replicated CIB, and the node states recorded there")
    .option("-c, --config <file>", "node configuration (for the local node's socket)", DEFAULT_CONFIG)
    .option("--node <name>", "ask this lab node (hapd demo)")
    .option("--lab-dir <dir>", "the lab's directory", defaultLabDir())
    .option("--json", "machine-readable output")
    .action(async (o: { config: string; node?: string; labDir: string; json?: boolean }) => {
      const r = await ask(o, { cmd: "crm-show" });
      if (o.json) {
        out(JSON.stringify({ version: r.version, yaml: r.yaml, moves: r.moves, target_roles: r.target_roles, nodes: r.nodes }, null, 2));
        return;
      }
      out(`# CIB configuration version ${String(r.version)}`);
      out(typeof r.yaml === "string" ? r.yaml : "# (no resource configuration yet: hapd crm configure FILE)");
      for (const [rsc, node] of Object.entries((r.moves ?? {}) as Record<string, string>)) out(`# moved: ${rsc} prefers ${node} (cli-prefer-${rsc}, INFINITY; hapd resource clear ${rsc})`);
      for (const [rsc, role] of Object.entries((r.target_roles ?? {}) as Record<string, string>)) out(`# held: ${rsc} target-role ${role} (a restart in progress)`);
      for (const [n, st] of Object.entries((r.nodes ?? {}) as Record<string, { standby?: boolean; maintenance?: boolean }>)) {
        const flags = [st.standby ? "standby" : "", st.maintenance ? "maintenance" : ""].filter(Boolean).join(", ");
        if (flags) out(`# node ${n}: ${flags}`);
      }
    });
  crm
    .command("simulate")
    .description("read a Pacemaker CIB and print the transition it calls for, as `crm_simulate -S -x` does")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]", "--cib FILE.xml [--show-graph]")
    .action(async (args: string[]) => {
      const { crmSimulate } = await import("../crm/simulate-cli.ts");
      process.exitCode = await crmSimulate(args);
    });
  crm
    .command("import")
    .description("turn a Pacemaker CIB into this project's resource configuration (YAML)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]", "--cib FILE.xml")
    .action(async (args: string[]) => {
      const { crmImport } = await import("../crm/simulate-cli.ts");
      process.exitCode = await crmImport(args);
    });

  program
    .command("keygen")
    .description("write a new cluster key (mode 0600); every node of the cluster needs the same key")
    .option("-o, --out <file>", "where to write it", "/etc/hapd/cluster.key")
    .option("--force", "replace an existing key")
    .action(async (o: { out: string; force?: boolean }) => {
      const { KeyFileError, writeKeyFile } = await import("../shared/keyfile.ts");
      try {
        writeKeyFile(o.out, o.force ?? false);
      } catch (e) {
        if (e instanceof KeyFileError) throw new ExitError(1, e.message);
        throw new ExitError(1, `${o.out}: ${(e as Error).message}`);
      }
      out(`cluster key written to ${o.out} (mode 600); copy it to every node over a secure channel`);
    });

  const resource = program.command("resource").description("where resources run, and the operator's moves: status, move, clear, cleanup, restart");
  const nodeOpts = (c: ReturnType<typeof resource.command>) =>
    c
      .option("-c, --config <file>", "node configuration (for the local node's socket)", DEFAULT_CONFIG)
      .option("--node <name>", "ask this lab node (hapd demo)")
      .option("--lab-dir <dir>", "the lab's directory", defaultLabDir());
  type NodeOpts = { config: string; node?: string; labDir: string };
  nodeOpts(resource.command("status").description("each resource: where it runs, its role, fail counts, last failure").option("--json", "machine-readable output")).action(async (o: NodeOpts & { json?: boolean }) => {
    const r = await ask(o, { cmd: "status" });
    const { renderResources } = await import("../node/status.ts");
    const st = r.status as import("../node/status.ts").StatusReport;
    if (!st.crm) throw new ExitError(1, "that node runs no resource manager");
    out(o.json ? JSON.stringify(st.crm, null, 2) : renderResources(st.crm).slice(1).join("\n"));
  });
  nodeOpts(resource.command("move").description("prefer a host for a resource (a cli-prefer location of INFINITY; `clear` removes it)").argument("<resource>").argument("<host>")).action(async (rsc: string, host: string, o: NodeOpts) => {
    const r = await ask(o, { cmd: "resource", action: "move", resource: rsc, node: host });
    out(`${String(r.resource)} moves to ${host}${r.note ? ` (${String(r.note)})` : ""}; \`hapd resource clear ${String(r.resource)}\` lets it stay wherever it runs next`);
  });
  nodeOpts(resource.command("clear").description("remove the preference a move set").argument("<resource>")).action(async (rsc: string, o: NodeOpts) => {
    const r = await ask(o, { cmd: "resource", action: "clear", resource: rsc });
    out(r.note ? String(r.note) : `${rsc}: move cleared`);
  });
  nodeOpts(resource.command("cleanup").description("forget a resource's failures and history (on one host with --host); it is probed again").argument("<resource>").option("--host <name>", "only on this host")).action(async (rsc: string, o: NodeOpts & { host?: string }) => {
    const r = await ask(o, o.host ? { cmd: "resource", action: "cleanup", resource: rsc, node: o.host } : { cmd: "resource", action: "cleanup", resource: rsc });
    const keys = (r.cleaned as string[] | undefined) ?? [];
    out(keys.length ? `cleaned up ${keys.join(", ")}` : `${rsc}: nothing recorded to clean up`);
  });
  nodeOpts(resource.command("restart").description("stop a resource everywhere, then let it start again").argument("<resource>")).action(async (rsc: string, o: NodeOpts) => {
    // The node waits up to 120 s for the stop before it lets the resource start again.
    await ask(o, { cmd: "resource", action: "restart", resource: rsc }, 150_000);
    out(`${rsc} stopped and allowed to start again`);
  });

  (await import("./volume-cli.ts")).registerVolumeCli(program, DEFAULT_CONFIG);
  return program;
}

/** One request to the local node, or to a lab node with --node; bad input exits 2, failure 1. */
async function ask(o: { config: string; node?: string; labDir: string }, request: Record<string, unknown>, timeout_ms?: number): Promise<{ ok: boolean; [k: string]: unknown }> {
  const { StatusError, requestNode } = await import("../node/status-client.ts");
  const socket = o.node ? labSocket(o.labDir, o.node) : await socketOf(o.config);
  let r: Awaited<ReturnType<typeof requestNode>>;
  try {
    r = await requestNode(socket, request, timeout_ms);
  } catch (e) {
    if (e instanceof StatusError) throw new ExitError(1, e.message);
    throw e;
  }
  if (!r.ok) throw new ExitError(r.invalid ? 2 : 1, r.error ?? "refused");
  return r;
}

/** `hapd fence history [--json] [--node NAME] [--lab-dir DIR] [--config FILE]` */
async function fenceHistory(args: string[]): Promise<number> {
  const { Command } = await import("commander");
  const h = new Command("hapd fence history")
    .description("fencing history as a node records it: who asked, why, which device, result, duration")
    .option("--json", "machine-readable output")
    .option("-c, --config <file>", "node configuration (for the local node's socket)", DEFAULT_CONFIG)
    .option("--node <name>", "ask that node of the lab")
    .option("--lab-dir <dir>", "the lab's directory", defaultLabDir())
    .exitOverride();
  h.parse(args, { from: "user" });
  const o = h.opts<{ json?: boolean; config: string; node?: string; labDir: string }>();
  const { StatusError, queryNode } = await import("../node/status-client.ts");
  const socket = o.node ? labSocket(o.labDir, o.node) : await socketOf(o.config);
  let events: FenceEvent[];
  try {
    events = (await queryNode(socket, "fence-history")) as FenceEvent[];
  } catch (e) {
    if (e instanceof StatusError) throw new ExitError(1, `fence history: ${e.message}`);
    throw e;
  }
  if (o.json) {
    out(JSON.stringify(events, null, 2));
    return 0;
  }
  if (events.length === 0) out("no fencing recorded");
  for (const e of events) {
    const when = new Date(e.at_wall_ms).toISOString().replace("T", " ").slice(0, 23);
    const result = e.phase === "done" ? (e.result === "ok" ? "OK    " : "FAILED") : e.phase.padEnd(6).slice(0, 9);
    const extra = e.phase === "done" ? ` ${e.duration_ms ?? 0}ms ${e.device ?? ""} ${e.detail ?? ""}` : e.phase === "requested" ? ` ${e.reason}` : e.device ? ` ${e.device}` : "";
    out(`${when} ${e.target.padEnd(7)} ${result} by ${e.executor}${extra}`.slice(0, 160));
  }
  return 0;
}

async function fenceAgent(args: string[]): Promise<number> {
  const { runFenceAgent } = await import("../../ipmi/fence-agent.ts");
  // A closed pipe (`... -o metadata | head`) is not an error worth a stack trace.
  process.stdout.on("error", () => undefined);
  return runFenceAgent(args, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
}

export async function main(argv: string[]): Promise<number> {
  // Fast path: another cluster stack calls the fence agent and waits on it.
  if (argv[0] === "fence" && argv[1] !== "history") return fenceAgent(argv.slice(1));
  const { CommanderError } = await import("commander");
  const program = await buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof ExitError) {
      err(`hapd: ${e.message}`);
      return e.code;
    }
    if (e instanceof CommanderError) {
      // Help and version are "errors" to commander; usage mistakes are bad input.
      return e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help" ? 0 : 2;
    }
    err(`hapd: ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
