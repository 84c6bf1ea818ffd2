import fc from 'fast-check';
import { RecoveryStateError } from '../../errors';
import { BodyWriter } from '../../link/body';
import { encodeSessionEvent } from '../session-events';
import { SessionTable } from '../session-table';
import {
  decodeLogRecords,
  decodeRecoveryState,
  encodeLogRecord,
  encodeRecoveryState,
  type RecoveryState,
} from './recovery-state';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

function sample(): RecoveryState {
  const t = new SessionTable();
  t.apply({ type: 'open', session: 'a', origin: 'n1', attempt: 1, principal: 'alice' }, 1);
  t.apply({ type: 'open', session: 'b', origin: 'n2', attempt: 4, principal: 'bob' }, 2);
  t.apply({ type: 'data', session: 'a', inSeq: 1, ackOutSeq: 0, bytes: bytes('x\n') }, 3);
  t.apply({ type: 'open', session: 'c', origin: 'n3', attempt: 1, principal: 'carol' }, 4);
  t.apply({ type: 'close', session: 'c', reason: 'expired', ifLastEvent: 0 }, 5);
  t.apply({ type: 'ack', session: 'a', outSeq: 1 }, 6);
  return {
    mode: 'snapshot',
    cut: 6,
    base: 6,
    table: t.exportState(),
    caches: [
      {
        session: 'a',
        produced: 3,
        acked: 1,
        chunks: [
          { from: 1, to: 2, bytes: bytes('r1\n') },
          { from: 2, to: 3, bytes: bytes('r2\n') },
        ],
      },
      { session: 'b', produced: 0, acked: 0, endedAt: 0, chunks: [] },
    ],
    service: bytes('{"total":3}'),
    log: [],
  };
}

describe('recovery state', () => {
  it('round-trips a snapshot-mode state: table, caches, service bytes', () => {
    const s = sample();
    const back = decodeRecoveryState(encodeRecoveryState(s));
    expect(back).toEqual(s);
    const t = new SessionTable();
    t.restoreState(back.table);
    expect(t.list().map((r) => r.id)).toEqual(['a', 'b']);
    expect(t.wasClosed('c')).toBe(true);
    expect(t.get('a')).toMatchObject({ lastInSeq: 1, ackedOut: 1, lastEventAt: 6 });
  });

  it('carries the half-close and substrate of a session and an overflow close (version 3)', () => {
    const t = new SessionTable();
    t.apply({ type: 'open', session: 'a', origin: 'n1', attempt: 1, principal: 'p', substrate: 'raw' }, 1);
    t.apply({ type: 'data', session: 'a', inSeq: 1, ackOutSeq: 0, bytes: bytes('x') }, 2);
    t.apply({ type: 'shutdown', session: 'a', inSeq: 1 }, 3);
    t.apply({ type: 'open', session: 'b', origin: 'n1', attempt: 2, principal: 'p' }, 4);
    t.apply({ type: 'close', session: 'b', reason: 'overflow', ifLastEvent: 0, ifAcked: 0 }, 5);
    const s: RecoveryState = { mode: 'snapshot', cut: 5, base: 5, table: t.exportState(), caches: [], log: [] };
    const back = decodeRecoveryState(encodeRecoveryState(s));
    expect(back.table.sessions[0]).toMatchObject({ id: 'a', substrate: 'raw', inputEnded: true });
    expect(back.table.closed).toEqual([['b', 'overflow']]);
    expect(back).toEqual(s);
  });

  it('round-trips a replay-mode state whose log is the raw on-disk records', () => {
    const log = [1, 2, 3].map((seq) => ({
      seq,
      payload: encodeSessionEvent({ type: 'ack', session: 's', outSeq: seq }),
    }));
    const raw = new Uint8Array(Buffer.concat(log.map((e) => encodeLogRecord(e))));
    const state: RecoveryState = {
      mode: 'replay',
      cut: 3,
      base: 0,
      table: { sessions: [], closed: [] },
      caches: [],
      log: [],
    };
    const back = decodeRecoveryState(encodeRecoveryState(state, raw));
    expect(back.log).toEqual(log);
    expect(decodeLogRecords(raw)).toEqual(log);
  });

  it('round-trips arbitrary logs and caches (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 10 }), { maxLength: 5 }),
        (payloads, chunks) => {
          const cut = payloads.length;
          let at = 0;
          const state: RecoveryState = {
            mode: 'replay',
            cut,
            base: 0,
            table: { sessions: [], closed: [], requests: 0 },
            caches: [],
            log: payloads.map((payload, i) => ({ seq: i + 1, payload })),
          };
          expect(decodeRecoveryState(encodeRecoveryState(state))).toEqual(state);
          const withCache: RecoveryState = {
            ...sample(),
            caches: [
              {
                session: 'a',
                produced: chunks.reduce((n, c) => n + c.length, 0),
                acked: 0,
                chunks: chunks.map((c) => ({ from: at, to: (at += c.length), bytes: c })),
              },
            ],
          };
          expect(decodeRecoveryState(encodeRecoveryState(withCache))).toEqual(withCache);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('carries the request count of the table (where state digests fall), also in a replay state at base 0', () => {
    const s = sample();
    expect(s.table.requests).toBe(1);
    const back = decodeRecoveryState(encodeRecoveryState({ ...s, table: { ...s.table, requests: 123_456 } }));
    expect(back.table.requests).toBe(123_456);
    const t = new SessionTable();
    t.restoreState(back.table);
    expect(t.requestsApplied).toBe(123_456);
    expect(t.exportState().requests).toBe(123_456);
    // A table built without the field (the initial table of a replay state) is at 0 requests.
    const replay = encodeRecoveryState({
      ...s,
      mode: 'replay',
      base: 0,
      table: { sessions: [], closed: [] },
      caches: [],
      log: [],
    });
    expect(decodeRecoveryState(replay).table.requests).toBe(0);
  });

  it('still decodes a version-1 state (no request count): unknown count, except for the initial table at base 0', () => {
    const s = sample();
    const v1 = decodeRecoveryState(encodeV1(s));
    const { requests: _r, ...table } = s.table;
    expect(v1).toEqual({ ...s, table });
    expect(v1.table.requests).toBeUndefined();
    const initial = decodeRecoveryState(
      encodeV1({ mode: 'replay', cut: 0, base: 0, table: { sessions: [], closed: [] }, caches: [], log: [] }),
    );
    expect(initial.table).toEqual({ sessions: [], closed: [], requests: 0 });
  });

  it('refuses malformed input with a RecoveryStateError naming what is wrong', () => {
    const good = encodeRecoveryState(sample());
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(0), /magic/],
      [Uint8Array.of(0x00, 1), /bad magic 0x0/],
      [Uint8Array.of(0x52, 9), /version 9, this build reads 1 to 3/],
      [Uint8Array.of(0x52, 1, 7), /unknown mode 7/],
      [good.subarray(0, good.length - 5), /recovery state/],
      [Uint8Array.from([...good, 0]), /trailing/],
      [encodeRecoveryState({ ...sample(), base: 7 }), /base 7 is after the cut 6/],
      [
        encodeRecoveryState({ ...sample(), caches: [{ session: 'zz', produced: 0, acked: 0, chunks: [] }] }),
        /zz, which is not open/,
      ],
      [
        encodeRecoveryState({
          ...sample(),
          caches: [{ session: 'a', produced: 1, acked: 0, chunks: [{ from: 0, to: 2, bytes: bytes('x') }] }],
        }),
        /chunk 0..2 out of order/,
      ],
      [
        encodeRecoveryState({
          mode: 'replay',
          cut: 2,
          base: 0,
          table: { sessions: [], closed: [] },
          caches: [],
          log: [{ seq: 3, payload: bytes('p') }],
        }),
        /log event 3 outside 1..2/,
      ],
      [
        encodeRecoveryState({
          ...sample(),
          mode: 'replay',
          base: 2,
          table: { sessions: [], closed: [] },
          caches: [],
          log: [{ seq: 2, payload: bytes('p') }],
        }),
        /log event 2 outside 3..6/,
      ],
    ];
    for (const [input, message] of cases) {
      let thrown: unknown;
      try {
        decodeRecoveryState(input);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(RecoveryStateError);
      expect((thrown as Error).message).toMatch(message);
    }
  });

  it('never throws anything but RecoveryStateError on corrupted bytes (fuzzed)', () => {
    const good = encodeRecoveryState(sample());
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const bad = good.slice();
        bad[at]! ^= xor;
        try {
          decodeRecoveryState(bad);
        } catch (error) {
          expect(error).toBeInstanceOf(RecoveryStateError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a torn replay log (a record cut short) and events out of order', () => {
    const rec = encodeLogRecord({ seq: 5, payload: bytes('hello') });
    expect(() => decodeLogRecords(rec.subarray(0, rec.length - 1))).toThrow(RecoveryStateError);
    const twice = new Uint8Array(Buffer.concat([rec, rec]));
    expect(() => decodeLogRecords(twice)).toThrow(/event 5 after event 5/);
  });
});

/** The version-1 encoding (before the request count), as an older donor sends it. */
function encodeV1(state: RecoveryState): Uint8Array {
  const w = new BodyWriter(1024);
  const modes = ['none', 'replay', 'snapshot'];
  const reasons = ['client', 'expired', 'denied', 'error'];
  w.u8(0x52).u8(1).u8(modes.indexOf(state.mode)).varint(state.cut).varint(state.base);
  w.varint(state.table.sessions.length);
  for (const x of state.table.sessions)
    w.string(x.id)
      .string(x.principal)
      .string(x.attached)
      .varint(x.lastInSeq)
      .varint(x.ackedOut)
      .varint(x.openedAt)
      .varint(x.lastEventAt);
  w.varint(state.table.closed.length);
  for (const [sid, reason] of state.table.closed) w.string(sid).u8(reasons.indexOf(reason));
  w.varint(state.caches.length);
  for (const c of state.caches) {
    w.string(c.session)
      .varint(c.produced)
      .varint(c.acked)
      .varint(c.endedAt === undefined ? 0 : c.endedAt + 1);
    w.varint(c.chunks.length);
    for (const k of c.chunks) w.varint(k.from).varint(k.to).bytes(k.bytes);
  }
  w.bool(state.service !== undefined);
  if (state.service) w.bytes(state.service);
  w.bytes(new Uint8Array(Buffer.concat(state.log.map((e) => encodeLogRecord(e)))));
  return w.finish();
}
