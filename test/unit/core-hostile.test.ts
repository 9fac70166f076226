// A node fed garbage, replays and packets under another key drops and counts them, and the
// cluster carries on as if nothing happened.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ClusterKey, MessageType, seal } from "../../services/shared/wire.ts";
import { Simulator } from "../sim/simulator.ts";

describe("hostile input to a running node", () => {
  it("drops garbage, replays, foreign keys and bad payloads without a view change", () => {
    const sim = new Simulator({ seed: 11 });
    sim.startAll();
    sim.run(2000);
    const changes = sim.viewChanges(1);
    const core = sim.core(1)!;
    // Capture a real packet from host-b to replay it.
    let captured: Uint8Array | null = null;
    const fx = sim.core(2)!.tick(1e9);
    for (const e of fx) if (e.kind === "send" && e.link === 0) captured = e.bytes;
    expect(captured).not.toBeNull();
    sim.inject(1, 0, captured!);
    const replay = sim.inject(1, 0, captured!);
    expect(replay.some((e) => e.kind === "drop" && e.reason === "replay")).toBe(true);

    const foreign = seal(new ClusterKey(new Uint8Array(32).fill(99)), { type: MessageType.Heartbeat, sender: 2, link: 0, incarnation: 5, seq: 1, payload: new Uint8Array(10) });
    expect(sim.inject(1, 0, foreign).some((e) => e.kind === "drop" && e.reason === "wrong-key")).toBe(true);

    const badPayload = seal(sim.key, { type: MessageType.Heartbeat, sender: 2, link: 0, incarnation: 1, seq: 10_000, payload: new Uint8Array([1, 2, 3]) });
    expect(sim.inject(1, 0, badPayload).some((e) => e.kind === "drop" && e.reason === "garbage")).toBe(true);

    const unknown = seal(sim.key, { type: MessageType.Heartbeat, sender: 7, link: 0, incarnation: 1, seq: 1, payload: new Uint8Array(3) });
    expect(sim.inject(1, 0, unknown).some((e) => e.kind === "drop" && e.reason === "unknown-sender")).toBe(true);

    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 2 }), (bytes, link) => {
        const out = sim.inject(1, link, bytes);
        expect(out.some((e) => e.kind === "drop")).toBe(true);
      }),
      { numRuns: 500 },
    );
    sim.run(3000);
    expect(sim.viewChanges(1)).toBe(changes);
    expect(sim.quorum(1)?.quorate).toBe(true);
    const drops = core.status().drops;
    expect(drops["wrong-key"]).toBeGreaterThanOrEqual(1);
    expect(drops.garbage).toBeGreaterThan(100);
  });
});
