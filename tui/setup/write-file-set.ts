// Writes a set of files so that either all of them are in place or none changed.
//
// 1. Every file is written to a temporary name beside its target and fsynced (a failure here
//    removes the temporaries: nothing else was touched).
// 2. Targets are replaced in order by rename; an existing target is first renamed aside. If a
//    rename fails, what was already replaced is put back, in reverse order.
// 3. The directories are fsynced, then the set-aside copies are removed.
// The last file of the set should be the one whose presence means "configured".
import * as nodeFs from "node:fs";
import { dirname } from "node:path";
import type { PlannedFile } from "./setup-files.ts";

/** The few calls used, so tests can make any one of them fail. */
export interface FsPort {
  mkdirSync(path: string, opts: { recursive: true; mode: number }): void;
  openSync(path: string, flags: string, mode: number): number;
  writeSync(fd: number, data: Buffer): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  rmSync(path: string, opts: { force: true }): void;
  existsSync(path: string): boolean;
}

export const realFs: FsPort = {
  mkdirSync: (p, o) => void nodeFs.mkdirSync(p, o),
  openSync: (p, f, m) => nodeFs.openSync(p, f, m),
  writeSync: (fd, d) => nodeFs.writeSync(fd, d),
  fsyncSync: (fd) => nodeFs.fsyncSync(fd),
  closeSync: (fd) => nodeFs.closeSync(fd),
  renameSync: (a, b) => nodeFs.renameSync(a, b),
  rmSync: (p, o) => nodeFs.rmSync(p, o),
  existsSync: (p) => nodeFs.existsSync(p),
};

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}${err.message.includes(err.code) ? "" : `: ${err.message}`}` : String((e as Error).message ?? e);
}

export class WriteSetError extends Error {}

export function writeFileSet(files: PlannedFile[], fs: FsPort = realFs, tag = `${process.pid}`): void {
  const tmp = (f: PlannedFile) => `${f.path}.new-${tag}`;
  const aside = (f: PlannedFile) => `${f.path}.old-${tag}`;
  const written: PlannedFile[] = [];
  const dirs = [...new Set(files.map((f) => dirname(f.path)))];
  try {
    for (const d of dirs) {
      try {
        if (!fs.existsSync(d)) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
      } catch (e) {
        throw new WriteSetError(`cannot create ${d}: ${reason(e)}`);
      }
    }
    for (const f of files) {
      let fd: number;
      try {
        fd = fs.openSync(tmp(f), "w", f.mode);
      } catch (e) {
        throw new WriteSetError(`cannot write ${f.path}: ${reason(e)}`);
      }
      written.push(f);
      try {
        fs.writeSync(fd, Buffer.from(f.data));
        fs.fsyncSync(fd);
      } catch (e) {
        throw new WriteSetError(`cannot write ${f.path}: ${reason(e)}`);
      } finally {
        fs.closeSync(fd);
      }
    }
  } catch (e) {
    for (const f of written) safe(() => fs.rmSync(tmp(f), { force: true }));
    throw e;
  }

  const done: Array<{ f: PlannedFile; hadOld: boolean }> = [];
  for (const f of files) {
    let hadOld = false;
    try {
      if (fs.existsSync(f.path)) {
        fs.renameSync(f.path, aside(f));
        hadOld = true;
      }
      fs.renameSync(tmp(f), f.path);
      done.push({ f, hadOld });
    } catch (e) {
      // Put back what this file and the earlier ones replaced.
      if (hadOld) safe(() => fs.renameSync(aside(f), f.path));
      for (const d of done.reverse()) {
        if (d.hadOld) safe(() => fs.renameSync(aside(d.f), d.f.path));
        else safe(() => fs.rmSync(d.f.path, { force: true }));
      }
      for (const g of files) safe(() => fs.rmSync(tmp(g), { force: true }));
      throw new WriteSetError(`cannot put ${f.path} in place: ${reason(e)}; nothing was changed`);
    }
  }
  for (const d of dirs) safe(() => fsyncDir(d, fs));
  for (const d of done) if (d.hadOld) safe(() => fs.rmSync(aside(d.f), { force: true }));
}

function fsyncDir(dir: string, fs: FsPort): void {
  const fd = fs.openSync(dir, "r", 0);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function safe(f: () => void): void {
  try {
    f();
  } catch {
    // Best effort while undoing: the error that matters is already being reported.
  }
}
