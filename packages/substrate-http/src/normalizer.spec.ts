import { ResponseNormalizer, requestMethod } from './normalizer';
import { resolveHttpOptions } from './options';

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const t = (u: Uint8Array): string => Buffer.from(u).toString('latin1');
const normalizer = (...methods: string[]): ResponseNormalizer => {
  const n = new ResponseNormalizer(resolveHttpOptions({ maxResponseBodyBytes: 100 }));
  for (const m of methods) n.noteRequest(b(`${m} / HTTP/1.1\r\nHost: a\r\n\r\n`));
  return n;
};

describe('ResponseNormalizer', () => {
  it('marks each HEAD response of a pipelined batch, and only those', () => {
    const n = normalizer('GET', 'HEAD', 'GET');
    const out = n.push(
      b(
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi'.repeat(1) +
          'HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n' +
          'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nyo',
      ),
    );
    expect(out.responses.map(t)).toEqual([
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi',
      'HTTP/1.1 200 OK\r\nContent-Length: 9\r\nx-vcl-bodiless: 1\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nyo',
    ]);
    expect(n.pending).toBe(0);
  });

  it('drops interim 1xx responses', () => {
    const out = normalizer('POST').push(
      b('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n'),
    );
    expect(out.responses.map(t)).toEqual(['HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n']);
  });

  it('turns a body delimited by the connection end into a Content-Length body', () => {
    const n = normalizer('GET');
    expect(n.push(b('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nab')).responses).toEqual([]);
    expect(n.push(b('cd')).responses).toEqual([]);
    expect(n.end().responses.map(t)).toEqual(['HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 4\r\n\r\nabcd']);
  });

  it('answers every unanswered request with 502 when the service output is unusable, and says so', () => {
    const out = normalizer('GET', 'GET').push(b('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxNOT HTTP\r\n'));
    expect(out.responses.map((r) => t(r).split('\r\n')[0])).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 502 Bad Gateway']);
    expect(t(out.responses[1]!)).toContain('malformed status line');
    expect(out.broken).toBeDefined();
  });

  it('answers with 502 for a protocol switch and for an oversize response', () => {
    expect(t(normalizer('GET').push(b('HTTP/1.1 101 Switching Protocols\r\n\r\n')).responses[0]!)).toContain(
      'switched protocols',
    );
    expect(t(normalizer('GET').push(b('HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n')).responses[0]!)).toContain(
      'exceeds the maximum of 100 bytes',
    );
  });

  it('refuses a response to no request', () => {
    const out = normalizer().push(b('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    expect(out.responses).toEqual([]);
    expect(out.broken?.message).toContain('to no request');
  });

  it('reads the method after leading empty lines', () => {
    expect(requestMethod(b('\r\n\r\nHEAD / HTTP/1.1\r\n'))).toBe('HEAD');
  });
});
