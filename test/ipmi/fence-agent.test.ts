// The fence agent end to end against ipmi_sim (bmc-sim, suite 3): off is a success only once the
// chassis reads off, and the simulated host (bmc-sim power-state) is really off. Run in process
// (runFenceAgent) and as a program (bun ipmi/fence-main.ts, the stdin protocol), and checked
// against Debian's fence_ipmilan on the same BMC when it is installed.

import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runFenceAgent } from "../../ipmi/fence-agent.ts";
import { BUN, REPO_ROOT, eventually, have, ipmiSimMissing, run, startBmcSim, startResponder, type Responder, type SimBmc } from "./helpers.ts";

const missing = ipmiSimMissing();

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

/** The agent as a separate program, options on stdin (how Pacemaker's fencer runs agents). */
function agentProcess(stdinText: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    const child = spawn(BUN, [join(REPO_ROOT, "ipmi/fence-main.ts")], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => done({ code: code ?? 1, out, err }));
    child.stdin.end(stdinText);
  });
}

describe.skipIf(missing !== null)(`fence agent against ipmi_sim${missing ? ` — ${missing}` : ""}`, () => {
  let bmc: SimBmc;
  let base: string[];

  beforeAll(async () => {
    bmc = await startBmcSim({ power: "on" });
    base = ["--ip", "127.0.0.1", "--ipport", String(bmc.port), "--username", bmc.user, "--password", bmc.password, "--lanplus", "--cipher", "3"];
  });
  afterAll(async () => {
    await bmc?.stop();
  });

  it("status of a running host: 'Status: ON', exit 0", async () => {
    const r = await agent([...base, "-o", "status"]);
    expect(r).toMatchObject({ code: 0, out: "Status: ON\n" });
  });

  it("monitor: exit 0", async () => {
    expect((await agent([...base, "-o", "monitor"])).code).toBe(0);
  });

  it("off: 'Success: Powered OFF' only once the chassis reads off; the host is really off", async () => {
    const r = await agent([...base, "-o", "off", "-v"]);
    expect(r.code).toBe(0);
    expect(r.out).toBe("Success: Powered OFF\n");
    expect(r.err).toMatch(/poll \d+: chassis power is off/);
    expect(r.err).not.toContain(bmc.password);
    expect(await eventually(async () => (await bmc.powerState()) === "off")).toBe(true);
  });

  it("status of a powered-off host: 'Status: OFF', exit 2", async () => {
    expect(await agent([...base, "-o", "status"])).toMatchObject({ code: 2, out: "Status: OFF\n" });
  });

  it("off again: 'Success: Already OFF'", async () => {
    expect(await agent([...base, "-o", "off"])).toMatchObject({ code: 0, out: "Success: Already OFF\n" });
  });

  it("on: 'Success: Powered ON', the host runs again", async () => {
    const r = await agent([...base, "-o", "on"]);
    expect(r).toMatchObject({ code: 0, out: "Success: Powered ON\n" });
    expect(await eventually(async () => (await bmc.powerState()) === "on")).toBe(true);
  });

  it("reboot: off verified, then on; the host booted once more", async () => {
    await eventually(async () => (await bmc.powerState()) === "on");
    const boots = bmc.boots();
    const r = await agent([...base, "-o", "reboot", "-v"]);
    expect(r).toMatchObject({ code: 0, out: "Success: Rebooted\n" });
    expect(r.err.indexOf("chassis power is off")).toBeLessThan(r.err.lastIndexOf("chassis control power_on"));
    expect(await eventually(async () => bmc.boots() > boots)).toBe(true);
    expect(await eventually(async () => (await bmc.powerState()) === "on")).toBe(true);
  });

  it("the stdin key=value protocol, run as a program: off then status exit 2, on", async () => {
    const lines = (action: string) => `# from the fencer\naction=${action}\nipaddr=127.0.0.1\nipport=${bmc.port}\nlogin=${bmc.user}\npasswd=${bmc.password}\nlanplus=1\ncipher=3\nnodename=host-a\n`;
    const off = await agentProcess(lines("off"));
    expect(off).toMatchObject({ code: 0, out: "Success: Powered OFF\n" });
    expect(await eventually(async () => (await bmc.powerState()) === "off")).toBe(true);
    expect(await agentProcess(lines("status"))).toMatchObject({ code: 2, out: "Status: OFF\n" });
    expect(await agentProcess(lines("on"))).toMatchObject({ code: 0, out: "Success: Powered ON\n" });
  });

  it("--password-script: the password comes from a script's output", async () => {
    const script = join(bmc.dir, "pw.sh");
    writeFileSync(script, `#!/bin/sh\necho '${bmc.password}'\n`, { mode: 0o700 });
    chmodSync(script, 0o700);
    const r = await agent(["--ip", "127.0.0.1", "-u", String(bmc.port), "-l", bmc.user, "-S", script, "-C", "3", "-o", "status"]);
    expect(r).toMatchObject({ code: 0, out: "Status: ON\n" });
  });

  it("a wrong password: exit 1, 'authentication failed' naming the BMC, no password in the output", async () => {
    const r = await agent(["--ip", "127.0.0.1", "--ipport", String(bmc.port), "-l", bmc.user, "-p", "Not-The-Pa55", "-C", "3", "-o", "off"]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toContain(`authentication failed at BMC 127.0.0.1:${bmc.port}`);
    expect(r.err).toContain("Unable to connect/login to fencing device");
    expect(r.err).not.toContain("Not-The-Pa55");
    expect(await bmc.powerState()).toBe("on");
  });

  it("an explicit cipher 17 on this BMC: exit 1, the error names the suites it offers", async () => {
    const r = await agent(["--ip", "127.0.0.1", "--ipport", String(bmc.port), "-l", bmc.user, "-p", bmc.password, "-C", "17", "-o", "status"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("does not offer cipher suite 17");
  });

  it("without --cipher the agent falls back to 3 quickly (unlike ipmitool's 10 s probe)", async () => {
    const r = await agent(["--ip", "127.0.0.1", "--ipport", String(bmc.port), "-l", bmc.user, "-p", bmc.password, "-o", "status", "-v"]);
    expect(r.code).toBe(0);
    expect(r.err).toContain("cipher suite 3");
  });

  it.skipIf(!have("fence_ipmilan"))("gives the same status answers as fence_ipmilan on the same BMC", async () => {
    const theirs = await run("fence_ipmilan", ["--ip", "127.0.0.1", "--ipport", String(bmc.port), "--username", bmc.user, "--password", bmc.password, "--lanplus", "--cipher", "3", "-o", "status"]);
    const ours = await agent([...base, "-o", "status"]);
    expect(ours.code).toBe(theirs.code);
    expect(ours.out.trim()).toBe(theirs.stdout.trim());
  });
});

describe("fence agent against the responder with cipher suite 17", () => {
  let responder: Responder;
  beforeAll(async () => {
    responder = await startResponder({ password: "resp-s3cret", suites: "17" });
  });
  afterAll(async () => {
    await responder?.stop();
  });

  it("off confirmed and status exit 2 over suite 17", async () => {
    const base = ["--ip", "127.0.0.1", "--ipport", String(responder.port), "-l", "admin", "-p", "resp-s3cret", "--cipher", "17"];
    expect(await agent([...base, "-o", "off"])).toMatchObject({ code: 0, out: "Success: Powered OFF\n" });
    expect(await agent([...base, "-o", "status"])).toMatchObject({ code: 2, out: "Status: OFF\n" });
    expect(await agent([...base, "-o", "on"])).toMatchObject({ code: 0, out: "Success: Powered ON\n" });
  });
});
