import { FramingError, MessageTooLargeError, type Framer } from '@vcl/core';

// RESP framing (https://redis.io/docs/latest/develop/reference/protocol-spec/). Requests are arrays
// of bulk strings or inline command lines; replies are any RESP2 or RESP3 value. A framer holds the
// bytes of the message it has not completed yet and re-parses them only once enough bytes arrived
// (`needed`), so a large bulk string delivered in many small chunks is not parsed over and over.

const CR = 0x0d;
const LF = 0x0a;
/** Parse result: the message is not complete yet. */
const INCOMPLETE = -1;
/** Deepest nesting of aggregates a reply may have; deeper input is treated as malformed (no stack overflow). */
export const MAX_NESTING = 128;
/** Largest element count of a request array, as Redis's own limit (`invalid multibulk length`). */
export const MAX_REQUEST_ARGS = 1024 * 1024;

/** A parse that stopped: `INCOMPLETE`, with the least total byte count that can complete it. */
interface Progress {
  needed: number;
}

/** Where the line starting at `at` ends (index of its CR), or INCOMPLETE; the line must end in CRLF. */
function lineEnd(b: Uint8Array, at: number, what: string, progress: Progress): number {
  const lf = b.indexOf(LF, at);
  if (lf < 0) {
    progress.needed = b.length + 1;
    return INCOMPLETE;
  }
  if (lf === at || b[lf - 1] !== CR) throw new FramingError(`${what}: line ends in LF without CR at byte ${lf}`);
  return lf - 1;
}

const ascii = (b: Uint8Array, from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));

/** The signed decimal integer of a header line (`$5`, `*-1`), or a FramingError naming it. */
function integer(b: Uint8Array, from: number, to: number, what: string): number {
  const s = ascii(b, from, Math.min(to, from + 24));
  if (to - from > 20 || !/^-?\d+$/.test(s))
    throw new FramingError(`${what}: bad length or integer ${JSON.stringify(s)}`);
  return Number(s);
}

/** The limits and the direction a parse runs with. */
interface Limits {
  /** `request` or `response`, for error messages. */
  readonly what: string;
  /** Largest message, in bytes. */
  readonly maxBytes: number;
}

/** Checks that a message which needs at least `size` bytes fits the maximum, as soon as that is known. */
function fits(size: number, limits: Limits): void {
  if (size > limits.maxBytes)
    throw new MessageTooLargeError(`${limits.what} longer than the maximum of ${limits.maxBytes} bytes`);
}

/**
 * The end (exclusive) of the RESP value starting at `at`, or INCOMPLETE. Throws `FramingError` for
 * malformed input and `MessageTooLargeError` when a declared length passes the maximum.
 */
function value(b: Uint8Array, at: number, depth: number, limits: Limits, progress: Progress): number {
  if (at >= b.length) {
    progress.needed = at + 1;
    return INCOMPLETE;
  }
  if (depth > MAX_NESTING) throw new FramingError(`${limits.what}: nested deeper than ${MAX_NESTING} levels`);
  const type = b[at] as number;
  const eol = lineEnd(b, at + 1, limits.what, progress);
  if (eol === INCOMPLETE) {
    fits(b.length - 0, limits);
    return INCOMPLETE;
  }
  const next = eol + 2;
  const header = (): number => integer(b, at + 1, eol, limits.what);
  switch (String.fromCharCode(type)) {
    case '+': // simple string
    case '-': // simple error
      return next;
    case ':': // integer
      header();
      return next;
    case '(': // big number
      if (!/^[-+]?\d+$/.test(ascii(b, at + 1, Math.min(eol, at + 4096))))
        throw new FramingError(`${limits.what}: bad big number`);
      return next;
    case ',': // double
      if (!/^([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[-+]?inf|nan)$/.test(ascii(b, at + 1, Math.min(eol, at + 512))))
        throw new FramingError(`${limits.what}: bad double`);
      return next;
    case '#': // boolean
      if (eol !== at + 2 || (b[at + 1] !== 0x74 && b[at + 1] !== 0x66))
        throw new FramingError(`${limits.what}: a boolean must be #t or #f`);
      return next;
    case '_': // RESP3 null
      if (eol !== at + 1) throw new FramingError(`${limits.what}: a null is "_" alone on its line`);
      return next;
    case '$': // bulk string
    case '!': // bulk error
    case '=': // verbatim string
      return bulk(b, at, eol, type, limits, progress);
    case '*': // array
    case '~': // set
    case '>': // push
    case '%': // map
    case '|': {
      // attribute: a map that annotates the value after it, part of the same message
      const pairs = type === 0x25 || type === 0x7c ? 2 : 1;
      if (eol === at + 2 && b[at + 1] === 0x3f) return streamed(b, next, depth, pairs, limits, progress);
      const count = header();
      if (count < 0) {
        if (count === -1 && type === 0x2a) return next; // RESP2 null array
        throw new FramingError(`${limits.what}: bad aggregate length ${count}`);
      }
      fits(next + count * pairs * 3, limits); // every element takes at least 3 bytes ("+\r\n")
      let end = next;
      for (let i = 0; i < count * pairs; i++) {
        end = value(b, end, depth + 1, limits, progress);
        if (end === INCOMPLETE) return INCOMPLETE;
      }
      return type === 0x7c ? value(b, end, depth + 1, limits, progress) : end;
    }
    default:
      throw new FramingError(
        `${limits.what}: unknown RESP type byte 0x${type.toString(16).padStart(2, '0')} at byte ${at}`,
      );
  }
}

/** A bulk string, bulk error or verbatim string whose header line ends at `eol`. */
function bulk(b: Uint8Array, at: number, eol: number, type: number, limits: Limits, progress: Progress): number {
  const next = eol + 2;
  if (type === 0x24 && eol === at + 2 && b[at + 1] === 0x3f) return streamedString(b, next, limits, progress);
  const length = integer(b, at + 1, eol, limits.what);
  if (length === -1 && type === 0x24) return next; // RESP2 null bulk string
  if (length < 0) throw new FramingError(`${limits.what}: bad bulk length ${length}`);
  if (type === 0x3d && length < 4) throw new FramingError(`${limits.what}: a verbatim string starts with "xxx:"`);
  const end = next + length + 2;
  fits(end, limits);
  if (b.length < end) {
    progress.needed = end;
    return INCOMPLETE;
  }
  if (b[end - 2] !== CR || b[end - 1] !== LF)
    throw new FramingError(`${limits.what}: bulk string of ${length} bytes not followed by CRLF`);
  if (type === 0x3d && b[next + 3] !== 0x3a)
    throw new FramingError(`${limits.what}: a verbatim string starts with "xxx:"`);
  return end;
}

/** A RESP3 streamed string (`$?` then `;<n>` chunks up to `;0`). */
function streamedString(b: Uint8Array, at: number, limits: Limits, progress: Progress): number {
  let end = at;
  for (;;) {
    if (end >= b.length) {
      progress.needed = end + 1;
      return INCOMPLETE;
    }
    if (b[end] !== 0x3b) throw new FramingError(`${limits.what}: a streamed string chunk starts with ";"`);
    const eol = lineEnd(b, end + 1, limits.what, progress);
    if (eol === INCOMPLETE) return INCOMPLETE;
    const length = integer(b, end + 1, eol, limits.what);
    if (length < 0) throw new FramingError(`${limits.what}: bad chunk length ${length}`);
    if (length === 0) return eol + 2;
    end = eol + 2 + length + 2;
    fits(end, limits);
    if (b.length < end) {
      progress.needed = end;
      return INCOMPLETE;
    }
    if (b[end - 2] !== CR || b[end - 1] !== LF) throw new FramingError(`${limits.what}: chunk not followed by CRLF`);
  }
}

/** A RESP3 streamed aggregate (`*?`, `%?`, ...: elements up to `.`). */
function streamed(b: Uint8Array, at: number, depth: number, pairs: number, limits: Limits, progress: Progress): number {
  let end = at;
  for (;;) {
    if (end + 2 >= b.length) {
      progress.needed = end + 3;
      return INCOMPLETE;
    }
    if (b[end] === 0x2e) {
      if (b[end + 1] !== CR || b[end + 2] !== LF)
        throw new FramingError(`${limits.what}: "." ends a streamed aggregate`);
      return end + 3;
    }
    for (let i = 0; i < pairs; i++) {
      end = value(b, end, depth + 1, limits, progress);
      if (end === INCOMPLETE) return INCOMPLETE;
    }
  }
}

/**
 * The end of the request starting at `at`: a RESP array of bulk strings (what every client
 * library sends) or an inline command line (what `telnet` and `redis-cli` in some modes send),
 * as Redis reads them. `prefix` counts the bytes before it that Redis ignores without a reply
 * (empty lines, `*0`, `*-1`), which belong to this message: a message is exactly one request, so
 * the service answers every message exactly once.
 */
function request(b: Uint8Array, at: number, limits: Limits, progress: Progress): number {
  if (at >= b.length) {
    progress.needed = at + 1;
    return INCOMPLETE;
  }
  if (b[at] !== 0x2a) {
    const lf = b.indexOf(LF, at);
    if (lf < 0) {
      fits(b.length, limits);
      progress.needed = b.length + 1;
      return INCOMPLETE;
    }
    fits(lf + 1, limits);
    const line = b.subarray(at, lf > at && b[lf - 1] === CR ? lf - 1 : lf);
    if (line.length === 0 || line.every((c) => c === 0x20 || c === 0x09)) return request(b, lf + 1, limits, progress);
    splitInline(line, limits.what); // throws for unbalanced quotes, as Redis does
    return lf + 1;
  }
  const eol = lineEnd(b, at + 1, limits.what, progress);
  if (eol === INCOMPLETE) {
    fits(b.length, limits);
    return INCOMPLETE;
  }
  const count = integer(b, at + 1, eol, limits.what);
  if (count > MAX_REQUEST_ARGS) throw new FramingError(`${limits.what}: invalid multibulk length ${count}`);
  if (count <= 0) return request(b, eol + 2, limits, progress);
  let end = eol + 2;
  fits(end + count * 6, limits); // every argument takes at least 6 bytes ("$0\r\n\r\n")
  for (let i = 0; i < count; i++) {
    if (end >= b.length) {
      progress.needed = end + 1;
      return INCOMPLETE;
    }
    if (b[end] !== 0x24)
      throw new FramingError(
        `${limits.what}: expected '$' for argument ${i + 1}, got ${JSON.stringify(String.fromCharCode(b[end] as number))}`,
      );
    const head = lineEnd(b, end + 1, limits.what, progress);
    if (head === INCOMPLETE) return INCOMPLETE;
    end = bulk(b, end, head, 0x24, limits, progress);
    if (end === INCOMPLETE) return INCOMPLETE;
    if (head === end - 2) throw new FramingError(`${limits.what}: a request argument cannot be a null bulk string`);
  }
  return end;
}

/**
 * The arguments of an inline command line, split as Redis's `sdssplitargs` does (spaces separate,
 * "double quotes" with \n \r \t \b \a \\ \" \xHH escapes, 'single quotes' with \' only). Throws
 * `FramingError` for unbalanced quotes.
 */
export function splitInline(line: Uint8Array, what = 'request'): Uint8Array[] {
  const args: Uint8Array[] = [];
  const space = (c: number | undefined): boolean =>
    c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x0b || c === 0x0c || c === 0;
  const hex = (c: number | undefined): boolean => c !== undefined && /[0-9a-fA-F]/.test(String.fromCharCode(c));
  let i = 0;
  for (;;) {
    while (i < line.length && space(line[i])) i++;
    if (i >= line.length) return args;
    const arg: number[] = [];
    let quote: 0 | 0x22 | 0x27 = 0;
    for (;;) {
      const c = line[i];
      if (quote === 0x22) {
        if (c === undefined) throw new FramingError(`${what}: unbalanced quotes in inline command`);
        if (c === 0x5c && line[i + 1] === 0x78 && hex(line[i + 2]) && hex(line[i + 3])) {
          arg.push(parseInt(String.fromCharCode(line[i + 2] as number, line[i + 3] as number), 16));
          i += 3;
        } else if (c === 0x5c && i + 1 < line.length) {
          const e = line[++i] as number;
          arg.push({ n: 10, r: 13, t: 9, b: 8, a: 7 }[String.fromCharCode(e)] ?? e);
        } else if (c === 0x22) {
          if (i + 1 < line.length && !space(line[i + 1]))
            throw new FramingError(`${what}: closing quote must be followed by a space in inline command`);
          i++;
          break;
        } else arg.push(c);
      } else if (quote === 0x27) {
        if (c === undefined) throw new FramingError(`${what}: unbalanced quotes in inline command`);
        if (c === 0x5c && line[i + 1] === 0x27) {
          arg.push(0x27);
          i++;
        } else if (c === 0x27) {
          if (i + 1 < line.length && !space(line[i + 1]))
            throw new FramingError(`${what}: closing quote must be followed by a space in inline command`);
          i++;
          break;
        } else arg.push(c);
      } else if (c === undefined || space(c)) break;
      else if (c === 0x22 || c === 0x27) quote = c;
      else arg.push(c);
      i++;
    }
    args.push(Uint8Array.from(arg));
  }
}

/** The shared part of the two framers: buffering, the size limit, failure that sticks. */
abstract class RespFramer implements Framer {
  private parts: Uint8Array[] = [];
  private size = 0;
  private needed = 1;
  private failure?: Error;
  private readonly limits: Limits;

  constructor(what: string, maxBytes: number) {
    this.limits = { what, maxBytes };
  }

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

  /** The end of the message starting at `at` of `b`, or INCOMPLETE with `progress.needed` set. */
  protected abstract end(b: Uint8Array, at: number, limits: Limits, progress: Progress): number;

  private cut(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length === 0) return [];
    this.parts.push(chunk);
    this.size += chunk.length;
    if (this.size < this.needed) {
      fits(this.size, this.limits);
      return [];
    }
    const b = this.parts.length === 1 ? chunk : Buffer.concat(this.parts);
    const out: Uint8Array[] = [];
    let at = 0;
    for (;;) {
      const progress: Progress = { needed: 0 };
      const limits = at === 0 ? this.limits : { ...this.limits, maxBytes: this.limits.maxBytes + at };
      const end = at < b.length ? this.end(b, at, limits, progress) : INCOMPLETE;
      if (end === INCOMPLETE) {
        const rest = b.subarray(at);
        // A copy, so the caller's chunk can be reused and one large buffer is not pinned by a tail.
        this.parts = rest.length ? [Uint8Array.from(rest)] : [];
        this.size = rest.length;
        this.needed = Math.max(1, (progress.needed || b.length + 1) - at);
        fits(this.size, this.limits);
        return out;
      }
      out.push(Uint8Array.from(b.subarray(at, end)));
      at = end;
    }
  }
}

/** Cuts a client's byte stream into requests: RESP arrays of bulk strings and inline command lines. */
export class RespRequestFramer extends RespFramer {
  /** `maxBytes`: the largest request, in bytes. */
  constructor(maxBytes: number) {
    super('request', maxBytes);
  }

  protected end(b: Uint8Array, at: number, limits: Limits, progress: Progress): number {
    return request(b, at, limits, progress);
  }
}

/** Cuts a service's byte stream into replies: any RESP2 or RESP3 value (an attribute with the value it annotates). */
export class RespReplyFramer extends RespFramer {
  /** `maxBytes`: the largest reply, in bytes. */
  constructor(maxBytes: number) {
    super('response', maxBytes);
  }

  protected end(b: Uint8Array, at: number, limits: Limits, progress: Progress): number {
    return value(b, at, 0, limits, progress);
  }
}

/**
 * The arguments of one framed request (a message of `RespRequestFramer`): the bulk strings of its
 * array, or the words of its inline line; the prefix Redis ignores is skipped. Throws
 * `FramingError` for bytes that are not one request.
 */
export function requestArgs(message: Uint8Array): Uint8Array[] {
  const progress: Progress = { needed: 0 };
  const limits: Limits = { what: 'request', maxBytes: Number.MAX_SAFE_INTEGER };
  let at = 0;
  while (at < message.length) {
    if (message[at] !== 0x2a) {
      let lf = message.indexOf(LF, at);
      if (lf < 0) lf = message.length;
      const args = splitInline(message.subarray(at, lf > at && message[lf - 1] === CR ? lf - 1 : lf));
      if (args.length) return args;
      at = lf + 1;
      continue;
    }
    const eol = lineEnd(message, at + 1, limits.what, progress);
    if (eol === INCOMPLETE) break;
    const count = integer(message, at + 1, eol, limits.what);
    let end = eol + 2;
    if (count <= 0) {
      at = end;
      continue;
    }
    const args: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      if (message[end] !== 0x24) break;
      const head = lineEnd(message, end + 1, limits.what, progress);
      if (head === INCOMPLETE) break;
      const length = integer(message, end + 1, head, limits.what);
      if (length < 0 || head + 2 + length + 2 > message.length) break;
      args.push(message.subarray(head + 2, head + 2 + length));
      end = head + 2 + length + 2;
    }
    if (args.length === count) return args;
    break;
  }
  throw new FramingError('request: not one complete RESP request');
}
