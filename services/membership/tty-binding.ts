// A serialport binding that works under Bun.
//
// serialport's stock binding (@serialport/bindings-cpp) reads through libuv's uv_poll, which Bun
// does not implement: opening a port aborts the process. This binding keeps serialport's stream
// API (@serialport/stream) and does the I/O with plain file descriptors instead:
//  - line settings through stty(1) (raw, 8N1, the baud rate) with VMIN=0 VTIME=1, so a read
//    blocks for at most 100 ms and returns 0 bytes when the line is quiet;
//  - reads with async fs.read (Bun runs them off the event loop), looped until data arrives;
//  - writes on a second, non-blocking descriptor: when the peer stops reading (it died, or the
//    line is congested) the kernel buffer fills and a blocking write would stall the whole node
//    (seen in the lab: every link timed out at once). A full buffer drops the frame instead;
//    heartbeats are periodic, so the next one repairs the loss;
//  - a UUCP lock file (/run/lock/LCK..ttyX) so two processes never share a line: the second
//    gets "busy", as with the stock binding's exclusive lock.
// Modem control lines (DTR/RTS/CTS...) are not used by the cluster's line and are reported as
// unsupported rather than faked.
import { spawnSync } from "node:child_process";
import { closeSync, constants, existsSync, mkdirSync, openSync, read, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, writeFileSync, writeSync } from "node:fs";
import type { BindingInterface, BindingPortInterface, OpenOptions, PortInfo, PortStatus, SetOptions, UpdateOptions } from "@serialport/bindings-interface";

/** Read at each use: tests point it elsewhere after this module is loaded. */
const lockDir = (): string => process.env.HAPD_LOCK_DIR ?? "/run/lock";

function lockPath(device: string): string {
  let real = device;
  try {
    real = realpathSync(device);
  } catch {
    real = device;
  }
  // UUCP names the lock after the device below /dev ("ttyS1", "pts/3" as "pts_3").
  return `${lockDir()}/LCK..${real.replace(/^\/dev\//, "").replace(/\//g, "_")}`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Does that process have the device open? A lock left by a process killed with SIGKILL names a
 * pid that may since belong to someone else; UUCP's "is the pid alive" alone would call the line
 * busy forever. Where /proc cannot tell (another user's process), the lock is honoured.
 */
function holdsDevice(pid: number, device: string): boolean {
  let real: string;
  try {
    real = realpathSync(device);
  } catch {
    return true;
  }
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return true;
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === real) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/** Lines this process holds: the lock file alone cannot tell two openers in one process apart. */
const heldHere = new Set<string>();

function takeLock(device: string): string {
  mkdirSync(lockDir(), { recursive: true });
  const path = lockPath(device);
  if (heldHere.has(path)) throw Object.assign(new Error(`${device} busy: already open in this process`), { code: "EBUSY" });
  try {
    const holder = Number(readFileSync(path, "utf8").trim());
    if (holder && holder !== process.pid && pidAlive(holder) && holdsDevice(holder, device)) throw Object.assign(new Error(`${device} busy: locked by pid ${holder}`), { code: "EBUSY" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EBUSY") throw e;
  }
  writeFileSync(path, `${String(process.pid).padStart(10)}\n`, { mode: 0o644 });
  heldHere.add(path);
  return path;
}

function releaseLock(path: string): void {
  heldHere.delete(path);
  rmSync(path, { force: true });
}

function stty(device: string, baudRate: number): void {
  const r = spawnSync("stty", ["-F", device, String(baudRate), "raw", "-echo", "cs8", "-cstopb", "-parenb", "clocal", "min", "0", "time", "1"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${device}: cannot set line settings: ${(r.stderr || r.error?.message || "stty failed").trim()}`);
}

class Canceled extends Error {
  readonly canceled = true;
  constructor() {
    super("port closed");
  }
}

export class TtyPort implements BindingPortInterface {
  isOpen = true;
  private reading: Promise<unknown> | null = null;

  /** Frames dropped because the line's kernel buffer was full. */
  dropped = 0;

  constructor(
    readonly fd: number,
    private readonly writeFd: number,
    readonly openOptions: Required<OpenOptions>,
    private readonly lock: string,
  ) {}

  async close(): Promise<void> {
    if (!this.isOpen) return;
    this.isOpen = false;
    // A read in flight returns within VTIME (100 ms); close the fd only after it has.
    await this.reading?.catch(() => undefined);
    closeSync(this.fd);
    closeSync(this.writeFd);
    releaseLock(this.lock);
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    while (this.isOpen) {
      const p = new Promise<number>((resolve, reject) => read(this.fd, buffer, offset, length, null, (err, n) => (err ? reject(err) : resolve(n))));
      this.reading = p;
      const n = await p;
      if (n > 0) return { buffer, bytesRead: n };
    }
    throw new Canceled();
  }

  async write(buffer: Buffer): Promise<void> {
    if (!this.isOpen) throw new Canceled();
    let from = 0;
    // Non-blocking: take what the kernel accepts now; drop the rest of a frame that does not fit
    // (the receiver's framing discards the torn frame by its CRC and resynchronises).
    while (from < buffer.byteLength) {
      try {
        const n = writeSync(this.writeFd, buffer, from, buffer.byteLength - from);
        if (n <= 0) break;
        from += n;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EAGAIN") {
          this.dropped += 1;
          return;
        }
        throw e;
      }
    }
  }

  async update(options: UpdateOptions): Promise<void> {
    stty(this.openOptions.path, options.baudRate);
    this.openOptions.baudRate = options.baudRate;
  }

  async set(_options: SetOptions): Promise<void> {
    throw new Error("modem control lines are not supported by the tty binding");
  }

  async get(): Promise<PortStatus> {
    throw new Error("modem status lines are not supported by the tty binding");
  }

  async getBaudRate(): Promise<{ baudRate: number }> {
    return { baudRate: this.openOptions.baudRate };
  }

  async flush(): Promise<void> {
    // Nothing is buffered in user space; stale bytes in the kernel are resynchronised by framing.
  }

  async drain(): Promise<void> {
    // write() resolves only once the kernel has taken every byte.
  }
}

export const TtyBinding: BindingInterface<TtyPort> = {
  async list(): Promise<PortInfo[]> {
    return [];
  },
  async open(options: OpenOptions): Promise<TtyPort> {
    if (!existsSync(options.path)) throw Object.assign(new Error(`${options.path}: ENOENT: No such file or directory`), { code: "ENOENT" });
    const lock = takeLock(options.path);
    try {
      stty(options.path, options.baudRate);
      const fd = openSync(options.path, constants.O_RDWR | constants.O_NOCTTY);
      const writeFd = openSync(options.path, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
      const full: Required<OpenOptions> = {
        dataBits: 8,
        lock: true,
        stopBits: 1,
        parity: "none",
        rtscts: false,
        xon: false,
        xoff: false,
        xany: false,
        hupcl: true,
        ...options,
      };
      return new TtyPort(fd, writeFd, full, lock);
    } catch (e) {
      releaseLock(lock);
      throw e;
    }
  },
};
