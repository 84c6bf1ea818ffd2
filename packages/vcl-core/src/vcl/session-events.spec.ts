import { MalformedFrameError, UnsupportedVersionError } from '../errors';
import {
  decodeClientFrame,
  decodeMemberFrame,
  encodeClientFrame,
  encodeMemberFrame,
  type ClientFrame,
  type MemberFrame,
} from './link-frames';
import { decodeSessionEvent, encodeSessionEvent, type SessionEvent } from './session-events';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('session event codec', () => {
  const events: SessionEvent[] = [
    { type: 'open', session: 's1', origin: 'n1', attempt: 3, principal: 'alice' },
    { type: 'open', session: 's2', origin: 'n1', attempt: 4, principal: 'alice', substrate: 'ops-cli' },
    { type: 'attach', session: 's1', origin: 'n2', attempt: 9 },
    { type: 'data', session: 's1', inSeq: 2 ** 40 + 7, ackOutSeq: 5, bytes: bytes('inc 1\n') },
    { type: 'ack', session: 's1', outSeq: 12 },
    { type: 'deny', session: 's1', inSeq: 4, reason: 'no' },
    { type: 'close', session: 's1', reason: 'expired', ifLastEvent: 77 },
  ];

  it.each(events.map((e) => [`${e.type}${'substrate' in e ? ' with a substrate' : ''}`, e] as const))(
    'round-trips %s',
    (_type, event) => {
      expect(decodeSessionEvent(encodeSessionEvent(event))).toEqual(event);
    },
  );

  it('names what is wrong in a bad payload', () => {
    const good = encodeSessionEvent(events.find((e) => e.type === 'data')!);
    expect(() => decodeSessionEvent(good.subarray(0, good.length - 2))).toThrow(/too short reading bytes/);
    expect(() => decodeSessionEvent(new Uint8Array([0x00, 1, 0]))).toThrow(/bad magic/);
    expect(() => decodeSessionEvent(new Uint8Array([0x56, 9, 0]))).toThrow(UnsupportedVersionError);
    expect(() => decodeSessionEvent(new Uint8Array([0x56, 1, 42]))).toThrow(/unknown type 42/);
    const trailing = new Uint8Array(good.length + 1);
    trailing.set(good);
    expect(() => decodeSessionEvent(trailing)).toThrow(/trailing/);
    expect(() => decodeSessionEvent(new Uint8Array(0))).toThrow(MalformedFrameError);
  });
});

describe('link frame codec', () => {
  const client: ClientFrame[] = [
    { type: 'open', session: 'abc', credentials: bytes('k'), lastOutSeq: 0, lastInSeq: 0 },
    { type: 'hello', session: 'abc', credentials: new Uint8Array(), lastOutSeq: 10, lastInSeq: 12 },
    { type: 'open', session: 'abd', credentials: bytes('k'), lastOutSeq: 0, lastInSeq: 0, substrate: 'cli' },
    { type: 'hello', session: 'abd', credentials: bytes('k'), lastOutSeq: 1, lastInSeq: 2, substrate: 'cli' },
    { type: 'data', inSeq: 13, ackOutSeq: 10, bytes: bytes('x\n') },
    { type: 'ack', outSeq: 11 },
    { type: 'close' },
    { type: 'ping' },
  ];
  const member: MemberFrame[] = [
    { type: 'welcome', lastInSeq: 12, view: 3, members: [{ id: 'n1', host: '127.0.0.1', port: 7001 }] },
    { type: 'ordered', inSeq: 13 },
    { type: 'output', from: 10, bytes: bytes('13 4\n') },
    { type: 'end', outSeq: 11 },
    { type: 'members', view: 4, members: [] },
    { type: 'error', code: 'VCL_UNKNOWN_SESSION', message: 'session abc is not known', fatal: true },
    { type: 'closed' },
    { type: 'ping' },
  ];

  it.each(client.map((f) => [`${f.type}${'substrate' in f ? ' with a substrate' : ''}`, f] as const))(
    'round-trips client frame %s',
    (_t, f) => {
      expect(decodeClientFrame(encodeClientFrame(f))).toEqual(f);
    },
  );

  it.each(member.map((f) => [f.type, f] as const))('round-trips member frame %s', (_t, f) => {
    expect(decodeMemberFrame(encodeMemberFrame(f))).toEqual(f);
  });

  it('refuses bad frames with a typed error naming the problem', () => {
    const frame = (type: number, body: Uint8Array) => ({ type, flags: 0, body });
    expect(() => decodeClientFrame(frame(0x99, new Uint8Array()))).toThrow(/unknown type 0x99/);
    expect(() => decodeMemberFrame(frame(0x20, new Uint8Array()))).toThrow(MalformedFrameError);
    expect(() =>
      decodeClientFrame(
        encodeClientFrame({ type: 'open', session: '', credentials: new Uint8Array(), lastInSeq: 0, lastOutSeq: 0 }),
      ),
    ).toThrow(/session must be 1-256 characters/);
    expect(() => decodeMemberFrame(frame(0x31, new Uint8Array()))).toThrow(/inSeq/);
    const data = encodeClientFrame({ type: 'data', inSeq: 1, ackOutSeq: 0, bytes: bytes('x') });
    expect(() => decodeClientFrame(frame(data.type, data.body.subarray(0, data.body.length - 1)))).toThrow(/bytes/);
    expect(() => decodeClientFrame(frame(data.type, new Uint8Array([...data.body, 0])))).toThrow(/trailing/);
  });

  it('an OPEN without the substrate field (an older client) decodes without one; a bad substrate field is refused', () => {
    const open = { type: 'open', session: 'abc', credentials: new Uint8Array(), lastOutSeq: 0, lastInSeq: 0 } as const;
    const old = encodeClientFrame(open);
    expect(decodeClientFrame(old)).toEqual(open);
    expect(decodeClientFrame(old)).not.toHaveProperty('substrate');
    const withEmpty = { ...old, body: new Uint8Array([...old.body, 0]) };
    expect(() => decodeClientFrame(withEmpty)).toThrow(/substrate must be 1-256 characters/);
    const long = encodeClientFrame({ ...open, substrate: 'x'.repeat(300) });
    expect(() => decodeClientFrame(long)).toThrow(MalformedFrameError);
  });
});
