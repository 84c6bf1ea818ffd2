// Request smuggling: a request that a front end and a back end could cut differently. VCL's parser
// cuts every request one way only, at every replica, and refuses what another parser might read
// otherwise (docs/security.md, "What the HTTP parser accepts").
import { FramingError } from '@vcl/core';
import { HttpParser } from './parser';

const parse = (text: string): string[] =>
  new HttpParser({ kind: 'request', maxHeaderBytes: 8192, maxBodyBytes: 1 << 20 })
    .push(new TextEncoder().encode(text))
    .map((m) => new TextDecoder('latin1').decode(m.bytes));

const refused = (text: string): string => {
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(FramingError);
    return (error as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(text)}`);
};

describe('HTTP request smuggling cases', () => {
  it.each([
    [
      'CL.TE: Content-Length and Transfer-Encoding together',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      /both Transfer-Encoding and Content-Length/,
    ],
    [
      'TE.CL: Transfer-Encoding first',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n',
      /both/,
    ],
    [
      'two different Content-Lengths',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
      /invalid Content-Length/,
    ],
    [
      'a Content-Length list with different values',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 5\r\n\r\nabcde',
      /invalid Content-Length/,
    ],
    [
      'a signed Content-Length',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\nabcd',
      /invalid Content-Length/,
    ],
    [
      'a hexadecimal Content-Length',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x4\r\n\r\nabcd',
      /invalid Content-Length/,
    ],
    ['whitespace before the colon', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 4\r\n\r\nabcd', /malformed header/],
    [
      'obs-fold continuing a header',
      'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n',
      /obsolete line folding/,
    ],
    ['a bare LF line end', 'GET / HTTP/1.1\nHost: x\r\n\r\n', /bare LF/],
    ['a bare CR inside a header', 'GET / HTTP/1.1\r\nHost: x\rTransfer-Encoding: chunked\r\n\r\n', /bare CR/],
    [
      'a chunk size beyond 16 hex digits',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n',
      /malformed chunk size/,
    ],
    [
      'a chunk size larger than the body limit',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n',
      /exceeds/,
    ],
    [
      'a negative chunk size',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n',
      /malformed chunk size/,
    ],
    [
      'chunked not last',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n',
      /chunked must come last/,
    ],
    [
      'chunked twice',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      /chunked must come last, once/,
    ],
    [
      'an unknown coding instead of chunked',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n',
      /unsupported Transfer-Encoding/,
    ],
    [
      'Transfer-Encoding in an HTTP/1.0 request',
      'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      /HTTP\/1.0/,
    ],
    [
      'chunk data longer than its size',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n',
      /chunk data longer/,
    ],
    ['two Host headers', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', /exactly one Host/],
    ['a NUL in a header value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n', /control character/],
    ['a space inside the request target', 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n', /malformed request line/],
    ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', /unsupported HTTP version/],
  ])('refuses %s', (_, text, why) => {
    expect(refused(text)).toMatch(why);
  });

  it('reads a repeated identical Content-Length as one length (RFC 9110 8.6)', () => {
    expect(
      parse(
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: x\r\n\r\n',
      ),
    ).toHaveLength(2);
  });

  it("cuts a pipelined second request exactly at the first one's chunked end", () => {
    const [a, b] = parse(
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    expect(a!.endsWith('0\r\n\r\n')).toBe(true);
    expect(b!.startsWith('GET /next ')).toBe(true);
  });

  it('takes a body-less request with no length as ending at its head (no close-delimited requests)', () => {
    expect(parse('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n')).toHaveLength(2);
  });
});
