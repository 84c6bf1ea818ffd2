import {
  checkHistory,
  checkKeyed,
  checkRegister,
  counterModel,
  firstViolation,
  queueModel,
  registerModel,
  setModel,
  type Operation,
  type RegisterOp,
} from './linearizability';

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

describe('models and per-key checking', () => {
  const op = <I, O>(input: I, call: number, ret?: number, output?: O): Operation<I, O> => ({
    input,
    call,
    ...(ret !== undefined ? { ret } : {}),
    ...(output !== undefined ? { output } : {}),
  });

  it('counter: a lost increment shows as a read below the count of completed adds', () => {
    const add = { kind: 'add' as const, by: 1 };
    const read = { kind: 'read' as const };
    expect(checkHistory([op(add, 0, 1, 1), op(add, 0.5, 2, 2), op(read, 3, 4, 2)], counterModel).verdict).toBe('yes');
    expect(checkHistory([op(add, 0, 1, 1), op(add, 2, 3, 2), op(read, 4, 5, 1)], counterModel).verdict).toBe('no');
    // Two increments that both answered 1: one of them was applied twice or lost.
    expect(checkHistory([op(add, 0, 5, 1), op(add, 1, 6, 1)], counterModel).verdict).toBe('no');
    // An increment that never returned may or may not have happened.
    expect(checkHistory([op(add, 0), op(read, 1, 2, 0), op(read, 3, 4, 1)], counterModel).verdict).toBe('yes');
  });

  it('set: a read missing an element added before it started is not linearizable', () => {
    const add = (value: string) => ({ kind: 'add' as const, value });
    const read = { kind: 'read' as const };
    expect(checkHistory([op(add('a'), 0, 1), op(add('b'), 0, 3), op(read, 2, 4, ['a'])], setModel).verdict).toBe('yes');
    expect(checkHistory([op(add('a'), 0, 1), op(add('b'), 2, 3), op(read, 4, 5, ['b'])], setModel).verdict).toBe('no');
  });

  it('queue: a doubled or lost element shows as a wrong dequeue', () => {
    const enq = (value: string) => ({ kind: 'enq' as const, value });
    const deq = { kind: 'deq' as const };
    expect(
      checkHistory([op(enq('a'), 0, 1), op(enq('b'), 2, 3), op(deq, 4, 5, 'a'), op(deq, 6, 7, 'b')], queueModel)
        .verdict,
    ).toBe('yes');
    expect(checkHistory([op(enq('a'), 0, 1), op(deq, 2, 3, 'a'), op(deq, 4, 5, 'a')], queueModel).verdict).toBe('no');
    expect(checkHistory([op(enq('a'), 0, 1), op(deq, 2, 3, null)], queueModel).verdict).toBe('no');
    expect(checkHistory([op(enq('a'), 0, 3), op(deq, 1, 2, null)], queueModel).verdict).toBe('yes');
  });

  /**
   * A history that is linearizable by construction: each operation takes effect at a random point
   * inside its interval, and its output is what the model gives at that point.
   */
  function generated(seed: number, clients: number, opsPerClient: number, keys: (client: number) => string[]) {
    let s = seed;
    const rand = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const planned: {
      key: string;
      input: { kind: 'w'; value: string } | { kind: 'r' };
      call: number;
      ret: number;
      at: number;
      label: string;
    }[] = [];
    for (let c = 0; c < clients; c++) {
      let t = rand();
      const mine = keys(c);
      for (let i = 0; i < opsPerClient; i++) {
        const call = t + rand() * 2;
        const ret = call + 0.1 + rand() * 6;
        const key = mine[Math.floor(rand() * mine.length)]!;
        const input = rand() < 0.5 ? ({ kind: 'w', value: `c${c}.${i}` } as const) : ({ kind: 'r' } as const);
        planned.push({ key, input, call, ret, at: call + rand() * (ret - call), label: `c${c}:${i}` });
        t = ret;
      }
    }
    const value = new Map<string, string>();
    return [...planned]
      .sort((a, b) => a.at - b.at)
      .map((p) => {
        const before = value.get(p.key) ?? '0';
        if (p.input.kind === 'w') value.set(p.key, p.input.value);
        return {
          key: p.key,
          input: p.input,
          call: p.call,
          ret: p.ret,
          label: p.label,
          ...(p.input.kind === 'r' ? { output: before } : {}),
        };
      });
  }

  it('decides generated histories of 20 clients on own and shared keys (yes), and a stale read in them (no)', () => {
    const shared = ['s1', 's2', 's3'];
    for (const seed of [1, 2, 3]) {
      const ops = generated(seed, 20, 300, (c) => [`own${c}`, ...shared]);
      const ok = checkKeyed(ops, () => registerModel('0'), 2_000_000);
      expect(ok).toMatchObject({ verdict: 'yes', keys: 23 });
      // A read of s1, after every operation returned, that sees a value other than the last one.
      const end = Math.max(...ops.map((o) => o.ret));
      const writes = ops.filter((o) => o.key === 's1' && o.input.kind === 'w');
      const stale = writes[0]!.input.kind === 'w' ? writes[0]!.input.value : '';
      const bad = [...ops, { key: 's1', input: { kind: 'r' as const }, output: stale, call: end + 1, ret: end + 2 }];
      expect(checkKeyed(bad, () => registerModel('0'), 2_000_000)).toMatchObject({ verdict: 'no', key: 's1' });
    }
  });

  it('per-key checking searches far less than one register shared by all 20 clients', () => {
    const one = checkKeyed(
      generated(4, 20, 300, () => ['only']),
      () => registerModel('0'),
      400_000,
    );
    const perKey = checkKeyed(
      generated(4, 20, 300, (c) => [`own${c}`]),
      () => registerModel('0'),
      400_000,
    );
    expect(perKey.verdict).toBe('yes');
    expect(perKey.steps * 5).toBeLessThan(one.steps);
  });
});
