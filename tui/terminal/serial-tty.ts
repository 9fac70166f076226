// `hapd console --serial /dev/ttyS0`: the console on a serial device, owning its settings.
//
// serialport's native binding aborts under Bun (libuv uv_poll), so, like the membership's serial
// link (services/membership/tty-binding.ts), the device is set up with stty (raw, 8N1, no echo,
// VMIN=0 VTIME=1) and read with async fs.read in a loop, which Bun runs off the event loop. A
// UUCP lock file keeps the console off a line another process holds (the cluster's own serial
// line, a getty).
import { spawnSync } from "node:child_process";
import { EventEmitter } from "node:events";
import { closeSync, constants, existsSync, mkdirSync, openSync, read, readFileSync, realpathSync, rmSync, statSync, write, writeFileSync } from "node:fs";
import { basename } from "node:path";

export const CONSOLE_BAUD = 115200;

export interface SerialTty {
  device: string;
  /** Emits "data" with Buffers, like a tty ReadStream. */
  input: NodeJS.ReadableStream;
  write(data: string): void;
  /** Resolves once everything written so far has been handed to the kernel. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

function lockPath(device: string, lockDir: string): string {
  let real = device;
  try {
    real = realpathSync(device);
  } catch {
    real = device;
  }
  return `${lockDir}/LCK..${basename(real)}`;
}

function takeLock(device: string, lockDir: string): string {
  mkdirSync(lockDir, { recursive: true });
  const path = lockPath(device, lockDir);
  let holder = 0;
  try {
    holder = Number(readFileSync(path, "utf8").trim());
  } catch {
    holder = 0;
  }
  if (holder && holder !== process.pid) {
    let alive = true;
    try {
      process.kill(holder, 0);
    } catch (e) {
      alive = (e as NodeJS.ErrnoException).code === "EPERM";
    }
    if (alive) throw new Error(`${device} is busy: locked by pid ${holder} (${path}); is it the cluster's serial line, or a getty?`);
  }
  writeFileSync(path, `${String(process.pid).padStart(10)}\n`, { mode: 0o644 });
  return path;
}

export function openSerialTty(device: string, baud = CONSOLE_BAUD, lockDir = process.env.HAPD_LOCK_DIR ?? "/run/lock"): SerialTty {
  if (!existsSync(device)) throw new Error(`${device}: no such device`);
  if (!statSync(device).isCharacterDevice()) throw new Error(`${device}: not a character device`);
  const lock = takeLock(device, lockDir);
  let fd: number;
  try {
    const r = spawnSync("stty", ["-F", device, String(baud), "raw", "-echo", "cs8", "-cstopb", "-parenb", "clocal", "min", "0", "time", "1"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${device}: cannot set line settings: ${(r.stderr || r.error?.message || "stty failed").trim()}`);
    fd = openSync(device, constants.O_RDWR | constants.O_NOCTTY);
  } catch (e) {
    rmSync(lock, { force: true });
    throw e;
  }
  const input = new EventEmitter() as EventEmitter & NodeJS.ReadableStream;
  let open = true;
  let reading: Promise<void> = Promise.resolve();
  const loop = async () => {
    const buf = Buffer.alloc(256);
    while (open) {
      const n = await new Promise<number>((resolve) => read(fd, buf, 0, buf.length, null, (err, got) => resolve(err ? -1 : got)));
      if (n < 0) {
        // A hang-up or a removed USB adapter: stop reading; the console sees no more keys.
        open = false;
        input.emit("end");
        break;
      }
      if (n > 0 && open) input.emit("data", Buffer.from(buf.subarray(0, n)));
    }
  };
  reading = loop();
  let queue: Promise<void> = Promise.resolve();
  const writeAll = (data: Buffer) =>
    new Promise<void>((resolve) => {
      const next = (from: number) => {
        if (!open) return resolve();
        write(fd, data, from, data.byteLength - from, null, (err, n) => {
          if (err || from + n >= data.byteLength) return resolve();
          next(from + n);
        });
      };
      next(0);
    });
  return {
    device,
    input,
    write(data: string) {
      const bytes = Buffer.from(data);
      queue = queue.then(() => writeAll(bytes));
    },
    drain: () => queue,
    async close() {
      await queue;
      open = false;
      // A read in flight returns within VTIME (100 ms); close the fd only after it has.
      await reading;
      closeSync(fd);
      rmSync(lock, { force: true });
    },
  };
}
