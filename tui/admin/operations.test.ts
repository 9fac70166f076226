import { describe, expect, it } from "vitest";
import type { Key } from "../terminal/key-parser.ts";
import { sampleCrm } from "../testing/fake-ports.ts";
import { type Command, type OpAction, type OpResult, type OpState, bindOpKey, initialOp, outcomeOf, reduceNodeMode, reduceResources } from "./operations.ts";

const ch = (c: string): Key => ({ name: "char", ch: c });
const HOSTS = ["host-a", "host-b"];
const RESOURCES = sampleCrm().resources;

/** Feeds keys through the binding and the reducer, as the screen does; returns every command sent. */
function run(reduce: (s: OpState, a: OpAction) => OpResult, keys: Key[], from: OpState = initialOp): { state: OpState; sent: Command[]; closed: boolean } {
  let state = from;
  const sent: Command[] = [];
  let closed = false;
  for (const k of keys) {
    const a = bindOpKey(k, state.step);
    if (!a) continue;
    const r = reduce(state, a);
    state = r.state;
    if (r.send) sent.push(r.send);
    closed ||= r.close;
  }
  return { state, sent, closed };
}

const nodeMode = (s: OpState, a: OpAction) => reduceNodeMode(s, a, HOSTS);
const resources = (s: OpState, a: OpAction) => reduceResources(s, a, RESOURCES, HOSTS);

describe("node mode", () => {
  it("standby: pick the node by its number, the mode by its letter, confirm with y", () => {
    const r = run(nodeMode, [ch("2"), ch("s")]);
    expect(r.state.step).toBe("confirm");
    expect(r.sent).toEqual([]);
    const y = run(nodeMode, [ch("y")], r.state);
    expect(y.sent).toEqual([{ kind: "node-flags", node: "host-b", mode: "standby" }]);
    expect(y.state.step).toBe("sending");
  });

  it("online and maintenance with arrows and Enter", () => {
    expect(run(nodeMode, [{ name: "enter" }, { name: "down" }, { name: "enter" }, ch("y")]).sent).toEqual([{ kind: "node-flags", node: "host-a", mode: "online" }]);
    expect(run(nodeMode, [{ name: "down" }, { name: "enter" }, ch("M"), ch("y")]).sent).toEqual([{ kind: "node-flags", node: "host-b", mode: "maintenance" }]);
  });

  it("n and Esc send nothing; Esc steps back, and closes from the list", () => {
    const r = run(nodeMode, [ch("1"), ch("s"), ch("n")]);
    expect(r).toMatchObject({ sent: [], closed: false, state: { step: "list", pending: null } });
    expect(run(nodeMode, [ch("1"), { name: "escape" }]).state.step).toBe("list");
    expect(run(nodeMode, [ch("1"), { name: "escape" }, { name: "escape" }]).closed).toBe(true);
    // A number past the list is ignored.
    expect(run(nodeMode, [ch("7")]).state).toEqual(initialOp);
  });

  it("takes no key while the node is asked, then shows its answer on the list", () => {
    const sending = run(nodeMode, [ch("2"), ch("s"), ch("y")]).state;
    expect(bindOpKey(ch("y"), "sending")).toBeNull();
    expect(nodeMode(sending, { type: "back" }).close).toBe(false);
    const refused = nodeMode(sending, { type: "reply", outcome: { ok: false, text: "host-b standby refused: no quorum" } }).state;
    expect(refused).toMatchObject({ step: "list", cursor: 1, pending: null, outcome: { ok: false, text: "host-b standby refused: no quorum" } });
  });
});

describe("resources", () => {
  it("move: Enter or m offers the hosts, the one it does not run on first; the number picks", () => {
    // vm-db (row 2) runs on host-a: host-b is the proposed target.
    const choose = run(resources, [ch("2"), ch("m")]).state;
    expect(choose).toMatchObject({ step: "choose", cursor: 1, choice: 1, subject: "vm-db" });
    expect(run(resources, [{ name: "enter" }, ch("y")], choose).sent).toEqual([{ kind: "resource", command: { action: "move", resource: "vm-db", node: "host-b" } }]);
    expect(run(resources, [ch("1"), ch("y")], choose).sent).toEqual([{ kind: "resource", command: { action: "move", resource: "vm-db", node: "host-a" } }]);
    // Only hosts are targets (the arbitrator is not among them): a third number picks nothing.
    expect(run(resources, [ch("3")], choose).state.step).toBe("choose");
  });

  it("clear, clean up and restart the selected resource, each after y", () => {
    expect(run(resources, [{ name: "down" }, ch("c"), ch("y")]).sent).toEqual([{ kind: "resource", command: { action: "clear", resource: "vm-db" } }]);
    expect(run(resources, [ch("j"), ch("j"), ch("u"), ch("y")]).sent).toEqual([{ kind: "resource", command: { action: "cleanup", resource: "vm-web" } }]);
    expect(run(resources, [ch("k"), ch("r"), ch("y")]).sent).toEqual([{ kind: "resource", command: { action: "restart", resource: "ip-mgmt" } }]);
    expect(run(resources, [ch("c"), { name: "escape" }]).sent).toEqual([]);
  });

  it("moves the resource that was picked even when a new report reorders the list meanwhile", () => {
    const choose = run(resources, [ch("2"), ch("m")]).state;
    const reordered = [...RESOURCES].reverse();
    expect(run((s, a) => reduceResources(s, a, reordered, HOSTS), [{ name: "enter" }, ch("y")], choose).sent).toEqual([{ kind: "resource", command: { action: "move", resource: "vm-db", node: "host-b" } }]);
  });

  it("does nothing without resources, and keeps the cursor inside a list that shrank", () => {
    expect(run((s, a) => reduceResources(s, a, [], HOSTS), [ch("m"), ch("c"), { name: "enter" }]).state).toEqual(initialOp);
    const r = run((s, a) => reduceResources(s, a, RESOURCES.slice(0, 1), HOSTS), [ch("c"), ch("y")], { ...initialOp, cursor: 3 });
    expect(r.sent).toEqual([{ kind: "resource", command: { action: "clear", resource: "vol-r0" } }]);
  });
});

describe("the node's answer", () => {
  const move: Command = { kind: "resource", command: { action: "move", resource: "vm-db", node: "host-b" } };
  it("says what was done, what was refused and why, and when the node could not be asked", () => {
    expect(outcomeOf(move, { ok: true })).toEqual({ ok: true, text: "move vm-db to host-b: accepted by the node" });
    expect(outcomeOf(move, { ok: false, error: "host-b is in standby" })).toEqual({ ok: false, text: "move vm-db to host-b refused: host-b is in standby" });
    expect(outcomeOf(move, new Error("/run/hapd/hapd.sock: no node is running there")).text).toBe("move vm-db to host-b: no answer from the node: /run/hapd/hapd.sock: no node is running there");
    expect(outcomeOf({ kind: "node-flags", node: "host-a", mode: "online" }, { ok: true }).text).toBe("host-a is online (recorded in the CIB)");
  });
});
