// Options of the fence agent, spelled as fence-agents spell them (fence_ipmilan 4.12): the
// getopt-style command line and the key=value lines on standard input that Pacemaker uses.
// Pure: parsing returns values, warnings and errors; nothing here touches the network.

import type { CipherPolicy, SessionPrivilege } from "./session.ts";

export type OptionSpec = {
  /** Canonical name, as on stdin and in the metadata (underscores). */
  key: string;
  short?: string;
  long: string;
  takes_value: boolean;
  /** Deprecated stdin / metadata names that mean the same. */
  aliases?: string[];
  help: string;
  shortdesc: string;
  content: "string" | "integer" | "second" | "boolean" | "select";
  choices?: string[];
  default?: string;
  required?: boolean;
  /** Accepted for compatibility, not used by hapd (shown in help, not in metadata). */
  ignored?: boolean;
};

export const OPTION_SPECS: readonly OptionSpec[] = [
  { key: "action", short: "o", long: "action", takes_value: true, aliases: ["option"], content: "string", default: "reboot", required: true, shortdesc: "Fencing action", help: "Action: on, off, reboot (default), status, monitor, list, list-status, metadata, validate-all" },
  { key: "ip", short: "a", long: "ip", takes_value: true, aliases: ["ipaddr"], content: "string", shortdesc: "IP address or hostname of fencing device", help: "IP address or hostname of the BMC" },
  { key: "ipport", short: "u", long: "ipport", takes_value: true, content: "integer", default: "623", shortdesc: "TCP/UDP port to use for connection with device", help: "UDP port of the BMC (default 623)" },
  { key: "username", short: "l", long: "username", takes_value: true, aliases: ["login"], content: "string", shortdesc: "Login name", help: "Login name" },
  { key: "password", short: "p", long: "password", takes_value: true, aliases: ["passwd"], content: "string", shortdesc: "Login password or passphrase", help: "Login password or passphrase (prefer --password-script or stdin)" },
  { key: "password_script", short: "S", long: "password-script", takes_value: true, aliases: ["passwd_script"], content: "string", shortdesc: "Script to run to retrieve password", help: "Script to run to retrieve password" },
  { key: "lanplus", short: "P", long: "lanplus", takes_value: false, content: "boolean", default: "1", shortdesc: "Use Lanplus to improve security of connection", help: "Use IPMI v2.0 RMCP+ (always on: hapd refuses IPMI v1.5)" },
  { key: "auth", short: "A", long: "auth", takes_value: true, content: "select", choices: ["md5", "password", "none"], shortdesc: "IPMI Lan Auth type.", help: "IPMI v1.5 auth type: none and password are refused, md5 is ignored (RMCP+ is used)" },
  { key: "cipher", short: "C", long: "cipher", takes_value: true, content: "select", choices: ["17", "3"], shortdesc: "Ciphersuite to use (17 or 3; default: 17, falling back to 3)", help: "Cipher suite: 17 or 3 (default: 17, falling back to 3 if the BMC lacks it; 0 is refused)" },
  { key: "privlvl", short: "L", long: "privlvl", takes_value: true, content: "select", choices: ["operator", "administrator"], default: "administrator", shortdesc: "Privilege level on IPMI device", help: "Privilege level on the BMC (operator|administrator)" },
  { key: "method", short: "m", long: "method", takes_value: true, content: "select", choices: ["onoff"], default: "onoff", shortdesc: "Method to fence", help: "Method to fence (onoff only: a cycle cannot be confirmed off)" },
  { key: "hexadecimal_kg", long: "hexadecimal-kg", takes_value: true, content: "string", shortdesc: "Hexadecimal-encoded Kg key for IPMIv2 authentication", help: "Hexadecimal-encoded Kg key for IPMIv2 authentication" },
  { key: "target", long: "target", takes_value: true, content: "string", shortdesc: "Bridge IPMI requests to the remote target address (not supported)", help: "Bridge IPMI requests to the remote target address (not supported)" },
  { key: "plug", short: "n", long: "plug", takes_value: true, aliases: ["port"], content: "string", shortdesc: "IP address or hostname of fencing device (together with --port-as-ip)", help: "IP address or hostname of fencing device (together with --port-as-ip)" },
  { key: "port_as_ip", long: "port-as-ip", takes_value: false, content: "boolean", shortdesc: 'Make "port/plug" to be an alias to IP address', help: 'Make "port/plug" to be an alias to IP address' },
  { key: "power_timeout", long: "power-timeout", takes_value: true, content: "second", default: "20", shortdesc: "Test X seconds for status change after ON/OFF", help: "Test X seconds for status change after ON/OFF" },
  { key: "power_wait", long: "power-wait", takes_value: true, content: "second", default: "0", shortdesc: "Wait X seconds after issuing ON/OFF", help: "Wait X seconds after issuing ON/OFF (default 0: the state is polled anyway)" },
  { key: "login_timeout", long: "login-timeout", takes_value: true, content: "second", default: "5", shortdesc: "Wait X seconds for cmd prompt after login", help: "Wait X seconds for the IPMI session to be established" },
  { key: "shell_timeout", long: "shell-timeout", takes_value: true, content: "second", default: "3", shortdesc: "Wait X seconds for cmd prompt after issuing command", help: "Wait X seconds for the answer to each IPMI command" },
  { key: "ipmitool_timeout", long: "ipmitool-timeout", takes_value: true, content: "second", default: "1", shortdesc: "Timeout (sec) for IPMI operation", help: "Seconds before an unanswered IPMI request is sent again" },
  { key: "stonith_status_sleep", long: "stonith-status-sleep", takes_value: true, content: "second", default: "0.05", shortdesc: "Sleep X seconds between status calls during a STONITH action", help: "Sleep X seconds between status calls during a STONITH action" },
  { key: "delay", long: "delay", takes_value: true, content: "second", default: "0", shortdesc: "Wait X seconds before fencing is started", help: "Wait X seconds before fencing is started" },
  { key: "retry_on", long: "retry-on", takes_value: true, content: "integer", default: "1", shortdesc: "Count of attempts to retry power on", help: "Count of attempts to retry power on" },
  { key: "quiet", short: "q", long: "quiet", takes_value: false, content: "boolean", shortdesc: "Disable logging to stderr. Does not affect --verbose or --debug-file or logging to syslog.", help: "Disable logging to stderr" },
  { key: "verbose", short: "v", long: "verbose", takes_value: false, content: "boolean", shortdesc: "Verbose mode. Multiple -v flags can be stacked on the command line (e.g., -vvv) to increase verbosity.", help: "Verbose mode" },
  { key: "verbose_level", long: "verbose-level", takes_value: true, content: "integer", shortdesc: "Level of debugging detail in output.", help: "Level of debugging detail in output" },
  { key: "debug_file", short: "D", long: "debug-file", takes_value: true, aliases: ["debug"], content: "string", shortdesc: "Write debug information to given file", help: "Write debug information to given file" },
  { key: "version", short: "V", long: "version", takes_value: false, content: "boolean", shortdesc: "Display version information and exit", help: "Display version information and exit" },
  { key: "help", short: "h", long: "help", takes_value: false, content: "boolean", shortdesc: "Display help and exit", help: "Display help and exit" },
  { key: "plug_separator", long: "plug-separator", takes_value: true, content: "string", default: ",", shortdesc: "Separator for plug parameter when specifying more than 1 plug", help: "Separator for plug parameter", ignored: true },
  { key: "disable_timeout", long: "disable-timeout", takes_value: true, content: "string", shortdesc: "Disable timeout (true/false)", help: "Disable timeout (true/false)", ignored: true },
  { key: "ipmitool_path", long: "ipmitool-path", takes_value: true, content: "string", shortdesc: "Path to ipmitool binary (unused)", help: "Path to ipmitool binary (unused: hapd speaks IPMI itself)", ignored: true },
  { key: "use_sudo", long: "use-sudo", takes_value: false, aliases: ["sudo"], content: "boolean", shortdesc: "Use sudo (unused)", help: "Use sudo (unused)", ignored: true },
  { key: "sudo_path", long: "sudo-path", takes_value: true, content: "string", shortdesc: "Path to sudo binary (unused)", help: "Path to sudo binary (unused)", ignored: true },
];

export const ACTIONS = ["on", "off", "reboot", "status", "monitor", "list", "list-status", "metadata", "manpage", "validate-all"] as const;
export type FenceAction = (typeof ACTIONS)[number];

export type RawOptions = Map<string, string>;
export type Parsed = { options: RawOptions; verbose_count: number; warnings: string[]; errors: string[] };

/** Keys whose values must never be echoed in a message. */
export function isSecretKey(key: string): boolean {
  return key === "password" || key === "hexadecimal_kg";
}

function specByLong(name: string): OptionSpec | undefined {
  return OPTION_SPECS.find((s) => s.long === name);
}

function specByShort(letter: string): OptionSpec | undefined {
  return OPTION_SPECS.find((s) => s.short === letter);
}

function specByStdinName(name: string): OptionSpec | undefined {
  const key = name.replace(/-/g, "_");
  return OPTION_SPECS.find((s) => s.key === key || (s.aliases ?? []).includes(key));
}

/** GNU getopt style: --name=value, --name value, -x value, -xvalue, -abc for flags. */
export function parseArgv(argv: readonly string[]): Parsed {
  const parsed: Parsed = { options: new Map(), verbose_count: 0, warnings: [], errors: [] };
  const unused: string[] = [];
  const set = (spec: OptionSpec, value: string) => {
    if (spec.key === "verbose") parsed.verbose_count += 1;
    parsed.options.set(spec.key, value);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") {
      unused.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      const spec = specByLong(name);
      if (!spec) {
        parsed.errors.push(`Parse error: option --${name} not recognized`);
        continue;
      }
      if (!spec.takes_value) {
        if (eq >= 0) parsed.errors.push(`Parse error: option --${name} must not have an argument`);
        else set(spec, "1");
        continue;
      }
      if (eq >= 0) set(spec, arg.slice(eq + 1));
      else if (i + 1 < argv.length) set(spec, argv[++i] ?? "");
      else parsed.errors.push(`Parse error: option --${name} requires argument`);
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j] ?? "";
        const spec = specByShort(letter);
        if (!spec) {
          parsed.errors.push(`Parse error: option -${letter} not recognized`);
          break;
        }
        if (!spec.takes_value) {
          set(spec, "1");
          continue;
        }
        const rest = arg.slice(j + 1);
        if (rest.length > 0) set(spec, rest);
        else if (i + 1 < argv.length) set(spec, argv[++i] ?? "");
        else parsed.errors.push(`Parse error: option -${letter} requires argument`);
        break;
      }
      continue;
    }
    unused.push(arg);
  }
  if (unused.length > 0) parsed.warnings.push(`Unused arguments on command line: ${unused.length} argument(s)`);
  return parsed;
}

/** The stdin protocol: name=value per line, # comments, optional quotes, booleans as 1/yes/on/true. */
export function parseStdin(text: string): Parsed {
  const parsed: Parsed = { options: new Map(), verbose_count: 0, warnings: [], errors: [] };
  const lines = text.split(/\r?\n/);
  // Bounded: a config never has thousands of lines; refuse to chew on a runaway stream.
  if (lines.length > 1000) {
    parsed.errors.push("Parse error: more than 1000 lines on standard input");
    return parsed;
  }
  for (const rawLine of lines) {
    const line = rawLine.trim();
    if (line.length === 0 || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    const name = (eq >= 0 ? line.slice(0, eq) : line).trim();
    let value = eq >= 0 ? line.slice(eq + 1) : "";
    const quoted = /^"(.*)"$/.exec(value);
    if (quoted) value = quoted[1] ?? "";
    if (name === "nodename") continue; // Pacemaker sends it; an IPMI device does not need it
    const spec = specByStdinName(name);
    if (!spec) {
      // Name only: the value may be a secret of some other agent's option.
      parsed.warnings.push(`Parse error: Ignoring unknown option '${name}'`);
      continue;
    }
    if (spec.takes_value) {
      parsed.options.set(spec.key, value);
    } else if (["1", "yes", "on", "true"].includes(value.toLowerCase())) {
      parsed.options.set(spec.key, "1");
      if (spec.key === "verbose") parsed.verbose_count = 1;
    } else if (["0", "no", "off", "false"].includes(value.toLowerCase())) {
      parsed.options.set(spec.key, "0");
    } else {
      parsed.warnings.push(`Parse error: Ignoring option '${name}' because it does not have value`);
    }
  }
  return parsed;
}

export type FenceConfig = {
  action: FenceAction;
  ip: string;
  ipport: number;
  username: string;
  password: string | null;
  password_script: string | null;
  cipher: CipherPolicy;
  privilege: SessionPrivilege;
  kg: Uint8Array | null;
  power_timeout_ms: number;
  power_wait_ms: number;
  login_timeout_ms: number;
  shell_timeout_ms: number;
  request_timeout_ms: number;
  poll_interval_ms: number;
  delay_ms: number;
  retry_on: number;
  verbose: number;
  quiet: boolean;
  debug_file: string | null;
};

export type Resolved = { config: FenceConfig; warnings: string[]; errors: string[] };

function seconds(options: RawOptions, key: string, errors: string[]): number {
  const spec = OPTION_SPECS.find((s) => s.key === key);
  const text = options.get(key) ?? spec?.default ?? "0";
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0 || value > 86_400) {
    errors.push(`Failed: The value you have entered for --${spec?.long ?? key} is not a valid time in seconds`);
    return 0;
  }
  return Math.round(value * 1000);
}

/**
 * Turn raw options into a typed config. `errors` lists what makes fencing impossible; the
 * caller decides which ones matter for the action (metadata needs none of them).
 */
export function resolveOptions(options: RawOptions, verbose_count: number): Resolved {
  const warnings: string[] = [];
  const errors: string[] = [];
  const actionText = (options.get("action") ?? "reboot").toLowerCase();
  const action = (actionText === "meta-data" ? "metadata" : actionText) as FenceAction;
  if (!ACTIONS.includes(action)) errors.push(`Failed: Unrecognised action '${actionText}'`);

  let ip = options.get("ip") ?? "";
  if (options.get("port_as_ip") === "1" && options.has("plug")) ip = options.get("plug") ?? ip;

  const portText = options.get("ipport") ?? "623";
  const ipport = Number(portText);
  if (!/^\d+$/.test(portText) || ipport < 1 || ipport > 65535) errors.push(`Failed: --ipport ${portText} is not a UDP port number`);

  let cipher: CipherPolicy = "auto";
  const cipherText = options.get("cipher");
  if (cipherText !== undefined && cipherText !== "") {
    if (cipherText === "0") errors.push("Failed: cipher suite 0 (no authentication, integrity or encryption) is refused; use 17 (default) or 3");
    else if (cipherText === "17" || cipherText === "3") cipher = Number(cipherText) as 3 | 17;
    else errors.push(`Failed: cipher suite ${cipherText} is not supported; hapd speaks 17 (HMAC-SHA256, AES-CBC-128) and 3 (HMAC-SHA1, AES-CBC-128)`);
  }

  const privText = (options.get("privlvl") ?? "administrator").toLowerCase();
  let privilege: SessionPrivilege = "administrator";
  if (privText === "administrator" || privText === "operator") privilege = privText;
  else errors.push(`Failed: privilege level ${privText} cannot control chassis power; use administrator (default) or operator`);

  const auth = options.get("auth")?.toLowerCase();
  if (auth === "none") errors.push("Failed: --auth none (IPMI v1.5 without authentication) is refused");
  else if (auth === "password") errors.push("Failed: --auth password (IPMI v1.5 straight password) is refused");
  else if (auth === "md5") warnings.push("--auth md5 applies to IPMI v1.5 and is ignored: hapd uses IPMI v2.0 RMCP+");
  else if (auth !== undefined) errors.push(`Failed: You have to enter a valid choice for auth from the valid values: md5`);

  if (options.get("lanplus") === "0") warnings.push("lanplus=0 is ignored: hapd always uses IPMI v2.0 RMCP+ (lanplus) and refuses IPMI v1.5");
  const method = options.get("method")?.toLowerCase();
  if (method !== undefined && method !== "onoff") errors.push(`Failed: --method ${method} is not supported: a power cycle cannot be confirmed off; hapd uses onoff`);
  if (options.has("target")) errors.push("Failed: --target (IPMB bridging) is not supported");

  let kg: Uint8Array | null = null;
  const kgText = options.get("hexadecimal_kg");
  if (kgText) {
    if (!/^([0-9a-fA-F]{2}){1,20}$/.test(kgText)) errors.push("Failed: --hexadecimal-kg must be 1 to 20 bytes of hexadecimal");
    else kg = new Uint8Array(Buffer.from(kgText, "hex"));
  }

  const retryText = options.get("retry_on") ?? "1";
  const retry_on = Number(retryText);
  if (!/^\d+$/.test(retryText) || retry_on > 10) errors.push("Failed: --retry-on must be an integer from 0 to 10");

  let verbose = verbose_count;
  const levelText = options.get("verbose_level");
  if (levelText !== undefined) {
    const level = Number(levelText);
    if (Number.isInteger(level) && level >= 0) verbose = level;
    else warnings.push("Parse error: Option 'verbose_level' must be an integer greater than or equal to 0. Setting verbose_level to 0.");
  }

  const config: FenceConfig = {
    action,
    ip,
    ipport: Number.isFinite(ipport) ? ipport : 623,
    username: options.get("username") ?? "",
    password: options.get("password") ?? null,
    password_script: options.get("password_script") ?? null,
    cipher,
    privilege,
    kg,
    power_timeout_ms: seconds(options, "power_timeout", errors),
    power_wait_ms: seconds(options, "power_wait", errors),
    login_timeout_ms: seconds(options, "login_timeout", errors),
    shell_timeout_ms: seconds(options, "shell_timeout", errors),
    request_timeout_ms: seconds(options, "ipmitool_timeout", errors),
    poll_interval_ms: seconds(options, "stonith_status_sleep", errors),
    delay_ms: seconds(options, "delay", errors),
    retry_on: Number.isFinite(retry_on) ? retry_on : 1,
    verbose,
    quiet: options.get("quiet") === "1",
    debug_file: options.get("debug_file") ?? null,
  };
  if (config.request_timeout_ms === 0) errors.push("Failed: --ipmitool-timeout must be more than 0 seconds");
  if (config.login_timeout_ms === 0) errors.push("Failed: --login-timeout must be more than 0 seconds");
  if (config.shell_timeout_ms === 0) errors.push("Failed: --shell-timeout must be more than 0 seconds");
  return { config, warnings, errors };
}

/** What fencing needs beyond well-formed options: an address, a user, a password source. */
export function missingForFencing(config: FenceConfig): string[] {
  const missing: string[] = [];
  if (!config.ip) missing.push("Failed: You have to enter fence address");
  if (!config.username) missing.push("Failed: You have to set login name");
  if (config.password === null && config.password_script === null) missing.push("Failed: You have to enter password or password script");
  return missing;
}
