// A filesystem that forgets what was not flushed. Every file has a durable content and a current
// one; writes change the current content and are queued; fsync(file) makes them durable;
// renames, creations and unlinks are queued too and become durable on fsyncDir. crash() keeps the
// durable state plus a random prefix of what was queued, the last queued write possibly torn
// (cut short, or with a sector of zeros in it, as out-of-order writeback leaves it).
//
// crashAfter(n) makes the n-th mutating call from now throw FsCrash instead of running, so a test
// can stop a workload at every point of its call sequence.
import type { Fs } from "../../services/cib/fs.ts";

export class FsCrash extends Error {
  constructor() {
    super("simulated crash");
    this.name = "FsCrash";
  }
}

class Content {
  buf = new Uint8Array(256);
  len = 0;

  write(offset: number, bytes: Uint8Array): void {
    const end = offset + bytes.byteLength;
    if (end > this.buf.byteLength) {
      let size = this.buf.byteLength;
      while (size < end) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    if (offset > this.len) this.buf.fill(0, this.len, offset);
    this.buf.set(bytes, offset);
    this.len = Math.max(this.len, end);
  }

  truncate(size: number): void {
    if (size < this.len) this.len = size;
    else this.write(this.len, new Uint8Array(size - this.len));
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  clone(): Content {
    const c = new Content();
    c.write(0, this.buf.subarray(0, this.len));
    return c;
  }
}

type DataOp = { kind: "write"; offset: number; bytes: Uint8Array } | { kind: "truncate"; size: number };

class Inode {
  durable = new Content();
  current = new Content();
  pending: DataOp[] = [];

  apply(op: DataOp, to: Content): void {
    if (op.kind === "write") to.write(op.offset, op.bytes);
    else to.truncate(op.size);
  }
}

type MetaOp = { kind: "link"; path: string; inode: Inode } | { kind: "rename"; from: string; to: string } | { kind: "unlink"; path: string };

export class FakeFs implements Fs {
  private names = new Map<string, Inode>();
  private durableNames = new Map<string, Inode>();
  private pendingMeta: MetaOp[] = [];
  private fds = new Map<number, Inode>();
  private nextFd = 3;
  private countdown: number | null = null;
  /** Mutating calls made, for choosing crash points. */
  ops = 0;
  crashes = 0;

  /** The n-th mutating call from now (1 = the next one) throws FsCrash instead of running. */
  crashAfter(n: number | null): void {
    this.countdown = n;
  }

  private mutate(): void {
    this.ops++;
    if (this.countdown === null) return;
    this.countdown--;
    if (this.countdown <= 0) {
      this.countdown = null;
      throw new FsCrash();
    }
  }

  readFile(path: string): Uint8Array | null {
    return this.names.get(path)?.current.bytes() ?? null;
  }

  exists(path: string): boolean {
    return this.names.has(path);
  }

  open(path: string, mode: "append" | "truncate"): number {
    this.mutate();
    let inode = this.names.get(path);
    if (!inode) {
      inode = new Inode();
      this.names.set(path, inode);
      this.pendingMeta.push({ kind: "link", path, inode });
    } else if (mode === "truncate") {
      this.queue(inode, { kind: "truncate", size: 0 });
    }
    const fd = this.nextFd++;
    this.fds.set(fd, inode);
    return fd;
  }

  private inode(fd: number): Inode {
    const i = this.fds.get(fd);
    if (!i) throw new Error(`EBADF: fd ${fd}`);
    return i;
  }

  private queue(inode: Inode, op: DataOp): void {
    inode.apply(op, inode.current);
    inode.pending.push(op);
  }

  append(fd: number, bytes: Uint8Array): void {
    this.mutate();
    const inode = this.inode(fd);
    this.queue(inode, { kind: "write", offset: inode.current.len, bytes: bytes.slice() });
  }

  fsync(fd: number): void {
    this.mutate();
    const inode = this.inode(fd);
    for (const op of inode.pending) inode.apply(op, inode.durable);
    inode.pending = [];
  }

  truncate(fd: number, size_bytes: number): void {
    this.mutate();
    this.queue(this.inode(fd), { kind: "truncate", size: size_bytes });
  }

  close(fd: number): void {
    this.fds.delete(fd);
  }

  rename(from: string, to: string): void {
    this.mutate();
    const inode = this.names.get(from);
    if (!inode) throw new Error(`ENOENT: rename ${from}`);
    this.names.set(to, inode);
    this.names.delete(from);
    this.pendingMeta.push({ kind: "rename", from, to });
  }

  unlink(path: string): void {
    this.mutate();
    if (!this.names.delete(path)) return;
    this.pendingMeta.push({ kind: "unlink", path });
  }

  /** Makes every queued name change durable (one directory per node in these tests). */
  fsyncDir(_dir: string): void {
    this.mutate();
    for (const op of this.pendingMeta) applyMeta(this.durableNames, op);
    this.pendingMeta = [];
  }

  mkdirp(_dir: string): void {}

  /**
   * Power loss: keep what is durable plus a random prefix of what was queued. `random` returns
   * numbers in [0, 1).
   */
  crash(random: () => number): void {
    this.crashes++;
    const names = new Map(this.durableNames);
    const keepMeta = Math.floor(random() * (this.pendingMeta.length + 1));
    for (const op of this.pendingMeta.slice(0, keepMeta)) applyMeta(names, op);
    const inodes = new Set([...names.values(), ...this.names.values()]);
    for (const inode of inodes) {
      const survived = inode.durable.clone();
      const keep = Math.floor(random() * (inode.pending.length + 1));
      for (const [k, op] of inode.pending.entries()) {
        if (k < keep) inode.apply(op, survived);
        else if (k === keep && op.kind === "write") {
          // The write in flight: a random prefix reached the disk, maybe with a sector missing.
          const cut = Math.floor(random() * (op.bytes.byteLength + 1));
          const part = op.bytes.slice(0, cut);
          if (cut > 512 && random() < 0.3) {
            const sector = Math.floor((random() * cut) / 512) * 512;
            part.fill(0, sector, Math.min(cut, sector + 512));
          }
          survived.write(op.offset, part);
        }
      }
      inode.durable = survived;
      inode.current = survived.clone();
      inode.pending = [];
    }
    this.names = names;
    this.durableNames = new Map(names);
    this.pendingMeta = [];
    this.fds.clear();
    this.countdown = null;
  }

  /** Flip one byte of a file, durable and current alike: bit rot, for corruption tests. */
  corrupt(path: string, offset: number): void {
    const inode = this.names.get(path);
    if (!inode) throw new Error(`ENOENT: ${path}`);
    for (const c of [inode.current, inode.durable]) {
      if (offset < c.len) c.buf[offset] = (c.buf[offset] ?? 0) ^ 0x5a;
    }
  }

  size(path: string): number {
    return this.names.get(path)?.current.len ?? -1;
  }
}

function applyMeta(names: Map<string, Inode>, op: MetaOp): void {
  if (op.kind === "link") names.set(op.path, op.inode);
  else if (op.kind === "unlink") names.delete(op.path);
  else {
    const inode = names.get(op.from);
    if (inode) {
      names.set(op.to, inode);
      names.delete(op.from);
    }
  }
}
