// A linearizability checker after Wing & Gong (1993) with Lowe's memoisation (the "WGL" algorithm
// as in Knossos/Porcupine): walk the history's call and return events in time order, try to
// linearize each call in turn, and backtrack when a return is reached whose operation has not been
// linearized. A configuration (set of linearized operations, model state) that failed once is
// never explored again; the set is kept as a 64-bit Zobrist hash. Models: register, counter, set,
// queue; `checkKeyed` checks each key of a multi-object history on its own (compositionality).

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

/**
 * A sequential specification: the object's state, and what one operation does to it. `step`
 * returns the state after the operation, or undefined when the operation could not have returned
 * `output` in `state`. An operation that never returned is stepped with `output` undefined: it may
 * have taken effect, and its output is unknown.
 */
export interface Model<S, I, O> {
  /** The state before any operation. */
  readonly init: S;
  /** The state after `input` returned `output` in `state`, or undefined if it could not have. */
  step(state: S, input: I, output: O | undefined): S | undefined;
  /** A string that is equal for equal states (memoization). */
  key(state: S): string;
  /** Whether an operation may change the state; one that cannot and never returned is left out. Default: all may. */
  mutates?(input: I): boolean;
}

/** One operation of a history, as a client saw it. */
export interface Operation<I, O> {
  /** What was asked. */
  readonly input: I;
  /** What came back; undefined if nothing did. */
  readonly output?: O;
  /** When the client invoked it (any monotonic clock shared by all clients). */
  readonly call: number;
  /** When the client got the response; undefined if it never did (the op may or may not have taken effect). */
  readonly ret?: number;
  /** Who did it, for reports (`c1:17`); not used by the check. */
  readonly label?: string;
}

interface Entry {
  readonly op: number;
  readonly isCall: boolean;
  readonly time: number;
  match?: Entry;
  prev?: Entry;
  next?: Entry;
}

/** Checks whether `ops` are linearizable with respect to `model` (Wing–Gong–Lowe search). */
export function checkHistory<S, I, O>(
  ops: readonly Operation<I, O>[],
  model: Model<S, I, O>,
  maxSteps = 50_000_000,
): LinearizabilityResult {
  // An operation that never returned and cannot change the state says nothing.
  const used = ops.filter((o) => o.ret !== undefined || (model.mutates?.(o.input) ?? true));
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
  const stack: { entry: Entry; state: S }[] = [];
  let state = model.init;
  let h1 = 0;
  let h2 = 0;
  let steps = 0;
  let entry = head.next;
  while (entry) {
    if (++steps > maxSteps) return { verdict: 'unknown', steps };
    if (entry.isCall) {
      const o = used[entry.op]!;
      const next = model.step(state, o.input, o.ret === undefined ? undefined : o.output);
      if (next !== undefined) {
        const [z1, z2] = zob[entry.op]!;
        const key = `${(h1 ^ z1) >>> 0}:${(h2 ^ z2) >>> 0}:${model.key(next)}`;
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

/** A read/write register holding strings. Reads are `{ kind: 'r' }` with the value read as output. */
export const registerModel = (
  initial: string,
): Model<string, { kind: 'w'; value: string } | { kind: 'r' }, string> => ({
  init: initial,
  step: (state, input, output) =>
    input.kind === 'w' ? input.value : output === undefined || output === state ? state : undefined,
  key: (state) => state,
  mutates: (input) => input.kind === 'w',
});

/** A counter: `add` returns the new value (like INCRBY) or nothing; `read` returns the value. */
export const counterModel: Model<number, { kind: 'add'; by: number } | { kind: 'read' }, number> = {
  init: 0,
  step: (state, input, output) => {
    const next = input.kind === 'add' ? state + input.by : state;
    return output === undefined || output === next ? next : undefined;
  },
  key: (state) => String(state),
  mutates: (input) => input.kind === 'add',
};

/** A set of strings: `add` returns nothing to check; `read` returns the members, sorted. */
export const setModel: Model<readonly string[], { kind: 'add'; value: string } | { kind: 'read' }, readonly string[]> =
  {
    init: [],
    step: (state, input, output) => {
      if (input.kind === 'add') return state.includes(input.value) ? state : [...state, input.value].sort();
      return output === undefined || (output.length === state.length && output.every((v, i) => v === state[i]))
        ? state
        : undefined;
    },
    key: (state) => state.join('\u0000'),
    mutates: (input) => input.kind === 'add',
  };

/** A FIFO queue: `enq` returns nothing to check; `deq` returns the head, or null when empty. */
export const queueModel: Model<readonly string[], { kind: 'enq'; value: string } | { kind: 'deq' }, string | null> = {
  init: [],
  step: (state, input, output) => {
    if (input.kind === 'enq') return [...state, input.value];
    if (output === undefined) return state.slice(1);
    if (output === null) return state.length === 0 ? state : undefined;
    return state[0] === output ? state.slice(1) : undefined;
  },
  key: (state) => state.join('\u0000'),
};

/**
 * Checks a history of operations on many objects. Linearizability is compositional (Herlihy and
 * Wing): the history is linearizable exactly when each object's sub-history is, so each key is
 * checked on its own, which keeps the search small however many clients there are. Returns the
 * first key that is not linearizable (or whose budget ran out) with its verdict.
 */
export function checkKeyed<S, I, O>(
  ops: readonly (Operation<I, O> & { readonly key: string })[],
  model: (key: string) => Model<S, I, O>,
  maxStepsPerKey = 50_000_000,
): LinearizabilityResult & { readonly key?: string; readonly keys: number } {
  const byKey = new Map<string, Operation<I, O>[]>();
  for (const o of ops) {
    let list = byKey.get(o.key);
    if (!list) byKey.set(o.key, (list = []));
    list.push(o);
  }
  let steps = 0;
  let unknown: string | undefined;
  for (const [key, list] of byKey) {
    const r = checkHistory(list, model(key), maxStepsPerKey);
    steps += r.steps;
    if (r.verdict === 'no') return { verdict: 'no', steps, key, keys: byKey.size };
    if (r.verdict === 'unknown') unknown ??= key;
  }
  return unknown !== undefined
    ? { verdict: 'unknown', steps, key: unknown, keys: byKey.size }
    : { verdict: 'yes', steps, keys: byKey.size };
}

const asOperation = (o: RegisterOp): Operation<{ kind: 'w'; value: string } | { kind: 'r' }, string> => ({
  input: o.kind === 'w' ? { kind: 'w', value: o.value } : { kind: 'r' },
  ...(o.kind === 'r' ? { output: o.value } : {}),
  call: o.call,
  ...(o.ret !== undefined ? { ret: o.ret } : {}),
});

/** Checks whether `ops` on a register starting at `initial` are linearizable. */
export function checkRegister(
  ops: readonly RegisterOp[],
  initial: string,
  maxSteps = 50_000_000,
): LinearizabilityResult {
  return checkHistory(ops.map(asOperation), registerModel(initial), maxSteps);
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
