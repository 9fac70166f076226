// The cluster key on disk: one line "hapd-cluster-key-v1 <base64 of 32 bytes>", mode 0600.
//
// A key that others can read is refused rather than used: anyone who reads it can join the
// cluster and forge membership.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from "node:fs";
import { ClusterKey } from "./wire.ts";

const PREFIX = "hapd-cluster-key-v1 ";

export class KeyFileError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = "KeyFileError";
  }
}

export function generateKeyText(): string {
  return `${PREFIX}${randomBytes(32).toString("base64")}\n`;
}

export function parseKeyText(text: string, file: string): ClusterKey {
  const line = text.trim();
  if (!line.startsWith(PREFIX)) throw new KeyFileError(file, `not a cluster key (expected a line starting "${PREFIX.trim()}")`);
  const raw = Buffer.from(line.slice(PREFIX.length), "base64");
  if (raw.byteLength !== 32) throw new KeyFileError(file, `key is ${raw.byteLength} bytes, expected 32`);
  return new ClusterKey(new Uint8Array(raw));
}

export function loadKeyFile(file: string): ClusterKey {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (e) {
    throw new KeyFileError(file, `cannot read the cluster key: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new KeyFileError(file, `mode ${(mode & 0o777).toString(8)} lets others read the cluster key; run: chmod 600 ${file}`);
  }
  return parseKeyText(readFileSync(file, "utf8"), file);
}

/** Writes a file atomically (write, fsync, rename) with the given mode; never half-written. */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w", mode);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function writeKeyFile(file: string, force: boolean): void {
  let exists = false;
  try {
    statSync(file);
    exists = true;
  } catch {
    exists = false;
  }
  if (exists && !force) throw new KeyFileError(file, "exists; pass --force to replace it (every node then needs the new key)");
  writeFileAtomic(file, generateKeyText(), 0o600);
}
