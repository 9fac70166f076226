// Bounded binary reader and writer shared by every decoder of the project.
//
// Decoders face bytes from peers that may be broken or hostile, so every read checks the
// remaining length and throws a DecodeError (never a RangeError from a typed array). Callers
// catch DecodeError at the edge and count the packet as garbage.

export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}

export class ByteReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.byteLength - this.offset;
  }

  get position(): number {
    return this.offset;
  }

  private need(size_bytes: number, what: string): void {
    if (size_bytes > this.remaining) {
      throw new DecodeError(`truncated: ${what} needs ${size_bytes} bytes, ${this.remaining} left`);
    }
  }

  u8(what = "u8"): number {
    this.need(1, what);
    return this.view.getUint8(this.offset++);
  }

  u16(what = "u16"): number {
    this.need(2, what);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }

  u32(what = "u32"): number {
    this.need(4, what);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  /** A 64-bit unsigned integer that must fit a JS number exactly (below 2^53). */
  u53(what = "u64"): number {
    this.need(8, what);
    const hi = this.view.getUint32(this.offset);
    const lo = this.view.getUint32(this.offset + 4);
    if (hi > 0x1fffff) throw new DecodeError(`${what}: value above 2^53`);
    this.offset += 8;
    return hi * 0x1_0000_0000 + lo;
  }

  f64(what = "f64"): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.offset);
    this.offset += 8;
    if (!Number.isFinite(v)) throw new DecodeError(`${what}: not a finite number`);
    return v;
  }

  bytesOf(size_bytes: number, what = "bytes"): Uint8Array {
    this.need(size_bytes, what);
    const out = this.bytes.subarray(this.offset, this.offset + size_bytes);
    this.offset += size_bytes;
    return out;
  }

  rest(): Uint8Array {
    return this.bytesOf(this.remaining, "rest");
  }

  end(what: string): void {
    if (this.remaining !== 0) throw new DecodeError(`${what}: ${this.remaining} trailing bytes`);
  }
}

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private length = 0;

  constructor(initial_bytes = 256) {
    this.buf = new Uint8Array(initial_bytes);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(size_bytes: number): void {
    if (this.length + size_bytes <= this.buf.byteLength) return;
    let next = this.buf.byteLength * 2;
    while (next < this.length + size_bytes) next *= 2;
    const grown = new Uint8Array(next);
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(v: number): this {
    assertInt(v, 0, 0xff, "u8");
    this.ensure(1);
    this.view.setUint8(this.length++, v);
    return this;
  }

  u16(v: number): this {
    assertInt(v, 0, 0xffff, "u16");
    this.ensure(2);
    this.view.setUint16(this.length, v);
    this.length += 2;
    return this;
  }

  u32(v: number): this {
    assertInt(v, 0, 0xffff_ffff, "u32");
    this.ensure(4);
    this.view.setUint32(this.length, v);
    this.length += 4;
    return this;
  }

  u53(v: number): this {
    assertInt(v, 0, Number.MAX_SAFE_INTEGER, "u64");
    this.ensure(8);
    this.view.setUint32(this.length, Math.floor(v / 0x1_0000_0000));
    this.view.setUint32(this.length + 4, v >>> 0);
    this.length += 8;
    return this;
  }

  f64(v: number): this {
    if (!Number.isFinite(v)) throw new RangeError(`f64: ${v} is not finite`);
    this.ensure(8);
    this.view.setFloat64(this.length, v);
    this.length += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.byteLength);
    this.buf.set(b, this.length);
    this.length += b.byteLength;
    return this;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function assertInt(v: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${what}: ${v} outside ${min}..${max}`);
  }
}
