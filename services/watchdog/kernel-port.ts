// The narrow port between the watchdog drivers and the kernel: the four or five system calls
// they need, with the kernel's own conventions. Structs cross it as the exact bytes of the
// kernel's layout (the driver encodes them, the kernel — or the test's fake kernel — reads and
// writes them in place), and failures come back as a negative errno, the way the kernel returns
// them. Nothing else crosses: no paths beyond open, no allocation on the hot path.
//
// libc.ts implements it with bun:ffi on the real kernel; test/watchdog/fake-kernel.ts implements
// the uAPI semantics of watchdog_dev.c, gpiolib-cdev.c and i2c-dev.c for the tests.

export interface KernelPort {
  /** open(2): a file descriptor, or -errno. */
  open(path: string, flags: number): number;
  /**
   * ioctl(2). A Uint8Array is passed as a pointer: the kernel reads and/or writes the struct in
   * place (its length must be at least _IOC_SIZE(request)). A number is passed as the integer
   * argument itself (I2C_SLAVE takes the address that way). Returns ≥ 0, or -errno.
   */
  ioctl(fd: number, request: number, arg: Uint8Array | number): number;
  /** write(2): bytes written, or -errno. */
  write(fd: number, bytes: Uint8Array): number;
  /** read(2) into the buffer: bytes read, or -errno. */
  read(fd: number, into: Uint8Array): number;
  /** close(2): 0, or -errno. */
  close(fd: number): number;
}

// include/uapi/asm-generic/fcntl.h (x86_64 and arm64).
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
/** Children of the supervisor must not inherit the watchdog: a stray copy of the fd keeps it open (EBUSY for the next opener, and no magic close). */
export const O_CLOEXEC = 0o2000000;

/** Little-endian helpers for struct bytes: the kernel's layout on x86_64 and arm64. */
export function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
