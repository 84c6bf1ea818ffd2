import fc from 'fast-check';
import { SessionTable } from './session-table';
import type { SessionEvent } from './session-events';

const data = (session: string, inSeq: number, ackOutSeq = 0): SessionEvent => ({
  type: 'data',
  session,
  inSeq,
  ackOutSeq,
  bytes: new TextEncoder().encode(`r${inSeq}\n`),
});

describe('SessionTable', () => {
  it('applies the first ordered copy of each request and drops duplicates and gaps', () => {
    const t = new SessionTable();
    expect(t.apply({ type: 'open', session: 's', origin: 'n1', attempt: 1, principal: 'p' }, 1).kind).toBe('opened');
    expect(t.apply(data('s', 1), 2).kind).toBe('request');
    expect(t.apply(data('s', 1), 3)).toMatchObject({ kind: 'dropped', why: 'duplicate' });
    expect(t.apply(data('s', 3), 4)).toMatchObject({ kind: 'dropped', why: 'gap' });
    expect(t.apply(data('s', 2), 5)).toMatchObject({ kind: 'request', inSeq: 2 });
    expect(t.get('s')!.lastInSeq).toBe(2);
  });

  it('moves acks forward only, piggybacked or not', () => {
    const t = new SessionTable();
    t.apply({ type: 'open', session: 's', origin: 'n1', attempt: 1, principal: 'p' }, 1);
    expect(t.apply(data('s', 1, 0), 2)).not.toHaveProperty('ack');
    expect(t.apply({ type: 'ack', session: 's', outSeq: 5 }, 3)).toMatchObject({ kind: 'acked', outSeq: 5 });
    expect(t.apply({ type: 'ack', session: 's', outSeq: 4 }, 4).kind).toBe('ignored');
    expect(t.apply(data('s', 1, 7), 5)).toMatchObject({ kind: 'dropped', ack: 7 });
    expect(t.get('s')!.ackedOut).toBe(7);
  });

  it('attaches on OPEN of an existing session and refuses ATTACH of unknown or closed ones', () => {
    const t = new SessionTable();
    t.apply({ type: 'open', session: 's', origin: 'n1', attempt: 1, principal: 'p' }, 1);
    expect(t.apply({ type: 'open', session: 's', origin: 'n2', attempt: 1, principal: 'p' }, 2)).toMatchObject({
      kind: 'attached',
      previous: 'n1',
    });
    expect(t.apply({ type: 'attach', session: 'x', origin: 'n2', attempt: 2 }, 3)).toMatchObject({
      kind: 'refused',
      why: 'unknown',
    });
    expect(t.apply({ type: 'close', session: 's', reason: 'client', ifLastEvent: 0 }, 4).kind).toBe('closed');
    expect(t.apply({ type: 'attach', session: 's', origin: 'n3', attempt: 1 }, 5)).toMatchObject({
      kind: 'refused',
      why: 'expired',
    });
    expect(t.apply({ type: 'open', session: 's', origin: 'n3', attempt: 2, principal: 'p' }, 6)).toMatchObject({
      kind: 'refused',
      why: 'expired',
    });
    expect(t.apply(data('s', 1), 7).kind).toBe('ignored');
    expect(t.size).toBe(0);
  });

  it('applies a conditional close only if the session stayed idle', () => {
    const t = new SessionTable();
    t.apply({ type: 'open', session: 's', origin: 'n1', attempt: 1, principal: 'p' }, 1);
    t.apply({ type: 'attach', session: 's', origin: 'n2', attempt: 1 }, 2);
    expect(t.apply({ type: 'close', session: 's', reason: 'expired', ifLastEvent: 1 }, 3).kind).toBe('ignored');
    expect(t.apply({ type: 'close', session: 's', reason: 'expired', ifLastEvent: 2 }, 4)).toMatchObject({
      kind: 'closed',
      reason: 'expired',
    });
  });

  it('forgets the oldest closed ids beyond its memory', () => {
    const t = new SessionTable({ closedMemory: 2 });
    for (const [i, s] of ['a', 'b', 'c'].entries()) {
      t.apply({ type: 'open', session: s, origin: 'n1', attempt: 1, principal: 'p' }, 2 * i + 1);
      t.apply({ type: 'close', session: s, reason: 'client', ifLastEvent: 0 }, 2 * i + 2);
    }
    expect([t.wasClosed('a'), t.wasClosed('b'), t.wasClosed('c')]).toEqual([false, true, true]);
  });

  it('makes identical decisions at every member for the same ordered stream (property)', () => {
    // Several client copies of the same requests (resends through different members) interleave
    // arbitrarily in the total order; every member must apply exactly requests 1..n once, in order.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(fc.nat(), { maxLength: 80 }), (n, picks) => {
        const copies = [1, 2, 3].map((c) => Array.from({ length: n }, (_, i) => i + 1).slice(c - 1 > 0 ? c - 1 : 0));
        const order: SessionEvent[] = [{ type: 'open', session: 's', origin: 'n1', attempt: 1, principal: 'p' }];
        const cursors = copies.map(() => 0);
        for (const p of picks) {
          const c = p % copies.length;
          if (cursors[c]! < copies[c]!.length) order.push(data('s', copies[c]![cursors[c]!++]!));
        }
        for (const [c, list] of copies.entries())
          while (cursors[c]! < list.length) order.push(data('s', list[cursors[c]!++]!));
        const tables = [new SessionTable(), new SessionTable(), new SessionTable()];
        const applied = tables.map((t) =>
          order
            .map((e, i) => t.apply(e, i + 1))
            .filter((a) => a.kind === 'request')
            .map((a) => (a.kind === 'request' ? a.inSeq : 0)),
        );
        expect(applied[1]).toEqual(applied[0]);
        expect(applied[2]).toEqual(applied[0]);
        expect(applied[0]).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      }),
    );
  });

  it('counts the requests applied over all sessions: not duplicates, gaps, denials or requests of unknown sessions', () => {
    const t = new SessionTable();
    t.apply({ type: 'open', session: 'a', origin: 'n1', attempt: 1, principal: 'p' }, 1);
    t.apply({ type: 'open', session: 'b', origin: 'n1', attempt: 2, principal: 'p' }, 2);
    t.apply(data('a', 1), 3);
    t.apply(data('a', 1), 4);
    t.apply(data('a', 3), 5);
    t.apply(data('b', 1), 6);
    t.apply({ type: 'deny', session: 'b', inSeq: 2, reason: 'no' }, 7);
    t.apply(data('zz', 1), 8);
    t.apply(data('b', 3), 9);
    expect(t.requestsApplied).toBe(3);
    const copy = new SessionTable();
    copy.restoreState(t.exportState());
    copy.apply(data('a', 2), 10);
    expect(copy.requestsApplied).toBe(4);
  });
});
