// The ioctl request number macros of include/uapi/asm-generic/ioctl.h, computed in code so each
// request below reads like its #define in the kernel header instead of a magic literal.
//
// Layout (asm-generic, which x86_64 and arm64 use — the only targets Bun builds for):
//   bits 0..7 nr | bits 8..15 type | bits 16..29 size (14 bits) | bits 30..31 direction
// powerpc, mips, sparc and alpha use 13 size bits and 3 direction bits; hapd does not run there.

const IOC_NRBITS = 8;
const IOC_TYPEBITS = 8;
const IOC_SIZEBITS = 14;
const IOC_NRSHIFT = 0;
const IOC_TYPESHIFT = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT = IOC_SIZESHIFT + IOC_SIZEBITS;

/** _IOC_WRITE: userland writes, the kernel reads. */
export const IOC_WRITE = 1;
/** _IOC_READ: the kernel writes, userland reads. */
export const IOC_READ = 2;

export function ioc(dir: number, type: number, nr: number, size_bytes: number): number {
  if (size_bytes < 0 || size_bytes >= 1 << IOC_SIZEBITS) throw new RangeError(`ioctl argument size ${size_bytes} does not fit 14 bits`);
  // >>> 0: the direction bits reach bit 31, so keep the number unsigned.
  return ((dir << IOC_DIRSHIFT) | (size_bytes << IOC_SIZESHIFT) | ((type & 0xff) << IOC_TYPESHIFT) | ((nr & 0xff) << IOC_NRSHIFT)) >>> 0;
}

/** _IOR(type, nr, size): the kernel fills `size` bytes at the pointer. */
export function ior(type: number, nr: number, size_bytes: number): number {
  return ioc(IOC_READ, type, nr, size_bytes);
}

/** _IOWR(type, nr, size): the kernel reads and then writes back `size` bytes at the pointer. */
export function iowr(type: number, nr: number, size_bytes: number): number {
  return ioc(IOC_READ | IOC_WRITE, type, nr, size_bytes);
}

/** _IOC_SIZE(request): how many bytes the kernel copies through the pointer argument. */
export function iocSize(request: number): number {
  return (request >>> IOC_SIZESHIFT) & ((1 << IOC_SIZEBITS) - 1);
}

/** 'W' → 0x57: the ioctl "type" byte is a character in the kernel headers. */
export function iocType(char: string): number {
  return char.charCodeAt(0);
}
