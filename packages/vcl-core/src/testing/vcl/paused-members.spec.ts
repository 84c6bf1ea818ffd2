import { checkAgainstOrder, RegisterReplica, type RegisterCall } from './paused-members';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('checkAgainstOrder (linearizability with the total order as witness)', () => {
  const order = [
    { key: 'c1 1', result: 'a' },
    { key: 'c2 1', result: 'a' },
    { key: 'c2 2', result: 'b' },
  ];
  const w1: RegisterCall = { client: 'c1', seq: 1, write: 'a', call: 0, ret: 5, result: 'a' };
  const r1: RegisterCall = { client: 'c2', seq: 1, call: 6, ret: 8, result: 'a' };
  const w2: RegisterCall = { client: 'c2', seq: 2, write: 'b', call: 9, ret: 12, result: 'b' };

  it('accepts answers that match the order, and calls never answered', () => {
    expect(checkAgainstOrder([w1, r1, w2, { client: 'c3', seq: 1, call: 1 }], order)).toEqual([]);
  });

  it('names an answer the order did not give (a stale replica)', () => {
    const stale = { ...r1, result: '0' };
    expect(checkAgainstOrder([w1, stale, w2], order)).toEqual([
      "c2 1 (read) answered 0 at 8.0; the group's order answered a",
    ]);
  });

  it('names an answer to a request the group never applied', () => {
    expect(checkAgainstOrder([{ client: 'c9', seq: 1, call: 0, ret: 1, result: 'x' }], order)).toEqual([
      'c9 1 answered x at 1.0 but never applied by the group',
    ]);
  });

  it('names an order that contradicts real time', () => {
    // c2 1 completed at 3, before c1 1 was invoked at 4, yet the order puts c1 1 first.
    const early: RegisterCall = { ...r1, call: 1, ret: 3 };
    const late: RegisterCall = { ...w1, call: 4, ret: 5 };
    expect(checkAgainstOrder([late, early], order)).toEqual([
      'c1 1 invoked at 4.0 is ordered before c2 1, which completed at 3.0',
    ]);
  });

  it('names a request applied twice', () => {
    expect(checkAgainstOrder([], [...order, { key: 'c1 1', result: 'b' }])).toEqual([
      'request c1 1 applied twice (at 0 and 3)',
    ]);
  });
});

describe('RegisterReplica', () => {
  it('answers reads and writes with the register and carries its log through save and load', async () => {
    const a = new RegisterReplica();
    expect(dec.decode(a.handle(enc.encode('c1 1 r\n')))).toBe('c1 1 0\n');
    expect(dec.decode(a.handle(enc.encode('c1 2 w c1.2\n')))).toBe('c1 2 c1.2\n');
    const b = new RegisterReplica();
    await b.load(await a.save());
    expect(b.value).toBe('c1.2');
    expect(b.log).toEqual(a.log);
  });
});
