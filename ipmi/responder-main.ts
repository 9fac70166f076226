// Runner for hapd's own BMC responder (responder.ts) on a UDP port, for tests and the lab:
//
//   HAPD_BMC_PASSWORD=secret bun ipmi/responder-main.ts --port 0 [--addr 127.0.0.1]
//       [--user admin] [--privilege administrator|operator] [--suites 17,3]
//       [--power on|off] [--power-cycle-off-ms 1000] [--state-dir DIR] [--verbose]
//
// The password comes from the environment, never from argv (argv is world-readable in /proc).
// Once bound it prints one JSON line {"listening":PORT}; then one JSON line per chassis event.
// With --state-dir it keeps DIR/power ("on"/"off") and DIR/boots current, like bmc-sim.

import dgram from "node:dgram";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ChassisModel } from "./chassis-model.ts";
import { BmcResponder } from "./responder.ts";
import type { CipherSuiteId } from "./crypto.ts";

type Args = {
  port: number;
  addr: string;
  user: string;
  privilege: number;
  suites: CipherSuiteId[];
  power_on: boolean;
  power_cycle_off_ms: number;
  state_dir: string | null;
  verbose: boolean;
};

function usage(message: string): never {
  process.stderr.write(`responder-main: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const args: Args = { port: 0, addr: "127.0.0.1", user: "admin", privilege: 4, suites: [17, 3], power_on: true, power_cycle_off_ms: 1000, state_dir: null, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--port":
        args.port = Number(value());
        break;
      case "--addr":
        args.addr = value();
        break;
      case "--user":
        args.user = value();
        break;
      case "--privilege": {
        const v = value();
        if (v !== "administrator" && v !== "operator" && v !== "user") usage("--privilege: administrator, operator or user");
        args.privilege = { user: 2, operator: 3, administrator: 4 }[v];
        break;
      }
      case "--suites":
        args.suites = value()
          .split(",")
          .map((s) => {
            const n = Number(s);
            if (n !== 3 && n !== 17) usage(`--suites: ${s} is not 3 or 17`);
            return n as CipherSuiteId;
          });
        break;
      case "--power":
        args.power_on = value() === "on";
        break;
      case "--power-cycle-off-ms":
        args.power_cycle_off_ms = Number(value());
        break;
      case "--state-dir":
        args.state_dir = value();
        break;
      case "--verbose":
        args.verbose = true;
        break;
      default:
        usage(`unknown option ${flag}`);
    }
  }
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) usage("--port must be 0-65535");
  return args;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const password = process.env.HAPD_BMC_PASSWORD;
  if (!password) usage("set HAPD_BMC_PASSWORD (the password is never taken from argv)");
  const now_ms = () => performance.now();
  const chassis = new ChassisModel({ power_on: args.power_on, power_cycle_off_ms: args.power_cycle_off_ms });
  const guid = new Uint8Array(randomBytes(16));
  const responder = new BmcResponder({
    users: [{ name: args.user, password, max_privilege: args.privilege }],
    guid,
    cipher_suites: args.suites,
    channel_privilege_limit: 4,
    random_bytes: (n) => new Uint8Array(randomBytes(n)),
    session_timeout_ms: 60_000,
    max_sessions: 32,
    device: {
      device_id: 0x20,
      device_revision: 1,
      provides_sdrs: false,
      firmware_major: 1,
      firmware_minor_bcd: 0x00,
      device_available: true,
      ipmi_version_major: 2,
      ipmi_version_minor: 0,
      additional_support: 0x01, // sensor device only; chassis commands are answered anyway
      manufacturer_id: 0,
      product_id: 0x4850, // "HP" for hapd
      aux_firmware: null,
    },
    chassis,
  });

  const writeState = () => {
    if (!args.state_dir) return;
    writeFileSync(join(args.state_dir, "power"), chassis.power_on ? "on\n" : "off\n");
    writeFileSync(join(args.state_dir, "boots"), `${chassis.boots}\n`);
  };
  if (args.state_dir) mkdirSync(args.state_dir, { recursive: true });
  writeState();

  const socket = dgram.createSocket(args.addr.includes(":") ? "udp6" : "udp4");
  let timer: ReturnType<typeof setTimeout> | null = null;
  let reported_events = 0;

  const after = (effects: ReturnType<BmcResponder["tick"]>) => {
    for (const effect of effects) {
      if (effect.kind === "send") {
        const split = effect.to.lastIndexOf(":");
        socket.send(effect.bytes, Number(effect.to.slice(split + 1)), effect.to.slice(0, split));
      } else if (args.verbose) {
        process.stderr.write(`responder: ${effect.text}\n`);
      }
    }
    while (reported_events < chassis.events.length) {
      process.stdout.write(JSON.stringify(chassis.events[reported_events]) + "\n");
      reported_events++;
    }
    // events is bounded; if it was trimmed, keep counting from its current end.
    reported_events = Math.min(reported_events, chassis.events.length);
    writeState();
    if (timer) clearTimeout(timer);
    const at = responder.nextWakeMs();
    timer = at === null ? null : setTimeout(() => after(responder.tick(now_ms())), Math.max(0, Math.ceil(at - now_ms())));
  };

  socket.on("message", (message, rinfo) => after(responder.receive(new Uint8Array(message), `${rinfo.address}:${rinfo.port}`, now_ms())));
  socket.on("error", (error) => process.stderr.write(`responder: socket error ${error.message}\n`));
  socket.bind(args.port, args.addr, () => {
    process.stdout.write(JSON.stringify({ listening: socket.address().port }) + "\n");
  });
  const stop = () => {
    if (timer) clearTimeout(timer);
    socket.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main();
