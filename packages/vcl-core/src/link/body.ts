import { EncodingError, MalformedFrameError } from '../errors';

/**
 * Structured frame bodies: a small field writer and a bounds-checked reader. Integers are
 * big-endian; `varint` is unsigned LEB128 up to 2^53-1; `bytes` and `string` carry a varint length
 * prefix; `string` is UTF-8. Readers name the field they were reading in every error, and a short
 * or inconsistent body always gives `MalformedFrameError`, never a `RangeError`.
 *
 * @example
 * ```ts
 * const body = new BodyWriter().string('n1').u64(incarnation).bytes(payload).finish();
 * const r = new BodyReader(body, 'hello');
 * const hello = { id: r.string('id'), incarnation: r.u64('incarnation'), payload: r.bytes('payload') };
 * r.end();
 * ```
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const TWO_32 = 0x1_0000_0000;

/** Writes fields into a growing buffer; `finish()` returns the body. */
export class BodyWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  /** `capacity` is the initial buffer size; it doubles as needed. */
  constructor(capacity = 64) {
    this.buf = new Uint8Array(Math.max(8, capacity));
    this.view = new DataView(this.buf.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  /** An unsigned byte. */
  u8(value: number): this {
    checkUint('u8', value, 0xff);
    this.room(1);
    this.buf[this.pos++] = value;
    return this;
  }

  /** A boolean as one byte (0 or 1). */
  bool(value: boolean): this {
    return this.u8(value ? 1 : 0);
  }

  /** An unsigned 16-bit integer. */
  u16(value: number): this {
    checkUint('u16', value, 0xffff);
    this.room(2);
    this.view.setUint16(this.pos, value);
    this.pos += 2;
    return this;
  }

  /** An unsigned 32-bit integer. */
  u32(value: number): this {
    checkUint('u32', value, 0xffffffff);
    this.room(4);
    this.view.setUint32(this.pos, value);
    this.pos += 4;
    return this;
  }

  /** A non-negative safe integer (up to 2^53-1) as 8 bytes. */
  u64(value: number): this {
    checkUint('u64', value, Number.MAX_SAFE_INTEGER);
    this.room(8);
    this.view.setUint32(this.pos, Math.floor(value / TWO_32));
    this.view.setUint32(this.pos + 4, value % TWO_32);
    this.pos += 8;
    return this;
  }

  /** A non-negative safe integer in 1-8 bytes (unsigned LEB128). */
  varint(value: number): this {
    checkUint('varint', value, Number.MAX_SAFE_INTEGER);
    this.room(8);
    while (value >= 0x80) {
      this.buf[this.pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.buf[this.pos++] = value;
    return this;
  }

  /** A byte string with a varint length prefix. */
  bytes(value: Uint8Array): this {
    this.varint(value.length);
    return this.raw(value);
  }

  /** A UTF-8 string with a varint length prefix (of its byte length). */
  string(value: string): this {
    return this.bytes(encoder.encode(value));
  }

  /** Bytes without a length prefix (e.g. a trailing payload read back with `rest()`). */
  raw(value: Uint8Array): this {
    this.room(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
    return this;
  }

  /** The body written so far (a view of the writer's buffer; do not write more after using it). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

function checkUint(kind: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new EncodingError(`${kind} field: ${value} is not an integer in 0-${max}`);
}

/** Reads fields from a body; every read is bounds-checked and names its field in errors. */
export class BodyReader {
  private readonly view: DataView;
  private pos = 0;

  /** `what` names the body in error messages (`hello frame`). */
  constructor(
    private readonly body: Uint8Array,
    private readonly what = 'frame body',
  ) {
    this.view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.body.length - this.pos;
  }

  /** An unsigned byte. */
  u8(field: string): number {
    this.need(1, field, 'u8');
    return this.body[this.pos++]!;
  }

  /** A boolean byte; anything but 0 or 1 is malformed. */
  bool(field: string): boolean {
    const at = this.pos;
    const v = this.u8(field);
    if (v > 1) throw this.error(`${field} (bool) at offset ${at} is ${v}, expected 0 or 1`);
    return v === 1;
  }

  /** An unsigned 16-bit integer. */
  u16(field: string): number {
    this.need(2, field, 'u16');
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  /** An unsigned 32-bit integer. */
  u32(field: string): number {
    this.need(4, field, 'u32');
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  /** An 8-byte integer; values above 2^53-1 are malformed. */
  u64(field: string): number {
    this.need(8, field, 'u64');
    const hi = this.view.getUint32(this.pos);
    if (hi > 0x1fffff) throw this.error(`${field} (u64) at offset ${this.pos} exceeds 2^53-1`);
    const v = hi * TWO_32 + this.view.getUint32(this.pos + 4);
    this.pos += 8;
    return v;
  }

  /** An unsigned LEB128 integer up to 2^53-1 in its shortest form. */
  varint(field: string): number {
    const at = this.pos;
    let value = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (this.pos >= this.body.length)
        throw this.error(`body too short reading ${field} (varint) at offset ${at}: it runs past the end`);
      const b = this.body[this.pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (b === 0 && i > 0) throw this.error(`${field} (varint) at offset ${at} is not in its shortest form`);
        break;
      }
      scale *= 0x80;
      if (i >= 7) throw this.error(`${field} (varint) at offset ${at} is longer than 8 bytes`);
    }
    if (value > Number.MAX_SAFE_INTEGER) throw this.error(`${field} (varint) at offset ${at} exceeds 2^53-1`);
    return value;
  }

  /** A length-prefixed byte string (a view of the body, not a copy). */
  bytes(field: string): Uint8Array {
    const length = this.varint(field);
    return this.rawAs(length, field, 'bytes');
  }

  /** A length-prefixed UTF-8 string; invalid UTF-8 is malformed. */
  string(field: string): string {
    const at = this.pos;
    const bytes = this.rawAs(this.varint(field), field, 'string');
    try {
      return decoder.decode(bytes);
    } catch (cause) {
      throw new MalformedFrameError(`${this.what}: ${field} (string) at offset ${at} is not valid UTF-8`, { cause });
    }
  }

  /** Exactly `length` bytes without a prefix (a view). */
  raw(length: number, field: string): Uint8Array {
    return this.rawAs(length, field, 'raw');
  }

  /** Everything not read yet (a view). */
  rest(): Uint8Array {
    const v = this.body.subarray(this.pos);
    this.pos = this.body.length;
    return v;
  }

  /** Throws `MalformedFrameError` if bytes are left over (a body longer than its fields). */
  end(): void {
    if (this.pos !== this.body.length)
      throw this.error(`${this.body.length - this.pos} unexpected trailing bytes after offset ${this.pos}`);
  }

  private rawAs(length: number, field: string, kind: string): Uint8Array {
    this.need(length, field, kind);
    const v = this.body.subarray(this.pos, this.pos + length);
    this.pos += length;
    return v;
  }

  private need(n: number, field: string, kind: string): void {
    if (this.body.length - this.pos < n)
      throw this.error(
        `body too short reading ${field} (${kind}) at offset ${this.pos}: needs ${n} bytes, ${this.body.length - this.pos} left`,
      );
  }

  private error(message: string): MalformedFrameError {
    return new MalformedFrameError(`${this.what}: ${message}`);
  }
}

/** Concatenates byte arrays into one. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
