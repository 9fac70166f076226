// Recurring monitors on a virtual clock: due times, no overlap, reports only on change, cancel.
import { describe, expect, it } from "vitest";
import { type RecurringOp, RecurringMonitors } from "../../services/executor/recurring.ts";

const op = (resource: string, interval_ms: number): RecurringOp => ({
  key: `${resource}_monitor_${interval_ms}`,
  resource,
  request: { action: "monitor", instance: resource, params: {}, timeout_ms: 20_000, interval_ms },
});
const keys = (effects: { kind: string; op?: RecurringOp }[]): string[] => effects.flatMap((e) => (e.op ? [e.op.key] : []));

describe("recurring monitors", () => {
  it("runs each monitor one interval after the previous run ended, never two at once", () => {
    const m = new RecurringMonitors();
    m.add(op("web", 10_000), 0, 0);
    m.add(op("db", 5_000), 0, 0);
    expect(m.nextDue_ms()).toBe(5_000);
    expect(keys(m.tick(4_999))).toEqual([]);
    expect(keys(m.tick(5_000))).toEqual(["db_monitor_5000"]);
    // Still running at 12 s: not launched again; web is due.
    expect(keys(m.tick(12_000))).toEqual(["web_monitor_10000"]);
    expect(m.completed("db_monitor_5000", 0, 13_000)).toEqual([]);
    expect(keys(m.tick(17_999))).toEqual([]);
    expect(keys(m.tick(18_000))).toEqual(["db_monitor_5000"]);
  });

  it("reports a result only when the rc changes", () => {
    const m = new RecurringMonitors();
    m.add(op("web", 1_000), 0, 0);
    m.tick(1_000);
    expect(m.completed("web_monitor_1000", 0, 1_100)).toEqual([]);
    m.tick(2_100);
    expect(m.completed("web_monitor_1000", 7, 2_200)).toEqual([{ kind: "report", key: "web_monitor_1000", rc: 7, previous_rc: 0 }]);
    m.tick(3_200);
    expect(m.completed("web_monitor_1000", 7, 3_300)).toEqual([]);
  });

  it("a cancelled monitor's late result is dropped; cancelResource removes all of a resource's", () => {
    const m = new RecurringMonitors();
    m.add(op("web", 1_000), 0, 0);
    m.add(op("web", 30_000), 0, 0);
    m.add(op("db", 1_000), 0, 0);
    m.tick(1_000);
    expect(m.cancel("web_monitor_1000")).toBe(true);
    expect(m.completed("web_monitor_1000", 1, 1_500)).toEqual([]);
    expect(m.cancelResource("web")).toEqual(["web_monitor_30000"]);
    expect(m.size).toBe(1);
    expect(() => m.add(op("x", 0), 0, 0)).toThrow("interval_ms must be positive");
  });
});
