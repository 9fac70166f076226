// The serial link through serialport's stream layer and hapd's tty binding, on a real pty pair.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SerialLink } from "../../services/membership/serial-link.ts";
import { waitFor } from "../../services/lab/lab.ts";

const haveSocat = spawnSync("socat", ["-V"]).status === 0;
const dir = mkdtempSync(join(tmpdir(), "hapd-serial-"));
const A = join(dir, "a");
const B = join(dir, "b");
process.env.HAPD_LOCK_DIR = join(dir, "lock");

describe.skipIf(!haveSocat)("serial line over a socat pty pair", () => {
  let socat: ChildProcess;
  beforeAll(async () => {
    socat = spawn("socat", [`pty,raw,echo=0,link=${A}`, `pty,raw,echo=0,link=${B}`], { stdio: "ignore" });
    await waitFor("pty pair", 5000, async () => (existsSync(A) && existsSync(B) ? true : null));
  });
  afterAll(() => {
    socat.kill();
  });

  it("carries framed packets both ways at 115200 8N1", async () => {
    const gotA: number[][] = [];
    const gotB: number[][] = [];
    const states: string[] = [];
    const a = new SerialLink(A, 115200, (p) => gotA.push([...p]), (up, why) => states.push(`a ${up} ${why}`));
    const b = new SerialLink(B, 115200, (p) => gotB.push([...p]), (up, why) => states.push(`b ${up} ${why}`));
    a.open();
    b.open();
    try {
      await waitFor("both ends open", 5000, async () => (states.filter((s) => s.endsWith("true ")).length === 2 ? true : null));
      // Paced like heartbeats: the link drops frames rather than queue stale ones behind a full buffer.
      for (let i = 0; i < 20; i++) {
        a.send(new Uint8Array([i, 0, 255, 0, i]));
        b.send(new Uint8Array(300).fill(i + 1));
        await new Promise((r) => setTimeout(r, 10));
      }
      await waitFor("all frames", 5000, async () => (gotA.length === 20 && gotB.length === 20 ? true : null));
      expect(gotB[7]).toEqual([7, 0, 255, 0, 7]);
      expect(gotA[19]).toEqual(new Array(300).fill(20));
      expect(a.stats.badCrc + b.stats.badCrc).toBe(0);
    } finally {
      a.close();
      b.close();
    }
  });

  it("a second opener of the same device gets 'busy', not a shared line", async () => {
    const events: string[] = [];
    const first = new SerialLink(A, 115200, () => undefined, (up, why) => events.push(`1 ${up} ${why}`));
    const second = new SerialLink(A, 115200, () => undefined, (up, why) => events.push(`2 ${up} ${why}`), 60_000);
    first.open();
    await waitFor("first open", 5000, async () => (events.includes("1 true ") ? true : null));
    second.open();
    try {
      await waitFor("second refused", 5000, async () => (events.some((e) => e.startsWith("2 false")) ? true : null));
      expect(events.find((e) => e.startsWith("2 false"))).toMatch(/busy/);
    } finally {
      first.close();
      second.close();
    }
  });

  it("a missing device is reported as missing", async () => {
    const events: string[] = [];
    const l = new SerialLink(join(dir, "nope"), 115200, () => undefined, (up, why) => events.push(`${up} ${why}`), 60_000);
    l.open();
    try {
      await waitFor("failure", 5000, async () => (events.length > 0 ? true : null));
      expect(events[0]).toMatch(/^false .*nope missing$/);
    } finally {
      l.close();
    }
  });
});
