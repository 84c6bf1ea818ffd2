import { FramingError, MessageTooLargeError, type Framer } from '@vcl/core';

/**
 * The protocol's framing, and the part to rewrite for a real protocol: here one message is one
 * line of text ending in LF, at most `maxBytes` long (LF included), without NUL bytes.
 *
 * The rules every framer keeps (the conformance kit checks each):
 * - a pure function of the bytes pushed: chunking makes no difference, so every replica cuts alike;
 * - messages are exact slices of the input, nothing dropped or added (`buffered` counts the rest);
 * - a message over the limit fails with `MessageTooLargeError` as soon as that is known, before
 *   it is buffered whole; malformed input fails with `FramingError` naming what was wrong;
 * - after an error the framer stays failed (the conversation's framing is lost).
 */
export class LineFramer implements Framer {
  private parts: Uint8Array[] = [];
  private size = 0;
  private failure?: Error;

  constructor(
    private readonly what: 'request' | 'response',
    private readonly maxBytes: number,
  ) {}

  get buffered(): number {
    return this.size;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failure) throw this.failure;
    try {
      return this.cut(chunk);
    } catch (e) {
      this.failure = e as Error;
      throw e;
    }
  }

  private cut(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let from = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, nl + 1)) {
      this.check(this.size + nl + 1 - from, chunk.subarray(from, nl));
      out.push(this.take(chunk.subarray(from, nl + 1)));
      from = nl + 1;
    }
    const rest = chunk.subarray(from);
    this.check(this.size + rest.length, rest);
    if (rest.length) this.parts.push(rest);
    this.size += rest.length;
    return out;
  }

  private check(size: number, bytes: Uint8Array): void {
    if (size > this.maxBytes)
      throw new MessageTooLargeError(`${this.what} line longer than the maximum of ${this.maxBytes} bytes`);
    if (bytes.includes(0)) throw new FramingError(`${this.what} line contains a NUL byte`);
  }

  private take(last: Uint8Array): Uint8Array {
    const message = new Uint8Array(this.size + last.length);
    let at = 0;
    for (const p of [...this.parts, last]) {
      message.set(p, at);
      at += p.length;
    }
    this.parts = [];
    this.size = 0;
    return message;
  }
}
