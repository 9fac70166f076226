// The filesystem port of file-storage.ts: the few synchronous calls crash-safe storage needs, so
// the simulator and the crash tests can put a filesystem that loses unflushed writes behind it.
// Synchronous on purpose: the consensus loop waits for fsync anyway (see raft.ts Ready), and a
// synchronous port makes every crash point a plain point in the call sequence.
import * as fs from "node:fs";
import { dirname } from "node:path";

export interface Fs {
  /** The whole file, or null when it does not exist. */
  readFile(path: string): Uint8Array | null;
  exists(path: string): boolean;
  /** Open for appending, creating the file if needed; "truncate" empties it first. */
  open(path: string, mode: "append" | "truncate"): number;
  append(fd: number, bytes: Uint8Array): void;
  /** Make the file's content durable. Its name is durable only after fsyncDir of its directory. */
  fsync(fd: number): void;
  truncate(fd: number, size_bytes: number): void;
  close(fd: number): void;
  rename(from: string, to: string): void;
  unlink(path: string): void;
  fsyncDir(dir: string): void;
  mkdirp(dir: string): void;
}

/** The real filesystem (Linux). */
export const nodeFs: Fs = {
  readFile(path) {
    try {
      return new Uint8Array(fs.readFileSync(path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  },
  exists: (path) => fs.existsSync(path),
  open: (path, mode) => fs.openSync(path, mode === "append" ? "a" : "w", 0o600),
  append(fd, bytes) {
    let done = 0;
    while (done < bytes.byteLength) done += fs.writeSync(fd, bytes, done, bytes.byteLength - done);
  },
  fsync: (fd) => fs.fsyncSync(fd),
  truncate: (fd, size) => fs.ftruncateSync(fd, size),
  close: (fd) => fs.closeSync(fd),
  rename: (from, to) => fs.renameSync(from, to),
  unlink: (path) => fs.rmSync(path, { force: true }),
  fsyncDir(dir) {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
  mkdirp: (dir) => void fs.mkdirSync(dir, { recursive: true, mode: 0o700 }),
};

/** Write a whole file so that after a crash it holds either its old content or `bytes`, never a mix. */
export function writeFileAtomic(f: Fs, path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp`;
  const fd = f.open(tmp, "truncate");
  try {
    f.append(fd, bytes);
    f.fsync(fd);
  } finally {
    f.close(fd);
  }
  f.rename(tmp, path);
  f.fsyncDir(dirname(path));
}
