import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { runFenceAgent } from "./fence-agent.ts";
import { metadataXml } from "./fence-metadata.ts";
import { missingForFencing, parseArgv, parseStdin, resolveOptions } from "./fence-options.ts";

function resolveArgv(argv: string[]) {
  const parsed = parseArgv(argv);
  return { parsed, ...resolveOptions(parsed.options, parsed.verbose_count) };
}

/** Run the agent in process, without a BMC: only for actions that never reach the network. */
async function agent(argv: string[], stdin = ""): Promise<{ code: number; out: string; err: string }> {
  const input = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => (out += d));
  stderr.on("data", (d) => (err += d));
  input.end(stdin);
  const code = await runFenceAgent(argv, { stdin: input, stdout, stderr });
  return { code, out, err };
}

describe("command line like fence_ipmilan", () => {
  it("reads long and short options, = and separate values, stacked flags", () => {
    const { config, errors } = resolveArgv(["-a", "10.1.1.1", "--ipport=6230", "-l", "admin", "-pS3cret", "-PvC", "3", "-L", "operator", "-o", "off", "--power-timeout", "7"]);
    expect(errors).toEqual([]);
    expect(config).toMatchObject({ ip: "10.1.1.1", ipport: 6230, username: "admin", password: "S3cret", cipher: 3, privilege: "operator", action: "off", power_timeout_ms: 7000, verbose: 1 });
  });

  it("defaults: reboot, port 623, cipher auto (17 then 3), administrator, power-wait 0", () => {
    const { config } = resolveArgv(["--ip", "h"]);
    expect(config).toMatchObject({ action: "reboot", ipport: 623, cipher: "auto", privilege: "administrator", power_wait_ms: 0, power_timeout_ms: 20_000, login_timeout_ms: 5000, shell_timeout_ms: 3000 });
  });

  it("refuses cipher 0, IPMI 1.5 none/password auth, user privilege, bridging and cycle", () => {
    expect(resolveArgv(["--cipher", "0"]).errors.join()).toContain("cipher suite 0");
    expect(resolveArgv(["--cipher", "1"]).errors.join()).toContain("not supported");
    expect(resolveArgv(["--auth", "none"]).errors.join()).toContain("refused");
    expect(resolveArgv(["-A", "password"]).errors.join()).toContain("straight password");
    expect(resolveArgv(["-L", "user"]).errors.join()).toContain("cannot control chassis power");
    expect(resolveArgv(["--target", "0x82"]).errors.join()).toContain("not supported");
    expect(resolveArgv(["-m", "cycle"]).errors.join()).toContain("cannot be confirmed off");
    expect(resolveArgv(["--power-timeout=abc"]).errors.join()).toContain("is not a valid time in seconds");
    expect(resolveArgv(["--auth", "md5"]).errors).toEqual([]);
  });

  it("reports unknown options and missing values", () => {
    expect(resolveArgv(["--bogus"]).parsed.errors).toEqual(["Parse error: option --bogus not recognized"]);
    expect(resolveArgv(["-o"]).parsed.errors).toEqual(["Parse error: option -o requires argument"]);
  });

  it("uses --plug as the address with --port-as-ip", () => {
    expect(resolveArgv(["--port-as-ip", "-n", "10.2.2.2"]).config.ip).toBe("10.2.2.2");
  });
});

describe("key=value protocol on stdin", () => {
  it("reads the names Pacemaker sends, old aliases included, and ignores nodename", () => {
    const parsed = parseStdin('# comment\naction=off\nipaddr=10.0.0.5\nipport="16623"\nlogin=admin\npasswd=s3cret\nlanplus=1\ncipher=3\nprivlvl=operator\nnodename=host-a\nport=ignored\n');
    const { config, errors } = resolveOptions(parsed.options, parsed.verbose_count);
    expect(errors).toEqual([]);
    expect(parsed.warnings).toEqual([]);
    expect(config).toMatchObject({ action: "off", ip: "10.0.0.5", ipport: 16623, username: "admin", password: "s3cret", cipher: 3, privilege: "operator" });
  });

  it("warns about unknown options by name only, never echoing the value", () => {
    const parsed = parseStdin("snmp_priv_passwd=topsecret\nverbose=maybe\n");
    expect(parsed.warnings.join("\n")).toContain("snmp_priv_passwd");
    expect(parsed.warnings.join("\n")).not.toContain("topsecret");
    expect(parsed.warnings.join("\n")).toContain("does not have value");
  });

  it("lists what fencing needs when it is missing", () => {
    const { config } = resolveOptions(parseStdin("action=off\n").options, 0);
    expect(missingForFencing(config)).toEqual(["Failed: You have to enter fence address", "Failed: You have to set login name", "Failed: You have to enter password or password script"]);
  });
});

describe("agent actions that need no BMC", () => {
  it("-o metadata prints fence-agents XML with every action and the main parameters", async () => {
    const { code, out } = await agent(["-o", "metadata"]);
    expect(code).toBe(0);
    expect(out).toBe(metadataXml());
    expect(out.startsWith('<?xml version="1.0" ?>\n<resource-agent name="fence_hapd"')).toBe(true);
    for (const action of ["on", "off", "reboot", "status", "monitor", "list", "metadata", "validate-all"]) expect(out).toContain(`<action name="${action}"`);
    for (const p of ["ip", "ipaddr", "ipport", "username", "login", "password", "passwd", "password_script", "lanplus", "cipher", "privlvl", "power_timeout", "plug", "port"]) {
      expect(out).toContain(`<parameter name="${p}" `);
    }
    // Balanced tags: every opened parameter is closed.
    expect(out.match(/<parameter /g)?.length).toBe(out.match(/<\/parameter>/g)?.length);
  });

  it("metadata also works from stdin (action=metadata) and with meta-data", async () => {
    expect((await agent([], "action=metadata\n")).out).toBe(metadataXml());
    expect((await agent(["-o", "meta-data"])).out).toBe(metadataXml());
  });

  it("validate-all succeeds on complete options and fails naming what is missing", async () => {
    expect((await agent(["-o", "validate-all", "--ip", "h", "-l", "u", "-p", "x"])).code).toBe(0);
    const bad = await agent(["-o", "validate-all", "--ip", "h"]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("You have to set login name");
    expect(bad.err).toContain("validate-all failed");
  });

  it("an unknown action fails with exit 1 like fence-agents", async () => {
    const r = await agent(["-o", "bogus", "--ip", "h"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("Failed: Unrecognised action 'bogus'");
  });

  it("cipher 0 is refused before any packet (exit 1), and the message says why", async () => {
    const r = await agent(["-o", "status", "--ip", "127.0.0.1", "-u", "9", "-l", "admin", "-p", "x", "-C", "0"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("cipher suite 0");
  });

  it("list prints the same notice as fence_ipmilan; --help and --version exit 0", async () => {
    expect((await agent(["-o", "list", "--ip", "h"])).out).toContain("List option is not working on this device yet");
    const help = await agent(["-h"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("--password-script");
    expect((await agent(["-V"])).out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("-q silences stderr", async () => {
    const r = await agent(["-q", "-o", "bogus"]);
    expect(r.code).toBe(1);
    expect(r.err).toBe("");
  });
});
