import type { RunningService, SubstrateConformanceFixture } from '@vcl/core/testing';
import { CliSubstrate, decodeRequest, encodeRequest, encodeResponse, resolveCliOptions, type CliOptions } from '../src';

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Small limits, so the size checks run on small samples. */
export const TEST_LIMITS: CliOptions = {
  maxRequestBytes: 4096,
  maxResponseBytes: 8192,
  timeoutMs: 5000,
  lingerMs: 500,
};

export const substrate = (options: CliOptions = {}): CliSubstrate =>
  new CliSubstrate(resolveCliOptions({ ...TEST_LIMITS, ...options }));

/**
 * The replicated command of the tests: prints its arguments, copies stdin, writes a line to stderr
 * and exits with the argument count modulo 3. Deterministic, as a replicated command must be.
 */
export const COMMAND = [
  '/bin/sh',
  '-c',
  `printf 'args:%s\\n' "$*"; cat; printf 'err %s\\n' "$#" >&2; exit $(( $# % 3 ))`,
  'sh',
];

/** What COMMAND answers to a request frame. */
export function respond(request: Uint8Array): Uint8Array {
  const { argv, stdin } = decodeRequest(request);
  return encodeResponse({
    exitCode: argv.length % 3,
    stdout: new Uint8Array(Buffer.concat([Buffer.from(`args:${argv.join(' ')}\n`), stdin])),
    stderr: text(`err ${argv.length}\n`),
  });
}

export const REQUESTS = [
  encodeRequest({ argv: [], stdin: new Uint8Array(0) }),
  encodeRequest({ argv: ['list', '--all'], stdin: new Uint8Array(0) }),
  encodeRequest({ argv: ['put', 'clé', 'wert ü'], stdin: text('line 1\nline 2\n') }),
  encodeRequest({ argv: ['bin'], stdin: new Uint8Array([0, 1, 2, 255, 10, 13]) }),
  encodeRequest({ argv: ['', 'empty first'], stdin: text('x') }),
];

export const RESPONSES = [
  encodeResponse({ exitCode: 0, stdout: text('ok\n'), stderr: new Uint8Array(0) }),
  encodeResponse({ exitCode: 2, stdout: new Uint8Array(0), stderr: text('usage\n') }),
  encodeResponse({ exitCode: 124, stdout: text('partial'), stderr: text('vcl: timeout\n'), timedOut: true }),
  encodeResponse({ exitCode: 137, stdout: new Uint8Array([0, 255]), stderr: new Uint8Array(0), truncated: true }),
  encodeResponse({ exitCode: -1, stdout: new Uint8Array(0), stderr: new Uint8Array(0) }),
];

const frame = (body: number[]): Uint8Array => {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
};
const Q = 0x51;

export const MALFORMED_REQUESTS = [
  frame([]), // no kind
  frame([0x52, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), // a response where a request belongs
  frame([Q, 2, 0, 0, 0, 0, 0, 0]), // unknown version
  frame([Q, 1, 0, 1, 0, 0, 0, 5, 0x61]), // argument cut short
  frame([Q, 1, 0, 0, 0, 0, 0, 1]), // stdin cut short
  frame([Q, 1, 0, 0, 0, 0, 0, 0, 0x99]), // a byte after the last field
  frame([Q, 1, 0, 1, 0, 0, 0, 2, 0xc3, 0x28, 0, 0, 0, 0]), // invalid UTF-8 argument
  frame([Q, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0]), // NUL in an argument
  frame([Q, 1, 0x20, 0x01, 0, 0, 0, 0]), // more than MAX_ARGS arguments
];

export const MALFORMED_RESPONSES = [
  frame([Q, 1, 0, 0, 0, 0, 0, 0]), // a request where a response belongs
  frame([0x52, 1, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0]), // unknown flags
];

/** A request whose frame body is exactly `body` bytes long. */
function requestOfBody(body: number): Uint8Array {
  const fixed = 2 + 2 + 4 + 4; // kind, version, argc, one argument length, stdin length
  return encodeRequest({ argv: ['big'], stdin: new Uint8Array(body - fixed - 3).fill(0x41) });
}
function responseOfBody(body: number): Uint8Array {
  return encodeResponse({
    exitCode: 0,
    stdout: new Uint8Array(body - 2 - 4 - 1 - 4 - 4).fill(0x42),
    stderr: new Uint8Array(0),
  });
}

/** The test command as a dial endpoint (nothing to start: every request spawns it). */
export async function startService(): Promise<RunningService> {
  return { endpoint: { command: COMMAND }, close: async () => undefined };
}

export const fixture: SubstrateConformanceFixture = {
  name: 'cli',
  create: () => substrate(),
  requests: REQUESTS,
  responses: RESPONSES,
  malformedRequests: MALFORMED_REQUESTS,
  malformedResponses: MALFORMED_RESPONSES,
  largestRequest: requestOfBody(4096),
  oversizeRequest: requestOfBody(4097),
  largestResponse: responseOfBody(8192),
  oversizeResponse: responseOfBody(8193),
  maxBufferedBytes: 4,
  startService,
  respond,
  conversations: 6,
  requestsPerConversation: 3,
};
