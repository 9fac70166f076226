// The replication core under the simulator: crashes, cuts, forced promotions. A failing seed is
// printed; rerun it by narrowing the seed loop.
import { describe, expect, it } from "vitest";
import { BLOCK_BYTES, Client, ReplSim, digest, type SimNode } from "./sim.ts";

const SEEDS = Number(process.env.REPL_SEEDS ?? 40);
const BLOCKS = 256; // 1 MiB volume of 4 KiB blocks, 16 regions of 64 KiB

function setup(seed: number, config: ConstructorParameters<typeof ReplSim>[0]["config"] = {}) {
  const sim = new ReplSim({ seed, config });
  const [a, b] = sim.nodes;
  expect(sim.runUntil(() => sim.inSync(), 100)).toBe(true);
  expect(sim.promote(a).ok).toBe(true);
  const client = new Client(sim, a, BLOCKS);
  return { sim, a, b, client };
}

function converge(sim: ReplSim, client: Client, limit_ms = 2000): void {
  client.stop();
  const ok = sim.runUntil(() => sim.inSync() && client.outstanding === 0 && sim.nodes.every((n) => n.data.unsyncedWrites >= 0), limit_ms);
  if (!ok) throw new Error(`no convergence: ${sim.nodes.map((n) => (n.alive ? n.c.describe() : "down")).join(" | ")}\n${sim.nodes.map((n) => n.log.slice(-6).join("\n")).join("\n--\n")}`);
  sim.runFor(20); // let in-flight resync writes land
  expect(digest(sim.nodes[0].data.current)).toBe(digest(sim.nodes[1].data.current));
}

describe("replication core in the simulator", () => {
  it(`protocol C: no acknowledged write is lost when the Primary crashes and the Secondary is promoted (${SEEDS} seeds)`, () => {
    let promotedChecks = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { sim, a, b, client } = setup(seed);
      client.start();
      sim.runFor(5 + sim.rng.next() * 40);
      if (sim.rng.chance(0.3)) {
        // A cut first: A fences B (B becomes Outdated) and goes on alone.
        sim.cut();
        sim.runFor(sim.rng.next() * 20);
        sim.heal();
        sim.runFor(sim.rng.next() * 30);
      }
      sim.crash(a);
      client.abandon();
      sim.runFor(30);
      const r = sim.promote(b);
      if (!r.ok) {
        // Refusal is only allowed for a disk the cluster outdated or one mid-resync.
        expect(["Outdated", "Inconsistent"]).toContain(b.c.diskState);
        expect(r.message).toMatch(/refusing promotion/);
        continue;
      }
      const bad = client.check(b.data.current, client.lastAcked);
      if (bad.length > 0) throw new Error(`seed ${seed}: ${bad.slice(0, 5).join("; ")}`);
      promotedChecks++;
      // A returns as Secondary, B keeps writing, then everything converges.
      sim.exec(b, b.c.fenceConfirmed());
      sim.restart(a);
      client.node = b;
      client.start();
      sim.runFor(50);
      converge(sim, client);
      expect(client.check(a.data.current, client.lastAcked)).toEqual([]);
    }
    expect(promotedChecks).toBeGreaterThan(SEEDS / 2);
  });

  it(`protocol C: writes acknowledged before an acknowledged flush survive a power loss of both hosts (${SEEDS} seeds)`, () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { sim, a, b, client } = setup(seed + 1000);
      client.start();
      sim.runFor(10 + sim.rng.next() * 40);
      sim.crash(a);
      sim.crash(b);
      client.abandon();
      const bad = client.check(b.data.current, client.durable);
      if (bad.length > 0) throw new Error(`seed ${seed}: ${bad.slice(0, 5).join("; ")}`);
      expect(client.check(a.data.current, client.durable)).toEqual([]);
      // Both come back as Secondary with equal generations; the crashed Primary's activity log
      // regions are resynced and the copies converge.
      sim.restart(a);
      sim.restart(b);
      converge(sim, client);
    }
  });

  for (const protocol of ["A", "B"] as const) {
    it(`protocol ${protocol}: resync converges after cuts and a Primary crash (${SEEDS} seeds)`, () => {
      for (let seed = 1; seed <= SEEDS; seed++) {
        const { sim, a, b, client } = setup(seed + 2000, { protocol, sendQueueMax_bytes: 64 * 1024 });
        client.start();
        for (let i = 0; i < 3; i++) {
          sim.runFor(sim.rng.next() * 30);
          sim.cut();
          sim.runFor(sim.rng.next() * 20);
          sim.heal();
        }
        sim.runFor(20);
        if (protocol === "B" && sim.rng.chance(0.5)) {
          // B: the peer received every acknowledged write, so a surviving Secondary has them.
          sim.crash(a);
          client.abandon();
          sim.runFor(30);
          if (sim.promote(b).ok) {
            expect(client.check(b.data.current, client.lastAcked)).toEqual([]);
            sim.exec(b, b.c.fenceConfirmed());
            sim.restart(a);
            client.node = b;
          } else sim.restart(a);
        }
        converge(sim, client);
      }
    });
  }

  it("protocol A: congestion policy disconnect drops the peer when the queue overflows, then resyncs", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const { sim, a, b, client } = setup(seed + 6000, { protocol: "A", sendQueueMax_bytes: 8 * 1024, congestion: "disconnect" });
      client.start();
      sim.runFor(30);
      expect(a.log.some((l) => /lost the peer: congestion: \d+ bytes unacknowledged, limit 8192/.test(l))).toBe(true);
      converge(sim, client);
      expect(client.check(b.data.current, client.lastAcked)).toEqual([]);
    }
  });

  it("protocol A: congestion policy block holds writes until the queue drains, without losing the peer", () => {
    const { sim, a, client } = setup(6100, { protocol: "A", sendQueueMax_bytes: 8 * 1024, congestion: "block" });
    client.start();
    sim.runFor(30);
    expect(a.log.some((l) => /lost the peer/.test(l))).toBe(false);
    expect(client.lastAcked.size).toBeGreaterThan(10);
    converge(sim, client);
  });

  it.each([false, true])(`resync converges after random disconnects while the Primary keeps writing (${SEEDS} seeds, csums %s)`, (csums) => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { sim, a, b, client } = setup(seed + 3000, { csums, csumBlock_bytes: 4096 });
      client.start();
      for (let i = 0; i < 5; i++) {
        sim.runFor(sim.rng.next() * 40);
        sim.cut();
        sim.runFor(sim.rng.next() * 40);
        sim.heal();
      }
      converge(sim, client);
      expect(client.check(a.data.current, client.lastAcked)).toEqual([]);
      expect(client.check(b.data.current, client.lastAcked)).toEqual([]);
      expect(client.failures).toBe(0);
    }
  });
});

describe("split brain", () => {
  function provoke(seed: number, policy: "disconnect" | "discard-zero-changes", bWrites: boolean) {
    const { sim, a, b, client } = setup(seed, { splitBrain: policy });
    client.start();
    sim.runFor(20);
    sim.cut();
    sim.runFor(30); // A fences B: the cluster outdates it
    expect(b.c.diskState).toBe("Outdated");
    const refused = sim.promote(b);
    expect(refused.ok).toBe(false);
    expect(refused.message).toMatch(/Outdated.*force/);
    const forced = sim.promote(b, true);
    expect(forced.ok).toBe(true);
    expect(b.log.some((l) => /FORCED promotion of a disk in state Outdated/.test(l))).toBe(true);
    sim.runFor(5); // B's own fencing: A is Primary, the cluster cannot outdate it
    sim.exec(b, b.c.fenceConfirmed());
    const bClient = new Client(sim, b, BLOCKS);
    if (bWrites) {
      bClient.start();
      sim.runFor(20);
      bClient.stop();
    }
    sim.onAck = (n, req, ok) => (n === a ? client : bClient)["ack"](n, req, ok);
    client.stop();
    sim.runFor(20);
    return { sim, a, b, client, bClient };
  }

  it("is detected on reconnect and nothing is discarded (policy disconnect)", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const { sim, a, b } = provoke(seed, "disconnect", seed % 2 === 0);
      const before = [digest(a.data.current), digest(b.data.current)];
      sim.heal();
      sim.runFor(100);
      for (const n of [a, b]) {
        expect(n.c.conn).toBe("StandAlone");
        expect(n.c.lastError).toMatch(/split brain: both nodes wrote independently.*nothing was discarded/);
        expect(n.effects.some((e) => e.kind === "split-brain")).toBe(true);
        expect(n.effects.some((e) => e.kind === "preserve-divergent")).toBe(false);
      }
      expect([digest(a.data.current), digest(b.data.current)]).toEqual(before);
    }
  });

  it("the operator's victim keeps a copy of its divergent regions, then takes the survivor's data", () => {
    const { sim, a, b, client } = provoke(7, "disconnect", true);
    sim.heal();
    sim.runFor(50);
    expect(b.c.conn).toBe("StandAlone");
    const demoted = b.c.demote();
    expect(demoted.ok).toBe(true);
    sim.exec(b, demoted.effects);
    const mark = b.effects.length;
    sim.exec(b, b.c.discardLocalData());
    sim.exec(a, a.c.connect());
    expect(sim.runUntil(() => sim.inSync(), 1000)).toBe(true);
    const after = b.effects.slice(mark).map((e) => e.kind);
    const preserved = after.indexOf("preserve-divergent");
    // The copy of the victim's divergent regions is asked for before any data of it is overwritten.
    expect(preserved).toBeGreaterThanOrEqual(0);
    expect(after.indexOf("disk-write")).toBeGreaterThan(preserved);
    const pd = b.effects.slice(mark).find((e) => e.kind === "preserve-divergent");
    expect(pd?.kind === "preserve-divergent" && pd.regions.length).toBeGreaterThan(0);
    sim.runFor(20);
    expect(digest(b.data.current)).toBe(digest(a.data.current));
    expect(client.check(b.data.current, client.lastAcked)).toEqual([]);
  });

  it("policy discard-zero-changes resolves only when one side wrote nothing", () => {
    const quiet = provoke(3, "discard-zero-changes", false);
    quiet.sim.exec(quiet.b, quiet.b.c.demote().effects);
    quiet.sim.heal();
    expect(quiet.sim.runUntil(() => quiet.sim.inSync(), 1000)).toBe(true);
    expect(quiet.b.effects.some((e) => e.kind === "preserve-divergent")).toBe(true);
    quiet.sim.runFor(20);
    expect(digest(quiet.b.data.current)).toBe(digest(quiet.a.data.current));

    const busy = provoke(4, "discard-zero-changes", true);
    busy.sim.exec(busy.b, busy.b.c.demote().effects);
    busy.sim.heal();
    busy.sim.runFor(100);
    expect(busy.b.c.conn).toBe("StandAlone");
    expect(busy.b.c.lastError).toMatch(/split brain/);
  });
});

describe("promotion and fencing", () => {
  it("refuses to promote an Inconsistent disk with the reason, and force says what it risks", () => {
    const { sim, b, a, client } = setup(11);
    client.start();
    sim.runFor(10);
    sim.cut();
    sim.runFor(20);
    client.stop();
    sim.runFor(10);
    sim.heal();
    // Stop B's resync half way by cutting again as soon as it starts.
    sim.runUntil(() => b.alive && b.c.repl === "SyncTarget", 200);
    sim.cut();
    sim.runFor(30);
    if (b.c.diskState === "Inconsistent") {
      const r = sim.promote(b);
      expect(r.ok).toBe(false);
      expect(r.message).toMatch(/Inconsistent: a resync did not finish/);
    }
    void a;
  });

  it("a Primary that loses its peer acknowledges nothing until the cluster confirms the peer is outdated", () => {
    const sim = new ReplSim({ seed: 12, config: { fencing: "resource-only" } });
    expect(sim.runUntil(() => sim.inSync(), 100)).toBe(true);
    const [a, b] = sim.nodes;
    sim.promote(a);
    const acks: number[] = [];
    sim.onAck = (_n, req) => acks.push(req);
    sim.crash(b); // the peer is gone...
    const fx = a.c.transportDown("peer gone");
    expect(fx.some((e) => e.kind === "outdate-peer")).toBe(true);
    // ...and the cluster has not answered yet: the fencing effect is held back.
    sim.exec(a, fx.filter((e) => e.kind !== "outdate-peer"));
    expect(a.c.suspended).toBe(true);
    sim.exec(a, a.c.write(1, 0, new Uint8Array(BLOCK_BYTES).fill(1), false));
    sim.exec(a, a.c.flush(2));
    sim.runFor(50);
    expect(acks).toEqual([]);
    sim.exec(a, a.c.fenceConfirmed());
    sim.runFor(5);
    expect(acks.sort()).toEqual([1, 2]);
    expect(a.c.outOfSyncRegions).toBe(1);
  });

  it("a node learns the peer's promotion while connected: no accidental dual-primary", () => {
    const sim = new ReplSim({ seed: 14 });
    expect(sim.runUntil(() => sim.inSync(), 100)).toBe(true);
    const [a, b] = sim.nodes;
    expect(sim.promote(a).ok).toBe(true);
    sim.runFor(2);
    const r = b.c.promote();
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/the peer is Primary/);
    // Two promotions that cross on the wire: the connection parts instead of running dual-primary.
    const sim2 = new ReplSim({ seed: 15 });
    expect(sim2.runUntil(() => sim2.inSync(), 100)).toBe(true);
    const [c, d] = sim2.nodes;
    sim2.promote(c);
    sim2.promote(d);
    sim2.runFor(30);
    expect(c.c.conn).not.toBe("Connected");
    expect([c, d].some((n) => n.log.some((l) => /both nodes became Primary at once/.test(l)))).toBe(true);
  });

  it(`the cluster silent: a peer that comes back is outdated over the link, I/O resumes, and no acknowledged write is lost (${SEEDS} seeds)`, () => {
    let resumedByLink = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { sim, a, b, client } = setup(seed + 7000);
      sim.clusterDown = true;
      client.start();
      sim.runFor(5 + sim.rng.next() * 20);
      sim.cut();
      sim.runFor(30);
      expect(a.c.suspended).toBe(true);
      const acked = client.lastAcked.size;
      sim.runFor(20);
      expect(client.lastAcked.size).toBe(acked); // frozen: nothing acknowledged without the cluster
      sim.heal();
      expect(sim.runUntil(() => !a.c.suspended, 200)).toBe(true);
      expect(a.log.some((l) => /the peer confirmed over the link that it is Outdated or Inconsistent; resuming I\/O/.test(l))).toBe(true);
      resumedByLink++;
      sim.runFor(sim.rng.next() * 10);
      // Safety: crash the Primary at once; the peer is promotable only if it holds every acknowledged write.
      sim.crash(a);
      client.abandon();
      sim.runFor(20);
      const r = sim.promote(b);
      if (r.ok) expect(client.check(b.data.current, client.lastAcked)).toEqual([]);
      else expect(["Outdated", "Inconsistent"]).toContain(b.c.diskState);
    }
    expect(resumedByLink).toBe(SEEDS);
  });

  it("an operator disconnect on the Primary outdates the in-sync peer over the link at once", () => {
    const { sim, a, b } = setup(7500);
    sim.clusterDown = true;
    sim.exec(a, a.c.disconnect("operator disconnect"));
    sim.runFor(5);
    expect(b.c.diskState).toBe("Outdated");
    expect(sim.meta(b).flags & 2).toBe(2); // durable: the OUTDATED flag is in its metadata
    expect(b.c.promote().message).toMatch(/refusing promotion: the cluster marked this disk Outdated/);
  });

  it("an Outdated disk refuses promotion until forced, and the cluster outdates only a Secondary", () => {
    const { sim, a, b } = setup(13);
    sim.cut();
    sim.runFor(30);
    expect(b.c.diskState).toBe("Outdated");
    const r = b.c.promote();
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/volume vol0: refusing promotion: the cluster marked this disk Outdated/);
    expect(a.c.outdate().ok).toBe(false);
  });
});

describe("checksum-based resync (csums)", () => {
  /** Writes `data` at `offset_bytes` on the Primary and runs until it is acknowledged. */
  function put(sim: ReplSim, n: SimNode, req: number, offset_bytes: number, data: Uint8Array): void {
    let acked = false;
    sim.onAck = (_n, r, ok) => {
      if (r === req) acked = ok;
    };
    sim.exec(n, n.c.write(req, offset_bytes, data, false));
    expect(sim.runUntil(() => acked, 200)).toBe(true);
  }
  const stamp = (block: number, v: number) => new Uint8Array(BLOCK_BYTES).fill(v).fill(block & 0xff, 0, 8);

  function run(csums: boolean) {
    const { sim, a, b } = setup(77, { csums, csumBlock_bytes: 4096 });
    let req = 1;
    for (let blk = 0; blk < BLOCKS; blk++) put(sim, a, req++, blk * BLOCK_BYTES, stamp(blk, 1));
    sim.cut();
    expect(sim.runUntil(() => b.c.diskState === "Outdated" && !a.c.suspended, 200)).toBe(true);
    // While disconnected every region is rewritten with what it already holds (all 16 regions
    // dirty), and four blocks really change: 5 (region 0), 40 and 41 (adjacent, region 2), 200.
    for (let blk = 0; blk < BLOCKS; blk++) put(sim, a, req++, blk * BLOCK_BYTES, stamp(blk, [5, 40, 41, 200].includes(blk) ? 2 : 1));
    expect(a.c.outOfSyncRegions).toBe(16);
    sim.heal();
    expect(sim.runUntil(() => sim.inSync(), 500)).toBe(true);
    sim.runFor(20);
    return { sim, a, b };
  }

  it("transfers only the blocks whose digest differs, and the copies end byte-identical", () => {
    const { sim, a, b } = run(true);
    expect(Buffer.from(b.data.current).equals(Buffer.from(a.data.current))).toBe(true);
    expect(a.c.resyncSent_bytes).toBe(4 * BLOCK_BYTES);
    expect(a.c.resyncSkipped_bytes).toBe(sim.size_bytes - 4 * BLOCK_BYTES);
    const sent = a.effects.flatMap((e) => (e.kind === "send" && (e.msg.t === "rs-blocks" || e.msg.t === "rs-data") ? [e.msg] : []));
    expect(sent.every((m) => m.t === "rs-blocks")).toBe(true);
    expect(sent.reduce((n, m) => n + m.data.byteLength, 0)).toBe(4 * BLOCK_BYTES);
    // Blocks 40 and 41 are one write on the target (adjacent in the region and in the message).
    const resyncWrites = b.effects.filter((e) => e.kind === "disk-write" && e.data.byteLength < sim.region_bytes);
    expect(resyncWrites.map((e) => (e.kind === "disk-write" ? [e.offset_bytes / BLOCK_BYTES, e.data.byteLength / BLOCK_BYTES] : []))).toEqual(
      expect.arrayContaining([[5, 1], [40, 2], [200, 1]]),
    );
    expect(a.log.some((l) => /resync finished \(16384 bytes sent, 1032192 skipped as equal by checksum\)/.test(l))).toBe(true);
  });

  it("without csums the same resync sends every marked region whole", () => {
    const { sim, a, b } = run(false);
    expect(Buffer.from(b.data.current).equals(Buffer.from(a.data.current))).toBe(true);
    expect(a.c.resyncSent_bytes).toBe(sim.size_bytes);
    expect(a.c.resyncSkipped_bytes).toBe(0);
  });

  it("a full sync of an invalidated but identical disk sends nothing; a corrupted block is repaired", () => {
    const { sim, a, b } = run(true);
    b.data.current[123 * BLOCK_BYTES + 7]! ^= 0xff; // behind replication's back
    const r = b.c.invalidate();
    sim.exec(b, r.effects);
    expect(r.ok).toBe(true);
    expect(sim.runUntil(() => sim.inSync(), 500)).toBe(true);
    sim.runFor(20);
    expect(Buffer.from(b.data.current).equals(Buffer.from(a.data.current))).toBe(true);
    expect(a.c.resyncSent_bytes).toBe(BLOCK_BYTES);
    expect(a.c.resyncSkipped_bytes).toBe(sim.size_bytes - BLOCK_BYTES);
  });
});

describe("detach on local I/O errors (Diskless)", () => {
  it(`a Primary whose disk fails goes Diskless and keeps serving writes, flushes and reads through the UpToDate peer (${SEEDS} seeds)`, () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { sim, a, b, client } = setup(seed + 6000);
      client.start();
      sim.runFor(10 + sim.rng.next() * 20);
      a.failIo = true;
      sim.runFor(60);
      expect(a.c.diskState).toBe("Diskless");
      expect(a.c.diskFailure).toMatch(/failed/);
      expect(a.log.some((l) => /local disk I\/O error .*disk Failed, detached → Diskless; I\/O goes on through the peer/.test(l))).toBe(true);
      client.stop();
      expect(sim.runUntil(() => client.outstanding === 0, 200)).toBe(true);
      // Every write was acknowledged (none failed) and every acknowledged write is on the peer.
      expect(client.failures).toBe(0);
      expect(client.check(b.data.current, client.lastAcked)).toEqual([]);
      expect(client.check(b.data.current, client.durable)).toEqual([]);
      // Reads come from the peer: the bytes of its disk.
      a.reads.set(9999, null);
      sim.exec(a, a.c.readFromPeer(9999, 4096, 8192));
      expect(sim.runUntil(() => a.reads.get(9999) != null, 50)).toBe(true);
      expect(Buffer.from(a.reads.get(9999)!).equals(Buffer.from(b.data.current.subarray(4096, 12288)))).toBe(true);
      // The peer stays UpToDate and connected; the metadata says Inconsistent with every region marked.
      expect(b.c.diskState).toBe("UpToDate");
      expect(a.c.repl).toBe("Established");
      expect(sim.meta(a).flags & 1).toBe(0);
      expect(a.c.outOfSyncRegions).toBe(sim.size_bytes / sim.region_bytes);
      expect(a.c.promote().ok).toBe(true); // already Primary
    }
  });

  it("a Diskless Primary without its peer fails I/O, does not fence the peer, and the peer can be promoted", () => {
    const { sim, a, b, client } = setup(6500);
    client.start();
    sim.runFor(10);
    a.failIo = true;
    sim.runFor(20);
    expect(a.c.diskState).toBe("Diskless");
    sim.cut();
    sim.runFor(50);
    client.stop();
    sim.runFor(20);
    expect(client.failures).toBeGreaterThan(0);
    expect(a.c.conn).toBe("StandAlone");
    expect(a.effects.filter((e) => e.kind === "outdate-peer")).toEqual([]);
    expect(b.c.diskState).toBe("UpToDate");
    a.reads.set(1, null);
    sim.exec(a, a.c.readFromPeer(1, 0, 4096));
    expect(a.reads.get(1)).toBe(null);
    expect(sim.promote(b).ok).toBe(true);
    expect(client.check(b.data.current, client.lastAcked)).toEqual([]);
  });

  it("a Primary alone whose disk fails keeps its metadata (the only good copy): after the repair it resyncs the Outdated peer, nothing lost", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const { sim, a, b, client } = setup(seed + 6800);
      client.start();
      sim.runFor(10);
      sim.cut();
      sim.runFor(30); // fenced: b Outdated, a writes alone
      expect(b.c.diskState).toBe("Outdated");
      a.failIo = true;
      sim.runFor(30);
      client.stop();
      sim.runFor(20);
      client.abandon();
      expect(a.c.diskState).toBe("Diskless");
      expect(client.failures).toBeGreaterThan(0);
      expect(sim.meta(a).flags & 1).toBe(1); // still CONSISTENT on disk
      a.failIo = false;
      sim.restart(a); // attach after the repair
      expect(a.c.diskState).toBe("UpToDate");
      sim.heal();
      expect(sim.runUntil(() => sim.inSync(), 1000)).toBe(true);
      sim.runFor(20);
      expect(client.check(b.data.current, client.lastAcked)).toEqual([]);
      expect(digest(b.data.current)).toBe(digest(a.data.current));
    }
  });

  it("a Secondary whose disk fails detaches and parts; the Primary goes on alone (fencing it) and a Diskless node refuses promotion", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const { sim, a, b, client } = setup(seed + 6600);
      client.start();
      sim.runFor(10);
      b.failIo = true;
      sim.runFor(60);
      expect(b.c.diskState).toBe("Diskless");
      expect(b.c.conn).toBe("StandAlone");
      expect(a.c.conn).not.toBe("Connected");
      client.stop();
      expect(sim.runUntil(() => client.outstanding === 0, 200)).toBe(true);
      expect(client.failures).toBe(0);
      expect(client.check(a.data.current, client.lastAcked)).toEqual([]);
      const r = b.c.promote();
      expect(r.ok).toBe(false);
      expect(r.message).toMatch(/refusing promotion: Diskless/);
      // "Attach" after the fix: a fresh core from the metadata (Inconsistent, all marked) resyncs in full.
      b.failIo = false;
      sim.restart(b);
      expect(b.c.diskState).toBe("Inconsistent");
      expect(sim.runUntil(() => sim.inSync(), 1000)).toBe(true);
      sim.runFor(20);
      expect(digest(b.data.current)).toBe(digest(a.data.current));
    }
  });
});

describe("online verify", () => {
  function verifyRun(seed: number, corrupt: number[]) {
    const { sim, a, b } = setup(seed);
    // The application writes only the first half (regions 0–7); corruption goes to the second.
    const client = new Client(sim, a, BLOCKS / 2);
    client.start();
    sim.runFor(20);
    for (const r of corrupt) b.data.current[r * sim.region_bytes + 1234]! ^= 0x5a;
    const started = a.c.startVerify();
    sim.exec(a, started.effects);
    expect(started.ok).toBe(true);
    expect(b.c.startVerify().message).toMatch(/run verify on the Primary/);
    expect(sim.runUntil(() => !a.c.verifying, 2000)).toBe(true);
    const done = a.effects.find((e) => e.kind === "verify-done");
    return { sim, a, b, client, done };
  }

  it(`finds exactly the corrupted regions while the application writes (${SEEDS} seeds)`, () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { done } = verifyRun(seed + 4000, [9, 14]);
      expect(done).toMatchObject({ kind: "verify-done", complete: true, checked: 16, outOfSync: [9, 14] });
    }
  });

  it("reports no difference on healthy replicas under writes, and marked regions resync on reconnect", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const { done } = verifyRun(seed + 5000, []);
      expect(done).toMatchObject({ complete: true, outOfSync: [] });
    }
    const { sim, a, b, client } = verifyRun(5100, [12]);
    expect(a.c.outOfSyncRegions).toBe(1);
    sim.exec(a, a.c.disconnect("resync after verify"));
    sim.runFor(20);
    sim.exec(a, a.c.connect());
    converge(sim, client);
    expect(digest(a.data.current)).toBe(digest(b.data.current));
  });
});
