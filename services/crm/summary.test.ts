import { describe, expect, it } from "vitest";
import { type SummaryLine, formatSummary } from "./summary.ts";

const rsc = (change: string, id: string, details: string, reason: string | null = null): SummaryLine => ({ kind: "rsc", item: { change, rsc: id, details, reason } });

describe("Transition Summary formatting (crm_simulate's columns)", () => {
  it("pads the change to 8 and short ids to 5", () => {
    expect(formatSummary([rsc("Stop", "rsc1", "node1", "due to node availability")])).toEqual(["  * Stop       rsc1    ( node1 )  due to node availability"]);
  });

  it("widens the id column to longest+2 and right-aligns the details to the longest", () => {
    expect(formatSummary([rsc("Move", "vm1", "host-a -> host-b"), rsc("Start", "longername-resource", "host-a")])).toEqual([
      "  * Move       vm1                     ( host-a -> host-b )",
      "  * Start      longername-resource     (           host-a )",
    ]);
  });

  it("grows the id width only when an id is longer than the current width", () => {
    // 6 > 5 gives 8; 8 is not > 8, so the width stays 8 (not 10).
    const out = formatSummary([rsc("Start", "abcdef", "n1"), rsc("Start", "abcdefgh", "n1")]);
    expect(out[1]).toBe("  * Start      abcdefgh   ( n1 )".replace("( n1 )", "(    n1 )"));
  });

  it("prints fencing with its reason", () => {
    expect(formatSummary([{ kind: "node", item: { task: "Fence (reboot)", node: "host-a", reason: "peer is no longer part of the cluster" } }])).toEqual([
      "  * Fence (reboot) host-a 'peer is no longer part of the cluster'",
    ]);
  });
});
