import type { LinkFrame } from '../contracts/link-security';
import { EncodingError, FrameTooLargeError, MalformedFrameError, UnsupportedVersionError } from '../errors';

/**
 * Link frames: the unit of every member<->member and client-interceptor<->service-interceptor link.
 *
 * Wire layout (9 bytes of header, then the body):
 *
 * | bytes | field   | meaning                                                   |
 * | ----- | ------- | --------------------------------------------------------- |
 * | 0-1   | magic   | `0x56 0x4c` ("VL"), catches a stream that is not VCL      |
 * | 2     | version | `FRAME_VERSION`; any other value is refused               |
 * | 3     | type    | what the body is; owned by the link that uses the codec   |
 * | 4     | flags   | per-type bits; owned by the link that uses the codec      |
 * | 5-8   | length  | body length in bytes, u32 big-endian                      |
 */

/** The two magic bytes that open every frame ("VL"). */
export const FRAME_MAGIC = 0x564c;
/** The frame format version this build speaks. */
export const FRAME_VERSION = 1;
/** Bytes of the fixed frame header. */
export const FRAME_HEADER_BYTES = 9;
/** Default largest body a link accepts: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Largest body the length field can describe. */
const LENGTH_LIMIT = 0xffffffff;

/** One decoded frame (the contracts' `LinkFrame`, so security hooks see the same shape). */
export type Frame = LinkFrame;

/** Input of `encodeFrame`: a frame whose flags may be omitted. */
export interface FrameInput {
  /** Frame type, 0-255. */
  readonly type: number;
  /** Flag bits, 0-255; default 0. */
  readonly flags?: number;
  /** The body bytes. */
  readonly body: Uint8Array;
}

/** Throws `FrameTooLargeError` unless a body of `length` bytes fits under `maxFrameBytes`. */
export function checkFrameLength(length: number, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): void {
  if (length > maxFrameBytes || length > LENGTH_LIMIT)
    throw new FrameTooLargeError(
      `frame of ${length} bytes exceeds the maximum of ${Math.min(maxFrameBytes, LENGTH_LIMIT)}`,
    );
}

/**
 * Writes a frame header for a body of `length` bytes into `target` at `offset` (which must have
 * `FRAME_HEADER_BYTES` bytes of room). For links that batch several frames into one buffer.
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  type: number,
  flags: number,
  length: number,
): void {
  checkByte('type', type);
  checkByte('flags', flags);
  target[offset] = FRAME_MAGIC >>> 8;
  target[offset + 1] = FRAME_MAGIC & 0xff;
  target[offset + 2] = FRAME_VERSION;
  target[offset + 3] = type;
  target[offset + 4] = flags;
  target[offset + 5] = length >>> 24;
  target[offset + 6] = (length >>> 16) & 0xff;
  target[offset + 7] = (length >>> 8) & 0xff;
  target[offset + 8] = length & 0xff;
}

/**
 * Encodes one frame (header and body in one new buffer). Throws `FrameTooLargeError` for a body
 * over `maxFrameBytes` (default 16 MiB) and `EncodingError` for a type or flags outside 0-255.
 */
export function encodeFrame(frame: FrameInput, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  const length = frame.body.length;
  checkFrameLength(length, maxFrameBytes);
  const out = new Uint8Array(FRAME_HEADER_BYTES + length);
  writeFrameHeader(out, 0, frame.type, frame.flags ?? 0, length);
  out.set(frame.body, FRAME_HEADER_BYTES);
  return out;
}

function checkByte(field: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff)
    throw new EncodingError(`frame ${field} must be an integer in 0-255, got ${value}`);
}

/** Options of a `FrameDecoder`. */
export interface FrameDecoderOptions {
  /** Largest body accepted; a header announcing more is refused at once. Default 16 MiB. */
  readonly maxFrameBytes?: number;
  /**
   * Return bodies as views into the pushed chunks whenever a body lies in one chunk, instead of
   * copies. Faster, but a retained small body then keeps its whole chunk alive, and the caller
   * must not reuse pushed chunks. Default false: a body is a view only when it fills at least half
   * of its chunk's memory, otherwise an exact copy.
   */
  readonly zeroCopy?: boolean;
}

/**
 * A streaming frame decoder: feed it the bytes of a stream in chunks of any size; it returns every
 * frame they complete. Each byte is copied at most once (bodies spanning chunks are assembled only
 * when complete), so decoding is linear in the input whatever the chunking.
 *
 * Any bad input throws a `MalformedFrameError` (or its subclasses `FrameTooLargeError`,
 * `UnsupportedVersionError`) naming the problem and its stream offset. After a throw the decoder is
 * unusable: every later call throws the same error.
 */
export class FrameDecoder {
  /** Largest body accepted; may be raised after a handshake (e.g. from a pre-authentication limit). */
  maxFrameBytes: number;
  private readonly zeroCopy: boolean;
  private chunks: Uint8Array[] = [];
  private first = 0;
  private offset = 0;
  private held = 0;
  private consumed = 0;
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private type = -1;
  private flags = 0;
  private length = -1;
  private failure: MalformedFrameError | undefined;
  private ended = false;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.zeroCopy = options.zeroCopy ?? false;
  }

  /** Bytes held that do not yet form a complete frame. */
  get buffered(): number {
    return this.held;
  }

  /** Total bytes consumed into complete frames so far (the stream offset of the next frame). */
  get position(): number {
    return this.consumed;
  }

  /** Feeds `chunk`; returns the frames it completes, in order. */
  push(chunk: Uint8Array): Frame[] {
    this.feed(chunk);
    const frames: Frame[] = [];
    for (let frame = this.next(); frame; frame = this.next()) frames.push(frame);
    return frames;
  }

  /**
   * Feeds `chunk` without decoding; call `next()` until it returns undefined. A link uses this pair
   * to act on every good frame that precedes a bad one in the same chunk.
   */
  feed(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (this.ended) this.fail(new MalformedFrameError('frame decoder: bytes pushed after the end of the stream'));
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.held += chunk.length;
  }

  /**
   * The type of the next frame once its header has arrived (magic and version checked, size not),
   * without consuming it; undefined while fewer than a header's bytes are held.
   */
  peekType(): number | undefined {
    if (this.failure) throw this.failure;
    if (this.length >= 0) return this.type;
    if (this.held < FRAME_HEADER_BYTES) return undefined;
    const h = this.peek(FRAME_HEADER_BYTES);
    this.checkMagicAndVersion(h);
    return h[3];
  }

  /** The next complete frame of the bytes fed so far, or undefined if none is complete yet. */
  next(): Frame | undefined {
    if (this.failure) throw this.failure;
    if (this.length < 0) {
      if (this.held < FRAME_HEADER_BYTES) return this.compact();
      this.readHeader();
    }
    if (this.held < FRAME_HEADER_BYTES + this.length) return this.compact();
    this.take(FRAME_HEADER_BYTES);
    const frame: Frame = { type: this.type, flags: this.flags, body: this.takeBody(this.length) };
    this.consumed += FRAME_HEADER_BYTES + this.length;
    this.length = -1;
    return frame;
  }

  /** Declares the end of the stream; throws `MalformedFrameError` if it ended inside a frame. */
  end(): void {
    if (this.failure) throw this.failure;
    this.ended = true;
    if (this.held === 0) return;
    const at = `at stream offset ${this.consumed}`;
    if (this.length < 0)
      this.fail(
        new MalformedFrameError(
          `stream ended inside a frame header ${at}: got ${this.held} of ${FRAME_HEADER_BYTES} header bytes`,
        ),
      );
    this.fail(
      new MalformedFrameError(
        `stream ended inside a frame ${at}: got ${this.held - FRAME_HEADER_BYTES} of ${this.length} body bytes ` +
          `of a type ${this.type} frame`,
      ),
    );
  }

  private readHeader(): void {
    const h = this.peek(FRAME_HEADER_BYTES);
    this.checkMagicAndVersion(h);
    const length = ((h[5]! << 24) >>> 0) + ((h[6]! << 16) | (h[7]! << 8) | h[8]!);
    if (length > this.maxFrameBytes)
      this.fail(
        new FrameTooLargeError(
          `frame of ${length} bytes exceeds the maximum of ${this.maxFrameBytes} (type ${h[3]} at stream offset ${this.consumed})`,
        ),
      );
    this.type = h[3]!;
    this.flags = h[4]!;
    this.length = length;
  }

  private checkMagicAndVersion(h: Uint8Array): void {
    const magic = (h[0]! << 8) | h[1]!;
    if (magic !== FRAME_MAGIC)
      this.fail(
        new MalformedFrameError(
          `bad frame magic 0x${hex(magic, 4)} at stream offset ${this.consumed} (expected 0x${hex(FRAME_MAGIC, 4)}): ` +
            'not a VCL link stream, or the stream lost its framing',
        ),
      );
    if (h[2] !== FRAME_VERSION)
      this.fail(
        new UnsupportedVersionError(
          `frame version ${h[2]} at stream offset ${this.consumed} is not supported (this build speaks version ${FRAME_VERSION})`,
        ),
      );
  }

  private fail(error: MalformedFrameError): never {
    this.failure = error;
    this.chunks = [];
    this.first = 0;
    this.offset = 0;
    this.held = 0;
    throw error;
  }

  /** The next `n` bytes without consuming them (a view when contiguous, else the header scratch). */
  private peek(n: number): Uint8Array {
    const c = this.chunks[this.first]!;
    if (c.length - this.offset >= n) return c.subarray(this.offset, this.offset + n);
    let got = 0;
    for (let i = this.first, off = this.offset; got < n; i++, off = 0) {
      const part = this.chunks[i]!;
      const m = Math.min(n - got, part.length - off);
      this.header.set(part.subarray(off, off + m), got);
      got += m;
    }
    return this.header;
  }

  private take(n: number): void {
    this.held -= n;
    while (n > 0) {
      const c = this.chunks[this.first]!;
      const left = c.length - this.offset;
      if (left > n) {
        this.offset += n;
        return;
      }
      n -= left;
      this.first++;
      this.offset = 0;
    }
  }

  private takeBody(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    const c = this.chunks[this.first]!;
    if (c.length - this.offset >= n) {
      const view = c.subarray(this.offset, this.offset + n);
      this.take(n);
      return this.zeroCopy || n * 2 >= c.buffer.byteLength ? view : view.slice();
    }
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const part = this.chunks[this.first]!;
      const m = Math.min(n - got, part.length - this.offset);
      out.set(part.subarray(this.offset, this.offset + m), got);
      got += m;
      this.take(m);
    }
    return out;
  }

  private compact(): undefined {
    if (this.first === 0) return;
    if (this.first >= this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first >= 16 && this.first * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, '0');
}
