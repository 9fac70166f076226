// End to end in a real terminal (tmux, 80x24): the whole first-boot wizard from an empty node to
// a written, valid configuration, with one wrong entry per field corrected on the way, then the
// console menu. The BMC Test runs against a simulated BMC (ipmi_sim) when it is installed.
//
// HAPD_CONSOLE_CAPTURES=DIR writes each screen seen to DIR (docs/console.md is made from them).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../services/shared/config.ts";
import { TmuxTerminal, haveTool } from "./tmux.ts";

const ROOT = resolve(__dirname, "../..");
const BUN = join(ROOT, "node_modules/.bin/bun");
const BMC_SIM = resolve(ROOT, "../shared/peers/ipmi/bmc-sim");
const haveBmc = existsSync(BMC_SIM) && haveTool("ipmi_sim");
const SERIAL = existsSync("/dev/ttyS0") ? "/dev/ttyS0" : "/dev/ptmx";

const captures = process.env.HAPD_CONSOLE_CAPTURES;
function capture(name: string, screen: string): void {
  if (!captures) return;
  mkdirSync(captures, { recursive: true });
  writeFileSync(join(captures, `${name}.txt`), screen);
}

describe.skipIf(!haveTool("tmux"))("console wizard in tmux at 80x24", () => {
  let dir: string;
  let bmcPort = 0;
  let t: TmuxTerminal;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "hapd-console-e2e-"));
    if (haveBmc) {
      bmcPort = 20000 + Math.floor(Math.random() * 20000);
      const r = spawnSync(BMC_SIM, ["start", "--port", String(bmcPort), "--state-dir", join(dir, "bmc"), "--user", "admin", "--password", "s3cret"], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`bmc-sim: ${r.stderr}`);
    }
  });

  afterAll(() => {
    t?.kill();
    if (existsSync(join(dir, "console.err"))) process.stderr.write(readFileSync(join(dir, "console.err"), "utf8"));
    if (haveBmc) spawnSync(BMC_SIM, ["stop", "--state-dir", join(dir, "bmc")], { encoding: "utf8" });
    rmSync(dir, { recursive: true, force: true });
  });

  it("walks from an empty node to a written, valid configuration", async () => {
    const config = join(dir, "etc", "hapd.yaml");
    t = TmuxTerminal.start(`hapd-e2e-${process.pid}`, `cd ${ROOT} && TERM=xterm LANG=C.UTF-8 ${BUN} test/console/fixture-main.ts --config ${config} 2>${dir}/console.err; echo CONSOLE-EXIT=$?; sleep 600`);
    const wrong = async (text: string, error: string, key = "Tab") => {
      t.type(text);
      t.keys(key);
      const s = await t.waitFor(error);
      t.keys("C-u");
      return s;
    };
    capture("01-welcome", await t.waitFor("This box has no configuration yet"));
    t.keys("Enter");

    // This box: host name, role.
    await t.waitFor("Host name");
    t.keys("C-u");
    capture("02-hostname-error", await wrong("Hapd-A", "use lower-case letters"));
    t.type("hapd-a");
    t.keys("Tab", "x");
    await t.waitFor("press a, b, r");
    t.keys("a", "Enter");

    // Management network: interface, DHCP/static, address, gateway, DNS, VLAN.
    await t.waitFor("How operators reach this box.");
    t.keys("z");
    await t.waitFor("press 1, 2, 3");
    t.keys("1", "Tab", "x");
    await t.waitFor("press d, s");
    t.keys("s", "Tab");
    await wrong("192.168.10.21/33", 'prefix "/33" must be a number from 8 to 30');
    t.type("192.168.10.21/24");
    t.keys("Tab");
    await wrong("10.0.0.1", "10.0.0.1 is not in 192.168.10.0/24");
    t.type("192.168.10.1");
    t.keys("Tab");
    await wrong("1.1.1", '"1.1.1" is not an IPv4 address');
    t.type("1.1.1.1, 9.9.9.9");
    t.keys("Tab");
    capture("03-management-error", await wrong("5000", 'VLAN "5000" must be a number from 1 to 4094', "Enter"));
    t.type("12");
    t.keys("Enter");

    // Cluster links.
    await t.waitFor("The networks the boxes watch each other over");
    t.keys("z");
    await t.waitFor("press 1, 2, 3");
    t.keys("2", "Tab");
    await wrong("10.70.0.1", '"10.70.0.1" has no /prefix');
    t.type("10.70.0.1/24");
    t.keys("Tab", "2", "Tab");
    await t.waitFor("ring1 must use another interface than ring0");
    t.keys("3", "Tab");
    capture("04-links-error", await wrong("10.70.0.9/24", "ring1 must be another network than ring0 (10.70.0.0/24)"));
    t.type("10.71.0.1/24");
    t.keys("Tab", "C-u");
    await wrong("70000", '"70000" is not a port');
    t.type("5405");
    t.keys("Tab", "C-u");
    await wrong("/dev/ttyS9", "/dev/ttyS9: no such device on this box");
    t.type(SERIAL);
    t.keys("Enter");

    // Cluster: create, name; the token is shown.
    await t.waitFor("the join token carries it");
    t.keys("x");
    await t.waitFor("press c, j");
    t.keys("c", "Tab");
    await wrong("Prod", "lower-case letters, digits and '-', starting with a letter");
    t.type("prod");
    const tokenScreen = await t.waitFor(/([A-Z2-7]{4}-){13}[A-Z2-7]{4}/);
    capture("05-cluster-create", tokenScreen);
    const token = /(([A-Z2-7]{4}-){13}[A-Z2-7]{4})/.exec(tokenScreen)![1]!;
    t.keys("Enter");

    // The other boxes.
    await t.waitFor("Where this box finds the other two");
    await wrong("10.71.0.2", "10.71.0.2 is not in ring0's network 10.70.0.0/24");
    t.type("10.70.0.2");
    t.keys("Tab");
    await wrong("10.71.0.1", "10.71.0.1 is this box's own ring1 address");
    t.type("10.71.0.2");
    t.keys("Tab");
    await wrong("10.70.0.300", '"10.70.0.300" is not an IPv4 address');
    t.type("10.70.0.2");
    t.keys("Tab");
    await wrong("x", '"x" is not an IPv4 address', "Enter");
    t.type("10.71.0.3");
    t.keys("Enter");
    capture("06-peers-error", await t.waitFor("10.70.0.2 is already host-b's address"));
    t.keys("C-u");
    t.type("10.70.0.3");
    t.keys("Enter", "Enter");

    // Fencing: host-a with a wrong password first, then right; host-b with the wrong cipher first.
    await t.waitFor("Each host's BMC");
    const bmc = haveBmc ? `127.0.0.1:${bmcPort}` : "127.0.0.1:9";
    await wrong("127.0.0.1:99999", 'port "99999" is not a port');
    t.type(bmc);
    t.keys("Tab", "Tab");
    await t.waitFor("required: the BMC user name");
    t.type("admin");
    t.keys("Tab", "Tab");
    await t.waitFor("required: the BMC password");
    t.type("wrong");
    t.keys("Tab", "x");
    await t.waitFor("press 7, 3");
    t.keys("3", "Tab", "t");
    if (haveBmc) {
      capture("07-fencing-test-failed", await t.waitFor(/FAILED: .*authentication failed/));
      t.keys("C-p", "C-p", "C-u");
      t.type("s3cret");
      t.keys("Tab", "Tab", "t");
      capture("08-fencing-test-ok", await t.waitFor("OK: power is on (cipher 3)"));
    } else {
      await t.waitFor("FAILED:");
    }
    t.keys("Tab");
    await wrong("10.0.0", '"10.0.0" is not an IPv4 address');
    t.type(bmc);
    t.keys("Tab");
    t.type("admin");
    t.keys("Tab");
    t.type("s3cret");
    t.keys("Tab", "Tab", "t");
    if (haveBmc) {
      await t.waitFor("does not offer cipher suite 17");
      t.keys("C-p", "3", "Tab", "t");
      await t.waitFor(/host-b BMC {12}: \[ Test \]\s+OK: power is on/);
    }
    t.keys("Enter");

    // Watchdog: the driver, the timeout, and the Test (a test double here: a test never arms
    // the machine's own watchdog).
    await t.waitFor("The timer that resets this box");
    t.keys("x");
    await t.waitFor("press 1, 2, 3");
    t.keys("1", "Tab", "C-u");
    await wrong("0", '"0" must be a number of seconds from 1 to 3600');
    t.type("10");
    t.keys("Tab", "t");
    capture("09-watchdog", await t.waitFor("OK: test double: would arm softdog with 10 s"));
    t.keys("Enter");

    // Disks: the system disk cannot be chosen.
    await t.waitFor("Disks this host gives to replicated volumes");
    t.keys("1");
    capture("10-disks-error", await t.waitFor("sda is in use: mounted at /"));
    t.keys("2");
    await t.waitFor("[x] 2 sdb");
    t.keys("Enter");

    // Time servers.
    await t.waitFor("NTP servers for this box");
    await wrong("pool..ntp.org", '"pool..ntp.org" is not a host name', "Enter");
    t.type("pool.ntp.org, 10.0.0.1");
    t.keys("Enter");

    // Admin password: too short, then a mismatch.
    await t.waitFor("The password that unlocks this console");
    await wrong("short", "at least 8 characters (this one has 5)");
    t.type("correct horse");
    t.keys("Tab");
    await wrong("correct hors", "does not match the password above", "Enter");
    t.type("correct horse");
    t.keys("Enter");

    // Summary, then Apply.
    capture("11-summary", await t.waitFor("Nothing has been written yet"));
    expect(existsSync(config)).toBe(false);
    t.keys("Enter");
    capture("12-applied", await t.waitFor("The configuration was written."));

    const cfg = parseConfig(readFileSync(config, "utf8"), config);
    expect(cfg.node).toBe("host-a");
    expect(cfg.cluster.name).toBe("prod");
    expect(cfg.nodes.map((n) => [n.name, n.ring0.address, n.ring1?.address])).toEqual([
      ["host-a", "10.70.0.1", "10.71.0.1"],
      ["host-b", "10.70.0.2", "10.71.0.2"],
      ["arb", "10.70.0.3", "10.71.0.3"],
    ]);
    expect(cfg.serial).toEqual({ device: SERIAL, peer: "host-b", baud: 115200 });
    expect(cfg.nodes[0]!.bmc).toMatchObject({ address: "127.0.0.1", username: "admin", cipher: 3 });
    expect(statSync(cfg.cluster.key_file).mode & 0o777).toBe(0o600);
    expect(readFileSync(cfg.nodes[1]!.bmc!.password_file, "utf8")).toBe("s3cret\n");
    const app = parse(readFileSync(join(dir, "etc", "appliance.yaml"), "utf8"));
    expect(app).toMatchObject({ hostname: "hapd-a", management: { interface: "eno1", mode: "static", address: "192.168.10.21/24", gateway: "192.168.10.1", dns: ["1.1.1.1", "9.9.9.9"], vlan: 12 }, disks: ["/dev/sdb"], time_servers: ["pool.ntp.org", "10.0.0.1"] });
    expect(cfg.watchdog).toEqual({ kind: "softdog", load_module: true, timeout_s: 10 });
    expect(app.admin_password).toMatchObject({ algorithm: "scrypt", N: 32768 });
    expect(JSON.stringify(app)).not.toContain("correct horse");
    writeFileSync(join(dir, "token"), token);

    // The console menu, the status screen (no node runs), leaving with Ctrl-C.
    t.keys("Enter");
    capture("13-menu", await t.waitFor("Lock the console"));
    t.keys("s");
    capture("14-status-no-node", await t.waitFor("No status from the node."));
    t.keys("Escape", "j");
    capture("15-join-token", await t.waitFor(token));
    t.keys("q", "C-c");
    capture("16-leave", await t.waitFor("Leave the hapd console?"));
    t.keys("n");
    await t.waitFor("Lock the console");
    t.keys("C-c", "y");
    await t.waitFor("CONSOLE-EXIT=0");
  });
});
