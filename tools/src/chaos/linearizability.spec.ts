import { checkRegister, firstViolation, type RegisterOp } from './linearizability';

const w = (value: string, call: number, ret?: number): RegisterOp => ({
  kind: 'w',
  value,
  call,
  ...(ret !== undefined ? { ret } : {}),
});
const r = (value: string, call: number, ret?: number): RegisterOp => ({
  kind: 'r',
  value,
  call,
  ...(ret !== undefined ? { ret } : {}),
});

describe('checkRegister (WGL for a read/write register)', () => {
  it.each<[string, RegisterOp[]]>([
    ['empty history', []],
    ['sequential write then read', [w('1', 0, 1), r('1', 2, 3)]],
    ['read of the initial value before any write', [r('0', 0, 1), w('1', 2, 3), r('1', 4, 5)]],
    ['a read concurrent with a write may see either value', [w('1', 0, 10), r('0', 1, 2), r('1', 3, 4)]],
    ['two concurrent writes, reads agree on one order', [w('a', 0, 10), w('b', 1, 11), r('a', 12, 13), r('a', 14, 15)]],
    [
      'the order of overlapping writes is decided by later reads, not by call times',
      [w('a', 0, 10), w('b', 1, 11), r('b', 2, 3), r('a', 12, 13)],
    ],
    ['a write that never returned may have happened', [w('1', 0, 1), w('2', 2), r('2', 5, 6)]],
    ['a write that never returned may not have happened', [w('1', 0, 1), w('2', 2), r('1', 5, 6)]],
    ['a read that never returned is ignored', [w('1', 0, 1), r('7', 2)]],
    ['touching intervals count as concurrent', [w('1', 0, 5), r('0', 5, 6)]],
  ])('linearizable: %s', (_, ops) => {
    expect(checkRegister(ops, '0').verdict).toBe('yes');
  });

  it.each<[string, RegisterOp[]]>([
    ['a read returns a value never written', [w('1', 0, 1), r('9', 2, 3)]],
    ['a stale read after a completed write', [w('1', 0, 1), r('0', 2, 3)]],
    ['a read sees a write invoked only after the read returned', [r('1', 0, 1), w('1', 2, 3)]],
    [
      'new-old inversion: once a read saw the new value, a later read sees the old one',
      [w('1', 0, 10), r('1', 1, 2), r('0', 3, 4)],
    ],
    [
      'two sequential reads disagree on the order of two concurrent writes',
      [w('a', 0, 10), w('b', 0, 10), r('a', 11, 12), r('b', 13, 14), r('a', 15, 16)],
    ],
    ['a pending write cannot explain a read that returned before it was invoked', [r('2', 0, 1), w('2', 2)]],
    [
      'lost write: a later read returns the value overwritten before it',
      [w('1', 0, 1), w('2', 2, 3), r('2', 4, 5), r('1', 6, 7)],
    ],
  ])('not linearizable: %s', (_, ops) => {
    expect(checkRegister(ops, '0').verdict).toBe('no');
  });

  it('a long history of three clients with overlapping operations and unique writes checks in time', () => {
    // Three clients, each one op at a time; the register's real order is the write order.
    const ops: RegisterOp[] = [];
    let value = '0';
    let t = 0;
    for (let i = 0; i < 20_000; i++) {
      const client = i % 3;
      const call = t;
      t += 1;
      if (client === 0) {
        value = `v${i}`;
        ops.push(w(value, call, call + 2.5));
      } else ops.push(r(value, call, call + 2.5));
    }
    const res = checkRegister(ops, '0');
    expect(res.verdict).toBe('yes');
    ops.push(r('v3', t + 10, t + 11));
    expect(checkRegister(ops, '0').verdict).toBe('no');
  });

  it('gives up with unknown when the step budget runs out', () => {
    expect(checkRegister([w('1', 0, 1), r('1', 2, 3), r('1', 4, 5)], '0', 2).verdict).toBe('unknown');
  });

  it('firstViolation names the completion that first breaks linearizability', () => {
    const stale = { ...r('0', 6, 7), label: 'c2:9' };
    const ops = [w('1', 0, 1), r('1', 2, 3), w('2', 4, 5), stale, r('2', 8, 9)];
    expect(firstViolation(ops, '0')).toBe(stale);
    expect(firstViolation([w('1', 0, 1), r('1', 2, 3)], '0')).toBeUndefined();
  });
});
