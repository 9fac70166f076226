// The console over a serial line: `--serial` on one end of a socat pty pair, TERM=vt100 and a
// C locale, and a terminal (tmux running socat) on the other end. This run joins a cluster with a
// join token (one mistyped first), and checks what went over the line: ASCII only, and no
// escape sequence a VT100 does not know (ink's CSI G, synchronized output, DECTCEM).
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../services/shared/config.ts";
import { encodeJoinToken } from "../../tui/setup/join-token.ts";
import { VtScreen } from "../../tui/testing/vt-screen.ts";
import { TmuxTerminal, haveTool } from "./tmux.ts";

const ROOT = resolve(__dirname, "../..");
const BUN = join(ROOT, "node_modules/.bin/bun");
const captures = process.env.HAPD_CONSOLE_CAPTURES;

function capture(name: string, screen: string): void {
  if (!captures) return;
  mkdirSync(captures, { recursive: true });
  writeFileSync(join(captures, `${name}.txt`), screen);
}

async function until(what: string, probe: () => boolean, bound_ms = 10_000): Promise<void> {
  const deadline = Date.now() + bound_ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

describe.skipIf(!haveTool("tmux") || !haveTool("socat"))("console on a serial line (socat pty pair, TERM=vt100)", () => {
  let dir: string;
  let socat: ChildProcess;
  let consoleProc: ChildProcess;
  let t: TmuxTerminal;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "hapd-console-vt100-"));
    socat = spawn("socat", [`pty,raw,echo=0,link=${dir}/console-end`, `pty,raw,echo=0,link=${dir}/terminal-end`], { stdio: "ignore" });
    await until("the pty pair", () => existsSync(`${dir}/console-end`) && existsSync(`${dir}/terminal-end`));
  });

  afterAll(() => {
    t?.kill();
    consoleProc?.kill("SIGKILL");
    socat?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it("joins a cluster with a join token, in ASCII and VT100 sequences only", async () => {
    const key = new Uint8Array(randomBytes(32));
    const token = encodeJoinToken(key);
    const config = join(dir, "etc", "hapd.yaml");
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, TERM: "vt100", LANG: "C", HAPD_LOCK_DIR: join(dir, "lock") };
    consoleProc = spawn(BUN, ["test/console/fixture-main.ts", "--serial", `${dir}/console-end`, "--config", config], { cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    consoleProc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => consoleProc.on("exit", (code) => r(code)));
    const raw = join(dir, "line.bin");
    t = TmuxTerminal.start(`hapd-vt100-${process.pid}`, `socat -R ${raw} -,rawer FILE:${dir}/terminal-end,rawer; sleep 60`);

    await t.waitFor("This box has no configuration yet");
    capture("20-vt100-welcome", t.screen());
    t.keys("Enter");
    await t.waitFor("Host name");
    t.keys("C-u");
    t.type("hapd-b");
    t.keys("Tab", "b", "Enter");
    await t.waitFor("How operators reach this box.");
    t.keys("Enter", "Enter", "Enter");
    await t.waitFor("The networks the boxes watch each other over");
    t.keys("2", "Tab");
    t.type("10.70.0.2/24");
    t.keys("Tab", "0", "Tab", "C-u");
    t.type("5405");
    t.keys("Tab", "C-u");
    t.type(existsSync("/dev/ttyS0") ? "/dev/ttyS0" : "/dev/ptmx");
    t.keys("Enter");

    await t.waitFor("the join token carries it");
    t.keys("j", "Tab");
    t.type("prod");
    t.keys("Tab");
    // One character mistyped: the check catches it.
    const typo = token.slice(0, 10) + (token[10] === "A" ? "B" : "A") + token.slice(11);
    t.type(typo.toLowerCase());
    t.keys("Tab");
    capture("21-vt100-token-error", await t.waitFor("a character is mistyped"));
    t.keys("C-u");
    t.type(token.replaceAll("-", " ").toLowerCase());
    t.keys("Tab");
    t.type("10.70.0.9");
    t.keys("Enter");

    await t.waitFor("Where this box finds the other two");
    t.type("10.70.0.1");
    t.keys("Tab");
    t.type("10.70.0.3");
    t.keys("Enter");
    capture("22-vt100-join-peer-error", await t.waitFor("the member you join through (10.70.0.9) is none of these"));
    // Back one step to the cluster (the focus starts on its first field), down to the address.
    t.keys("Escape");
    await t.waitFor("A member's address");
    t.keys("Tab", "Tab", "Tab", "C-u");
    t.type("10.70.0.1");
    t.keys("Enter");
    await t.waitFor("Where this box finds the other two");
    t.keys("Enter", "Enter");

    await t.waitFor("Each host's BMC");
    for (const host of ["10.0.0.11", "10.0.0.12"]) {
      t.type(host);
      t.keys("Tab");
      t.type("admin");
      t.keys("Tab");
      t.type("secret");
      t.keys("Tab", "Tab", "Tab");
    }
    t.keys("Enter");
    await t.waitFor("The timer that resets this box");
    // The BMC's own watchdog (option 2), with the default timeout; not tested.
    t.keys("2", "Enter", "Enter", "Enter");
    await t.waitFor("Disks this host gives to replicated volumes");
    t.keys("Enter");
    await t.waitFor("NTP servers for this box");
    t.type("10.0.0.1");
    t.keys("Enter");
    await t.waitFor("The password that unlocks this console");
    t.type("correct horse");
    t.keys("Tab");
    t.type("correct horse");
    t.keys("Enter");
    capture("23-vt100-summary", await t.waitFor("Nothing has been written yet"));
    t.keys("Enter");
    await t.waitFor("The configuration was written.");

    const cfg = parseConfig(readFileSync(config, "utf8"), config);
    expect(cfg.node).toBe("host-b");
    expect(cfg.serial?.peer).toBe("host-a");
    expect(cfg.nodes.map((n) => n.ring0.address)).toEqual(["10.70.0.1", "10.70.0.2", "10.70.0.3"]);
    expect(cfg.nodes.every((n) => n.ring1 === undefined)).toBe(true);
    expect(cfg.watchdog).toMatchObject({ kind: "ipmi", address: "10.0.0.12", port: 623, username: "admin", timeout_s: 10 });
    // The key arrived through the token.
    expect(readFileSync(cfg.cluster.key_file, "utf8")).toBe(`hapd-cluster-key-v1 ${Buffer.from(key).toString("base64")}\n`);

    t.keys("Enter");
    await t.waitFor("Lock the console");
    t.keys("a");
    capture("24-vt100-about", await t.waitFor("TERM=vt100, ASCII, no colour"));
    expect(t.screen()).toMatch(/Image slot\s+unknown \(not booted from a hapd image\)/);
    // No node runs here: the operations say so instead of offering anything to pick.
    t.keys("q", "m");
    await t.waitFor("No status from the node: the resources are not known.");
    t.keys("q", "n");
    await t.waitFor("No status from the node: the modes now are not known.");
    t.keys("q", "C-c", "y");
    expect(await exited).toBe(0);
    expect(stderr).toBe("");

    // What went over the line.
    await until("the line capture", () => existsSync(raw));
    const bytes = readFileSync(raw);
    expect(bytes.every((b) => b < 0x80)).toBe(true);
    const text = bytes.toString("latin1");
    expect(text).not.toMatch(/\x1b\[\d*G/); // CSI G (cursor horizontal absolute): not VT100
    expect(text).not.toContain("\x1b[?2026"); // synchronized output
    expect(text).not.toContain("\x1b[?25"); // DECTCEM: VT220, not VT100
    const vt = new VtScreen(80, 24);
    vt.write(text);
    expect(vt.unknown).toEqual([]);
  });
});
