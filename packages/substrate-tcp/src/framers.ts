import { FramingError, MessageTooLargeError, type Framer } from '@vcl/core';

/** How a TCP byte stream is cut into messages. */
export type TcpFraming = 'raw' | 'line' | 'length-prefixed';

/** `raw`: no messages, every chunk is passed on as read (stream substrates count bytes). */
export function rawFramer(): Framer {
  return { push: (chunk) => (chunk.length ? [chunk] : []), buffered: 0 };
}

/** Accumulates chunks without copying each one more than once. */
class Accumulator {
  private parts: Uint8Array[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  add(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.parts.push(chunk);
    this.size += chunk.length;
  }

  /** The first `n` bytes as one array, removed from the accumulator. */
  take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const p = this.parts[0]!;
      const need = n - filled;
      if (p.length <= need) {
        out.set(p, filled);
        filled += p.length;
        this.parts.shift();
      } else {
        out.set(p.subarray(0, need), filled);
        this.parts[0] = p.subarray(need);
        filled += need;
      }
    }
    this.size -= n;
    return out;
  }

  /** Byte at offset `i`. */
  at(i: number): number {
    for (const p of this.parts) {
      if (i < p.length) return p[i]!;
      i -= p.length;
    }
    return -1;
  }

  /** Offset of the first `byte` at or after `from`, or -1. */
  indexOf(byte: number, from: number): number {
    let base = 0;
    for (const p of this.parts) {
      if (from < base + p.length) {
        const i = p.indexOf(byte, Math.max(0, from - base));
        if (i >= 0) return base + i;
      }
      base += p.length;
    }
    return -1;
  }
}

/**
 * `line`: each message is one line ending in `\n` (the newline included, so bytes pass through
 * unchanged). A line longer than `maxMessageBytes` without a newline is a `MessageTooLargeError`.
 */
export function lineFramer(maxMessageBytes: number): Framer {
  const acc = new Accumulator();
  let scanned = 0;
  let failure: Error | undefined;
  return {
    get buffered() {
      return acc.length;
    },
    push(chunk: Uint8Array): Uint8Array[] {
      if (failure) throw failure;
      acc.add(chunk);
      const out: Uint8Array[] = [];
      for (;;) {
        const nl = acc.indexOf(0x0a, scanned);
        if (nl < 0) break;
        if (nl + 1 > maxMessageBytes) break;
        out.push(acc.take(nl + 1));
        scanned = 0;
      }
      scanned = acc.length;
      const firstNl = acc.indexOf(0x0a, 0);
      if ((firstNl < 0 ? acc.length : firstNl + 1) > maxMessageBytes) {
        failure = new MessageTooLargeError(
          `line of more than ${maxMessageBytes} bytes (maxMessageBytes) without a newline`,
        );
        throw failure;
      }
      return out;
    },
  };
}

/**
 * `length-prefixed`: each message is a u32 big-endian body length followed by the body; the
 * message passed on includes its 4-byte header. A length over `maxMessageBytes` is refused as soon
 * as the header arrives.
 */
export function lengthPrefixedFramer(maxMessageBytes: number): Framer {
  const acc = new Accumulator();
  let failure: Error | undefined;
  return {
    get buffered() {
      return acc.length;
    },
    push(chunk: Uint8Array): Uint8Array[] {
      if (failure) throw failure;
      acc.add(chunk);
      const out: Uint8Array[] = [];
      while (acc.length >= 4) {
        const len = ((acc.at(0) << 24) >>> 0) + (acc.at(1) << 16) + (acc.at(2) << 8) + acc.at(3);
        if (len > maxMessageBytes) {
          failure = new MessageTooLargeError(
            `length-prefixed message announces ${len} bytes, more than maxMessageBytes ${maxMessageBytes}`,
          );
          throw failure;
        }
        if (acc.length < 4 + len) break;
        out.push(acc.take(4 + len));
      }
      return out;
    },
  };
}

/** The framer for `framing`. */
export function framerFor(framing: TcpFraming, maxMessageBytes: number): Framer {
  switch (framing) {
    case 'raw':
      return rawFramer();
    case 'line':
      return lineFramer(maxMessageBytes);
    case 'length-prefixed':
      return lengthPrefixedFramer(maxMessageBytes);
    default:
      throw new FramingError(`unknown framing ${String(framing)}`);
  }
}
