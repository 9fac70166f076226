// The whole console in-process (keys in, VT100 screen out): routing, Ctrl-C, a small terminal,
// Apply failing, the lock, reset, the log, and the bytes a status refresh sends.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashPassword } from "./setup/password-hash.ts";
import { planSetupFiles } from "./setup/setup-files.ts";
import { writeFileSet } from "./setup/write-file-set.ts";
import { detectCaps } from "./terminal/caps.ts";
import { startHarness } from "./testing/console-harness.ts";
import { fakePorts, sampleStatus } from "./testing/fake-ports.ts";
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
