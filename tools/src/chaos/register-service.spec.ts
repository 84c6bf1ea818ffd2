import { emptyRegisterState, RegisterService } from './register-service';

describe('RegisterService', () => {
  it('counts per client, reads and writes registers by key, and answers with the request id', () => {
    const s = new RegisterService();
    expect(s.apply('c1 1 inc')).toBe('c1 1 1');
    expect(s.apply('c2 1 inc')).toBe('c2 1 1');
    expect(s.apply('c1 2 inc')).toBe('c1 2 2');
    expect(s.apply('c1 3 r s0')).toBe('c1 3 0');
    expect(s.apply('c2 2 w s0 c2.2')).toBe('c2 2 ok');
    expect(s.apply('c1 4 r s0')).toBe('c1 4 c2.2');
    expect(s.apply('c1 5 r k.c1')).toBe('c1 5 0');
    expect(s.apply('c1 6 bogus')).toBe('c1 6 error unknown-op');
  });

  it('keeps shared counters, sets and queues by key', () => {
    const s = new RegisterService();
    expect(s.apply('c1 1 add c0')).toBe('c1 1 1');
    expect(s.apply('c2 1 add c0')).toBe('c2 1 2');
    expect(s.apply('c1 2 smembers set0')).toBe('c1 2 -');
    expect(s.apply('c1 3 sadd set0 b')).toBe('c1 3 ok');
    expect(s.apply('c2 2 sadd set0 a')).toBe('c2 2 ok');
    expect(s.apply('c1 4 smembers set0')).toBe('c1 4 a,b');
    expect(s.apply('c1 5 deq q0')).toBe('c1 5 -');
    expect(s.apply('c1 6 enq q0 x')).toBe('c1 6 ok');
    expect(s.apply('c2 3 enq q0 y')).toBe('c2 3 ok');
    expect(s.apply('c2 4 deq q0')).toBe('c2 4 x');
    expect(s.apply('c1 7 deq q0')).toBe('c1 7 y');
  });

  it('equal digests iff the same requests were applied in the same order; ?digest changes nothing', () => {
    const a = new RegisterService();
    const b = new RegisterService();
    const c = new RegisterService();
    for (const l of ['c1 1 inc', 'c2 1 w s0 x']) a.apply(l);
    for (const l of ['c1 1 inc', 'c2 1 w s0 x']) b.apply(l);
    for (const l of ['c2 1 w s0 x', 'c1 1 inc']) c.apply(l);
    expect(a.apply('?digest')).toBe(b.digest());
    expect(a.digest()).toBe(b.digest());
    expect(c.digest()).not.toBe(a.digest());
    expect(a.digest()).toMatch(/^2:[0-9a-f]+:x$/);
  });
});

describe('RegisterService snapshot', () => {
  it('?load of a ?save carries the digest and every counter on, as if the requests were applied there', () => {
    const a = new RegisterService();
    for (const l of ['c1 1 inc', 'c2 1 w s0 x', 'c1 2 inc', 'c1 3 add c0', 'c1 4 sadd set0 v', 'c2 2 enq q0 e'])
      a.apply(l);
    const b = new RegisterService();
    b.apply('c9 1 w s0 junk');
    expect(b.apply(`?load ${a.apply('?save')}`)).toBe('ok');
    expect(b.digest()).toBe(a.digest());
    for (const l of ['c1 5 inc', 'c1 6 add c0', 'c1 7 smembers set0', 'c1 8 deq q0'])
      expect(b.apply(l)).toBe(a.apply(l));
    expect(b.digest()).toBe(a.digest());
    expect(b.apply(`?load ${JSON.stringify(emptyRegisterState())}`)).toBe('ok');
    expect(b.apply('c1 9 r s0')).toBe('c1 9 0');
  });

  it('a malformed state is refused with what was wrong and leaves the replica as it was', () => {
    const s = new RegisterService();
    s.apply('c1 1 w s0 y');
    const before = s.digest();
    expect(s.apply('?load {nope')).toMatch(/^error load: not JSON/);
    expect(s.apply('?load {"applied":1}')).toBe(
      'error load: expected { applied, hash, counters, registers, adds, sets, queues }',
    );
    expect(s.digest()).toBe(before);
  });
});
