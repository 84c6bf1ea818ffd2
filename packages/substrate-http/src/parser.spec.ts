import { FramingError } from '@vcl/core';
import { httpErrorResponse, statusFor } from './error-response';
import { BodyTooLargeError, HeadersTooLargeError, UnsupportedRequestError } from './errors';
import { HttpParser } from './parser';
import { HttpSubstrate } from './http-substrate';
import { resolveHttpOptions } from './options';

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const t = (u: Uint8Array): string => Buffer.from(u).toString('latin1');
const limits = { maxHeaderBytes: 256, maxBodyBytes: 100 };
const requests = (): HttpParser => new HttpParser({ kind: 'request', ...limits });
const substrate = new HttpSubstrate(resolveHttpOptions({ maxHeaderBytes: 256, maxBodyBytes: 100 }));

describe('HttpParser (requests)', () => {
  it('cuts pipelined requests in one chunk and keeps leading empty lines with the next request', () => {
    const input =
      'GET /1 HTTP/1.1\r\nHost: a\r\n\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhiGET /3 HTTP/1.1\r\nHost: a\r\n\r\n';
    const got = requests().push(b(input));
    expect(got.map((m) => t(m.bytes))).toEqual([
      'GET /1 HTTP/1.1\r\nHost: a\r\n\r\n',
      '\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi',
      'GET /3 HTTP/1.1\r\nHost: a\r\n\r\n',
    ]);
    expect(got.map((m) => [m.head.method, m.head.target, m.body.kind])).toEqual([
      ['GET', '/1', 'none'],
      ['POST', '/2', 'length'],
      ['GET', '/3', 'none'],
    ]);
  });

  it('rejects a Content-Length over the limit on the head, before any body byte arrives', () => {
    const parser = requests();
    const head = 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n';
    expect(() => parser.push(b(head))).toThrow(BodyTooLargeError);
    expect(() => requests().push(b(head.replace('101', '100')))).not.toThrow();
  });

  it('rejects chunked bodies whose chunks add up past the limit, at the chunk size line', () => {
    const parser = requests();
    parser.push(b('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n50\r\n' + 'x'.repeat(80) + '\r\n'));
    expect(() => parser.push(b('15\r\n'))).toThrow('request body exceeds 100 bytes');
  });

  it('rejects a head over maxHeaderBytes even before it ends, as HeadersTooLargeError (431)', () => {
    const parser = requests();
    parser.push(b('GET / HTTP/1.1\r\nHost: a\r\n'));
    let error: unknown;
    try {
      parser.push(b(`X-Long: ${'v'.repeat(300)}`));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HeadersTooLargeError);
    expect(statusFor(error as Error)).toBe(431);
    expect(parser.buffered).toBeLessThanOrEqual(256 + 310);
  });

  it('reports a bad request line as soon as the line ends, without waiting for the head', () => {
    expect(() => requests().push(b('NOT AN HTTP LINE\r\n'))).toThrow('malformed request line "NOT AN HTTP LINE"');
  });

  it('stays failed after an error', () => {
    const parser = requests();
    expect(() => parser.push(b('BAD\r\n'))).toThrow(FramingError);
    expect(() => parser.push(b('GET / HTTP/1.1\r\nHost: a\r\n\r\n'))).toThrow('malformed request line "BAD"');
  });

  it('reads trailers after the last chunk and counts them against maxHeaderBytes', () => {
    const ok = 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nA: b\r\n\r\n';
    expect(
      requests()
        .push(b(ok))
        .map((m) => t(m.bytes)),
    ).toEqual([ok]);
    const big = ok.replace('A: b', `A: ${'b'.repeat(300)}`);
    expect(() => requests().push(b(big))).toThrow('request trailers exceed 256 bytes');
  });
});

describe('HttpParser (responses)', () => {
  const responses = (): HttpParser => new HttpParser({ kind: 'response', ...limits });

  it('frames interim, bodiless-by-status and marked HEAD responses without a body', () => {
    const input =
      'HTTP/1.1 100 Continue\r\n\r\n' +
      'HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 50\r\nx-vcl-bodiless: 1\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    expect(
      responses()
        .push(b(input))
        .map((m) => m.head.status),
    ).toEqual([100, 304, 200, 200]);
  });

  it('rejects a body delimited by the connection end unless allowed, then completes it on finish()', () => {
    expect(() => responses().push(b('HTTP/1.1 200 OK\r\n\r\nabc'))).toThrow(FramingError);
    const parser = new HttpParser({ kind: 'response', ...limits, allowCloseDelimited: true });
    expect(parser.push(b('HTTP/1.1 200 OK\r\n\r\nabc'))).toEqual([]);
    expect(parser.finish().map((m) => t(m.bytes))).toEqual(['HTTP/1.1 200 OK\r\n\r\nabc']);
  });

  it('fails finish() on a message cut short', () => {
    const parser = responses();
    parser.push(b('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab'));
    expect(() => parser.finish()).toThrow('response cut short: the input ended after 40 bytes of it');
  });
});

describe('HTTP error replies', () => {
  it('maps each failure to its status', () => {
    expect(statusFor(new FramingError('x'))).toBe(400);
    expect(statusFor(new BodyTooLargeError('x'))).toBe(413);
    expect(statusFor(new HeadersTooLargeError('x'))).toBe(431);
    expect(statusFor(new UnsupportedRequestError('x'))).toBe(501);
    expect(statusFor(new Error('x'))).toBe(500);
  });

  it('writes a complete close-delimited-free reply naming the problem', () => {
    expect(t(httpErrorResponse(new FramingError('malformed request line "X"')))).toBe(
      'HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 27\r\nconnection: close\r\n\r\nmalformed request line "X"\n',
    );
    const reply = substrate.errorResponse(new BodyTooLargeError('request body of 101 bytes exceeds 100'));
    expect(t(reply)).toMatch(/^HTTP\/1\.1 413 Content Too Large\r\n/);
    expect(substrate.responseFramer().push(reply)).toHaveLength(1);
  });
});
