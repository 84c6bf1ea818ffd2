// The edges a remote peer or an operator can feed bytes into, as fuzz targets. Each target takes
// one input and must either accept it or throw a typed `VclError`; anything else (a TypeError, a
// RangeError, a hang, a giant allocation) is a defect the fuzzer reports.
import {
  decodeClientFrame,
  decodeLinkError,
  decodeLogRecords,
  decodeMemberFrame,
  decodeMemberHello,
  decodeRecoveryState,
  decodeSessionEvent,
  encodeClientFrame,
  encodeFrame,
  encodeLinkError,
  encodeLogRecord,
  encodeMemberFrame,
  encodeMemberHello,
  encodeRecoveryState,
  encodeSessionEvent,
  FrameDecoder,
  parseStack,
  type Framer,
  type Substrate,
} from '@vcl/core';
import { CliSubstrate, CLI_DEFAULTS, encodeRequest, encodeResponse } from '@vcl/substrate-cli';
import { HttpSubstrate, HTTP_DEFAULTS } from '@vcl/substrate-http';
import { RespSubstrate, RESP_DEFAULTS } from '@vcl/substrate-resp';
import { tcp } from '@vcl/substrate-tcp';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One edge to fuzz. */
export interface FuzzTarget {
  /** Short name (`link-frame`, `http-request`), used for the corpus folder and `--target`. */
  readonly name: string;
  /** What it feeds the input to. */
  readonly description: string;
  /** Valid inputs to mutate from. */
  seeds(): Uint8Array[];
  /** Feeds one input; returns normally or throws a `VclError`. */
  run(input: Uint8Array): void;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/**
 * Splits `input` into chunks at points taken from its own bytes, so the same input is cut the same
 * way in every replay (the corpus stays reproducible) yet different inputs get different cuts.
 */
export function chunksOf(input: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  let k = input.length ? input[0]! : 0;
  while (at < input.length) {
    k = (k * 1103515245 + 12345) >>> 0;
    const size = 1 + (k % Math.max(1, Math.ceil(input.length / 3)));
    out.push(input.subarray(at, at + size));
    at += size;
  }
  return out;
}

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Thrown when a framer cuts the same bytes differently depending on how they arrive. */
export class SplitMismatch extends Error {}

/**
 * Feeds `input` to a fresh framer whole and, to another, in pieces: both must cut the same
 * messages (every replica receives a stream in different chunks, and must cut it alike), and a
 * framer never holds more than it was given.
 */
function framerRun(make: () => Framer, input: Uint8Array): void {
  const whole = make();
  let wholeMessages: Uint8Array[] | undefined;
  let wholeError: unknown;
  try {
    wholeMessages = whole.push(input);
  } catch (error) {
    wholeError = error;
  }
  const pieces = make();
  const pieceMessages: Uint8Array[] = [];
  let pieceError: unknown;
  try {
    for (const c of chunksOf(input)) pieceMessages.push(...pieces.push(c));
  } catch (error) {
    pieceError = error;
  }
  if (wholeError !== undefined) throw wholeError;
  if (pieceError !== undefined) throw pieceError;
  const a = wholeMessages ?? [];
  if (a.length !== pieceMessages.length || a.some((m, i) => !equalBytes(m, pieceMessages[i]!)))
    throw new SplitMismatch(
      `framer cut ${a.length} messages from the whole input but ${pieceMessages.length} from its pieces`,
    );
  if (whole.buffered > input.length) throw new SplitMismatch(`framer holds ${whole.buffered} bytes of ${input.length}`);
}

function substrateTargets(name: string, substrate: Substrate, requests: string[], responses: string[]): FuzzTarget[] {
  return [
    {
      name: `${name}-request`,
      description: `${name} substrate: request framer (client → service bytes)`,
      seeds: () => requests.map(text),
      run: (input) => framerRun(() => substrate.requestFramer(), input),
    },
    {
      name: `${name}-response`,
      description: `${name} substrate: response framer (service → client bytes)`,
      seeds: () => responses.map(text),
      run: (input) => framerRun(() => substrate.responseFramer(), input),
    },
  ];
}

function stackSeeds(root: string): Uint8Array[] {
  const dirs = ['packages/vcl-core/test/fixtures/stacks', 'apps/demo/stacks'];
  const seeds: Uint8Array[] = [];
  for (const d of dirs) {
    try {
      for (const f of readdirSync(join(root, d))) if (f.endsWith('.yaml')) seeds.push(readFileSync(join(root, d, f)));
    } catch {
      // A folder that moved: the remaining seeds still drive the loader.
    }
  }
  return seeds;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** Every fuzz target; `root` is the repository root (for the stack-file seeds). */
export function fuzzTargets(root: string): FuzzTarget[] {
  const cliSubstrate = new CliSubstrate(CLI_DEFAULTS);
  const targets: FuzzTarget[] = [
    {
      name: 'link-frame',
      description: 'link frame decoder (every member and interceptor link, before any security)',
      seeds: () => [
        encodeFrame({ type: 3, body: text('hello') }),
        encodeFrame({ type: 1, flags: 2, body: new Uint8Array(300) }),
      ],
      run: (input) => {
        const d = new FrameDecoder({ maxFrameBytes: 64 * 1024 });
        for (const c of chunksOf(input)) d.push(c);
        d.end();
      },
    },
    {
      name: 'member-hello',
      description: 'member link hello and error bodies',
      seeds: () => [
        encodeMemberHello({ from: 'n1', to: 'n2', incarnation: 7, security: 'hmac' }),
        encodeLinkError({ code: 'VCL_INTEGRITY', message: 'bad mac' }),
      ],
      run: (input) => {
        let typed: unknown;
        try {
          decodeMemberHello(input);
        } catch (error) {
          typed = error;
        }
        decodeLinkError(input);
        if (typed !== undefined) throw typed;
      },
    },
    {
      name: 'client-frame',
      description: 'interceptor link frames, client → member (OPEN, HELLO, DATA, ACK, CLOSE)',
      seeds: () =>
        [
          encodeClientFrame({
            type: 'open',
            session: 'c1-0001',
            credentials: text('token'),
            lastOutSeq: 0,
            lastInSeq: 0,
            substrate: 'tcp',
          }),
          encodeClientFrame({ type: 'data', inSeq: 3, ackOutSeq: 2, bytes: text('GET /\r\n') }),
          encodeClientFrame({ type: 'ack', outSeq: 9 }),
        ].map((f) => new Uint8Array([f.type, ...f.body])),
      run: (input) => void decodeClientFrame({ type: input[0] ?? 0, flags: 0, body: input.subarray(1) }),
    },
    {
      name: 'member-frame',
      description: 'interceptor link frames, member → client (WELCOME, OUTPUT, MEMBERS, ERROR, ...)',
      seeds: () =>
        [
          encodeMemberFrame({
            type: 'welcome',
            lastInSeq: 4,
            view: 2,
            members: [{ id: 'n1', host: '127.0.0.1', port: 7000 }],
          }),
          encodeMemberFrame({ type: 'output', from: 3, bytes: text('OK\n') }),
          encodeMemberFrame({ type: 'error', code: 'VCL_UNAVAILABLE', message: 'no', fatal: false }),
        ].map((f) => new Uint8Array([f.type, ...f.body])),
      run: (input) => void decodeMemberFrame({ type: input[0] ?? 0, flags: 0, body: input.subarray(1) }),
    },
    {
      name: 'session-event',
      description: 'ordered session events (what every member applies in the total order)',
      seeds: () => [
        encodeSessionEvent({ type: 'open', session: 's1', origin: 'n1', attempt: 1, principal: 'alice' }),
        encodeSessionEvent({ type: 'data', session: 's1', inSeq: 1, ackOutSeq: 0, bytes: text('x') }),
        encodeSessionEvent({ type: 'close', session: 's1', reason: 'client', ifLastEvent: 0 }),
        encodeSessionEvent({ type: 'digest', session: 's1', first: 1, hashes: [new Uint8Array(32)] }),
      ],
      run: (input) => {
        const event = decodeSessionEvent(input);
        // What decodes must encode back to something that decodes to the same event.
        const again = decodeSessionEvent(encodeSessionEvent(event));
        if (JSON.stringify(again) !== JSON.stringify(event))
          throw new SplitMismatch(`session event does not survive a round trip: ${JSON.stringify(event)}`);
      },
    },
    {
      name: 'recovery-state',
      description: 'state transfer to a joiner, and the replay log on disk',
      seeds: () => [
        encodeRecoveryState({
          mode: 'replay',
          base: 0,
          cut: 1,
          table: { sessions: [], closed: [['old', 'client']], requests: 0 },
          caches: [{ session: 's', produced: 1, acked: 0, chunks: [{ from: 0, to: 1, bytes: text('ok') }] }],
          log: [
            {
              seq: 1,
              payload: encodeSessionEvent({ type: 'open', session: 's', origin: 'n1', attempt: 1, principal: 'p' }),
            },
          ],
        }),
        encodeLogRecord({ seq: 5, payload: text('payload') }),
      ],
      run: (input) => {
        let first: unknown;
        try {
          decodeRecoveryState(input);
        } catch (error) {
          first = error;
        }
        decodeLogRecords(input);
        if (first !== undefined) throw first;
      },
    },
    {
      name: 'stack-file',
      description: 'the stack file loader (YAML, schema, cross-field checks)',
      seeds: () => stackSeeds(root),
      run: (input) => void parseStack(decoder.decode(input), 'fuzz.yaml'),
    },
    ...substrateTargets(
      'tcp-line',
      tcp({ framing: 'line', maxMessageBytes: 4096 }).substrate,
      ['GET k\nSET k v\n', 'PING\r\n'],
      ['OK\nVALUE 1\n'],
    ),
    ...substrateTargets(
      'tcp-length',
      tcp({ framing: 'length-prefixed', maxMessageBytes: 4096 }).substrate,
      ['\u0000\u0000\u0000\u0003abc\u0000\u0000\u0000\u0000'],
      ['\u0000\u0000\u0000\u0002ok'],
    ),
    ...substrateTargets(
      'http',
      new HttpSubstrate({ ...HTTP_DEFAULTS, maxHeaderBytes: 8192, maxBodyBytes: 65536 }),
      [
        'GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n',
        'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
        'PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n',
      ],
      [
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n',
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
      ],
    ),
    ...substrateTargets(
      'resp',
      new RespSubstrate({ ...RESP_DEFAULTS, maxRequestBytes: 65536, maxReplyBytes: 65536 }),
      [
        '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n',
        'PING\r\nSET "a b" \'c\\x41\'\r\n\r\n*0\r\n',
      ],
      [
        '+OK\r\n-ERR bad\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n*-1\r\n',
        '%1\r\n+k\r\n~2\r\n,1.5\r\n(123\r\n>2\r\n=7\r\ntxt:abc\r\n_\r\n|1\r\n+a\r\n#t\r\n+x\r\n',
      ],
    ),
    {
      name: 'cli-request',
      description: 'cli substrate: command requests (argv + stdin)',
      seeds: () => [
        encodeRequest({ argv: ['sqlite3', 'db', 'select 1;'], stdin: text('') }),
        encodeRequest({ argv: ['x'], stdin: text('input\n') }),
      ],
      run: (input) => framerRun(() => cliSubstrate.requestFramer(), input),
    },
    {
      name: 'cli-response',
      description: 'cli substrate: command results (stdout, stderr, exit code)',
      seeds: () => [
        encodeResponse({ exitCode: 0, stdout: text('1\n'), stderr: text('') }),
        cliSubstrate.errorResponse(new Error('boom')),
      ],
      run: (input) => framerRun(() => cliSubstrate.responseFramer(), input),
    },
  ];
  // Seeds as plain copies: some encoders return views into larger buffers or Node Buffers.
  return targets.map((t) => ({ ...t, seeds: () => t.seeds().map((s) => new Uint8Array(s)) }));
}
