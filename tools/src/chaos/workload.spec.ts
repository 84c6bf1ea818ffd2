import { checkWorkload, planRequest, requestLine, type Recorded } from './workload';
import { RegisterService } from './register-service';

/** Runs `clients` clients' planned requests on one RegisterService with overlapping intervals. */
function run(clients: number, perClient: number, seed: number, corrupt?: (r: Recorded[]) => void): Recorded[] {
  let s = seed;
  const rand = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const service = new RegisterService();
  const out: Recorded[] = [];
  // Each request takes effect at its place in a random interleaving; its interval spans the
  // effects of a few neighbours, so requests of different clients overlap.
  const pending = Array.from({ length: clients }, (_, c) => ({ id: `c${c + 1}`, seq: 0 }));
  let t = 0;
  for (let i = 0; i < clients * perClient; i++) {
    const cl = pending[Math.floor(rand() * clients)]!;
    cl.seq++;
    const p = planRequest(cl.id, cl.seq, rand(), rand());
    const line = requestLine(cl.id, cl.seq, p);
    const answer = service.apply(line);
    const result = answer.slice(`${cl.id} ${cl.seq} `.length);
    t += 1;
    out.push({ ...p, call: t - rand() * 3, ret: t + rand() * 3, result, label: `${cl.id}:${cl.seq}` });
  }
  corrupt?.(out);
  return out;
}

describe('chaos workload history check', () => {
  it('decides 10 clients × 400 requests on own and shared objects: linearizable', () => {
    const r = checkWorkload(run(10, 400, 11));
    expect(r.verdict).toBe('yes');
    // Own registers, shared registers, the counter, and a set and a queue per group of clients
    // (three) and per 100 requests of a client (1-99, 100-199, ...: four or five).
    expect(r.keys).toBeGreaterThanOrEqual(10 + 3 + 1 + 2 * 3 * 4);
    expect(r.operations).toBeGreaterThan(2500);
  });

  it.each<[string, (r: Recorded[]) => void, RegExp]>([
    [
      'a lost shared-counter add (the next add answers one too few)',
      (r) => {
        const adds = r.filter((q) => q.op === 'add');
        const late = adds[adds.length - 1]!;
        Object.assign(late, { result: String(Number(late.result) - 1), call: 1e6, ret: 1e6 + 1 });
      },
      /^key c0/,
    ],
    [
      'a doubled queue element (dequeued twice)',
      (r) => {
        const deq = r.filter((q) => q.op === 'deq' && q.result !== '-');
        const first = deq[0]!;
        r.push({ ...first, label: 'c9:1', call: 2e6, ret: 2e6 + 1 });
      },
      /^key q\./,
    ],
    [
      'a stale read of a shared register after everything returned',
      (r) => {
        const w = r.find((q) => q.op === 'w' && q.key === 's1')!;
        const last = r.filter((q) => q.op === 'w' && q.key === 's1').pop()!;
        if (w === last) throw new Error('test needs two writes of s1');
        r.push({ op: 'r', key: 's1', value: '', result: w.value, call: 3e6, ret: 3e6 + 1, label: 'c9:2' });
      },
      /^key s1 .*c9:2 read/,
    ],
    [
      'a set that lost a member',
      (r) => {
        const read = r.filter((q) => q.op === 'smembers').pop()!;
        const members = (read.result ?? '').split(',');
        r.push({ ...read, result: members.slice(1).join(',') || '-', call: 4e6, ret: 4e6 + 1, label: 'c9:3' });
      },
      /^key set\./,
    ],
  ])('not linearizable: %s, named by key', (_, corrupt, where) => {
    const r = checkWorkload(run(10, 400, 11, corrupt));
    expect(r.verdict).toBe('no');
    expect(r.violation).toMatch(where);
  });
});
