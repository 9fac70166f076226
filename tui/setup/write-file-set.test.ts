import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FsPort, WriteSetError, realFs, writeFileSet } from "./write-file-set.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hapd-writeset-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const snapshot = () =>
  Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((f) => [f, readFileSync(join(dir, f), "utf8")]),
  );

function plan() {
  return [
    { path: join(dir, "key"), data: "new key\n", mode: 0o600 },
    { path: join(dir, "appliance.yaml"), data: "new appliance\n", mode: 0o600 },
    { path: join(dir, "hapd.yaml"), data: "new config\n", mode: 0o640 },
  ];
}

/** realFs, except that the n-th call of `op` fails with `code`. */
function failing(op: keyof FsPort, n: number, code = "EIO"): FsPort {
  let calls = 0;
  return new Proxy(realFs, {
    get(target, prop: keyof FsPort) {
      const real = target[prop] as (...a: unknown[]) => unknown;
      if (prop !== op) return real;
      return (...args: unknown[]) => {
        calls++;
        if (calls === n) throw Object.assign(new Error(`${code}: injected`), { code });
        return real(...args);
      };
    },
  });
}

describe("writeFileSet", () => {
  it("writes every file with its mode", () => {
    writeFileSet(plan());
    expect(snapshot()).toEqual({ "appliance.yaml": "new appliance\n", "hapd.yaml": "new config\n", key: "new key\n" });
    expect(statSync(join(dir, "key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "hapd.yaml")).mode & 0o777).toBe(0o640);
  });

  it("replaces existing files and removes the set-aside copies", () => {
    writeFileSync(join(dir, "key"), "old key\n");
    writeFileSet(plan());
    expect(Object.keys(snapshot())).toEqual(["appliance.yaml", "hapd.yaml", "key"]);
  });

  const cases: Array<[keyof FsPort, number]> = [
    ["openSync", 1],
    ["openSync", 3],
    ["writeSync", 2],
    ["fsyncSync", 3],
    ["renameSync", 1], // setting the old key aside
    ["renameSync", 2], // the new key into place
    ["renameSync", 4], // appliance.yaml into place, after the key was replaced
    ["renameSync", 5], // hapd.yaml, the last one
  ];
  for (const [op, n] of cases) {
    it(`leaves the old state untouched when ${op} #${n} fails, and says why`, () => {
      writeFileSync(join(dir, "key"), "old key\n");
      writeFileSync(join(dir, "appliance.yaml"), "old appliance\n");
      const before = snapshot();
      let error: unknown;
      try {
        writeFileSet(plan(), failing(op, n));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(WriteSetError);
      expect((error as Error).message).toMatch(/EIO/);
      expect((error as Error).message).toContain(dir);
      expect(snapshot()).toEqual(before);
    });
  }

  it("names the directory it cannot create", () => {
    writeFileSync(join(dir, "file"), "");
    expect(() => writeFileSet([{ path: join(dir, "file", "sub", "hapd.yaml"), data: "x", mode: 0o600 }])).toThrow(/cannot create .*file\/sub: ENOTDIR/);
  });
});
