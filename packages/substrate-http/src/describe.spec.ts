import { FramingError } from '@vcl/core';
import { describeHttpRequest } from './http-substrate';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('describeHttpRequest (what an access policy sees of a request)', () => {
  it('reads the method and the path without its query', () => {
    expect(describeHttpRequest(bytes('GET /items/7?full=1 HTTP/1.1\r\nHost: x\r\n\r\n'))).toEqual({
      method: 'GET',
      path: '/items/7',
    });
    expect(describeHttpRequest(bytes('DELETE /a HTTP/1.0\r\n\r\n'))).toEqual({ method: 'DELETE', path: '/a' });
  });

  it('refuses something that is not an HTTP request line', () => {
    expect(() => describeHttpRequest(bytes('GARBAGE\r\n\r\n'))).toThrow(FramingError);
    expect(() => describeHttpRequest(bytes('GET /a b HTTP/1.1\r\n\r\n'))).toThrow('not an HTTP request line');
  });
});
