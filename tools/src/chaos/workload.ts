// The chaos workload's operations and how their history is checked. Each client works on its own
// counter and register and on a few objects every client shares (three registers, a counter, a set
// and a queue); each key's history is checked on its own against its model, which keeps the
// search small with many clients (linearizability is compositional).
import {
  checkKeyed,
  counterModel,
  firstViolation,
  queueModel,
  registerModel,
  setModel,
  type LinearizabilityResult,
  type Model,
  type Operation,
  type RegisterOp,
} from './linearizability';

/** What a request does (see `register-service.ts`). */
export type WorkloadOp = 'inc' | 'w' | 'r' | 'add' | 'sadd' | 'smembers' | 'enq' | 'deq';

/** One planned request of a client. */
export interface Planned {
  readonly op: WorkloadOp;
  /** The object's key; empty for `inc` (the client's own counter). */
  readonly key: string;
  /** The value written, added or enqueued (unique per request); empty otherwise. */
  readonly value: string;
}

/** The shared objects every client uses. */
export const SHARED = { registers: ['s0', 's1', 's2'], counter: 'c0' } as const;

/**
 * The set and the queue a request of client `id` uses: one of three groups of clients shares them
 * (each client always in the same group), and a group starts a new set and queue every 100
 * requests of a client, so they are shared while in use but neither grows with the run nor sees
 * many concurrent operations: the checker's search over a queue grows with the number of
 * concurrent enqueues (each order of them is a different queue), which with ten clients on one
 * queue ran the harness out of memory.
 */
export const setKey = (id: string, seq: number): string => `set.${group(id)}.${Math.floor(seq / 100)}`;
/** See `setKey`. */
export const queueKey = (id: string, seq: number): string => `q.${group(id)}.${Math.floor(seq / 100)}`;

function group(id: string): number {
  let h = 7;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % 3;
}

/**
 * Draws the next request of client `id` (`x`, `y` uniform in [0, 1)): 30 % increments of its own
 * counter, 30 % register writes and reads (half on its own register, half on a shared one), 10 %
 * shared-counter adds, 14 % set adds and reads, 16 % queue operations (on the current set and queue).
 */
export function planRequest(id: string, seq: number, x: number, y: number): Planned {
  const value = `${id}.${seq}`;
  const register = y < 0.5 ? `k.${id}` : SHARED.registers[Math.min(2, Math.floor((y - 0.5) * 6))]!;
  if (x < 0.3) return { op: 'inc', key: '', value: '' };
  if (x < 0.45) return { op: 'w', key: register, value };
  if (x < 0.6) return { op: 'r', key: register, value: '' };
  if (x < 0.7) return { op: 'add', key: SHARED.counter, value: '' };
  if (x < 0.77) return { op: 'sadd', key: setKey(id, seq), value };
  if (x < 0.84) return { op: 'smembers', key: setKey(id, seq), value: '' };
  if (x < 0.92) return { op: 'enq', key: queueKey(id, seq), value };
  return { op: 'deq', key: queueKey(id, seq), value: '' };
}

/** The request line a client sends. */
export function requestLine(id: string, seq: number, p: Planned): string {
  return [id, String(seq), p.op, p.key, p.value].filter(Boolean).join(' ');
}

/** One request as a client recorded it. */
export interface Recorded extends Planned {
  readonly call: number;
  readonly ret?: number;
  /** The answer after `<client> <seq> `. */
  readonly result?: string;
  readonly label: string;
}

type AnyOp = Operation<unknown, unknown> & { readonly key: string };

/** The checked operation for a recorded request; undefined for `inc` (checked by its count instead). */
function operation(r: Recorded): AnyOp | undefined {
  const done = r.ret !== undefined && r.result !== undefined;
  const base = { key: r.key, call: r.call, ...(r.ret !== undefined ? { ret: r.ret } : {}), label: r.label };
  const out = (v: unknown): { output?: unknown } => (done ? { output: v } : {});
  switch (r.op) {
    case 'inc':
      return undefined;
    case 'w':
      return { ...base, input: { kind: 'w', value: r.value } };
    case 'r':
      return { ...base, input: { kind: 'r' }, ...out(r.result) };
    case 'add':
      return { ...base, input: { kind: 'add', by: 1 }, ...out(Number(r.result)) };
    case 'sadd':
      return { ...base, input: { kind: 'add', value: r.value } };
    case 'smembers':
      return { ...base, input: { kind: 'read' }, ...out(r.result === '-' ? [] : (r.result ?? '').split(',')) };
    case 'enq':
      return { ...base, input: { kind: 'enq', value: r.value } };
    case 'deq':
      return { ...base, input: { kind: 'deq' }, ...out(r.result === '-' ? null : r.result) };
  }
}

function modelFor(key: string): Model<unknown, unknown, unknown> {
  const m =
    key === SHARED.counter
      ? counterModel
      : key.startsWith('set.')
        ? setModel
        : key.startsWith('q.')
          ? queueModel
          : registerModel('0');
  return m as unknown as Model<unknown, unknown, unknown>;
}

/** The verdict over every key, the number of operations checked and, when not linearizable, what broke it. */
export function checkWorkload(
  requests: readonly Recorded[],
  t0 = 0,
  maxStepsPerKey = 2_000_000,
): LinearizabilityResult & { readonly operations: number; readonly keys: number; readonly violation?: string } {
  const ops = requests.map(operation).filter((o): o is AnyOp => o !== undefined);
  // A bound on each key's search keeps the harness's memory bounded: past it the verdict is
  // `unknown` and names the key, instead of the process running out of heap.
  const r = checkKeyed(ops, modelFor, maxStepsPerKey);
  if (r.verdict === 'unknown')
    return {
      ...r,
      operations: ops.length,
      violation: `key ${r.key}: search budget of ${maxStepsPerKey} steps ran out`,
    };
  if (r.verdict !== 'no' || r.key === undefined) return { ...r, operations: ops.length };
  const onKey = requests.filter((q) => q.key === r.key && q.op !== 'inc');
  const what = `key ${r.key} (${onKey.length} operations)`;
  if (onKey[0]?.op !== 'w' && onKey[0]?.op !== 'r') return { ...r, operations: ops.length, violation: what };
  // A register: name the operation whose completion first breaks it.
  const regOps: RegisterOp[] = onKey.map((q) => ({
    kind: q.op === 'w' ? 'w' : 'r',
    value: q.op === 'w' ? q.value : (q.result ?? ''),
    call: q.call,
    ...(q.ret !== undefined ? { ret: q.ret } : {}),
    label: q.label,
  }));
  const culprit = firstViolation(regOps, '0');
  return {
    ...r,
    operations: ops.length,
    violation: culprit
      ? `${what}: ${culprit.label} ${culprit.kind === 'w' ? `write ${culprit.value}` : `read -> ${culprit.value}`}` +
        ` (${(culprit.call - t0).toFixed(1)}..${(culprit.ret! - t0).toFixed(1)} ms)`
      : what,
  };
}
