// A dead peer must not cut a node off from the living ones. Under Bun, a send to a closed port
// leaves an ICMP error pending on the socket; node:dgram then went silent for every peer. The
// link must keep delivering to, and receiving from, the peers that are up.
import { describe, expect, it } from "vitest";
import { UdpLink } from "../../services/membership/udp-link.ts";
import { waitFor } from "../../services/lab/lab.ts";

describe("UDP ring link", () => {
  it("keeps talking to a live peer while another peer's port is closed", async () => {
    const base = 27000 + (process.pid % 1000) * 3;
    const gotB: number[] = [];
    const gotA: number[] = [];
    const a = new UdpLink("ring0", { address: "127.0.0.1", port: base }, new Map([[2, { address: "127.0.0.1", port: base + 1 }], [3, { address: "127.0.0.1", port: base + 2 }]]), (p) => gotA.push(p[0]!), () => undefined);
    const b = new UdpLink("ring0", { address: "127.0.0.1", port: base + 1 }, new Map([[1, { address: "127.0.0.1", port: base }]]), (p) => gotB.push(p[0]!), () => undefined);
    await a.open();
    await b.open();
    try {
      // Node 3 never binds its port: every packet to it bounces with ICMP port unreachable.
      for (let i = 0; i < 40; i++) {
        a.send([3, 2], new Uint8Array([i]));
        b.send([1], new Uint8Array([i]));
        await new Promise((r) => setTimeout(r, 5));
      }
      await waitFor("all packets", 3000, async () => (gotB.length === 40 && gotA.length === 40 ? true : null));
      expect(gotB).toEqual(Array.from({ length: 40 }, (_, i) => i));
      expect(a.unreachable).toBeGreaterThan(0);
    } finally {
      a.close();
      b.close();
    }
  });
});
