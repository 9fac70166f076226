// The watchdog section of a node's configuration: one small union keyed by `kind`. Every error
// names the field (a dotted path such as "watchdog.kick.register") and what is wrong, through the
// shared ConfigError, so the CLI reports it like any other configuration error.

import * as z from "zod";
import { ConfigError } from "../shared/config.ts";

const byte = z.number().int().min(0).max(255);
const devicePath = z.string().regex(/^\/dev\/\S+$/, "must be a device path like /dev/watchdog0");
const registerWrite = z.object({ register: byte, value: byte }).strict();
/** The timeout asked of the hardware. Peers wait this long (times a safety factor) before they recover our resources. */
const timeout_s = z.number().int().min(1).max(3600);

const linux = z
  .object({
    kind: z.literal("linux"),
    device: devicePath,
    timeout_s,
  })
  .strict();

const softdog = z
  .object({
    kind: z.literal("softdog"),
    /** Absent: the watchdog whose identity is "Software Watchdog". */
    device: devicePath.optional(),
    load_module: z.boolean().default(true),
    timeout_s,
  })
  .strict();

const gpio = z
  .object({
    kind: z.literal("gpio"),
    chip: devicePath,
    line: z.number().int().min(0).max(65535),
    active_low: z.boolean().default(false),
    pulse_high_ms: z.number().int().min(0).max(1000).default(1),
    pulse_low_ms: z.number().int().min(0).max(1000).default(1),
    /** The chip's timeout, fixed by its hardware (e.g. 1.6 for a TPS3823). */
    hardware_timeout_s: z.number().positive().max(3600),
    enable: z.object({ line: z.number().int().min(0).max(65535), active_low: z.boolean().default(false) }).strict().optional(),
    drive: z.enum(["push-pull", "open-drain", "open-source"]).default("push-pull"),
    timeout_s,
  })
  .strict();

const i2c = z
  .object({
    kind: z.literal("i2c"),
    bus: devicePath,
    address: z.number().int().min(0x08, "must be a 7-bit address from 0x08").max(0x77, "must be a 7-bit address up to 0x77"),
    timeout: z
      .object({
        register: byte,
        width_bytes: z.union([z.literal(1), z.literal(2)]).default(1),
        /** Order of a 2-byte timeout value on the wire. */
        byte_order: z.enum(["big", "little"]).default("big"),
        /** One count of the timeout register, in ms (1000: the register holds seconds). */
        unit_ms: z.number().int().min(1).max(60_000).default(1000),
      })
      .strict(),
    kick: registerWrite,
    enable: registerWrite.optional(),
    disable: registerWrite.optional(),
    verify_timeout: z.boolean().default(true),
    timeout_s,
  })
  .strict();

const ipmi = z
  .object({
    kind: z.literal("ipmi"),
    address: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(623),
    username: z.string().min(1).max(16),
    password_file: z.string().min(1),
    cipher: z.union([z.literal(17), z.literal(3)]).default(17),
    privilege: z.enum(["administrator", "operator"]).default("administrator"),
    action: z.enum(["hard_reset", "power_off", "power_cycle"]).default("hard_reset"),
    pretimeout: z
      .object({
        interrupt: z.enum(["none", "messaging", "nmi", "smi"]).default("messaging"),
        interval_s: z.number().int().min(0).max(255).default(1),
      })
      .strict()
      .default({ interrupt: "messaging", interval_s: 1 }),
    min_pet_interval_ms: z.number().int().min(0).max(60_000).default(1000),
    request_timeout_ms: z.number().int().min(50).max(10_000).default(500),
    max_attempts: z.number().int().min(1).max(10).default(3),
    timeout_s,
  })
  .strict();

/** Running without a watchdog is an operator's explicit choice; status shows it in red. */
const none = z.object({ kind: z.literal("none") }).strict();

const KINDS = ["linux", "softdog", "gpio", "i2c", "ipmi", "none"] as const;

export const watchdogConfigSchema = z.discriminatedUnion("kind", [linux, softdog, gpio, i2c, ipmi, none]);

export type WatchdogConfig = z.infer<typeof watchdogConfigSchema>;
/** A configuration that names a driver (every kind but "none"). */
export type DriverConfig = Exclude<WatchdogConfig, { kind: "none" }>;

/** Validate a parsed YAML/JSON value. `file` and `prefix` make the error read like the node config's. */
export function parseWatchdogConfig(input: unknown, file = "watchdog configuration", prefix = "watchdog"): WatchdogConfig {
  const result = watchdogConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
  const kind = (input as { kind?: unknown } | null)?.kind;
  if (issue.code === "invalid_union" && !KINDS.includes(kind as (typeof KINDS)[number])) {
    throw new ConfigError(file, `${prefix}.kind`, `must be one of ${KINDS.join(", ")}${kind === undefined ? "" : `, not ${JSON.stringify(kind)}`}`);
  }
  throw new ConfigError(file, path, issue.message);
}
