import { httpDigestView } from './digest-view';
import { HTTP_DEFAULTS, resolveHttpOptions } from './options';

const response = (date: string, body: string, type = 'application/json', etag = '"a"'): Uint8Array =>
  Buffer.from(
    `HTTP/1.1 200 OK\r\nDate: ${date}\r\nETag: ${etag}\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
const view = (r: Uint8Array, compare = HTTP_DEFAULTS.compare): string =>
  Buffer.from(httpDigestView(r, compare)).toString();

describe('httpDigestView', () => {
  it('leaves Date out by default, and nothing else', () => {
    const a = response('Mon, 07 Dec 2026 21:00:00 GMT', '{"x":1}');
    expect(view(a)).toBe(view(response('Mon, 07 Dec 2026 21:00:01 GMT', '{"x":1}')));
    expect(view(a)).not.toBe(view(response('Mon, 07 Dec 2026 21:00:00 GMT', '{"x":2}')));
    expect(view(a)).not.toBe(view(response('Mon, 07 Dec 2026 21:00:00 GMT', '{"x":1}', undefined, '"b"')));
    expect(HTTP_DEFAULTS.compare).toEqual({ ignoreHeaders: ['date'], ignoreJsonFields: [] });
  });

  it('compares every header with ignoreHeaders: []', () => {
    const none = resolveHttpOptions({ compare: { ignoreHeaders: [] } }).compare;
    expect(view(response('d1', '{}'), none)).not.toBe(view(response('d2', '{}'), none));
  });

  it('leaves out listed headers in any case, and JSON fields by dotted path (in arrays too)', () => {
    const c = resolveHttpOptions({
      compare: { ignoreHeaders: ['ETAG', 'date'], ignoreJsonFields: ['meta.at', 'id'] },
    }).compare;
    const a = response('d1', '{"id":1,"meta":{"at":5,"v":1},"list":[1]}', 'application/json', '"x"');
    const b = response('d2', '{"id":2,"meta":{"at":6,"v":1},"list":[1]}', 'application/problem+json', '"y"');
    // The content types differ: still compared.
    expect(view(a, c)).not.toBe(view(b, c));
    const b2 = response('d2', '{"id":2,"meta":{"at":6,"v":1},"list":[1]}', 'application/json', '"y"');
    expect(view(a, c)).toBe(view(b2, c));
    expect(view(a, c)).not.toBe(view(response('d1', '{"id":1,"meta":{"at":5,"v":2},"list":[1]}'), c));
    const arr = (at: number): Uint8Array => response('d', `[{"id":${at},"n":1}]`);
    expect(view(arr(1), c)).toBe(view(arr(2), c));
  });

  it('compares a body that is not JSON, or does not parse, whole', () => {
    const c = resolveHttpOptions({ compare: { ignoreJsonFields: ['id'] } }).compare;
    expect(view(response('d', '{"id":1', 'application/json'), c)).not.toBe(
      view(response('d', '{"id":2', 'application/json'), c),
    );
    expect(view(response('d', 'id=1', 'text/plain'), c)).not.toBe(view(response('d', 'id=2', 'text/plain'), c));
  });

  it('rejects unknown compare options with the field named', () => {
    expect(() => resolveHttpOptions({ compare: { ignoreHeader: ['date'] } })).toThrow(/ignoreHeader/);
  });
});
