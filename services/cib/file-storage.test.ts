// File storage: what it writes, what it repairs on load (a torn tail), and what it refuses
// (damage to acknowledged data, a corrupt snapshot), each refusal naming the file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeFs, FsCrash } from "../../test/cib/fake-fs.ts";
import { FileStorage, LOG_FILE, SNAPSHOT_FILE, StorageError } from "./file-storage.ts";
import { nodeFs } from "./fs.ts";
import type { Entry } from "./messages.ts";

const DIR = "/state/cib";
const LOG = `${DIR}/${LOG_FILE}`;
const SNAP = `${DIR}/${SNAPSHOT_FILE}`;

function ents(from: number, n: number, term: number): Entry[] {
  return Array.from({ length: n }, (_, k) => ({ index: from + k, term, data: `cmd ${from + k} ✓` }));
}

function filled(fs = new FakeFs()): FakeFs {
  const { storage } = FileStorage.open(fs, DIR);
  storage.save({ hardState: { term: 2, vote: 1, commit: 3 }, snapshot: null, entries: ents(1, 5, 2) });
  storage.save({ hardState: { term: 2, vote: 1, commit: 5 }, snapshot: null, entries: ents(6, 3, 2) });
  storage.save({ hardState: null, snapshot: null, entries: ents(9, 2, 2) });
  return fs;
}

describe("file storage", () => {
  it("starts empty in a new directory and loads what it saved", () => {
    const fs = filled();
    const { state, report } = FileStorage.open(fs, DIR);
    expect(report).toEqual([]);
    expect(state.hardState).toEqual({ term: 2, vote: 1, commit: 5 });
    expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(state.entries[3]!.data).toBe("cmd 4 ✓");
  });

  it("replaces the entries from a conflicting index on (a new leader's overwrite)", () => {
    const fs = filled();
    const { storage } = FileStorage.open(fs, DIR);
    storage.save({ hardState: { term: 3, vote: 2, commit: 5 }, snapshot: null, entries: ents(7, 1, 3) });
    const { state } = FileStorage.open(fs, DIR);
    expect(state.entries.map((e) => `${e.index}:${e.term}`)).toEqual(["1:2", "2:2", "3:2", "4:2", "5:2", "6:2", "7:3"]);
    expect(state.hardState.vote).toBe(2);
  });

  it("truncates a torn last record and reports it; later appends load", () => {
    const fs = filled();
    const size = fs.size(LOG);
    const { storage } = FileStorage.open(fs, DIR);
    // Power fails after the record's write, before its fsync returned: part of it reaches the disk.
    fs.crashAfter(2);
    expect(() => storage.save({ hardState: { term: 2, vote: 1, commit: 6 }, snapshot: null, entries: ents(11, 3, 2) })).toThrow(FsCrash);
    fs.crash(() => 0.3);
    expect(fs.size(LOG)).toBeGreaterThan(size);
    const { state, report } = FileStorage.open(fs, DIR);
    expect(report.join("\n")).toMatch(new RegExp(`${LOG}: torn record at byte ${size} .*truncated`));
    expect(state.entries.at(-1)!.index).toBe(10);
    expect(fs.size(LOG)).toBe(size);
    const again = FileStorage.open(fs, DIR);
    expect(again.report).toEqual([]);
    again.storage.save({ hardState: null, snapshot: null, entries: ents(11, 1, 2) });
    expect(FileStorage.open(fs, DIR).state.entries.at(-1)!.index).toBe(11);
  });

  it("refuses to start on a damaged record that has valid records after it, naming file and offset", () => {
    const fs = filled();
    fs.corrupt(LOG, 60); // inside the first batch, well before the end
    expect(() => FileStorage.open(fs, DIR)).toThrow(StorageError);
    expect(() => FileStorage.open(fs, DIR)).toThrow(new RegExp(`${LOG}: corrupt record at byte \\d+ \\(checksum mismatch\\), with a valid record at byte \\d+ after it`));
  });

  it("refuses to start on a corrupt snapshot, naming the file", () => {
    const fs = filled();
    const { storage } = FileStorage.open(fs, DIR);
    storage.compact({ meta: { index: 4, term: 2, voters: [1, 2, 3] }, data: new TextEncoder().encode("state at 4".repeat(100)) });
    expect(FileStorage.open(fs, DIR).state.snapshot?.meta.index).toBe(4);
    fs.corrupt(SNAP, 200);
    expect(() => FileStorage.open(fs, DIR)).toThrow(new RegExp(`${SNAP} is corrupt \\(checksum mismatch\\): refusing to start`));
  });

  it("refuses a missing log next to a snapshot: the vote would be lost", () => {
    const fs = filled();
    const { storage } = FileStorage.open(fs, DIR);
    storage.compact({ meta: { index: 4, term: 2, voters: [1, 2, 3] }, data: new Uint8Array([1]) });
    fs.unlink(LOG);
    expect(() => FileStorage.open(fs, DIR)).toThrow(/raft\.log is missing but .*raft\.snap exists/);
  });

  it("compaction keeps the entries after the snapshot and the hard state", () => {
    const fs = filled();
    const { storage } = FileStorage.open(fs, DIR);
    storage.compact({ meta: { index: 5, term: 2, voters: [1, 2, 3] }, data: new Uint8Array([7, 7]) });
    storage.save({ hardState: { term: 2, vote: 1, commit: 9 }, snapshot: null, entries: ents(11, 1, 2) });
    const { state } = FileStorage.open(fs, DIR);
    expect(state.snapshot?.meta).toEqual({ index: 5, term: 2, voters: [1, 2, 3] });
    expect([...state.snapshot!.data]).toEqual([7, 7]);
    expect(state.entries.map((e) => e.index)).toEqual([6, 7, 8, 9, 10, 11]);
    expect(state.hardState).toEqual({ term: 2, vote: 1, commit: 9 });
  });

  it("a snapshot from the leader replaces the whole log", () => {
    const fs = filled();
    const { storage } = FileStorage.open(fs, DIR);
    storage.save({ hardState: { term: 4, vote: 0, commit: 20 }, snapshot: { meta: { index: 20, term: 4, voters: [1, 2, 3] }, data: new Uint8Array([1]) }, entries: ents(21, 2, 4) });
    const { state } = FileStorage.open(fs, DIR);
    expect(state.snapshot?.meta.index).toBe(20);
    expect(state.entries.map((e) => e.index)).toEqual([21, 22]);
    expect(state.hardState).toEqual({ term: 4, vote: 0, commit: 20 });
  });

  it("refuses an append that would leave a gap (a caller bug, not a disk fault)", () => {
    const { storage } = FileStorage.open(filled(), DIR);
    expect(() => storage.save({ hardState: null, snapshot: null, entries: ents(13, 1, 2) })).toThrow(/entry 13 would leave a gap after 10/);
  });

  describe("on the real filesystem", () => {
    let dir = "";
    afterEach(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("round-trips through write, fsync and rename, and names a corrupt file", () => {
      dir = mkdtempSync(join(tmpdir(), "hapd-cib-"));
      const { storage } = FileStorage.open(nodeFs, dir);
      storage.save({ hardState: { term: 1, vote: 1, commit: 2 }, snapshot: null, entries: ents(1, 3, 1) });
      storage.compact({ meta: { index: 2, term: 1, voters: [1, 2, 3] }, data: new Uint8Array([42]) });
      storage.save({ hardState: null, snapshot: null, entries: ents(4, 1, 1) });
      storage.close();
      const { state, storage: again } = FileStorage.open(nodeFs, dir);
      again.close();
      expect(state.entries.map((e) => e.index)).toEqual([3, 4]);
      expect(state.snapshot?.meta.index).toBe(2);
      const snap = join(dir, SNAPSHOT_FILE);
      const bytes = readFileSync(snap);
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
      writeFileSync(snap, bytes);
      expect(() => FileStorage.open(nodeFs, dir)).toThrow(`${snap} is corrupt`);
    });
  });
});
