// The CIB state machine: what each command does, that a rejection is deterministic, and that a
// snapshot is the whole state (restoring one and applying the rest gives the same bytes).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyEntry, type CibState, type Command, CibSnapshotError, decodeSnapshot, emptyState, encodeCommand, encodeSnapshot } from "./cib.ts";

let index = 0;
function apply(state: CibState, cmd: Command | string) {
  return applyEntry(state, { index: ++index, term: 1, data: typeof cmd === "string" ? cmd : encodeCommand(cmd) });
}

function run(cmds: Command[], from = emptyState()): CibState {
  return cmds.reduce((s, c) => apply(s, c).state, from);
}

const op = (rc: number) => ({ op: "monitor", interval_ms: 10_000, rc, expected_rc: 0, call_id: 7, exec_time_ms: 12, at_ms: 1_700_000_000_000 });

describe("CIB state machine", () => {
  it("config: a writer names the version it creates; a stale writer is refused with the reason", () => {
    let s = apply(emptyState(), { kind: "config", version: 1, doc: { resources: ["vm1"] } }).state;
    expect(s.config).toEqual({ version: 1, doc: { resources: ["vm1"] } });
    // Two operators both edited version 1: the first wins, the second is told to reload.
    const first = apply(s, { kind: "config", version: 2, doc: { by: "alice" } });
    const second = apply(first.state, { kind: "config", version: 2, doc: { by: "bob" } });
    expect(first.result).toMatchObject({ ok: true });
    expect(second.result).toMatchObject({ ok: false, reason: expect.stringMatching(/version 2 does not follow the current version 2/) });
    s = second.state;
    expect(s.config).toEqual({ version: 2, doc: { by: "alice" } });
  });

  it("status: operation results, the last failure, fail counts and their reset", () => {
    const s = run([
      { kind: "op-result", node: "host-a", resource: "vm1", result: op(0) },
      { kind: "op-result", node: "host-a", resource: "vm1", result: op(7) },
      { kind: "fail-count", node: "host-a", resource: "vm1", action: "increment", at_ms: 5 },
      { kind: "fail-count", node: "host-a", resource: "vm1", action: "increment", at_ms: 9 },
    ]);
    const r = s.resources.vm1!["host-a"]!;
    expect(r.ops.monitor_10000!.rc).toBe(7);
    expect(r.last_failure?.rc).toBe(7);
    expect(r.fail_count).toBe(2);
    expect(r.last_failure_ms).toBe(9);
    const reset = run([{ kind: "fail-count", node: "host-a", resource: "vm1", action: "reset", at_ms: 10 }], s).resources.vm1!["host-a"]!;
    expect(reset).toMatchObject({ fail_count: 0, last_failure_ms: null, last_failure: null });
    expect(reset.ops.monitor_10000).toBeDefined();
  });

  it("cleanup forgets a resource's history on one node or everywhere", () => {
    const s = run([
      { kind: "op-result", node: "host-a", resource: "vm1", result: op(0) },
      { kind: "op-result", node: "host-b", resource: "vm1", result: op(0) },
    ]);
    expect(Object.keys(run([{ kind: "cleanup", resource: "vm1", node: "host-a" }], s).resources.vm1!)).toEqual(["host-b"]);
    expect(run([{ kind: "cleanup", resource: "vm1" }], s).resources.vm1).toBeUndefined();
  });

  it("node attributes and the standby and maintenance flags", () => {
    const s = run([
      { kind: "node-attr", node: "host-b", name: "pingd", value: "100" },
      { kind: "node-flags", node: "host-b", standby: true },
      { kind: "node-flags", node: "host-b", maintenance: true },
      { kind: "node-flags", node: "host-b", standby: false },
      { kind: "node-attr", node: "host-b", name: "gone", value: "1" },
      { kind: "node-attr", node: "host-b", name: "gone", value: null },
    ]);
    expect(s.nodes["host-b"]).toEqual({ standby: false, maintenance: true, attributes: { pingd: "100" } });
  });

  it("a malformed committed entry is rejected alike on every node and changes nothing", () => {
    const s = run([{ kind: "node-flags", node: "arb", standby: true }]);
    const r = apply(s, '{"kind":"node-flags","node":"arb"}');
    expect(r.state).toBe(s);
    expect(r.result).toMatchObject({ ok: false, reason: expect.stringMatching(/sets neither standby nor maintenance/) });
    expect(apply(s, "not json").result).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid command: not JSON/) });
    expect(apply(s, JSON.stringify({ kind: "node-attr", node: "__proto__", name: "x", value: "y" })).result).toMatchObject({ ok: false });
  });

  it("encodeCommand refuses an invalid command and names the field", () => {
    expect(() => encodeCommand({ kind: "fail-count", node: "host a", resource: "vm1", action: "increment", at_ms: 0 })).toThrow(/node: not a node name/);
  });

  it("the leader's no-op changes nothing and has no result", () => {
    const s = emptyState();
    expect(applyEntry(s, { index: 1, term: 1, data: "" })).toEqual({ state: s, result: null });
  });

  it("a command retried under the same id applies once (a forward lost, then resent)", () => {
    const inc: Command = { kind: "fail-count", id: { origin: "host-a", seq: 41 }, node: "host-a", resource: "vm1", action: "increment", at_ms: 1 };
    const once = apply(emptyState(), inc);
    const twice = apply(once.state, inc);
    expect(twice.result).toMatchObject({ ok: true, duplicate: true });
    expect(twice.state.resources.vm1!["host-a"]!.fail_count).toBe(1);
    // Other ids from that origin, in any order, still apply.
    const other = apply(twice.state, { ...inc, id: { origin: "host-a", seq: 40 } });
    expect(other.state.resources.vm1!["host-a"]!.fail_count).toBe(2);
  });

  it("names that collide with Object's own properties are plain names", () => {
    const s = run([
      { kind: "op-result", node: "host-a", resource: "constructor", result: op(0) },
      { kind: "fail-count", node: "host-a", resource: "toString", action: "increment", at_ms: 1 },
    ]);
    const resources = new Map(Object.entries(s.resources));
    expect(resources.get("constructor")!["host-a"]!.ops.monitor_10000!.rc).toBe(0);
    expect(resources.get("toString")!["host-a"]!.fail_count).toBe(1);
    expect(decodeSnapshot(encodeSnapshot(s))).toEqual(s);
  });

  it("a corrupt or foreign snapshot is refused with the field named", () => {
    expect(() => decodeSnapshot(new TextEncoder().encode("{"))).toThrow(CibSnapshotError);
    expect(() => decodeSnapshot(new TextEncoder().encode('{"format":1,"state":{"config":{"version":-1,"doc":null},"nodes":{},"resources":{},"sessions":{}}}'))).toThrow(/state\.config\.version/);
  });

  it("determinism: restoring a snapshot taken anywhere and applying the rest gives the same bytes as applying everything", () => {
    const name = fc.constantFrom("host-a", "host-b", "arb");
    const rsc = fc.constantFrom("vm1", "vm2", "ip1");
    const cmd: fc.Arbitrary<Command> = fc.oneof(
      fc.record({ kind: fc.constant("config" as const), version: fc.integer({ min: 1, max: 4 }), doc: fc.jsonValue({ maxDepth: 2 }) }),
      fc.record({ kind: fc.constant("op-result" as const), node: name, resource: rsc, result: fc.record({ op: fc.constantFrom("start", "monitor"), interval_ms: fc.constantFrom(0, 5000), rc: fc.integer({ min: 0, max: 8 }), expected_rc: fc.constant(0), call_id: fc.nat(), exec_time_ms: fc.nat(), at_ms: fc.nat() }) }),
      fc.record({ kind: fc.constant("fail-count" as const), node: name, resource: rsc, action: fc.constantFrom("increment" as const, "reset" as const), at_ms: fc.nat() }),
      fc.record({ kind: fc.constant("cleanup" as const), resource: rsc }),
      fc.record({ kind: fc.constant("node-attr" as const), node: name, name: fc.constantFrom("a", "b"), value: fc.option(fc.string({ maxLength: 5 }), { nil: null }) }),
      fc.record({ kind: fc.constant("node-flags" as const), node: name, standby: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 30 }), fc.nat(), (cmds, cut) => {
        const k = cmds.length === 0 ? 0 : cut % cmds.length;
        const whole = run(cmds);
        const restored = run(cmds.slice(k), decodeSnapshot(encodeSnapshot(run(cmds.slice(0, k)))));
        expect(Buffer.from(encodeSnapshot(restored)).equals(Buffer.from(encodeSnapshot(whole)))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
