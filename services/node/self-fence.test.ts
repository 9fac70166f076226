import { describe, expect, it } from "vitest";
import { SelfFenceCore, selfFenceWait_ms } from "./self-fence.ts";

describe("self-fence core", () => {
  it("quorum lost with resources: stop them; stopped in time, nothing more", () => {
    const c = new SelfFenceCore({ stopTimeout_ms: 1000 });
    expect(c.onQuorum(false, 2, 0).map((e) => e.kind)).toEqual(["log", "stop-resources"]);
    expect(c.onStopped(true, "ok", 400).some((e) => e.kind === "self-fence")).toBe(false);
    expect(c.tick(5000)).toEqual([]);
    expect(c.selfFenced).toBe(false);
  });

  it("a stop that hangs past the timeout self-fences, once", () => {
    const c = new SelfFenceCore({ stopTimeout_ms: 1000 });
    c.onQuorum(false, 1, 0);
    expect(c.tick(999)).toEqual([]);
    expect(c.tick(1001).some((e) => e.kind === "self-fence")).toBe(true);
    expect(c.tick(2000)).toEqual([]);
    expect(c.onStopped(true, "late", 3000)).toEqual([]);
  });

  it("a failed or late stop self-fences; no resources or quorum kept means nothing to do", () => {
    const a = new SelfFenceCore({ stopTimeout_ms: 1000 });
    a.onQuorum(false, 1, 0);
    expect(a.onStopped(false, "agent error", 10).some((e) => e.kind === "self-fence")).toBe(true);
    const b = new SelfFenceCore({ stopTimeout_ms: 1000 });
    expect(b.onQuorum(false, 0, 0)).toEqual([]);
    expect(b.onQuorum(true, 3, 0)).toEqual([]);
  });

  it("the SBD wait is lease + stop timeout + 2 x the watchdog timeout", () => {
    expect(selfFenceWait_ms({ lease_ms: 450, stopTimeout_ms: 10_000, watchdogTimeout_s: 5 })).toBe(20_450);
  });
});
