// The host-to-host serial line (115200 8N1 by default) through serialport's stream layer with a
// Bun-safe binding (tty-binding.ts explains why the stock binding cannot be used). A missing or
// busy device is not fatal: the link is reported down with the reason and reopened periodically,
// and the node runs on its other links.
import { SerialPortStream } from "@serialport/stream";
import { FrameDecoder, encodeFrame } from "./serial-framing.ts";
import { TtyBinding } from "./tty-binding.ts";

export class SerialLink {
  private port: SerialPortStream<typeof TtyBinding> | null = null;
  private readonly decoder = new FrameDecoder();
  private retry: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private lastReason = "";

  constructor(
    private readonly device: string,
    private readonly baud: number,
    private readonly onPacket: (bytes: Uint8Array) => void,
    private readonly onState: (up: boolean, reason: string) => void,
    private readonly retry_ms = 2000,
  ) {}

  get stats() {
    return this.decoder.stats;
  }

  open(): void {
    if (this.closed) return;
    const port = new SerialPortStream<typeof TtyBinding>({ binding: TtyBinding, path: this.device, baudRate: this.baud, dataBits: 8, parity: "none", stopBits: 1, autoOpen: false });
    port.open((err?: Error | null) => {
      if (err) {
        this.fail(describe(this.device, err));
        return;
      }
      this.port = port;
      this.lastReason = "";
      this.onState(true, "");
      port.on("data", (chunk: Buffer) => {
        for (const p of this.decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) this.onPacket(p);
      });
      port.on("close", () => {
        if (this.port === port) this.port = null;
        if (!this.closed) this.fail(`${this.device} closed`);
      });
      port.on("error", (e: Error) => this.fail(describe(this.device, e)));
    });
  }

  private fail(reason: string): void {
    if (reason !== this.lastReason) this.onState(false, reason);
    this.lastReason = reason;
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.open();
    }, this.retry_ms);
  }

  send(bytes: Uint8Array): void {
    const p = this.port;
    if (!p || !p.isOpen) return;
    // A serial line is slow: if the kernel buffer is still full from earlier frames, drop this
    // heartbeat instead of queueing stale ones behind it.
    if (p.writableLength > 4096) return;
    p.write(Buffer.from(encodeFrame(bytes)));
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const p = this.port;
    this.port = null;
    if (p?.isOpen) p.close();
  }
}

function describe(device: string, err: Error): string {
  const m = err.message;
  if (/ENOENT|No such file/i.test(m)) return `${device} missing`;
  if (/lock|busy|EBUSY|EAGAIN|temporarily unavailable/i.test(m)) return `${device} busy (opened by another process)`;
  if (/EACCES|permission/i.test(m)) return `${device} not accessible: permission denied`;
  return `${device}: ${m}`;
}
