import { describeSubstrateConformance, type SubstrateConformanceFixture } from '@vcl/core/testing';
import { resolveRespOptions, RespSubstrate } from '../src';
import { kvRespond, startKvService } from './kv-service';

// The substrate conformance kit on the resp substrate, with the in-memory RESP store as the
// service. Small limits, so the size checks run on small samples.

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const MAX_REQUEST = 256;
const MAX_REPLY = 512;
const cmd = (...args: string[]): string => `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`;

const fixture: SubstrateConformanceFixture = {
  name: 'resp',
  create: () =>
    new RespSubstrate(resolveRespOptions({ maxRequestBytes: MAX_REQUEST, maxReplyBytes: MAX_REPLY, lingerMs: 200 })),
  requests: [
    cmd('SET', 'k', 'v\r\nwith CRLF'),
    cmd('GET', 'k'),
    'PING\r\n',
    '\r\n*0\r\necho "two words"\n',
    cmd('ECHO', ''),
    cmd('LPUSH', 'l', 'a', 'b', 'c'),
  ].map(b),
  responses: [
    '+OK\r\n',
    '$-1\r\n',
    ':3\r\n',
    '*2\r\n$1\r\na\r\n$-1\r\n',
    '-ERR unknown command\r\n',
    '%1\r\n+a\r\n_\r\n',
  ].map(b),
  malformedRequests: ['*x\r\n', '*1\r\n:4\r\n', '*1\r\n$-1\r\n', 'SET k "v\r\n', '*1\r\n$4\r\nPINGxx'].map(b),
  malformedResponses: ['?\r\n', ':x\r\n', '$3\r\nabcde'].map(b),
  largestRequest: b(cmd('x'.repeat(MAX_REQUEST - 4 - 6 - 2))),
  oversizeRequest: b(cmd('x'.repeat(MAX_REQUEST - 4 - 6 - 1))),
  largestResponse: b(`$${MAX_REPLY - 6 - 2}\r\n${'y'.repeat(MAX_REPLY - 6 - 2)}\r\n`),
  oversizeResponse: b(`$${MAX_REPLY - 6 - 1}\r\n${'y'.repeat(MAX_REPLY - 6 - 1)}\r\n`),
  maxBufferedBytes: MAX_REQUEST,
  startService: () => startKvService({ stateless: true }),
  respond: kvRespond,
};

describeSubstrateConformance(fixture);
