import { describe, expect, it } from "vitest";
import { type ServiceSpec, SupervisorCore, type SupervisorEffect } from "./core.ts";

const spec = (over: Partial<ServiceSpec> = {}): ServiceSpec => ({
  name: "cluster",
  critical: true,
  onExhausted: "reset",
  maxRestarts: 3,
  window_ms: 60_000,
  backoff_ms: { first: 100, max: 1000 },
  startGrace_ms: 2000,
  missedHeartbeats: 3,
  ...over,
});
const kinds = (fx: SupervisorEffect[]) => fx.map((e) => e.kind).filter((k) => k !== "log");

function running(c: SupervisorCore, pid: number, t: number): void {
  c.spawned("cluster", pid, t);
  c.registered("cluster", pid, 100, t);
}

describe("supervisor core", () => {
  it("feeds the watchdog only while every critical service runs and heartbeats", () => {
    const c = new SupervisorCore([spec()], 250);
    expect(kinds(c.start(0))).toEqual(["spawn"]);
    expect(kinds(c.tick(10))).toEqual([]); // not registered yet: no feed
    running(c, 42, 20);
    expect(kinds(c.tick(30))).toEqual(["keepalive"]);
    c.heartbeat("cluster", 42, 200);
    expect(kinds(c.tick(290))).toEqual(["keepalive"]);
    // Silent for 3 intervals: a hang. No more keepalives, and the service is killed.
    const fx = c.tick(520);
    expect(fx.find((e) => e.kind === "kill")).toMatchObject({ pid: 42, signal: "SIGKILL" });
    expect(kinds(c.tick(600))).toEqual([]);
  });

  it("restarts what exits, with backoff, and gives up after maxRestarts in the window", () => {
    const c = new SupervisorCore([spec()], 250);
    c.start(0);
    running(c, 1, 0);
    expect(kinds(c.exited("cluster", 1, "exited with code 1", 100))).toEqual(["spawn"]); // first: at once
    running(c, 2, 100);
    expect(kinds(c.exited("cluster", 2, "killed", 200))).toEqual([]); // second: after backoff
    expect(kinds(c.tick(250))).toEqual([]);
    expect(kinds(c.tick(301))).toEqual(["spawn"]);
    running(c, 3, 301);
    c.exited("cluster", 3, "killed", 400);
    c.tick(5000);
    running(c, 4, 5000);
    const fx = c.exited("cluster", 4, "killed", 5100);
    expect(kinds(fx)).toEqual(["stop-feeding"]);
    expect(c.status(5100)[0]).toMatchObject({ phase: "failed", restarts: 3 });
    expect(c.feedingWatchdog).toBe(false);
  });

  it("a service that never registers is killed after its grace period", () => {
    const c = new SupervisorCore([spec()], 250);
    c.start(0);
    c.spawned("cluster", 9, 0);
    expect(c.tick(2500).find((e) => e.kind === "kill")).toMatchObject({ pid: 9 });
  });

  it("escalation 'leave' stops restarting but keeps feeding; a self-fence stops feeding", () => {
    const c = new SupervisorCore([spec({ onExhausted: "leave", maxRestarts: 1 }), spec({ name: "extra", critical: false })], 250);
    c.start(0);
    running(c, 1, 0);
    c.spawned("extra", 2, 0);
    c.registered("extra", 2, 100, 0);
    c.exited("cluster", 1, "killed", 10);
    running(c, 3, 10);
    expect(kinds(c.exited("cluster", 3, "killed", 20))).toEqual([]);
    expect(c.feedingWatchdog).toBe(true);
    expect(kinds(c.selfFence("stop hung"))).toEqual(["stop-feeding"]);
    expect(c.feedStopped).toMatch(/self-fence: stop hung/);
  });

  it("a service that exits 2 (bad input) before registering stops the node with exit 2", () => {
    const c = new SupervisorCore([spec()], 250);
    c.start(0);
    c.spawned("cluster", 5, 0);
    expect(c.exited("cluster", 5, "exited with code 2", 50).find((e) => e.kind === "exit")).toEqual({ kind: "exit", code: 2 });
  });

  it("a clean stop TERMs every service and exits once they are gone", () => {
    const c = new SupervisorCore([spec()], 250);
    c.start(0);
    running(c, 7, 0);
    expect(c.stop().find((e) => e.kind === "kill")).toMatchObject({ pid: 7, signal: "SIGTERM" });
    expect(kinds(c.exited("cluster", 7, "exited with code 0", 50))).toEqual(["exit"]);
  });
});

describe("operator restart", () => {
  it("restarts every service without counting toward giving up", () => {
    const c = new SupervisorCore([spec({ maxRestarts: 1 })], 250);
    c.start(0);
    running(c, 1, 0);
    for (let i = 0; i < 3; i++) {
      const fx = c.restartAll();
      const pid = (fx.find((e) => e.kind === "kill") as { pid: number }).pid;
      expect(kinds(c.exited("cluster", pid, "exited with code 0", 10 + i))).toEqual(["spawn"]);
      running(c, 10 + i, 10 + i);
    }
    expect(c.status(100)[0]).toMatchObject({ phase: "running", restarts: 0 });
  });
});
