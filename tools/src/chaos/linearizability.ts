// A linearizability checker for one read/write register, after Wing & Gong (1993) with Lowe's
// memoisation (the "WGL" algorithm as in Knossos/Porcupine): walk the history's call and return
// events in time order, try to linearize each call in turn, and backtrack when a return is reached
// whose operation has not been linearized. A configuration (set of linearized operations, register
// value) that failed once is never explored again; the set is kept as a 64-bit Zobrist hash.

/** One operation on the register, as a client saw it. */
export interface RegisterOp {
  /** `w`: write `value`; `r`: a read that returned `value`. */
  readonly kind: 'w' | 'r';
  /** Value written, or value the read returned. */
  readonly value: string;
  /** When the client invoked it (any monotonic clock shared by all clients). */
  readonly call: number;
  /** When the client got the response; undefined if it never did (the op may or may not have taken effect). */
  readonly ret?: number;
  /** Who did it, for reports (`c1:17`); not used by the check. */
  readonly label?: string;
}

/** The checker's answer. */
export interface LinearizabilityResult {
  /** `yes`, `no`, or `unknown` when the search budget ran out. */
  readonly verdict: 'yes' | 'no' | 'unknown';
  /** Search steps taken. */
  readonly steps: number;
}

interface Entry {
  readonly op: number;
  readonly isCall: boolean;
  readonly time: number;
  match?: Entry;
  prev?: Entry;
  next?: Entry;
}

/** Checks whether `ops` on a register starting at `initial` are linearizable. */
export function checkRegister(
  ops: readonly RegisterOp[],
  initial: string,
  maxSteps = 50_000_000,
): LinearizabilityResult {
  // A read that never returned says nothing; a write that never returned may have happened.
  const used = ops.filter((o) => o.ret !== undefined || o.kind === 'w');
  const events: Entry[] = [];
  used.forEach((o, i) => {
    const call: Entry = { op: i, isCall: true, time: o.call };
    events.push(call);
    if (o.ret !== undefined) {
      const ret: Entry = { op: i, isCall: false, time: o.ret };
      call.match = ret;
      events.push(ret);
    }
  });
  // At equal times calls go first: touching operations count as concurrent (the lenient reading).
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Entry = { op: -1, isCall: false, time: -Infinity };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  let seed = 0x9e3779b9;
  const rand = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const zob = used.map(() => [rand(), rand()] as const);
  const lift = (e: Entry): void => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match;
    if (m) {
      m.prev!.next = m.next;
      if (m.next) m.next.prev = m.prev;
    }
  };
  const unlift = (e: Entry): void => {
    const m = e.match;
    if (m) {
      m.prev!.next = m;
      if (m.next) m.next.prev = m;
    }
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };
  const cache = new Set<string>();
  const stack: { entry: Entry; state: string }[] = [];
  let state = initial;
  let h1 = 0;
  let h2 = 0;
  let steps = 0;
  let entry = head.next;
  while (entry) {
    if (++steps > maxSteps) return { verdict: 'unknown', steps };
    if (entry.isCall) {
      const o = used[entry.op]!;
      const ok = o.kind === 'w' || o.value === state;
      if (ok) {
        const next = o.kind === 'w' ? o.value : state;
        const [z1, z2] = zob[entry.op]!;
        const key = `${(h1 ^ z1) >>> 0}:${(h2 ^ z2) >>> 0}:${next}`;
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ entry, state });
          state = next;
          h1 ^= z1;
          h2 ^= z2;
          lift(entry);
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
    } else {
      // This operation returned before we found a place for it: undo the last choice.
      const top = stack.pop();
      if (!top) return { verdict: 'no', steps };
      state = top.state;
      const [z1, z2] = zob[top.entry.op]!;
      h1 ^= z1;
      h2 ^= z2;
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  // Only calls of operations that never returned are left: they are free not to have happened.
  return { verdict: 'yes', steps };
}

/**
 * For a history that is not linearizable: the operation whose completion first makes it so (the
 * history cut just after it is not linearizable, the cut just before it is). Linearizability is
 * prefix-closed, so a binary search over completion times finds it.
 */
export function firstViolation(ops: readonly RegisterOp[], initial: string): RegisterOp | undefined {
  const done = ops.filter((o) => o.ret !== undefined).sort((a, b) => a.ret! - b.ret!);
  const cut = (k: number): RegisterOp[] => {
    const at = done[k]!.ret!;
    return ops
      .filter((o) => o.call <= at)
      .map((o) => (o.ret !== undefined && o.ret > at ? { kind: o.kind, value: o.value, call: o.call } : o));
  };
  if (done.length === 0 || checkRegister(cut(done.length - 1), initial).verdict !== 'no') return undefined;
  let lo = 0;
  let hi = done.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (checkRegister(cut(mid), initial).verdict === 'no') hi = mid;
    else lo = mid + 1;
  }
  return done[lo];
}
