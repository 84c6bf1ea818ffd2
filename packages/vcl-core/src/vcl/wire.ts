import { MalformedFrameError } from '../errors';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Appends big-endian fields to a growing buffer. */
export class WireWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(initial = 64) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  /** One unsigned byte. */
  u8(value: number): this {
    this.room(1);
    this.view.setUint8(this.len, value);
    this.len += 1;
    return this;
  }

  /** One unsigned 32-bit integer. */
  u32(value: number): this {
    this.room(4);
    this.view.setUint32(this.len, value >>> 0);
    this.len += 4;
    return this;
  }

  /** A non-negative safe integer (up to 2^53 - 1) as two 32-bit halves. */
  u53(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a non-negative safe integer: ${value}`);
    return this.u32(Math.floor(value / 0x1_0000_0000)).u32(value % 0x1_0000_0000);
  }

  /** Length-prefixed bytes. */
  bytes(value: Uint8Array): this {
    this.u32(value.length);
    this.room(value.length);
    this.buf.set(value, this.len);
    this.len += value.length;
    return this;
  }

  /** A length-prefixed UTF-8 string. */
  string(value: string): this {
    return this.bytes(encoder.encode(value));
  }

  /** The bytes written so far. */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

/** Reads big-endian fields; every read names the field so a bad frame says what was wrong. */
export class WireReader {
  private readonly view: DataView;
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    /** What is being decoded, for error messages (`session event`). */
    private readonly what: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** One unsigned byte. */
  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.pos++);
  }

  /** One unsigned 32-bit integer. */
  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  /** A safe integer written by `WireWriter.u53`. */
  u53(field: string): number {
    const hi = this.u32(field);
    const lo = this.u32(field);
    if (hi > 0x1f_ffff) throw new MalformedFrameError(`${this.what}: field ${field} exceeds 2^53`);
    return hi * 0x1_0000_0000 + lo;
  }

  /** Length-prefixed bytes (a view into the frame, not a copy). */
  bytes(field: string, max = Number.MAX_SAFE_INTEGER): Uint8Array {
    const n = this.u32(field);
    if (n > max) throw new MalformedFrameError(`${this.what}: field ${field} is ${n} bytes, at most ${max} allowed`);
    this.need(n, field);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A length-prefixed UTF-8 string of at most `max` bytes. */
  string(field: string, max = 1024): string {
    const raw = this.bytes(field, max);
    try {
      return decoder.decode(raw);
    } catch (cause) {
      throw new MalformedFrameError(`${this.what}: field ${field} is not valid UTF-8`, { cause });
    }
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.pos !== this.buf.length)
      throw new MalformedFrameError(`${this.what}: ${this.buf.length - this.pos} unexpected trailing bytes`);
  }

  private need(n: number, field: string): void {
    if (this.pos + n > this.buf.length)
      throw new MalformedFrameError(
        `${this.what}: truncated at field ${field} (needs ${n} bytes at offset ${this.pos}, frame has ${this.buf.length})`,
      );
  }
}
