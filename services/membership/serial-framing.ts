// Framing for the host-to-host serial line: COBS-encoded (packet || CRC-32) between 0x00 bytes
// (one before and one after, so line noise before a frame cannot merge into it).
//
// COBS removes every zero from the frame body, so a receiver that joins mid-stream, or loses
// bytes to line noise, resynchronises at the next zero. The CRC catches corrupted frames before
// they cost an AEAD check (which would reject them anyway). Frames are bounded: a stream without
// zeros cannot make the decoder buffer more than MAX_FRAME_BYTES.

export const MAX_FRAME_BYTES = 4096;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function cobsEncode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.byteLength + Math.ceil(data.byteLength / 254) + 1);
  let codeAt = 0;
  let o = 1;
  let code = 1;
  for (const b of data) {
    if (b === 0) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
    } else {
      out[o++] = b;
      code++;
      if (code === 0xff) {
        out[codeAt] = code;
        codeAt = o++;
        code = 1;
      }
    }
  }
  out[codeAt] = code;
  return out.subarray(0, o);
}

/** Returns null for a malformed encoding (a zero inside, or a code pointing past the end). */
export function cobsDecode(data: Uint8Array): Uint8Array | null {
  const out = new Uint8Array(data.byteLength);
  let i = 0;
  let o = 0;
  while (i < data.byteLength) {
    const code = data[i]!;
    if (code === 0) return null;
    for (let k = 1; k < code; k++) {
      const b = data[i + k];
      if (b === undefined || b === 0) return null;
      out[o++] = b;
    }
    i += code;
    if (code !== 0xff && i < data.byteLength) out[o++] = 0;
  }
  return out.subarray(0, o);
}

export function encodeFrame(packet: Uint8Array): Uint8Array {
  const body = new Uint8Array(packet.byteLength + 4);
  body.set(packet);
  new DataView(body.buffer).setUint32(packet.byteLength, crc32(packet));
  const enc = cobsEncode(body);
  const frame = new Uint8Array(enc.byteLength + 2);
  frame.set(enc, 1);
  return frame;
}

export interface FrameStats {
  frames: number;
  badCrc: number;
  badEncoding: number;
  oversized: number;
}

/** Streaming decoder: feed it bytes as they arrive, get whole, checked packets back. */
export class FrameDecoder {
  private buf = new Uint8Array(MAX_FRAME_BYTES);
  private len = 0;
  private overflow = false;
  readonly stats: FrameStats = { frames: 0, badCrc: 0, badEncoding: 0, oversized: 0 };

  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const b of chunk) {
      if (b !== 0) {
        if (this.len < MAX_FRAME_BYTES) this.buf[this.len++] = b;
        else this.overflow = true;
        continue;
      }
      if (this.overflow) {
        this.stats.oversized++;
      } else if (this.len > 0) {
        const p = this.take();
        if (p) out.push(p);
      }
      this.len = 0;
      this.overflow = false;
    }
    return out;
  }

  private take(): Uint8Array | null {
    const body = cobsDecode(this.buf.subarray(0, this.len));
    if (!body || body.byteLength < 5) {
      this.stats.badEncoding++;
      return null;
    }
    const packet = body.slice(0, body.byteLength - 4);
    const crc = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(body.byteLength - 4);
    if (crc !== crc32(packet)) {
      this.stats.badCrc++;
      return null;
    }
    this.stats.frames++;
    return packet;
  }
}
