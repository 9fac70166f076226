// The client session state machine driven in memory against the responder core: no sockets,
// a virtual clock, seeded randomness and loss. Each test names the behaviour it checks.

import { describe, expect, it } from "vitest";
import { chassisControlRequest, decodeChassisStatus, decodeWatchdogState, getChassisStatusRequest, getWatchdogRequest, resetWatchdogRequest, setWatchdogRequest } from "./commands.ts";
import { IpmiError } from "./errors.ts";
import { decodePacket, encodeV20, PayloadType } from "./rmcp.ts";
import { decodeOpenSessionResponse, encodeOpenSessionRequest } from "./rakp.ts";
import { IpmiSession, ReplayWindow, checkSessionConfig, type CipherPolicy, type SessionConfig } from "./session.ts";
import { VirtualLink, seededBytes, seededRandom, virtualBmc, type LinkOptions, type VirtualBmcOptions } from "./virtual-link.ts";

const BMC = "10.0.0.9:623";

function config(overrides: Partial<SessionConfig> = {}): SessionConfig {
  return {
    bmc: BMC,
    username: "admin",
    password: new TextEncoder().encode("s3cret"),
    kg: null,
    cipher: "auto",
    privilege: "administrator",
    request_timeout_ms: 500,
    max_attempts: 3,
    random_bytes: seededBytes(42),
    ...overrides,
  };
}

function setup(cfg: Partial<SessionConfig> = {}, bmc: VirtualBmcOptions = {}, link: LinkOptions = {}): VirtualLink {
  const l = new VirtualLink(new IpmiSession(config(cfg)), virtualBmc(bmc), link);
  l.apply(l.session.start(0, 10_000));
  return l;
}

function establish(l: VirtualLink): void {
  l.run(() => l.has("established") || l.has("failed"));
}

function failure(l: VirtualLink): IpmiError {
  const failed = l.find("failed");
  if (!failed) throw new Error(`no failure; results: ${JSON.stringify(l.results.map((r) => r.kind))}`);
  return failed.error;
}

let request_id = 100;
function call(l: VirtualLink, request: ReturnType<typeof getChassisStatusRequest>): { completion_code: number; data: Uint8Array } {
  const id = ++request_id;
  l.apply(l.session.request(id, request, l.now_ms, l.now_ms + 5000));
  l.run(() => l.results.some((r) => (r.kind === "response" || r.kind === "request_failed") && r.request_id === id));
  const result = l.results.find((r) => (r.kind === "response" || r.kind === "request_failed") && r.request_id === id);
  if (!result || result.kind !== "response") throw new Error(`request ${id} failed: ${result && "error" in result ? result.error.message : "no answer"}`);
  return result;
}

function powerOn(l: VirtualLink): boolean {
  const status = decodeChassisStatus(call(l, getChassisStatusRequest()).data);
  if (!status.ok) throw new Error(status.error);
  return status.value.power_on;
}

describe.each([17, 3] as const)("session with cipher suite %i", (suite) => {
  it("establishes, controls the chassis and closes", () => {
    const l = setup({ cipher: suite });
    establish(l);
    expect(l.find("established")).toEqual({ kind: "established", cipher_suite: suite, privilege: 4 });
    expect(powerOn(l)).toBe(true);
    expect(call(l, chassisControlRequest("power_off")).completion_code).toBe(0);
    expect(powerOn(l)).toBe(false);
    expect(l.bmc.chassis.power_on).toBe(false);
    l.apply(l.session.close(l.now_ms));
    l.run(() => l.has("closed"));
    expect(l.session.state).toBe("closed");
    expect(l.bmc.sessionCount).toBe(0);
  });

  it("sends every in-session message authenticated and encrypted", () => {
    const l = setup({ cipher: suite });
    establish(l);
    call(l, getChassisStatusRequest());
    const inSession = [...l.sent.to_bmc, ...l.sent.to_client].map((d) => decodePacket(d)).filter((p) => p.ok && p.value.kind === "v20" && p.value.session_id !== 0);
    expect(inSession.length).toBeGreaterThanOrEqual(4);
    for (const p of inSession) expect(p.ok && p.value.kind === "v20" && p.value.authenticated && p.value.encrypted).toBe(true);
  });

  it("runs the watchdog countdown and its power-down action on the virtual clock", () => {
    const l = setup({ cipher: suite });
    establish(l);
    const set = setWatchdogRequest({ timer_use: 4, dont_stop: false, dont_log: false, timeout_action: "power_down", pretimeout_interrupt: "none", pretimeout_interval_s: 0, expiration_flags_clear: 0x10, initial_countdown_ms: 3000 });
    expect(call(l, set).completion_code).toBe(0);
    expect(call(l, resetWatchdogRequest()).completion_code).toBe(0);
    const start = l.now_ms;
    l.advanceTo(start + 2000);
    expect(call(l, resetWatchdogRequest()).completion_code).toBe(0); // a pet re-arms the countdown
    const petted = l.now_ms;
    l.advanceTo(petted + 2900);
    expect(l.bmc.chassis.power_on).toBe(true);
    const state = decodeWatchdogState(call(l, getWatchdogRequest()).data);
    expect(state.ok && state.value.running).toBe(true);
    l.advanceTo(petted + 3100);
    expect(l.bmc.chassis.power_on).toBe(false);
    const after = decodeWatchdogState(call(l, getWatchdogRequest()).data);
    expect(after.ok && after.value).toMatchObject({ running: false, expiration_flags: 0x10 });
  });
});

describe("cipher suite policy", () => {
  it("auto falls back from 17 to 3 when the BMC rejects 17 at Open Session", () => {
    const l = setup({ cipher: "auto" }, { cipher_suites: [3] });
    establish(l);
    expect(l.find("established")?.cipher_suite).toBe(3);
    const opens = l.sent.to_bmc.filter((d) => {
      const p = decodePacket(d);
      return p.ok && p.value.kind === "v20" && p.value.payload_type === PayloadType.OPEN_SESSION_REQUEST;
    });
    expect(opens.length).toBe(2);
  });

  it("an explicit 17 does not fall back, and the error lists what the BMC offers", () => {
    const l = setup({ cipher: 17 }, { cipher_suites: [3] });
    establish(l);
    const error = failure(l);
    expect(error.code).toBe("cipher");
    expect(error.message).toContain(BMC);
    expect(error.message).toContain("does not offer cipher suite 17");
    expect(error.message).toContain("the BMC offers cipher suites 3");
  });

  it("an explicit 3 is used as is", () => {
    const l = setup({ cipher: 3 });
    establish(l);
    expect(l.find("established")?.cipher_suite).toBe(3);
  });

  it("cipher suite 0 is refused before anything is sent", () => {
    const cfg = config({ cipher: 0 as unknown as CipherPolicy });
    const problem = checkSessionConfig(cfg);
    expect(problem?.code).toBe("config");
    expect(problem?.message).toContain("cipher suite 0");
    expect(() => new IpmiSession(cfg)).toThrow(IpmiError);
  });

  it("the responder refuses a suite-0 Open Session with 'invalid authentication algorithm'", () => {
    const bmc = virtualBmc();
    const request = encodeV20({
      payload_type: PayloadType.OPEN_SESSION_REQUEST,
      encrypted: false,
      authenticated: false,
      session_id: 0,
      session_seq: 0,
      payload: encodeOpenSessionRequest({ tag: 1, max_privilege: 4, console_session_id: 5, algorithms: { auth: 0, integrity: 0, confidentiality: 0 } }),
    });
    const [reply] = bmc.receive(request, "x:1", 0).filter((e) => e.kind === "send");
    const packet = reply && reply.kind === "send" ? decodePacket(reply.bytes) : null;
    const response = packet?.ok && packet.value.kind === "v20" ? decodeOpenSessionResponse(packet.value.payload) : null;
    expect(response?.ok && response.value.status).toBe(0x04);
    expect(bmc.sessionCount).toBe(0);
  });
});

describe("authentication", () => {
  it("a wrong password fails with 'authentication failed' naming the BMC, once, and frees the BMC session", () => {
    const l = setup({ password: new TextEncoder().encode("Not-The-Pa55") });
    establish(l);
    const error = failure(l);
    expect(error.code).toBe("auth_failed");
    expect(error.message).toContain("authentication failed");
    expect(error.message).toContain(BMC);
    expect(error.message).not.toContain("Not-The-Pa55"); // the password itself is never in a message
    const sentBefore = l.sent.to_bmc.length;
    l.advanceTo(l.now_ms + 30_000);
    expect(l.sent.to_bmc.length).toBe(sentBefore); // no retry storm
    // Auth caps, Open Session, RAKP1, and one RAKP3 that carries the error status.
    expect(sentBefore).toBe(4);
    expect(l.bmc.sessionCount).toBe(0);
  });

  it("an unknown user fails with 'authentication failed'", () => {
    const l = setup({ username: "mallory" });
    establish(l);
    expect(failure(l).code).toBe("auth_failed");
    expect(failure(l).message).toContain('"mallory"');
  });

  it("a privilege above the user's limit fails naming the level and suggesting operator", () => {
    const l = setup({ privilege: "administrator" }, { users: [{ name: "admin", password: "s3cret", max_privilege: 3 }] });
    establish(l);
    const error = failure(l);
    expect(error.code).toBe("privilege");
    expect(error.message).toContain("administrator");
    expect(error.message).toContain("operator");
  });

  it("operator privilege is enough for chassis control", () => {
    const l2 = setup({ username: "op", privilege: "operator" }, { users: [{ name: "op", password: "s3cret", max_privilege: 3 }] });
    establish(l2);
    expect(l2.find("established")?.privilege).toBe(3);
    expect(call(l2, chassisControlRequest("power_off")).completion_code).toBe(0);
  });

  it("a channel limit below the asked privilege is reported from Get Channel Auth Caps", () => {
    const l = setup({}, { channel_privilege_limit: 3 });
    establish(l);
    expect(failure(l).code).toBe("privilege");
  });
});

describe("loss, retransmission and deadlines", () => {
  it("survives losing every other datagram in both directions", () => {
    const l = setup({ max_attempts: 6 }, {}, { drop: (_direction, index) => index % 2 === 0 });
    establish(l);
    expect(l.has("established")).toBe(true);
    expect(powerOn(l)).toBe(true);
    expect(call(l, chassisControlRequest("power_off")).completion_code).toBe(0);
    expect(l.bmc.chassis.power_on).toBe(false);
  });

  it.each([1, 2, 3, 4, 5])("completes under 30%% seeded random loss (seed %i)", (seed) => {
    const random = seededRandom(seed);
    const l = setup({ max_attempts: 8 }, {}, { drop: () => random() < 0.3 });
    establish(l);
    expect(l.has("established")).toBe(true);
    expect(typeof powerOn(l)).toBe("boolean");
  });

  it("gives up after max_attempts sends when the BMC never answers", () => {
    const l = setup({ max_attempts: 3 }, {}, { drop: (direction) => direction === "to_bmc" });
    establish(l);
    const error = failure(l);
    expect(error.code).toBe("timeout");
    expect(error.message).toContain(BMC);
    expect(error.message).toContain("Get Channel Authentication Capabilities");
    expect(l.sent.to_bmc.length).toBe(3);
    expect(l.now_ms).toBe(1500);
  });

  it("respects the setup deadline even with attempts left", () => {
    const l = new VirtualLink(new IpmiSession(config({ max_attempts: 20 })), virtualBmc(), { drop: (direction) => direction === "to_bmc" });
    l.apply(l.session.start(0, 1200));
    l.run(() => l.has("failed"));
    expect(failure(l).code).toBe("timeout");
    expect(l.now_ms).toBe(1200);
  });

  it("fails a queued request at its own deadline", () => {
    const l = setup();
    establish(l);
    const id = 999;
    const lossy = new VirtualLink(l.session, l.bmc, { drop: () => true });
    lossy.now_ms = l.now_ms;
    lossy.apply(l.session.request(id, getChassisStatusRequest(), l.now_ms, l.now_ms + 700));
    lossy.run(() => lossy.results.some((r) => r.kind === "request_failed"));
    const failed = lossy.results.find((r) => r.kind === "request_failed");
    expect(failed && failed.kind === "request_failed" && failed.error.code).toBe("timeout");
    expect(lossy.now_ms - l.now_ms).toBe(700);
  });

  it("drops a replayed BMC answer and keeps working", () => {
    const l = setup();
    establish(l);
    call(l, getChassisStatusRequest());
    const last = l.sent.to_client[l.sent.to_client.length - 1];
    if (!last) throw new Error("no datagram");
    l.inject("to_client", last);
    l.run(() => false, l.now_ms + 10);
    expect(l.results.some((r) => r.kind === "dropped" && r.reason.includes("outside the window or replayed"))).toBe(true);
    expect(powerOn(l)).toBe(true);
  });

  it("a session request after close fails with 'closed'", () => {
    const l = setup();
    establish(l);
    l.apply(l.session.close(l.now_ms));
    l.run(() => l.has("closed"));
    l.apply(l.session.request(7, getChassisStatusRequest(), l.now_ms));
    const failed = l.results.find((r) => r.kind === "request_failed");
    expect(failed && failed.kind === "request_failed" && failed.error.code).toBe("closed");
  });
});

describe("ReplayWindow", () => {
  it("accepts increasing numbers and small reorderings, rejects replays and far jumps", () => {
    const w = new ReplayWindow();
    expect(w.accept(0)).toBe(false);
    expect(w.accept(10)).toBe(true);
    expect(w.accept(10)).toBe(false);
    expect(w.accept(12)).toBe(true);
    expect(w.accept(11)).toBe(true);
    expect(w.accept(11)).toBe(false);
    expect(w.accept(12 - 16)).toBe(false);
    expect(w.accept(12 + 33)).toBe(false);
    expect(w.accept(12 + 32)).toBe(true);
  });

  it("handles the 32-bit wrap", () => {
    const w = new ReplayWindow();
    expect(w.accept(0xfffffffe)).toBe(true);
    expect(w.accept(0xffffffff)).toBe(true);
    expect(w.accept(1)).toBe(true);
    expect(w.accept(0xfffffffe)).toBe(false);
  });
});
