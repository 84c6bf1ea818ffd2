// The errors entry only: vcl-exec loads this file and must not load the whole of @vcl/core.
import type { Framer } from '@vcl/core';
import { FramingError, MessageTooLargeError } from '@vcl/core/errors';

// The command-line substrate's wire format. Every message is one frame:
//
//   u32 BE  length of the body
//   body:   u8 kind ('Q' request, 'R' response), u8 version (1), then
//     request:  u16 argc, argc x (u32 length, UTF-8 argument), u32 length, stdin bytes
//     response: i32 exit code, u8 flags, u32 length, stdout bytes, u32 length, stderr bytes
//
// The framer checks the whole structure, so a malformed command never reaches the total order.

/** One command run, as `vcl-exec` sends it. */
export interface CommandRequest {
  /** Arguments appended to the configured command. */
  readonly argv: readonly string[];
  /** Bytes given to the command's standard input. */
  readonly stdin: Uint8Array;
}

/** How a command run ended, as the replicas report it. */
export interface CommandResult {
  /** Exit code: the command's own, 128 + n for signal n, 124 after a timeout, 127 if it could not start. */
  readonly exitCode: number;
  /** Everything it wrote to standard output (up to the output limit). */
  readonly stdout: Uint8Array;
  /** Everything it wrote to standard error (up to the output limit), plus VCL's own notes. */
  readonly stderr: Uint8Array;
  /** Set when it was killed for running past the timeout. */
  readonly timedOut?: boolean;
  /** Set when its output was cut at the output limit (and it was killed). */
  readonly truncated?: boolean;
}

const REQUEST = 0x51; // 'Q'
const RESPONSE = 0x52; // 'R'
const VERSION = 1;
const TIMED_OUT = 1;
const TRUNCATED = 2;
/** Most arguments a request may carry. */
export const MAX_ARGS = 4096;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function frame(kind: number, size: number, fill: (view: DataView, bytes: Uint8Array, at: number) => void): Uint8Array {
  const bytes = new Uint8Array(4 + 2 + size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 2 + size);
  bytes[4] = kind;
  bytes[5] = VERSION;
  fill(view, bytes, 6);
  return bytes;
}

/** Encodes a request frame. */
export function encodeRequest(request: CommandRequest): Uint8Array {
  if (request.argv.length > MAX_ARGS) throw new FramingError(`more than ${MAX_ARGS} arguments`);
  const args = request.argv.map((a) => new TextEncoder().encode(a));
  const size = 2 + args.reduce((n, a) => n + 4 + a.length, 0) + 4 + request.stdin.length;
  return frame(REQUEST, size, (view, bytes, at) => {
    view.setUint16(at, args.length);
    at += 2;
    for (const a of args) {
      view.setUint32(at, a.length);
      bytes.set(a, at + 4);
      at += 4 + a.length;
    }
    view.setUint32(at, request.stdin.length);
    bytes.set(request.stdin, at + 4);
  });
}

/** Encodes a response frame. */
export function encodeResponse(result: CommandResult): Uint8Array {
  const size = 4 + 1 + 4 + result.stdout.length + 4 + result.stderr.length;
  return frame(RESPONSE, size, (view, bytes, at) => {
    view.setInt32(at, result.exitCode);
    view.setUint8(at + 4, (result.timedOut ? TIMED_OUT : 0) | (result.truncated ? TRUNCATED : 0));
    at += 5;
    view.setUint32(at, result.stdout.length);
    bytes.set(result.stdout, at + 4);
    at += 4 + result.stdout.length;
    view.setUint32(at, result.stderr.length);
    bytes.set(result.stderr, at + 4);
  });
}

/** Reads a frame body field by field, failing with `FramingError` on anything out of place. */
class Reader {
  private at = 6;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  private need(n: number, field: string): void {
    if (this.at + n > this.bytes.length)
      throw new FramingError(`${this.what} frame ends inside its ${field} (${this.bytes.length - 4}-byte body)`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.at++);
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.at);
    this.at += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.at);
    this.at += 4;
    return v;
  }

  i32(field: string): number {
    this.need(4, field);
    const v = this.view.getInt32(this.at);
    this.at += 4;
    return v;
  }

  bytesOf(field: string): Uint8Array {
    const n = this.u32(`${field} length`);
    this.need(n, field);
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  done(): void {
    if (this.at !== this.bytes.length)
      throw new FramingError(`${this.what} frame has ${this.bytes.length - this.at} bytes after its last field`);
  }
}

function header(bytes: Uint8Array, kind: number, what: string): void {
  if (bytes.length < 6) throw new FramingError(`${what} frame of ${bytes.length - 4} bytes is too short`);
  if (bytes[4] !== kind)
    throw new FramingError(
      `expected a ${what} frame (kind 0x${kind.toString(16)}), got kind 0x${(bytes[4] as number).toString(16)}`,
    );
  if (bytes[5] !== VERSION) throw new FramingError(`${what} frame of version ${bytes[5]}, expected ${VERSION}`);
}

/** Decodes a complete request frame (as the framer returns it); throws `FramingError`. */
export function decodeRequest(bytes: Uint8Array): CommandRequest {
  header(bytes, REQUEST, 'request');
  const r = new Reader(bytes, 'request');
  const argc = r.u16('argument count');
  if (argc > MAX_ARGS) throw new FramingError(`request has ${argc} arguments, at most ${MAX_ARGS} are allowed`);
  const argv: string[] = [];
  for (let i = 0; i < argc; i++) {
    const raw = r.bytesOf(`argument ${i}`);
    let arg: string;
    try {
      arg = utf8.decode(raw);
    } catch {
      throw new FramingError(`argument ${i} is not valid UTF-8`);
    }
    if (arg.includes('\0')) throw new FramingError(`argument ${i} contains a NUL byte`);
    argv.push(arg);
  }
  const stdin = r.bytesOf('stdin');
  r.done();
  return { argv, stdin };
}

/** Decodes a complete response frame; throws `FramingError`. */
export function decodeResponse(bytes: Uint8Array): CommandResult {
  header(bytes, RESPONSE, 'response');
  const r = new Reader(bytes, 'response');
  const exitCode = r.i32('exit code');
  const flags = r.u8('flags');
  if (flags & ~(TIMED_OUT | TRUNCATED)) throw new FramingError(`response has unknown flags 0x${flags.toString(16)}`);
  const stdout = r.bytesOf('stdout');
  const stderr = r.bytesOf('stderr');
  r.done();
  return {
    exitCode,
    stdout,
    stderr,
    ...(flags & TIMED_OUT ? { timedOut: true } : {}),
    ...(flags & TRUNCATED ? { truncated: true } : {}),
  };
}

/**
 * Cuts length-prefixed frames and checks each with `decode`. An announced length over `maxBody`
 * fails as soon as the 4-byte prefix is read, before the body arrives.
 */
export class CommandFramer implements Framer {
  private parts: Uint8Array[] = [];
  private size = 0;
  private expected?: number;
  private failure?: Error;

  constructor(
    private readonly what: 'request' | 'response',
    private readonly maxBody: number,
    private readonly decode: (bytes: Uint8Array) => unknown,
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

  // Parts are joined only once a whole frame is in, so a large frame in small chunks costs one copy.
  private cut(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (chunk.length) this.parts.push(chunk);
    this.size += chunk.length;
    for (;;) {
      if (this.expected === undefined) {
        if (this.size < 4) break;
        const length = prefix(this.parts);
        if (length > this.maxBody)
          throw new MessageTooLargeError(
            `${this.what} of ${length} bytes exceeds the maximum of ${this.maxBody} bytes`,
          );
        this.expected = length;
      }
      if (this.size < 4 + this.expected) break;
      const all = this.parts.length === 1 ? (this.parts[0] as Uint8Array) : concat(this.parts, this.size);
      const message = all.subarray(0, 4 + this.expected);
      this.decode(message);
      out.push(message);
      const rest = all.subarray(4 + this.expected);
      this.parts = rest.length ? [rest] : [];
      this.size = rest.length;
      this.expected = undefined;
    }
    return out;
  }
}

/** The u32 BE length prefix at the start of `parts` (which hold at least 4 bytes). */
function prefix(parts: readonly Uint8Array[]): number {
  let value = 0;
  let n = 0;
  for (const p of parts) for (let i = 0; i < p.length && n < 4; i++, n++) value = value * 256 + (p[i] as number);
  return value;
}

function concat(parts: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
