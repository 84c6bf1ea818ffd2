import fc from 'fast-check';
import { FramingError, MessageTooLargeError, type Framer } from '@vcl/core';
import { requestArgs, RespReplyFramer, RespRequestFramer, splitInline } from './framers';

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const t = (m: readonly Uint8Array[]): string[] => m.map((x) => Buffer.from(x).toString('latin1'));
const concat = (parts: readonly Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

/** Everything `framer` cuts from `bytes` pushed in pieces cut at `cuts` (sorted offsets). */
function frame(framer: Framer, bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  for (const at of [...cuts, bytes.length]) {
    out.push(...framer.push(bytes.subarray(from, at)));
    from = at;
  }
  return out;
}

// Wire forms, as Redis and its clients write them.
const bulk = (s: Uint8Array): Uint8Array => concat([b(`$${s.length}\r\n`), s, b('\r\n')]);
const command = (...args: Uint8Array[]): Uint8Array => concat([b(`*${args.length}\r\n`), ...args.map(bulk)]);
const line = fc.string({ maxLength: 10 }).map((s) => s.replace(/[\r\n]/g, '.'));
const bytes = fc.uint8Array({ maxLength: 20 });

/** Any RESP2 or RESP3 reply. */
const reply: fc.Arbitrary<Uint8Array> = fc.letrec<{ value: Uint8Array }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    line.map((s) => b(`+${s}\r\n`)),
    line.map((s) => b(`-ERR ${s}\r\n`)),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n) => b(`:${n}\r\n`)),
    bytes.map(bulk),
    fc.constantFrom('$-1\r\n', '*-1\r\n', '_\r\n', '#t\r\n', '#f\r\n', ',inf\r\n', ',-1.5e3\r\n', ',nan\r\n').map(b),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => b(`,${d}\r\n`)),
    fc.bigInt().map((n) => b(`(${n}\r\n`)),
    bytes.map((s) => concat([b(`!${s.length}\r\n`), s, b('\r\n')])),
    bytes.map((s) => concat([b(`=${s.length + 4}\r\ntxt:`), s, b('\r\n')])),
    fc
      .array(bytes, { minLength: 1, maxLength: 3 })
      .map((chunks) =>
        concat([
          b('$?\r\n'),
          ...chunks.map((c) => concat([b(`;${c.length}\r\n`), c, b('\r\n')])).filter((_, i) => chunks[i]!.length),
          b(';0\r\n'),
        ]),
      ),
    fc
      .tuple(fc.constantFrom('*', '~', '>'), fc.array(tie('value'), { maxLength: 4 }))
      .map(([type, items]) => concat([b(`${type}${items.length}\r\n`), ...items])),
    fc
      .array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 })
      .map((pairs) => concat([b(`%${pairs.length}\r\n`), ...pairs.flat()])),
    fc.array(tie('value'), { maxLength: 3 }).map((items) => concat([b('*?\r\n'), ...items, b('.\r\n')])),
    fc.tuple(tie('value'), tie('value'), tie('value')).map(([k, v, x]) => concat([b('|1\r\n'), k, v, x])),
  ),
})).value;

/** Any request: an array of bulk strings or an inline line, maybe after the blank lines and empty arrays Redis ignores. */
const request = fc
  .tuple(
    fc.array(fc.constantFrom('\r\n', '\n', '  \r\n', '*0\r\n', '*-1\r\n'), { maxLength: 2 }),
    fc.oneof(
      fc.array(bytes, { minLength: 1, maxLength: 5 }).map((args) => command(...args)),
      fc
        .array(fc.stringMatching(/^[A-Za-z0-9:_]{1,8}$/), { minLength: 1, maxLength: 4 })
        .chain((words) => fc.constantFrom('\r\n', '\n').map((end) => b(`${words.join(' ')}${end}`))),
    ),
  )
  .map(([prefix, r]) => concat([...prefix.map(b), r]));

/** A list of messages, their concatenation, and cut points into it. */
const stream = (message: fc.Arbitrary<Uint8Array>) =>
  fc
    .array(message, { minLength: 1, maxLength: 8 })
    .chain((messages) =>
      fc
        .uniqueArray(fc.nat(concat(messages).length), { maxLength: 12 })
        .map((cuts) => ({ messages, cuts: cuts.sort((x, y) => x - y) })),
    );

describe('RESP request framer', () => {
  it('cuts arrays of bulk strings and inline commands, across chunks', () => {
    const f = new RespRequestFramer(1024);
    expect(t(f.push(b('*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*1\r\n$4\r\nPI')))).toEqual([
      '*2\r\n$3\r\nGET\r\n$1\r\nk\r\n',
      'PING\r\n',
    ]);
    expect(f.buffered).toBe(10);
    expect(t(f.push(b('NG\r\nset a "b c"\n')))).toEqual(['*1\r\n$4\r\nPING\r\n', 'set a "b c"\n']);
    expect(f.buffered).toBe(0);
  });

  it('keeps what Redis ignores without a reply (blank lines, *0) with the next request, so each message gets one reply', () => {
    const f = new RespRequestFramer(1024);
    expect(t(f.push(b('\r\n\r\n*0\r\n')))).toEqual([]);
    expect(f.buffered).toBe(8);
    expect(t(f.push(b('PING\r\n')))).toEqual(['\r\n\r\n*0\r\nPING\r\n']);
  });

  it('keeps an incomplete request buffered, whatever is missing', () => {
    for (const partial of ['*', '*2', '*2\r', '*2\r\n$3\r\nGE', '*2\r\n$3\r\nGET\r\n$1\r\nk\r', 'GET k']) {
      const f = new RespRequestFramer(1024);
      expect(f.push(b(partial))).toEqual([]);
      expect(f.buffered).toBe(partial.length);
    }
  });

  it('cutting the stream at any points yields the same requests (property)', () => {
    fc.assert(
      fc.property(stream(request), ({ messages, cuts }) => {
        const got = frame(new RespRequestFramer(1 << 20), concat(messages), cuts);
        expect(t(got)).toEqual(t(messages));
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ['a bad array length', '*x\r\n'],
    ['a header line ending in LF alone', '*1\n$4\r\nPING\r\n'],
    ['an argument that is not a bulk string', '*1\r\n:4\r\n'],
    ['a null bulk string argument', '*1\r\n$-1\r\n'],
    ['a bulk string without its CRLF', '*1\r\n$4\r\nPINGxx'],
    ['a bad bulk length', '*1\r\n$-5\r\n'],
    ['unbalanced quotes in an inline command', 'SET k "v\r\n'],
    ['a multibulk length over 1M', '*1048577\r\n'],
  ])('rejects %s with FramingError, and stays failed', (_, input) => {
    const f = new RespRequestFramer(1 << 30);
    expect(() => f.push(b(input))).toThrow(FramingError);
    expect(() => f.push(b(input))).toThrow(FramingError);
    expect(() => new RespRequestFramer(1 << 30).push(b(input))).not.toThrow(MessageTooLargeError);
  });

  it('refuses an oversize request as soon as its size is known, without buffering it', () => {
    const f = new RespRequestFramer(64);
    expect(() => f.push(b('*1\r\n$100\r\n'))).toThrow(MessageTooLargeError);
    expect(f.buffered).toBeLessThanOrEqual(64);
    expect(() => new RespRequestFramer(64).push(b('*30\r\n'))).toThrow(MessageTooLargeError);
    const inline = new RespRequestFramer(64);
    expect(() => inline.push(b('x'.repeat(65)))).toThrow(MessageTooLargeError);
    // the largest request fits exactly
    const largest = command(b('x'.repeat(53)));
    expect(largest.length).toBe(64);
    expect(new RespRequestFramer(64).push(largest)).toHaveLength(1);
    expect(() => new RespRequestFramer(63).push(largest)).toThrow(MessageTooLargeError);
  });

  it('re-parses a large bulk string only when its bytes are all there', () => {
    const f = new RespRequestFramer(1 << 20);
    const big = command(b('SET'), b('k'), new Uint8Array(100_000).fill(0x61));
    for (let at = 0; at < big.length; at += 1000)
      expect(f.push(big.subarray(at, at + 1000)).length).toBe(at + 1000 >= big.length ? 1 : 0);
  });
});

describe('requestArgs and splitInline', () => {
  it('read the arguments of both request forms, skipping the ignored prefix', () => {
    expect(t(requestArgs(b('*2\r\n$3\r\nGET\r\n$3\r\na b\r\n')))).toEqual(['GET', 'a b']);
    expect(t(requestArgs(b("\r\n*0\r\n  set  k \"a\\x41\\n\" 'it\\'s'\r\n")))).toEqual(['set', 'k', 'aA\n', "it's"]);
    expect(() => requestArgs(b('\r\n'))).toThrow(FramingError);
    expect(() => requestArgs(b('*2\r\n$3\r\nGET\r\n'))).toThrow(FramingError);
  });

  it('split inline commands as Redis does, refusing unbalanced quotes', () => {
    expect(t(splitInline(b('a "b c" d')))).toEqual(['a', 'b c', 'd']);
    expect(t(splitInline(b('  ')))).toEqual([]);
    expect(() => splitInline(b("a 'b"))).toThrow(/unbalanced quotes/);
    expect(() => splitInline(b('a "b"c'))).toThrow(/closing quote/);
  });
});

describe('RESP reply framer', () => {
  it('cuts every RESP2 and RESP3 reply type', () => {
    const replies = [
      '+OK\r\n',
      '-ERR wrong\r\n',
      ':-12\r\n',
      '$5\r\nhe\r\nl\r\n',
      '$-1\r\n',
      '*-1\r\n',
      '*2\r\n$1\r\na\r\n*1\r\n:1\r\n',
      '_\r\n',
      '#t\r\n',
      ',3.14\r\n',
      ',-inf\r\n',
      '(3492890328409238509324850943850943825024385\r\n',
      '!21\r\nSYNTAX invalid syntax\r\n',
      '=15\r\ntxt:Some string\r\n',
      '%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n',
      '~2\r\n+a\r\n+b\r\n',
      '>3\r\n+message\r\n+chan\r\n$2\r\nhi\r\n',
      '|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:2039123\r\n',
      '$?\r\n;4\r\nHell\r\n;1\r\no\r\n;0\r\n',
      '*?\r\n:1\r\n:2\r\n.\r\n',
      '%?\r\n+a\r\n:1\r\n.\r\n',
    ];
    const f = new RespReplyFramer(1024);
    expect(t(f.push(b(replies.join(''))))).toEqual(replies);
    expect(f.buffered).toBe(0);
  });

  it('cutting the stream at any points yields the same replies (property)', () => {
    fc.assert(
      fc.property(stream(reply), ({ messages, cuts }) => {
        const got = frame(new RespReplyFramer(1 << 24), concat(messages), cuts);
        expect(t(got)).toEqual(t(messages));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a truncated reply buffered', () => {
    for (const partial of [
      '+OK',
      '$5\r\nhel',
      '*2\r\n:1\r\n',
      '%1\r\n+a\r\n',
      '|1\r\n+a\r\n+b\r\n',
      '$?\r\n;1\r\na\r\n',
      '*?\r\n:1\r\n',
    ]) {
      const f = new RespReplyFramer(1024);
      expect(f.push(b(partial))).toEqual([]);
      expect(f.buffered).toBe(partial.length);
    }
  });

  it.each([
    ['an unknown type byte', '?what\r\n'],
    ['a bad integer', ':12a\r\n'],
    ['a bad boolean', '#x\r\n'],
    ['a bad double', ',1.2.3\r\n'],
    ['a bad big number', '(12x\r\n'],
    ['a null with content', '_x\r\n'],
    ['a bulk string without its CRLF', '$2\r\nabcd'],
    ['a negative aggregate length', '*-2\r\n'],
    ['a line ending in LF alone', '+OK\n'],
    ['a verbatim string without its format', '=3\r\nabc\r\n'],
    ['a streamed string chunk without ";"', '$?\r\n4\r\n'],
  ])('rejects %s with FramingError', (_, input) => {
    expect(() => new RespReplyFramer(1024).push(b(input))).toThrow(FramingError);
  });

  it('rejects nesting deeper than MAX_NESTING instead of overflowing the stack', () => {
    expect(() => new RespReplyFramer(1 << 20).push(b('*1\r\n'.repeat(200)))).toThrow(/nested deeper/);
  });

  it('refuses an oversize reply as soon as its size is known', () => {
    expect(() => new RespReplyFramer(100).push(b('$200\r\n'))).toThrow(MessageTooLargeError);
    expect(() => new RespReplyFramer(100).push(b('*50\r\n'))).toThrow(MessageTooLargeError);
    expect(() => new RespReplyFramer(10).push(b('+01234567890'))).toThrow(MessageTooLargeError);
    expect(new RespReplyFramer(10).push(b('+0123456\r\n'))).toHaveLength(1);
  });
});
