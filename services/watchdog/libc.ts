// KernelPort on the real kernel, through bun:ffi and the C library's open/ioctl/write/read/close.
//
// errno is read through __errno_location() right after the failing call, on the same thread and
// before any other JavaScript runs, so nothing can overwrite it in between. libc is loaded on
// first use: tests that never touch a real device never load it.

import { dlopen, FFIType, ptr, read as ffiRead, type Pointer } from "bun:ffi";
import type { KernelPort } from "./kernel-port.ts";

const SYMBOLS = {
  open: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
} as const;

type Libc = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];

let libc: Libc | null = null;

function load(): Libc {
  if (libc) return libc;
  // glibc names it libc.so.6; musl's loader answers to libc.so.
  let lastError: unknown = null;
  for (const name of ["libc.so.6", "libc.so"]) {
    try {
      libc = dlopen(name, SYMBOLS).symbols;
      return libc;
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`cannot load the C library through bun:ffi: ${(lastError as Error)?.message ?? lastError}`);
}

function errno(c: Libc): number {
  const where = c.__errno_location();
  return where === null ? 5 /* EIO: no errno to read */ : ffiRead.i32(where, 0);
}

/** -errno for a failed call, the result otherwise. */
function result(c: Libc, value: number | bigint): number {
  const n = Number(value);
  return n < 0 ? -errno(c) : n;
}

const EMPTY = new Uint8Array(1);

function cString(text: string): Uint8Array {
  return new TextEncoder().encode(`${text}\0`);
}

export const libcKernel: KernelPort = {
  open(path, flags) {
    const c = load();
    return result(c, c.open(ptr(cString(path)), flags));
  },
  ioctl(fd, request, arg) {
    const c = load();
    // A number travels as the pointer-sized argument itself (e.g. I2C_SLAVE's address).
    return result(c, c.ioctl(fd, request, typeof arg === "number" ? (arg as Pointer) : ptr(arg.length > 0 ? arg : EMPTY)));
  },
  write(fd, bytes) {
    const c = load();
    return result(c, c.write(fd, ptr(bytes.length > 0 ? bytes : EMPTY), bytes.length));
  },
  read(fd, into) {
    const c = load();
    return result(c, c.read(fd, ptr(into.length > 0 ? into : EMPTY), into.length));
  },
  close(fd) {
    const c = load();
    return result(c, c.close(fd));
  },
};
