import { MalformedFrameError, UnsupportedVersionError } from '@vcl/core';
import fc from 'fast-check';
import {
  WIRE_VERSION,
  compareBallots,
  decodeFrame,
  decodeSnapshot,
  encodeFrame,
  encodeRecord,
  encodeSnapshot,
  type Proposal,
  type WireRecord,
} from './messages';

const N = 5;
const ballot = { round: 7, rank: 2 };
const entry = { origin: 1, inc: 1700000000123, originSeq: 42, payload: new Uint8Array([1, 2, 3]) };
const proposal: Proposal = {
  viewId: 4,
  tag: ballot,
  baseId: 3,
  baseTag: { round: 5, rank: 0 },
  cut: 1234,
  members: [
    { rank: 0, inc: 3 },
    { rank: 2, inc: 1 },
    { rank: 4, inc: 9 },
  ],
  joiners: [4],
  provider: 0,
  primary: true,
};

const samples: WireRecord[] = [
  { kind: 'hb', viewId: 3, status: 2, probe: true, round: 12 },
  { kind: 'submit', viewId: 3, firstOriginSeq: 10, payloads: [new Uint8Array([9]), new Uint8Array(0)] },
  { kind: 'submitAck', viewId: 3, inc: 2, accepted: 11 },
  { kind: 'order', viewId: 3, firstSeq: 100, stable: 98, gc: 90, entries: [entry, { ...entry, originSeq: 43 }] },
  { kind: 'ack', viewId: 3, received: 101, delivered: 99 },
  { kind: 'stable', viewId: 3, high: 101, stable: 99, gc: 95 },
  { kind: 'nak', viewId: 3, from: 5, to: 9 },
  { kind: 'prepare', ballot },
  {
    kind: 'promise',
    ballot,
    report: {
      installed: { ...proposal, viewId: 3, baseId: 1 },
      hasState: true,
      delivered: 9,
      received: 12,
      stableKnown: 10,
      acked: 11,
      entries: [{ seq: 11, ...entry }],
      accepted: [{ ballot, proposal, prefix: [{ seq: 1234, ...entry }] }],
    },
  },
  {
    kind: 'promise',
    ballot,
    report: {
      hasState: false,
      delivered: 0,
      received: 0,
      stableKnown: 0,
      acked: 0,
      entries: [],
      accepted: [],
    },
  },
  { kind: 'reject', ballot, promised: { round: 9, rank: 1 } },
  { kind: 'accept', ballot, toInc: 3, proposal, prefix: [{ seq: 1234, ...entry }] },
  { kind: 'accepted', ballot },
  { kind: 'commit', proposal: { ...proposal, joiners: [], provider: -1 }, ballot: { round: 11, rank: 4 } },
  { kind: 'change', viewId: 3 },
  { kind: 'stateReq', viewId: 4, offset: 262144 },
  { kind: 'stateChunk', viewId: 4, total: 10, offset: 5, data: new Uint8Array([1, 2, 3, 4, 5]) },
];

describe('sequencer wire format', () => {
  it('round-trips every record type, several per frame', () => {
    const frame = encodeFrame(1700000000999, samples.map(encodeRecord));
    const decoded = decodeFrame(frame, N);
    expect(decoded.inc).toBe(1700000000999);
    expect(decoded.records).toEqual(samples);
  });

  it('keeps a heartbeat frame small', () => {
    expect(encodeFrame(3, [encodeRecord(samples[0]!)]).length).toBeLessThanOrEqual(8);
  });

  it('rejects a foreign version with UnsupportedVersionError', () => {
    const frame = encodeFrame(1, [encodeRecord(samples[0]!)]);
    frame[0] = WIRE_VERSION + 1;
    expect(() => decodeFrame(frame, N)).toThrow(UnsupportedVersionError);
  });

  it('rejects unknown records, bad ranks, bad fields and truncation with MalformedFrameError', () => {
    expect(() => decodeFrame(new Uint8Array([WIRE_VERSION, 1, 99, 0]), N)).toThrow('unknown sequencer record type 99');
    const order = encodeFrame(1, [encodeRecord(samples[3]!)]);
    expect(() => decodeFrame(order, 1)).toThrow('origin rank 1 out of range (max 0)');
    const hb = encodeRecord(samples[0]!);
    expect(() => decodeFrame(encodeFrame(1, [hb, new Uint8Array([1])]), N)).toThrow('body too short reading view');
    const bad = hb.slice();
    bad[bad.length - 2] = 7;
    expect(() => decodeFrame(encodeFrame(1, [bad]), N)).toThrow('probe (bool) at offset');
    const commit = encodeFrame(1, [encodeRecord(samples[13]!)]);
    expect(() => decodeFrame(commit.subarray(0, commit.length - 2), N)).toThrow(MalformedFrameError);
  });

  it('never throws anything but a MalformedFrameError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeFrame(new Uint8Array([WIRE_VERSION, 1, ...bytes]), N);
        } catch (err) {
          expect(err).toBeInstanceOf(MalformedFrameError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips a state snapshot (de-duplication table + application bytes)', () => {
    const table = new Map([
      [0, { inc: 3, originSeq: 7, recent: [[3, 7, 2, 100] as const] }],
      [4, { inc: 1, originSeq: 0, recent: [] }],
    ]);
    const app = new Uint8Array([5, 6, 7]);
    const back = decodeSnapshot(encodeSnapshot(table, app), N);
    expect(back.app).toEqual(app);
    expect([...back.table]).toEqual([
      [0, { inc: 3, originSeq: 7, recent: [[3, 7, 2, 100]] }],
      [4, { inc: 1, originSeq: 0, recent: [] }],
    ]);
    expect(() => decodeSnapshot(new Uint8Array([1, 9]), N)).toThrow('origin rank 9 out of range');
  });

  it('orders ballots by round, then rank', () => {
    expect(compareBallots({ round: 2, rank: 0 }, { round: 1, rank: 4 })).toBeGreaterThan(0);
    expect(compareBallots({ round: 2, rank: 1 }, { round: 2, rank: 3 })).toBeLessThan(0);
    expect(compareBallots(ballot, { ...ballot })).toBe(0);
  });
});
