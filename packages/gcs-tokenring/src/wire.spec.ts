import { MalformedFrameError } from '@vcl/core';
import fc from 'fast-check';
import { Kind, WIRE_VERSION, decode, encode, type CommitMsg, type TokenMsg, type WireMsg } from './wire';

const ring = { ballot: 3 * 1024 + 1, repInc: 1_700_000_000_123 };

const samples: WireMsg[] = [
  {
    kind: Kind.Join,
    inc: 2,
    promised: 5 * 1024,
    gather: 7,
    proc: [
      { index: 0, inc: 1 },
      { index: 2, inc: 3 },
    ],
    fail: [1],
  },
  {
    kind: Kind.Commit,
    ring,
    members: [
      { index: 0, inc: 1 },
      { index: 1, inc: 1 },
    ],
    rotation: 2,
    hop: 3,
    infos: [
      {
        index: 0,
        inc: 1,
        view: { id: 4, ballot: 2048, cut: 10 },
        delivered: 12,
        accepted: { ballot: 3072, base: { id: 4, ballot: 2048, cut: 10 }, end: 15, nextId: 5 },
        holdings: [
          {
            tag: 2048,
            ranges: [
              [11, 15],
              [18, 18],
            ],
          },
          { tag: 3072, ranges: [] },
        ],
      },
      { index: 1, inc: 1, delivered: 0, holdings: [] },
    ],
    plan: { primary: true, base: { id: 4, ballot: 2048, cut: 10 }, lo: 12, end: 15, nextId: 5 },
  },
  {
    kind: Kind.Token,
    ring,
    tokenSeq: 99,
    phase: 1,
    seq: 40,
    arus: [40, 38, 39],
    dlv: [38, 38, 37],
    ready: [true, true, false],
    rtr: [39, 40],
    sent: [3, 0, 17],
    backlog: [0, 5, 1],
    hurry: 2,
  },
  { kind: Kind.Ack, ring, commit: true, seq: 4 },
  { kind: Kind.Data, tag: 2048, seq: 41, sender: 2, senderInc: 3, fifo: 9, payload: new Uint8Array([1, 2, 3]) },
  { kind: Kind.Want, ring },
  { kind: Kind.Probe, ring },
  { kind: Kind.State, ring, chunk: 1, total: 3, bytes: new Uint8Array(40).fill(7) },
  { kind: Kind.StateAck, ring, got: 2 },
];

describe('wire', () => {
  it.each(samples.map((m) => [Kind[m.kind], m] as const))('round-trips %s', (_name, msg) => {
    expect(decode(encode(msg), 3)).toEqual(msg);
  });

  it('round-trips arbitrary tokens and data messages', () => {
    const nat = fc.maxSafeNat();
    const token = fc.integer({ min: 1, max: 8 }).chain((n) =>
      fc.record({
        kind: fc.constant(Kind.Token as const),
        ring: fc.record({ ballot: nat, repInc: nat }),
        tokenSeq: nat,
        phase: fc.integer({ min: 0, max: 1 }),
        seq: nat,
        arus: fc.array(nat, { minLength: n, maxLength: n }),
        dlv: fc.array(nat, { minLength: n, maxLength: n }),
        ready: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
        rtr: fc.array(nat, { maxLength: 300 }),
        sent: fc.array(nat, { minLength: n, maxLength: n }),
        backlog: fc.array(nat, { minLength: n, maxLength: n }),
        hurry: nat,
      }),
    );
    fc.assert(fc.property(token, (t: TokenMsg) => expect(decode(encode(t), 8)).toEqual(t)));
    const data = fc.record({
      kind: fc.constant(Kind.Data as const),
      tag: nat,
      seq: nat,
      sender: fc.integer({ min: 0, max: 7 }),
      senderInc: nat,
      fifo: nat,
      payload: fc.uint8Array({ maxLength: 500 }),
    });
    fc.assert(fc.property(data, (d) => expect(decode(encode(d), 8)).toEqual(d)));
  });

  it('rejects every truncation of every message with MalformedFrameError', () => {
    for (const msg of samples) {
      const bytes = encode(msg);
      for (let len = 0; len < bytes.length; len++)
        expect(() => decode(bytes.subarray(0, len), 3)).toThrow(MalformedFrameError);
    }
  });

  it('names a bad version, an unknown kind, trailing bytes and out-of-range members', () => {
    const data = encode(samples[4]!);
    expect(() => decode(Uint8Array.from([9, ...data.subarray(1)]), 3)).toThrow('unknown version 9');
    expect(() => decode(Uint8Array.from([WIRE_VERSION, 77]), 3)).toThrow('unknown kind 77');
    expect(() => decode(Uint8Array.from([...data, 0]), 3)).toThrow(/trailing/);
    expect(() => decode(data, 2)).toThrow('member index 2 of a group of 2');
    const commit = samples[1] as CommitMsg;
    expect(() => decode(encode({ ...commit, rotation: 3 }), 3)).toThrow('rotation 3');
    const join = encode(samples[0]!);
    expect(() => decode(join, 2)).toThrow(MalformedFrameError);
  });

  it('never throws anything but MalformedFrameError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decode(bytes, 5);
        } catch (err) {
          expect(err).toBeInstanceOf(MalformedFrameError);
        }
      }),
    );
  });
});
