import { FramingError } from '@vcl/core';
import { BodyTooLargeError, HeadersTooLargeError, UnsupportedRequestError } from './errors';

/** The header the dial side adds to a response that has no body whatever its headers say (a HEAD response). */
export const BODILESS_MARKER = 'x-vcl-bodiless';
/** The marker's whole header line, as the dial side inserts it and the listen side removes it. */
export const BODILESS_LINE = `${BODILESS_MARKER}: 1\r\n`;

/** The start line and header fields of one HTTP message. */
export interface HttpHead {
  /** `request` or `response`. */
  readonly kind: 'request' | 'response';
  /** Request method (requests). */
  readonly method?: string;
  /** Request target (requests). */
  readonly target?: string;
  /** Status code (responses). */
  readonly status?: number;
  /** `1.0` or `1.1`. */
  readonly version: string;
  /** Header fields in order, names as sent. */
  readonly headers: ReadonlyArray<readonly [name: string, value: string]>;
  /** Length of the head in bytes, leading empty lines and the closing empty line included. */
  readonly length: number;
}

/** How a body is delimited. */
export type BodyFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  | { readonly kind: 'close' };

/** One complete message: its bytes (exactly as received) and its parsed head. */
export interface HttpMessage {
  /** The message bytes, head and body, exactly as received. */
  readonly bytes: Uint8Array;
  /** The parsed head. */
  readonly head: HttpHead;
  /** How its body was delimited. */
  readonly body: BodyFraming;
}

/** Limits and rules of a parser. */
export interface HttpParserOptions {
  /** What is parsed. */
  readonly kind: 'request' | 'response';
  /** Largest head (and largest trailer section), in bytes. */
  readonly maxHeaderBytes: number;
  /** Largest body (content length, or sum of chunk sizes), in bytes. */
  readonly maxBodyBytes: number;
  /**
   * Responses only: whether a body delimited by the end of the connection is accepted (read until
   * `finish()`); when false it is a `FramingError`. Default false.
   */
  readonly allowCloseDelimited?: boolean;
  /** Responses only: told when a final response head is complete; returns true when it has no body (HEAD). */
  readonly bodilessResponse?: () => boolean;
  /** Told when a head is complete, before its body is read. */
  readonly onHead?: (head: HttpHead) => void;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\x00-\x20\x7f-\xff]+) HTTP\/(\d)\.(\d)$/;
const STATUS_LINE = /^HTTP\/(\d)\.(\d) (\d{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?$/;
const FIELD_VALUE_BAD = /[\x00-\x08\x0a-\x1f\x7f]/;
const CHUNK_LINE = /^([0-9A-Fa-f]{1,16})(?:[ \t]*;[^\x00-\x08\x0a-\x1f\x7f]*)?$/;
const MAX_CHUNK_LINE = 1024;

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'close';

const latin1 = (bytes: Uint8Array, from: number, to: number): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString('latin1');

function show(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}...` : line);
}

/** The value of header `name` (case-insensitive), or all values joined with `, ` if repeated. */
export function headerValue(head: HttpHead, name: string): string | undefined {
  const values = head.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
  return values.length ? values.join(', ') : undefined;
}

/** Whether the comma-separated header `name` contains `token` (case-insensitive). */
export function headerHasToken(head: HttpHead, name: string, token: string): boolean {
  return (headerValue(head, name) ?? '').split(',').some((t) => t.trim().toLowerCase() === token);
}

/**
 * An incremental HTTP/1.1 message parser: push bytes, get complete messages, cut exactly where the
 * protocol ends each one. It is a pure function of the bytes pushed (chunking makes no difference),
 * which is what lets every replica cut alike. Strict on purpose: CRLF line ends only, no obs-fold,
 * no whitespace before a colon, one Content-Length or chunked (never both), so a message can only
 * be read one way, by this parser and by the service alike (no request smuggling). Limits are
 * checked as soon as they can be: a too large Content-Length fails on the head, before the body.
 */
export class HttpParser {
  private state: State = 'head';
  private parts: Uint8Array[] = [];
  private size = 0;
  private line = '';
  private lineBytes = 0;
  private headBytes = 0;
  private startLine?: string;
  private headers: Array<readonly [string, string]> = [];
  private head?: HttpHead;
  private body: BodyFraming = { kind: 'none' };
  private remaining = 0;
  private bodyBytes = 0;
  private failure?: Error;

  constructor(private readonly options: HttpParserOptions) {}

  /** Bytes of the message in progress. */
  get buffered(): number {
    return this.size;
  }

  /** Whether the message in progress is a response whose body runs until the connection closes. */
  get readingUntilClose(): boolean {
    return this.state === 'close';
  }

  /** Feeds bytes; returns the messages they complete. Throws `FramingError`s; failed for good after one. */
  push(chunk: Uint8Array): HttpMessage[] {
    const { messages, error } = this.pushSome(chunk);
    if (error) throw error;
    return messages;
  }

  /** Like `push`, but returns the messages completed before an error together with the error. */
  pushSome(chunk: Uint8Array): { messages: HttpMessage[]; error?: Error } {
    const messages: HttpMessage[] = [];
    if (this.failure) return { messages, error: this.failure };
    try {
      this.parse(chunk, messages);
    } catch (e) {
      this.failure = e as Error;
      return { messages, error: this.failure };
    }
    return { messages };
  }

  /**
   * The end of the input: completes a response delimited by the connection's end, and returns it;
   * throws `FramingError` if a message was cut short.
   */
  finish(): HttpMessage[] {
    if (this.failure) throw this.failure;
    if (this.state === 'close') return [this.complete(new Uint8Array(0))];
    if (this.size > 0) {
      this.failure = new FramingError(`${this.options.kind} cut short: the input ended after ${this.size} bytes of it`);
      throw this.failure;
    }
    return [];
  }

  private parse(chunk: Uint8Array, out: HttpMessage[]): void {
    let from = 0; // start of the unconsumed part of `chunk` that belongs to the current message
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case 'head':
        case 'chunk-size':
        case 'trailers':
        case 'chunk-end': {
          const nl = chunk.indexOf(0x0a, i);
          const end = nl < 0 ? chunk.length : nl + 1;
          this.lineBytes += end - i;
          this.checkLineLimit();
          this.line += latin1(chunk, i, nl < 0 ? chunk.length : nl);
          i = end;
          if (nl < 0) break;
          const line = this.takeLine();
          if (this.onLine(line)) {
            out.push(this.complete(chunk.subarray(from, i)));
            from = i;
          }
          break;
        }
        case 'length':
        case 'chunk-data': {
          const n = Math.min(this.remaining, chunk.length - i);
          i += n;
          this.remaining -= n;
          if (this.remaining > 0) break;
          if (this.state === 'chunk-data') {
            this.state = 'chunk-end';
            break;
          }
          out.push(this.complete(chunk.subarray(from, i)));
          from = i;
          break;
        }
        case 'close': {
          this.bodyBytes += chunk.length - i;
          if (this.bodyBytes > this.options.maxBodyBytes)
            throw new BodyTooLargeError(`${this.options.kind} body exceeds ${this.options.maxBodyBytes} bytes`);
          i = chunk.length;
          break;
        }
      }
    }
    if (from < chunk.length) {
      this.parts.push(chunk.subarray(from));
      this.size += chunk.length - from;
    }
  }

  private checkLineLimit(): void {
    if (this.state === 'head' && this.lineBytes + this.headBytes > this.options.maxHeaderBytes)
      throw new HeadersTooLargeError(`${this.options.kind} head exceeds ${this.options.maxHeaderBytes} bytes`);
    if (this.state === 'trailers' && this.lineBytes + this.headBytes > this.options.maxHeaderBytes)
      throw new HeadersTooLargeError(`${this.options.kind} trailers exceed ${this.options.maxHeaderBytes} bytes`);
    if ((this.state === 'chunk-size' || this.state === 'chunk-end') && this.lineBytes > MAX_CHUNK_LINE)
      throw new FramingError(`chunk size line longer than ${MAX_CHUNK_LINE} bytes`);
  }

  private takeLine(): string {
    const raw = this.line;
    this.headBytes += this.lineBytes;
    this.line = '';
    this.lineBytes = 0;
    if (!raw.endsWith('\r')) throw new FramingError(`line ends with a bare LF, expected CRLF: ${show(raw)}`);
    const line = raw.slice(0, -1);
    if (line.includes('\r')) throw new FramingError(`bare CR in line ${show(line)}`);
    return line;
  }

  /** Handles one complete line; returns true when it completes the message. */
  private onLine(line: string): boolean {
    switch (this.state) {
      case 'head':
        if (this.startLine === undefined) {
          if (line === '') return false; // empty lines before the start line are ignored (RFC 9112 2.2)
          this.startLine = line;
          this.checkStartLine(line);
          return false;
        }
        if (line !== '') {
          this.headers.push(this.parseField(line, 'header'));
          return false;
        }
        return this.endOfHead();
      case 'chunk-size': {
        const m = CHUNK_LINE.exec(line);
        if (!m) throw new FramingError(`malformed chunk size line ${show(line)}`);
        const n = parseInt(m[1] as string, 16);
        this.bodyBytes += n;
        if (this.bodyBytes > this.options.maxBodyBytes)
          throw new BodyTooLargeError(`${this.options.kind} body exceeds ${this.options.maxBodyBytes} bytes`);
        this.headBytes = 0;
        if (n === 0) this.state = 'trailers';
        else {
          this.state = 'chunk-data';
          this.remaining = n;
        }
        return false;
      }
      case 'chunk-end':
        if (line !== '') throw new FramingError(`chunk data longer than its size, extra ${show(line)}`);
        this.state = 'chunk-size';
        return false;
      case 'trailers':
        if (line !== '') {
          this.parseField(line, 'trailer');
          return false;
        }
        return true;
      default:
        throw new Error(`unreachable parser state ${this.state}`);
    }
  }

  private checkStartLine(line: string): void {
    if (this.options.kind === 'request') {
      const m = REQUEST_LINE.exec(line);
      if (!m) throw new FramingError(`malformed request line ${show(line)}`);
      if (m[3] !== '1') throw new FramingError(`unsupported HTTP version ${m[3]}.${m[4]} in ${show(line)}`);
      if (m[1] === 'CONNECT') throw new UnsupportedRequestError('CONNECT requests are not supported');
    } else {
      const m = STATUS_LINE.exec(line);
      if (!m) throw new FramingError(`malformed status line ${show(line)}`);
      if (m[1] !== '1') throw new FramingError(`unsupported HTTP version ${m[1]}.${m[2]} in ${show(line)}`);
    }
  }

  private parseField(line: string, what: string): readonly [string, string] {
    if (line[0] === ' ' || line[0] === '\t') throw new FramingError(`obsolete line folding in ${what} ${show(line)}`);
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon);
    if (!TOKEN.test(name)) throw new FramingError(`malformed ${what} field ${show(line)}`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (FIELD_VALUE_BAD.test(value)) throw new FramingError(`control character in ${what} ${show(name)}`);
    return [name, value];
  }

  private endOfHead(): boolean {
    const start = this.startLine as string;
    let head: HttpHead;
    if (this.options.kind === 'request') {
      const m = REQUEST_LINE.exec(start) as RegExpExecArray;
      head = {
        kind: 'request',
        method: m[1],
        target: m[2],
        version: `${m[3]}.${m[4]}`,
        headers: this.headers,
        length: this.headBytes,
      };
    } else {
      const m = STATUS_LINE.exec(start) as RegExpExecArray;
      head = {
        kind: 'response',
        status: Number(m[3]),
        version: `${m[1]}.${m[2]}`,
        headers: this.headers,
        length: this.headBytes,
      };
    }
    this.head = head;
    this.body = this.bodyFraming(head);
    this.options.onHead?.(head);
    this.headBytes = 0;
    switch (this.body.kind) {
      case 'none':
        return true;
      case 'length':
        if (this.body.length === 0) return true;
        this.state = 'length';
        this.remaining = this.body.length;
        return false;
      case 'chunked':
        this.state = 'chunk-size';
        return false;
      case 'close':
        this.state = 'close';
        return false;
    }
  }

  private bodyFraming(head: HttpHead): BodyFraming {
    const kind = this.options.kind;
    const te = headerValue(head, 'transfer-encoding');
    const lengths = head.headers.filter(([n]) => n.toLowerCase() === 'content-length').map(([, v]) => v);
    if (kind === 'request') {
      const hosts = head.headers.filter(([n]) => n.toLowerCase() === 'host').length;
      if (head.version === '1.1' && hosts !== 1)
        throw new FramingError(`an HTTP/1.1 request needs exactly one Host header, got ${hosts}`);
    }
    if (kind === 'response') {
      const status = head.status as number;
      if (status < 200) return { kind: 'none' };
      // Asked once per final response, so a caller can pair responses with the requests they answer.
      const bodiless = this.options.bodilessResponse?.() ?? false;
      if (bodiless || status === 204 || status === 304 || headerValue(head, BODILESS_MARKER) !== undefined)
        return { kind: 'none' };
    }
    if (te !== undefined) {
      if (lengths.length) throw new FramingError('both Transfer-Encoding and Content-Length are set');
      // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing (a 1.0 back
      // end would read the body by Content-Length or to the close, a smuggling vector).
      if (kind === 'request' && head.version === '1.0')
        throw new FramingError('Transfer-Encoding in an HTTP/1.0 request (its framing is ambiguous)');
      const codings = te.split(',').map((t) => t.trim().toLowerCase());
      const chunked = codings.filter((c) => c === 'chunked').length;
      if (codings[codings.length - 1] === 'chunked' && chunked === 1) return { kind: 'chunked' };
      if (kind === 'request' || chunked > 0)
        throw new UnsupportedRequestError(`unsupported Transfer-Encoding ${show(te)}: chunked must come last, once`);
      return this.closeDelimited();
    }
    if (lengths.length) {
      const distinct = new Set(lengths.flatMap((v) => v.split(',').map((s) => s.trim())));
      const [value] = [...distinct];
      if (distinct.size !== 1 || !/^\d{1,15}$/.test(value as string))
        throw new FramingError(`invalid Content-Length ${show(lengths.join(', '))}`);
      const length = Number(value);
      if (length > this.options.maxBodyBytes)
        throw new BodyTooLargeError(
          `${kind} body of ${length} bytes (Content-Length) exceeds the maximum of ${this.options.maxBodyBytes} bytes`,
        );
      return { kind: 'length', length };
    }
    return kind === 'request' ? { kind: 'none' } : this.closeDelimited();
  }

  private closeDelimited(): BodyFraming {
    if (!this.options.allowCloseDelimited)
      throw new FramingError(
        'response without Content-Length or chunked encoding (delimited by closing the connection)',
      );
    return { kind: 'close' };
  }

  private complete(tail: Uint8Array): HttpMessage {
    const parts = this.parts;
    const size = this.size + tail.length;
    let bytes: Uint8Array;
    if (parts.length === 0) bytes = tail;
    else {
      bytes = new Uint8Array(size);
      let at = 0;
      for (const p of [...parts, tail]) {
        bytes.set(p, at);
        at += p.length;
      }
    }
    const message: HttpMessage = { bytes, head: this.head as HttpHead, body: this.body };
    this.parts = [];
    this.size = 0;
    this.state = 'head';
    this.startLine = undefined;
    this.headers = [];
    this.head = undefined;
    this.body = { kind: 'none' };
    this.headBytes = 0;
    this.bodyBytes = 0;
    this.remaining = 0;
    return message;
  }
}
