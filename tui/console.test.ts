// The whole console in-process (keys in, VT100 screen out): routing, Ctrl-C, a small terminal,
// Apply failing, the lock, reset, the log, and the bytes a status refresh sends.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import type { StatusReport } from "../services/node/status.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashPassword } from "./setup/password-hash.ts";
import { planSetupFiles } from "./setup/setup-files.ts";
import { writeFileSet } from "./setup/write-file-set.ts";
import { detectCaps } from "./terminal/caps.ts";
import { startHarness } from "./testing/console-harness.ts";
import { fakePorts, sampleCrm, sampleStatus, sampleVolume } from "./testing/fake-ports.ts";
import { testEnv, toSummary } from "./testing/wizard-script.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hapd-console-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ENTER = "\r";
const CTRL_C = "\x03";

/** A configured box in `dir` (as the wizard leaves it), with admin password "correct horse". */
async function configured(role: "a" | "r" = "a"): Promise<string> {
  const config = join(dir, "hapd.yaml");
  const env = testEnv(config);
  const hash = await hashPassword("correct horse", { N: 1024, r: 8, p: 1, key_bytes: 32 });
  writeFileSet(planSetupFiles(toSummary(env, role).values, env, hash));
  return config;
}

describe("the console, in-process", () => {
  it("asks before leaving on Ctrl-C: n stays, y leaves with 0", async () => {
    const h = startHarness({ configPath: join(dir, "hapd.yaml"), ports: fakePorts() });
    await h.waitFor("This box has no configuration yet");
    h.press(CTRL_C);
    await h.waitFor("Leave the hapd console?");
    h.press("n");
    await h.waitFor("This box has no configuration yet");
    h.press(`${ENTER}x`);
    await h.waitFor(/Host name\s+: localhostx_/);
    h.press(CTRL_C);
    await h.waitFor("Leave the hapd console?");
    h.press("y");
    expect(await h.exited).toBe(0);
  });

  it("says so when the terminal is smaller than 80x24, ignores keys, and comes back intact", async () => {
    const h = startHarness({ configPath: join(dir, "hapd.yaml"), ports: fakePorts() });
    await h.waitFor("This box has no configuration yet");
    h.press(ENTER);
    await h.waitFor("Host name");
    h.resize(60, 20);
    await h.waitFor("Terminal is 60x20.");
    expect(h.text()).toContain("at least 80x24");
    h.press("zzz");
    h.resize(80, 24);
    await h.waitFor(/Host name\s+: localhost_/);
    h.press(CTRL_C);
    await h.waitFor("Leave the hapd console?");
    h.press("y");
    await h.exited;
  });

  it("reports an Apply that cannot write, and writes nothing", async () => {
    writeFileSync(join(dir, "not-a-dir"), "");
    const config = join(dir, "not-a-dir", "etc", "hapd.yaml");
    const h = startHarness({ configPath: config, ports: fakePorts() });
    await h.waitFor("This box has no configuration yet");
    // The same keys as the reducer script, typed.
    const keys = [
      ENTER, "\x15box-a\ta\r", "\r\r\r",
      "2\t10.70.0.1/24\t3\t10.71.0.1/24\t\r", "\x15/dev/null\r",
      "c\tprod\r", "10.70.0.2\t10.71.0.2\r", "10.70.0.3\t10.71.0.3\r",
      "10.0.0.11\tadmin\tsecret\t\t\t", "10.0.0.12\tadmin\tsecret\t\t\t\r",
      "\r\r\r", "2\r", "pool.ntp.org\r", "correct horse\tcorrect horse\r",
    ];
    for (const k of keys) h.press(k);
    await h.waitFor("Nothing has been written yet");
    h.press(ENTER);
    await h.waitFor(/Apply failed, nothing was changed: cannot create\s.*ENOTDIR/s);
    expect(readdirSync(dir)).toEqual(["not-a-dir"]);
  });

  it("is locked behind the admin password, and counts wrong ones", async () => {
    const config = await configured();
    const h = startHarness({ configPath: config, ports: fakePorts({ status: sampleStatus() }) });
    await h.waitFor("This console is locked.");
    h.press(`wrong password${ENTER}`);
    await h.waitFor("wrong password (1 failed attempt)");
    h.press(`correct horse${ENTER}`);
    await h.waitFor("Cluster prod: QUORATE  3/3 nodes online  view 7");
    h.press("q");
    await h.waitFor("This console is locked.");
  });

  it("resets the configuration only after the node name is typed, then starts the wizard", async () => {
    const config = await configured();
    const h = startHarness({ configPath: config, ports: fakePorts() });
    await h.waitFor("This console is locked.");
    h.press(`correct horse${ENTER}`);
    await h.waitFor("Lock the console");
    h.press("x");
    await h.waitFor('Type the node name "host-a"');
    h.press(`host-b${ENTER}`);
    await h.waitFor('that is not "host-a"; nothing was changed');
    h.press(`host-a${ENTER}`);
    await h.waitFor("This box has no configuration yet");
    const left = readdirSync(dir).sort();
    expect(left.filter((f) => f === "hapd.yaml" || f === "appliance.yaml")).toEqual([]);
    expect(left.filter((f) => f.includes(".reset-"))).toHaveLength(2);
  });

  it("shows the log with control characters made harmless, and filters it", async () => {
    const config = await configured();
    mkdirSync(join(dir, "logs"));
    writeFileSync(join(dir, "node.log"), ["2026 host-a info membership: view 7", "2026 host-a warn link ring1 down \x1b[2J\x1b]0;evil\x07", "2026 host-a info quorum: quorate"].join("\n"));
    const h = startHarness({ configPath: config, ports: fakePorts() });
    await h.waitFor("This console is locked.");
    h.press(`correct horse${ENTER}`);
    await h.waitFor("Lock the console");
    // The configuration written by the wizard logs to hapd.log; open node.log instead.
    h.press("l");
    await h.waitFor("hapd.log");
    h.press(`o${"\x7f".repeat(40)}${join(dir, "node.log")}${ENTER}`);
    await h.waitFor("quorum: quorate");
    expect(h.text()).toContain("warn link ring1 down ?[2J?]0;evil?");
    h.press(`/warn${ENTER}`);
    await h.waitFor('filter "warn"');
    expect(h.text()).not.toContain("quorum: quorate");
  });

  it("sends a small fraction of a second of 115200 baud per status refresh", async () => {
    const config = await configured();
    const ports = fakePorts({ status: sampleStatus() });
    const h = startHarness({ configPath: config, ports, caps: detectCaps({ TERM: "vt100", LANG: "C" }), refresh_ms: 20 });
    await h.waitFor("This console is locked.");
    h.press(`correct horse${ENTER}`);
    await h.waitFor("Lock the console");
    h.press("s");
    await h.waitFor("Packets sent 1200");
    // Ten refreshes, each with a new uptime and new packet counters (what changes every second).
    const per: number[] = [];
    for (let i = 1; i <= 10; i++) {
      const before = h.writer().bytesWritten;
      ports.state.status = sampleStatus({ uptime_s: 42 + i, counters: { sent: 1200 + 10 * i, received: 2300 + 20 * i, dropped: {} } });
      await h.waitFor(`up ${42 + i}s`);
      await h.waitFor(`received ${2300 + 20 * i}`);
      per.push(h.writer().bytesWritten - before);
    }
    const max = Math.max(...per);
    // 115200 baud 8N1 carries 11520 bytes/s: 100 ms of line is 1152 bytes.
    console.log(`bytes per status refresh (vt100): ${per.join(", ")} (max ${max}, ${((max / 11520) * 1000).toFixed(1)} ms at 115200 baud)`);
    expect(max).toBeLessThan(1152);
    expect(h.screen.unknown).toEqual([]);
  });
});

// HAPD_CONSOLE_CAPTURES=DIR writes the screens of the tests below to DIR (docs/console.md shows them).
const captures = process.env.HAPD_CONSOLE_CAPTURES;
function capture(name: string, screen: string): void {
  if (!captures) return;
  mkdirSync(captures, { recursive: true });
  writeFileSync(join(captures, `${name}.txt`), screen);
}

/** The lab's cluster with resources and a resyncing volume, as the node reports it. */
function withResources(over: Partial<StatusReport> = {}): StatusReport {
  return sampleStatus({
    crm: sampleCrm(),
    cib: { dc: "host-a", term: 3, commit_index: 41, applied_index: 41 },
    volumes: [sampleVolume(), sampleVolume({ name: "r1", peer_disk: "UpToDate", connection: "Connected", sync_percent: null, eta_s: null })],
    ...over,
  });
}

describe("the console's operations, in-process", () => {
  async function unlocked(ports: ReturnType<typeof fakePorts>, caps = detectCaps({ TERM: "xterm", LANG: "C" })) {
    const config = await configured();
    const h = startHarness({ configPath: config, ports, caps });
    await h.waitFor("This console is locked.");
    h.press(`correct horse${ENTER}`);
    await h.waitFor("Lock the console");
    return { h, socket: join(dir, "run", "hapd.sock") };
  }

  it("status: resources, where they run and their failures, and the volumes' sync; j/k scroll", async () => {
    const { h } = await unlocked(fakePorts({ status: withResources() }));
    h.press("s");
    capture("30-status-resources", await h.waitFor("45.2% 3m12s"));
    expect(h.text()).toMatch(/vm-db\s+host-a\s+Started\s+host-b:1\s+moved to host-a; monitor rc 7/);
    expect(h.text()).toContain("rows 1-3 of 5; j/k scroll");
    h.press("jj");
    await h.waitFor("rows 3-5 of 5");
    expect(h.text()).toMatch(/ip-mgmt\s+-\s+Stopped/);
  });

  it("node mode: standby after a confirmation, sent through the node's socket", async () => {
    const ports = fakePorts({ status: withResources() });
    const { h, socket } = await unlocked(ports);
    h.press("n");
    capture("31-node-mode", await h.waitFor(/>\s+1\s+host-a\s+online/));
    // The arbitrator runs no resources: it is not offered.
    expect(h.text()).not.toMatch(/\d\s+arb\b/);
    h.press("1");
    capture("32-node-mode-choose", await h.waitFor("host-a is online. Set it to:"));
    h.press("s");
    capture("33-node-mode-confirm", await h.waitFor("Put host-a in standby?"));
    expect(ports.state.commands).toEqual([]);
    h.press("y");
    capture("34-node-mode-done", await h.waitFor("OK: host-a is in standby (recorded in the CIB)"));
    expect(ports.state.commands).toEqual([{ cmd: "node-flags", socket, node: "host-a", flags: { standby: true } }]);
    // online and maintenance, by arrows and letters.
    h.press("2o");
    await h.waitFor("Bring host-b online?");
    h.press("y");
    await h.waitFor("OK: host-b is online");
    h.press("2m");
    await h.waitFor("Put host-b in maintenance?");
    h.press("y");
    await h.waitFor("OK: host-b is in maintenance");
    expect(ports.state.commands.slice(1)).toEqual([
      { cmd: "node-flags", socket, node: "host-b", flags: { standby: false, maintenance: false } },
      { cmd: "node-flags", socket, node: "host-b", flags: { maintenance: true } },
    ]);
  });

  it("node mode: a refusal is shown with the node's reason, and n sends nothing", async () => {
    const ports = fakePorts({ status: withResources(), reply: () => ({ ok: false, error: "this partition has no quorum: nothing can be recorded" }) });
    const { h } = await unlocked(ports);
    h.press("n2s");
    await h.waitFor("Put host-b in standby?");
    h.press("n");
    await h.waitFor(/>\s+2\s+host-b\s+standby/);
    expect(ports.state.commands).toEqual([]);
    h.press("2sy");
    capture("35-node-mode-refused", await h.waitFor("! host-b standby refused: this partition has no quorum"));
    expect(ports.state.commands).toHaveLength(1);
  });

  it("resources: move to a host (never the arbitrator), clear the move, clean up failures", async () => {
    const ports = fakePorts({ status: withResources() });
    const { h, socket } = await unlocked(ports);
    h.press("m");
    await h.waitFor("vol-r0");
    h.press("2");
    capture("36-resources", await h.waitFor("last failure"));
    expect(h.text()).toMatch(/> vm-db\s+host-a\s+Started\s+host-b:1/);
    h.press("m");
    capture("37-resources-move-target", await h.waitFor("Move vm-db to:"));
    expect(h.text()).toMatch(/>\s+2\s+host-b/);
    expect(h.text()).toMatch(/1\s+host-a\s+runs here now/);
    expect(h.text()).not.toMatch(/\d\s+arb\b/);
    h.press(ENTER);
    await h.waitFor("Move vm-db to host-b?");
    h.press("y");
    capture("38-resources-moved", await h.waitFor("OK: move vm-db to host-b: accepted by the node"));
    h.press("c");
    await h.waitFor("Clear the move of vm-db?");
    h.press("y");
    await h.waitFor("OK: clear vm-db: accepted by the node");
    h.press("u");
    await h.waitFor("Clean up the failures of vm-db?");
    h.press("y");
    await h.waitFor("OK: cleanup vm-db: accepted by the node");
    expect(ports.state.commands).toEqual([
      { cmd: "resource", socket, command: { action: "move", resource: "vm-db", node: "host-b" } },
      { cmd: "resource", socket, command: { action: "clear", resource: "vm-db" } },
      { cmd: "resource", socket, command: { action: "cleanup", resource: "vm-db" } },
    ]);
  });

  it("resources: a refused move and a node that does not answer, inline", async () => {
    const ports = fakePorts({
      status: withResources(),
      reply: (c) => {
        if (c.cmd === "resource" && c.command.action === "move") return { ok: false, error: "no DC: the CIB is electing a leader" };
        throw new Error("no answer within 15000 ms");
      },
    });
    const { h } = await unlocked(ports);
    h.press("m");
    await h.waitFor("vol-r0");
    h.press("3m1y");
    capture("39-resources-refused", await h.waitFor("! move vm-web to host-a refused: no DC: the CIB is electing a leader"));
    h.press("uy");
    await h.waitFor("! cleanup vm-web: no answer from the node: no answer within 15000 ms");
  });

  it("resources: none configured, and no status at all, said plainly", async () => {
    const ports = fakePorts({ status: withResources({ crm: sampleCrm({ resources: [] }) }) });
    const { h } = await unlocked(ports);
    h.press("m");
    await h.waitFor("No resources configured");
    h.press("mcu");
    expect(ports.state.commands).toEqual([]);
    h.press("q");
    await h.waitFor("Lock the console");
  });

  it("resources and node mode without a running node: nothing to pick from, said plainly", async () => {
    const ports = fakePorts();
    const { h } = await unlocked(ports);
    h.press("m");
    await h.waitFor("No status from the node: the resources are not known.");
    h.press("q");
    await h.waitFor("Lock the console");
    h.press("n");
    await h.waitFor(/>\s+1\s+host-a\s+unknown\s+\(this node\)/);
    expect(h.text()).toContain("No status from the node: the modes now are not known.");
  });

  it("test fencing: the history comes from the node's status", async () => {
    const at = Date.UTC(2026, 10, 22, 9, 20, 0);
    const fencing = {
      targets: [],
      recent: [{ id: "e1", request: "r1", target: "host-b", action: "off" as const, reason: "peer is no longer part of the cluster", requester: "host-a", executor: "host-a", phase: "done" as const, result: "ok" as const, at_wall_ms: at }],
    };
    const { h } = await unlocked(fakePorts({ status: withResources({ fencing }) }));
    h.press("f");
    capture("41-fencing", await h.waitFor(/host-b\s+BMC \S+\s+OK power is on/));
    expect(h.text()).toMatch(/Fencing\s+\d\d:\d\d:\d\d host-b OFF by host-a/);
    expect(h.text()).not.toContain("not available in this build");
  });

  it("about: the image slot is unknown off a hapd image", async () => {
    const { h } = await unlocked(fakePorts({ status: withResources() }));
    h.press("a");
    capture("40-about", await h.waitFor("Image slot"));
    expect(h.text()).toMatch(/Image slot\s+unknown \(not booted from a hapd image\)/);
  });

  it("a status refresh with resources and a resyncing volume stays a small fraction of a second at 115200 baud", async () => {
    const config = await configured();
    const ports = fakePorts({ status: withResources() });
    const h = startHarness({ configPath: config, ports, caps: detectCaps({ TERM: "vt100", LANG: "C" }), refresh_ms: 20 });
    await h.waitFor("This console is locked.");
    h.press(`correct horse${ENTER}`);
    await h.waitFor("Lock the console");
    h.press("s");
    await h.waitFor("45.2% 3m12s");
    const per: number[] = [];
    for (let i = 1; i <= 10; i++) {
      const before = h.writer().bytesWritten;
      // What moves every second: uptime, packet counters, the resync's progress and its estimate.
      ports.state.status = withResources({ uptime_s: 42 + i, counters: { sent: 1200 + 10 * i, received: 2300 + 20 * i, dropped: {} }, volumes: [sampleVolume({ sync_percent: 45.2 + 0.3 * i, eta_s: 192 - i })] });
      await h.waitFor(`up ${42 + i}s`);
      await h.waitFor(`received ${2300 + 20 * i}`);
      await h.waitFor(`${(45.2 + 0.3 * i).toFixed(1)}%`);
      per.push(h.writer().bytesWritten - before);
    }
    const max = Math.max(...per.slice(1));
    console.log(`bytes per status refresh with resources and a resync (vt100): ${per.join(", ")} (max after the first ${max}, ${((max / 11520) * 1000).toFixed(1)} ms at 115200 baud)`);
    // The first refresh also drops the second volume's row (the report changed shape); the rest
    // change only the moving values.
    expect(max).toBeLessThan(1152);
    expect(per[0]!).toBeLessThan(1152);
    expect(h.screen.unknown).toEqual([]);
  });
});
