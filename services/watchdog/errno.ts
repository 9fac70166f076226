// The errno values the watchdog drivers meet, as Linux numbers them on x86_64 and arm64
// (include/uapi/asm-generic/errno-base.h and errno.h). The kernel port returns -errno, so the
// drivers compare against these and the operator text (describe-failure.ts) names them.

export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  EROFS: 30,
  EOPNOTSUPP: 95,
  ETIMEDOUT: 110,
  EREMOTEIO: 121,
} as const;

export type ErrnoName = keyof typeof Errno;

const NAME_BY_NUMBER = new Map<number, ErrnoName>(Object.entries(Errno).map(([name, value]) => [value, name as ErrnoName]));

const TEXT: Record<ErrnoName, string> = {
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  EINTR: "interrupted system call",
  EIO: "input/output error",
  ENXIO: "no such device or address",
  EBADF: "bad file descriptor",
  EAGAIN: "resource temporarily unavailable",
  ENOMEM: "cannot allocate memory",
  EACCES: "permission denied",
  EFAULT: "bad address",
  EBUSY: "device or resource busy",
  ENODEV: "no such device",
  EINVAL: "invalid argument",
  ENOTTY: "inappropriate ioctl for device",
  EROFS: "read-only file system",
  EOPNOTSUPP: "operation not supported",
  ETIMEDOUT: "connection timed out",
  EREMOTEIO: "remote I/O error",
};

/** "EBUSY" for 16; "errno 77" for a number we do not name. */
export function errnoName(errno: number): string {
  return NAME_BY_NUMBER.get(errno) ?? `errno ${errno}`;
}

/** "EBUSY (device or resource busy)". */
export function errnoText(errno: number): string {
  const name = NAME_BY_NUMBER.get(errno);
  return name ? `${name} (${TEXT[name]})` : `errno ${errno}`;
}
