import fc from 'fast-check';
import { MdsError } from './errors';
import { Namespace } from './namespace';
import { LineSplitter, handleLine, parseRequest, parseResponse, tooLongResponse, type Response } from './protocol';

function badRequest(line: string): string {
  try {
    parseRequest(line);
  } catch (e) {
    expect(e).toBeInstanceOf(MdsError);
    expect((e as MdsError).code).toBe('EBADREQ');
    return (e as MdsError).message;
  }
  throw new Error(`expected ${line} to be refused`);
}

function answer(ns: Namespace, line: string): Response {
  return JSON.parse(handleLine(ns, line).response) as Response;
}

describe('parseRequest', () => {
  it('accepts every operation in its documented shape', () => {
    const lines = [
      '{"op":"mkdir","path":"/a","mode":448}',
      '{"op":"create","path":"/a/f"}',
      '{"op":"lookup","path":"/a"}',
      '{"op":"lookup","parent":"0123456789abcdef","name":"f"}',
      '{"op":"readdir","path":"/a"}',
      '{"op":"readdir","handle":"0123456789abcdef"}',
      '{"op":"stat","path":"/a"}',
      '{"op":"setattr","path":"/a/f","size":10,"mtime":3,"uid":1,"gid":2,"mode":384}',
      '{"op":"rename","from":"/a/f","to":"/a/g"}',
      '{"op":"remove","path":"/a/g"}',
      '{"op":"digest"}',
      '{"op":"snapshot"}',
      '{"op":"restore","snapshot":{"format":"mds-namespace/1"}}',
      '{"op":"reset"}',
    ];
    for (const line of lines) expect(parseRequest(line)).toEqual(JSON.parse(line));
  });

  it.each([
    ['', 'empty request line'],
    ['   ', 'empty request line'],
    ['{"op":"mkdir","path":', 'not JSON'],
    ['[1,2]', 'must be a JSON object, got an array'],
    ['42', 'must be a JSON object, got 42'],
    ['null', 'must be a JSON object, got null'],
    ['{"path":"/a"}', 'has no "op"'],
    ['{"op":"frobnicate"}', 'unknown op "frobnicate"; expected one of mkdir, create'],
    ['{"op":7}', 'unknown op 7'],
    ['{"op":"mkdir"}', 'mkdir needs field "path"'],
    ['{"op":"mkdir","path":"/a","colour":"red"}', 'unknown field "colour" for op mkdir; expected path, mode'],
    ['{"op":"digest","path":"/"}', 'unknown field "path" for op digest; it takes no fields'],
    ['{"op":"mkdir","path":5}', 'field "path" of mkdir must be a string, got 5'],
    ['{"op":"mkdir","path":"/a","mode":"755"}', 'field "mode" of mkdir must be a non-negative integer, got "755"'],
    ['{"op":"mkdir","path":"/a","mode":-1}', 'non-negative integer'],
    ['{"op":"mkdir","path":"/a","mode":1.5}', 'non-negative integer'],
    ['{"op":"rename","from":"/a"}', 'rename needs field "to"'],
    ['{"op":"stat"}', 'stat needs exactly one of "path" or "handle"'],
    ['{"op":"readdir","path":"/","handle":"0123456789abcdef"}', 'readdir needs exactly one of'],
    ['{"op":"setattr","path":"/a"}', 'setattr needs at least one of'],
    ['{"op":"lookup"}', 'lookup needs either "path"'],
    ['{"op":"lookup","parent":"0123456789abcdef"}', 'lookup needs either "path"'],
    ['{"op":"lookup","path":"/a","name":"b"}', 'lookup needs either "path"'],
    ['{"op":"mkdir","path":"/a","__proto__":{"x":1}}', 'unknown field "__proto__"'],
    ['{"op":"restore"}', 'restore needs field "snapshot"'],
    ['{"op":"restore","snapshot":[1]}', 'field "snapshot" of restore must be a JSON object'],
  ])('refuses %j with EBADREQ: %s', (line, words) => {
    expect(badRequest(line)).toContain(words);
  });
});

describe('handleLine', () => {
  it('applies requests and answers results', () => {
    const ns = new Namespace();
    const r = answer(ns, '{"op":"mkdir","path":"/a"}');
    expect(r).toMatchObject({ ok: true, result: { ino: 2, type: 'dir' } });
    expect(answer(ns, '{"op":"readdir","path":"/"}')).toMatchObject({
      ok: true,
      result: { entries: [{ name: 'a', ino: 2, type: 'dir' }] },
    });
    expect(answer(ns, '{"op":"digest"}')).toEqual({ ok: true, result: ns.digest() });
  });

  it('answers namespace errors with their code and op, changing nothing', () => {
    const ns = new Namespace();
    ns.mkdir('/a');
    const before = ns.digest();
    const out = handleLine(ns, '{"op":"mkdir","path":"/a"}');
    expect(out).toMatchObject({ op: 'mkdir', error: 'EEXIST' });
    expect(JSON.parse(out.response)).toEqual({ ok: false, error: { code: 'EEXIST', message: '"/a" already exists' } });
    expect(answer(ns, '{"op":"stat","path":"a"}')).toMatchObject({ ok: false, error: { code: 'EINVAL' } });
    expect(ns.digest()).toEqual(before);
  });

  it('answers malformed lines with EBADREQ and keeps the namespace intact', () => {
    const ns = new Namespace();
    ns.create('/f');
    const before = ns.digest();
    for (const line of ['garbage', '{"op":"remove"}', '{"op":"remove","path":"/f","force":true}', '\u0000\u0001'])
      expect(answer(ns, line)).toMatchObject({ ok: false, error: { code: 'EBADREQ' } });
    expect(ns.digest()).toEqual(before);
    expect(answer(ns, '{"op":"remove","path":"/f"}')).toMatchObject({ ok: true });
  });

  it('transfers state: snapshot from one namespace, restore into another, reset', () => {
    const a = new Namespace();
    a.mkdir('/d');
    a.create('/d/f');
    const snap = answer(a, '{"op":"snapshot"}');
    expect(snap).toMatchObject({ ok: true, result: { format: 'mds-namespace/1', version: 2 } });
    const b = new Namespace();
    const restored = answer(b, JSON.stringify({ op: 'restore', snapshot: (snap as { result: unknown }).result }));
    expect(restored).toEqual({ ok: true, result: a.digest() });
    expect(answer(b, '{"op":"restore","snapshot":{"format":"x"}}')).toMatchObject({
      ok: false,
      error: { code: 'EINVAL' },
    });
    expect(b.digest()).toEqual(a.digest());
    expect(answer(b, '{"op":"reset"}')).toEqual({ ok: true, result: new Namespace().digest() });
  });

  it('never throws and always answers one well-formed response, whatever the line (fuzzed)', () => {
    const ns = new Namespace();
    ns.mkdir('/d');
    const ops = [
      'mkdir',
      'create',
      'lookup',
      'readdir',
      'stat',
      'setattr',
      'rename',
      'remove',
      'digest',
      'restore',
      'x',
    ];
    const request = fc.record(
      {
        op: fc.constantFrom(...ops),
        path: fc.oneof(fc.constantFrom('/', '/d', '/d/f', 'd', '/d/'), fc.string(), fc.integer()),
        from: fc.oneof(fc.constantFrom('/d', '/d/f'), fc.string()),
        to: fc.oneof(fc.constantFrom('/e', '/d/g'), fc.string()),
        handle: fc.oneof(fc.stringMatching(/^[0-9a-f]{16}$/), fc.string()),
        mode: fc.oneof(fc.nat(), fc.integer(), fc.double()),
        size: fc.oneof(fc.nat(), fc.string()),
        snapshot: fc.oneof(fc.object(), fc.constant(ns.snapshot()), fc.anything()),
      },
      { requiredKeys: ['op'] },
    );
    const line = fc.oneof(
      request.map((r) => JSON.stringify(r)),
      fc.string(),
      fc.json(),
    );
    fc.assert(
      fc.property(line, (l) => {
        const out = handleLine(ns, l);
        const r = parseResponse(out.response);
        expect(out.response.includes('\n')).toBe(false);
        return r.ok === true || typeof r.error.message === 'string';
      }),
      { numRuns: 3000, seed: 42 },
    );
  });

  it('gives byte-identical answers for the same history (replicas agree)', () => {
    const lines = [
      '{"op":"mkdir","path":"/d"}',
      '{"op":"create","path":"/d/f","mode":384}',
      '{"op":"create","path":"/d/f"}',
      'nonsense',
      '{"op":"rename","from":"/d/f","to":"/d/g"}',
      '{"op":"readdir","path":"/d"}',
      '{"op":"digest"}',
    ];
    const run = (): string[] => {
      const ns = new Namespace();
      return lines.map((l) => handleLine(ns, l).response);
    };
    expect(run()).toEqual(run());
  });
});

describe('parseResponse', () => {
  it('decodes answers and refuses anything else', () => {
    expect(parseResponse('{"ok":true,"result":{}}')).toEqual({ ok: true, result: {} });
    expect(parseResponse('{"ok":false,"error":{"code":"ENOENT","message":"x"}}')).toMatchObject({ ok: false });
    for (const line of ['', 'hello', '{"ok":true}', '{"ok":false,"error":{"code":"EWHAT","message":"x"}}', '{"ok":1}'])
      expect(() => parseResponse(line)).toThrow(MdsError);
  });
});

describe('LineSplitter', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

  it('cuts lines across chunk boundaries and drops a CR before the newline', () => {
    const s = new LineSplitter(100);
    expect(s.push(enc('{"a":'))).toEqual([]);
    expect(s.buffered).toBe(5);
    expect(s.push(enc('1}\r\n{"b"'))).toEqual([{ line: '{"a":1}' }]);
    expect(s.push(enc(':2}\n\nx\n'))).toEqual([{ line: '{"b":2}' }, { line: '' }, { line: 'x' }]);
    expect(s.buffered).toBe(0);
  });

  it('cuts a multi-byte character split between chunks correctly', () => {
    const s = new LineSplitter(100);
    const bytes = enc('é\n');
    expect(s.push(bytes.subarray(0, 1))).toEqual([]);
    expect(s.push(bytes.subarray(1))).toEqual([{ line: 'é' }]);
  });

  it('reports an over-long line once its newline arrives, without holding it, then goes on', () => {
    const s = new LineSplitter(10);
    expect(s.push(enc('0123456789'))).toEqual([]);
    expect(s.push(enc('abcdef'))).toEqual([]);
    expect(s.buffered).toBe(0);
    expect(s.push(enc('gh\nok\n'))).toEqual([{ tooLong: 18 }, { line: 'ok' }]);
    expect(s.push(enc('0123456789\n'))).toEqual([{ line: '0123456789' }]);
  });

  it('answers an over-long line with EBADREQ naming both sizes', () => {
    expect(JSON.parse(tooLongResponse(70000, 65536))).toEqual({
      ok: false,
      error: { code: 'EBADREQ', message: 'request line of 70000 bytes is longer than the maximum 65536' },
    });
  });
});
