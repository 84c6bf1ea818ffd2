import { RegisterService } from './register-service';

describe('RegisterService', () => {
  it('counts per client, reads and writes the shared register, and answers with the request id', () => {
    const s = new RegisterService();
    expect(s.apply('c1 1 inc')).toBe('c1 1 1');
    expect(s.apply('c2 1 inc')).toBe('c2 1 1');
    expect(s.apply('c1 2 inc')).toBe('c1 2 2');
    expect(s.apply('c1 3 r')).toBe('c1 3 0');
    expect(s.apply('c2 2 w c2.2')).toBe('c2 2 ok');
    expect(s.apply('c1 4 r')).toBe('c1 4 c2.2');
    expect(s.apply('c1 5 bogus')).toBe('c1 5 error unknown-op');
  });

  it('equal digests iff the same requests were applied in the same order; ?digest changes nothing', () => {
    const a = new RegisterService();
    const b = new RegisterService();
    const c = new RegisterService();
    for (const l of ['c1 1 inc', 'c2 1 w x']) a.apply(l);
    for (const l of ['c1 1 inc', 'c2 1 w x']) b.apply(l);
    for (const l of ['c2 1 w x', 'c1 1 inc']) c.apply(l);
    expect(a.apply('?digest')).toBe(b.digest());
    expect(a.digest()).toBe(b.digest());
    expect(c.digest()).not.toBe(a.digest());
    expect(a.digest()).toMatch(/^2:[0-9a-f]+:x$/);
  });
});

describe('RegisterService snapshot', () => {
  it('?load of a ?save carries the digest and every counter on, as if the requests were applied there', () => {
    const a = new RegisterService();
    for (const l of ['c1 1 inc', 'c2 1 w x', 'c1 2 inc']) a.apply(l);
    const b = new RegisterService();
    b.apply('c9 1 w junk');
    expect(b.apply(`?load ${a.apply('?save')}`)).toBe('ok');
    expect(b.digest()).toBe(a.digest());
    expect(a.apply('c1 3 inc')).toBe('c1 3 3');
    expect(b.apply('c1 3 inc')).toBe('c1 3 3');
    expect(b.digest()).toBe(a.digest());
  });

  it('a malformed state is refused with what was wrong and leaves the replica as it was', () => {
    const s = new RegisterService();
    s.apply('c1 1 w y');
    const before = s.digest();
    expect(s.apply('?load {nope')).toMatch(/^error load: not JSON/);
    expect(s.apply('?load {"applied":1}')).toBe('error load: expected { applied, hash, register, counters }');
    expect(s.digest()).toBe(before);
  });
});
