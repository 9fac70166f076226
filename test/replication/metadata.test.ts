// Volume metadata survives a crash at every point of a commit sequence, and refuses to attach,
// naming the volume, when no copy passes its checksum.
import { closeSync, openSync, rmSync, mkdtempSync } from "node:fs";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Flag, FdMetaDevice, MetaStore, MetadataError, encodeSlot, metadataBytes, slotBytes, type VolumeMeta } from "../../services/replication/metadata.ts";
import { Rng } from "../sim/simulator.ts";
import { DiskCrash, FakeDisk } from "./fake-disk.ts";

const SIZE_BYTES = 300 * 1024 * 1024; // 300 regions of 1 MiB
const UUID = "0b1e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b";

function mutate(m: VolumeMeta, rng: Rng): VolumeMeta {
  const next = { ...m, gen: { ...m.gen, history: [m.gen.history[0], m.gen.history[1]] as [bigint, bigint] }, al: [...m.al], bitmap: m.bitmap.clone() };
  switch (rng.int(0, 3)) {
    case 0:
      next.gen = { current: BigInt(rng.int(1, 2 ** 30)), bitmap: m.gen.current, history: [m.gen.current, m.gen.history[0]] };
      break;
    case 1:
      next.flags = rng.int(0, 15);
      break;
    case 2:
      for (let i = 0; i < 5; i++) next.bitmap.set(rng.int(0, m.bitmap.regions - 1));
      break;
    case 3:
      next.al = [...next.al.slice(-40), rng.int(0, m.bitmap.regions - 1)];
      break;
  }
  return next;
}

const same = (a: VolumeMeta, b: VolumeMeta) => Buffer.compare(encodeSlot(a), encodeSlot(b)) === 0;

describe("volume metadata", () => {
  it("round-trips through two slots and keeps the newest", () => {
    const disk = new FakeDisk(metadataBytes(SIZE_BYTES));
    const store = MetaStore.create(disk, "vol0", { uuid: UUID, size_bytes: SIZE_BYTES, current: 42n });
    const rng = new Rng(1);
    let m = store.meta;
    for (let i = 0; i < 5; i++) {
      m = mutate(m, rng);
      store.commit(m);
    }
    const again = MetaStore.attach(disk, "vol0", { size_bytes: SIZE_BYTES });
    expect(same(again.meta, store.meta)).toBe(true);
    expect(again.meta.uuid).toBe(UUID);
    expect(again.meta.seq).toBe(6n);
  });

  it("leaves the acknowledged or the in-progress state after a crash at any point (200 seeds × every op)", () => {
    let checked = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const commits = 6;
      // Each commit is two mutating ops (write, sync): crash at every one of them.
      for (let point = 1; point <= commits * 2; point++) {
        const rng = new Rng(seed * 1000 + point);
        const disk = new FakeDisk(metadataBytes(SIZE_BYTES));
        const store = MetaStore.create(disk, "vol0", { uuid: UUID, size_bytes: SIZE_BYTES, current: 7n });
        let acked = store.meta;
        let inProgress: VolumeMeta | null = null;
        disk.crashAfter(point);
        try {
          for (let i = 0; i < commits; i++) {
            const next = mutate(store.meta, rng);
            inProgress = { ...next, seq: acked.seq + 1n };
            store.commit(next);
            acked = store.meta;
            inProgress = null;
          }
        } catch (e) {
          if (!(e instanceof DiskCrash)) throw e;
        }
        disk.crash(rng);
        const after = MetaStore.attach(disk, "vol0", { size_bytes: SIZE_BYTES }).meta;
        const ok = same(after, acked) || (inProgress !== null && same(after, inProgress));
        if (!ok) throw new Error(`seed ${seed} point ${point}: attached seq ${after.seq}, acked ${acked.seq}`);
        checked++;
      }
    }
    expect(checked).toBe(200 * 12);
  });

  it("falls back to the older slot when the newer one is corrupt", () => {
    const disk = new FakeDisk(metadataBytes(SIZE_BYTES));
    const store = MetaStore.create(disk, "vol0", { uuid: UUID, size_bytes: SIZE_BYTES, current: 1n });
    const first = store.meta;
    store.commit({ ...first, flags: Flag.CONSISTENT });
    disk.current[slotBytes(SIZE_BYTES, first.region_bytes) + 100]! ^= 0xff; // seq 2 lives in slot 1
    const m = MetaStore.attach(disk, "vol0", { size_bytes: SIZE_BYTES }).meta;
    expect(m.seq).toBe(1n);
  });

  it("refuses to attach, naming the volume, when both copies fail and touches nothing", () => {
    const disk = new FakeDisk(metadataBytes(SIZE_BYTES));
    const store = MetaStore.create(disk, "vol7", { uuid: UUID, size_bytes: SIZE_BYTES, current: 1n });
    store.commit({ ...store.meta, flags: Flag.CONSISTENT });
    disk.current[100]! ^= 1;
    disk.current[slotBytes(SIZE_BYTES, store.meta.region_bytes) + 100]! ^= 1;
    const before = disk.current.slice();
    const opsBefore = disk.ops;
    expect(() => MetaStore.attach(disk, "vol7", { size_bytes: SIZE_BYTES })).toThrow(MetadataError);
    expect(() => MetaStore.attach(disk, "vol7", { size_bytes: SIZE_BYTES })).toThrow(/volume vol7: refusing to attach.*slot 0: checksum mismatch.*slot 1: checksum mismatch/);
    expect(disk.ops).toBe(opsBefore);
    expect(Buffer.compare(disk.current, before)).toBe(0);
  });

  it("refuses a size mismatch and an unformatted device", () => {
    const disk = new FakeDisk(metadataBytes(SIZE_BYTES));
    expect(() => MetaStore.attach(disk, "vol1", { size_bytes: SIZE_BYTES })).toThrow(/volume vol1: .*no metadata magic/);
    MetaStore.create(disk, "vol1", { uuid: UUID, size_bytes: SIZE_BYTES, current: 1n });
    const bigger = new FakeDisk(metadataBytes(SIZE_BYTES + 1024 * 1024));
    bigger.current.set(disk.current);
    expect(() => MetaStore.attach(bigger, "vol1", { size_bytes: SIZE_BYTES + 1024 * 1024 })).toThrow(/volume vol1/);
  });

  it("works on a real file", () => {
    const dir = mkdtempSync(join(tmpdir(), "hapd-meta-"));
    try {
      const path = join(dir, "vol0.meta");
      fs.writeFileSync(path, new Uint8Array(0));
      const fd = openSync(path, "r+");
      const dev = new FdMetaDevice(fs, fd);
      const store = MetaStore.create(dev, "vol0", { uuid: UUID, size_bytes: SIZE_BYTES, current: 9n });
      store.commit({ ...store.meta, flags: Flag.CONSISTENT | Flag.PRIMARY });
      closeSync(fd);
      const fd2 = openSync(path, "r");
      const m = MetaStore.attach(new FdMetaDevice(fs, fd2), "vol0", { size_bytes: SIZE_BYTES }).meta;
      closeSync(fd2);
      expect(m.flags).toBe(Flag.CONSISTENT | Flag.PRIMARY);
      expect(m.gen.current).toBe(9n);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
