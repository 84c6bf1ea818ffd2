// The chaos harness's replicated service: deterministic, one request per line, shared by every
// connection. Every request is `<client> <seq> <op> [args]` and every answer starts with
// `<client> <seq>`, so the client can tell which request it belongs to. Objects are named by key,
// so the history can be checked one key at a time (linearizability is compositional):
//
//   inc                  adds one to the client's own counter, answers its value (a lost or doubled request shows)
//   w <key> <value>      writes register <key> (`ok`);  r <key> reads it (`0` before any write)
//   add <key>            adds one to counter <key>, answers the new value
//   sadd <key> <value>   adds to set <key> (`ok`);  smembers <key> answers its members sorted, comma-joined (`-` if empty)
//   enq <key> <value>    appends to queue <key> (`ok`);  deq <key> takes its head (`-` if empty)
//
// `?digest` answers the state digest only, `?save` the whole state as one JSON line and `?load
// <json>` replaces the state with a saved one (`ok`, or `error ...`); those three are asked
// directly, bypassing VCL (the snapshot commands of `snapshot-main.ts`).

/** A saved state (`?save`), what `?load` takes back. */
export interface RegisterState {
  /** Requests applied. */
  readonly applied: number;
  /** FNV-1a hash of every applied line, in order. */
  readonly hash: number;
  /** Each client's own counter (`inc`). */
  readonly counters: Readonly<Record<string, number>>;
  /** Registers by key. */
  readonly registers: Readonly<Record<string, string>>;
  /** Shared counters by key (`add`). */
  readonly adds: Readonly<Record<string, number>>;
  /** Sets by key, members sorted. */
  readonly sets: Readonly<Record<string, readonly string[]>>;
  /** Queues by key, head first. */
  readonly queues: Readonly<Record<string, readonly string[]>>;
}

/** The state of a replica that has applied nothing (what `reset` loads). */
export function emptyRegisterState(): RegisterState {
  return { applied: 0, hash: 0x811c9dc5, counters: {}, registers: {}, adds: {}, sets: {}, queues: {} };
}

/** The state of one replica. */
export class RegisterService {
  private applied = 0;
  private hash = 0x811c9dc5;
  private counters = new Map<string, number>();
  private registers = new Map<string, string>();
  private adds = new Map<string, number>();
  private sets = new Map<string, Set<string>>();
  private queues = new Map<string, string[]>();

  /** Applies one request line; returns the response line (without newline). */
  apply(line: string): string {
    if (line === '?digest') return this.digest();
    if (line === '?save') return JSON.stringify(this.save());
    if (line.startsWith('?load ')) return this.loadLine(line.slice('?load '.length));
    const [client = '', seq = '', op = '', key = '', value = ''] = line.split(' ');
    this.applied++;
    for (let i = 0; i < line.length; i++) this.hash = Math.imul(this.hash ^ line.charCodeAt(i), 0x01000193);
    this.hash = Math.imul(this.hash ^ 0x0a, 0x01000193);
    const answer = (text: string): string => `${client} ${seq} ${text}`;
    switch (op) {
      case 'inc': {
        const n = (this.counters.get(client) ?? 0) + 1;
        this.counters.set(client, n);
        return answer(String(n));
      }
      case 'w':
        this.registers.set(key, value);
        return answer('ok');
      case 'r':
        return answer(this.registers.get(key) ?? '0');
      case 'add': {
        const n = (this.adds.get(key) ?? 0) + 1;
        this.adds.set(key, n);
        return answer(String(n));
      }
      case 'sadd': {
        let set = this.sets.get(key);
        if (!set) this.sets.set(key, (set = new Set()));
        set.add(value);
        return answer('ok');
      }
      case 'smembers': {
        const members = [...(this.sets.get(key) ?? [])].sort();
        return answer(members.length ? members.join(',') : '-');
      }
      case 'enq': {
        let q = this.queues.get(key);
        if (!q) this.queues.set(key, (q = []));
        q.push(value);
        return answer('ok');
      }
      case 'deq':
        return answer(this.queues.get(key)?.shift() ?? '-');
      default:
        return answer('error unknown-op');
    }
  }

  /** `<applied>:<hash of every applied line, in order>:<register s0>`: equal iff the same requests were applied in the same order. */
  digest(): string {
    return `${this.applied}:${(this.hash >>> 0).toString(16)}:${this.registers.get('s0') ?? '0'}`;
  }

  /** The whole state. */
  save(): RegisterState {
    return {
      applied: this.applied,
      hash: this.hash >>> 0,
      counters: Object.fromEntries(this.counters),
      registers: Object.fromEntries(this.registers),
      adds: Object.fromEntries(this.adds),
      sets: Object.fromEntries([...this.sets].map(([k, s]) => [k, [...s].sort()])),
      queues: Object.fromEntries([...this.queues].map(([k, q]) => [k, [...q]])),
    };
  }

  /** Replaces the state with `s` (a `save()` of any replica), so the digest goes on from there. */
  load(s: RegisterState): void {
    this.applied = s.applied;
    this.hash = s.hash | 0;
    this.counters = new Map(Object.entries(s.counters));
    this.registers = new Map(Object.entries(s.registers));
    this.adds = new Map(Object.entries(s.adds));
    this.sets = new Map(Object.entries(s.sets).map(([k, v]) => [k, new Set(v)]));
    this.queues = new Map(Object.entries(s.queues).map(([k, v]) => [k, [...v]]));
  }

  // A bad state leaves the replica as it was and says what was wrong: the snapshot command exits
  // non-zero on it, and the member reports the failed load.
  private loadLine(json: string): string {
    let s: unknown;
    try {
      s = JSON.parse(json);
    } catch (err) {
      return `error load: not JSON (${(err as Error).message})`;
    }
    const o = s as Partial<RegisterState> | null;
    const record = (x: unknown, ok: (v: unknown) => boolean): boolean =>
      typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x).every(ok);
    const strings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');
    if (
      typeof o !== 'object' ||
      o === null ||
      !Number.isInteger(o.applied) ||
      !Number.isInteger(o.hash) ||
      !record(o.counters, Number.isInteger) ||
      !record(o.registers, (v) => typeof v === 'string') ||
      !record(o.adds, Number.isInteger) ||
      !record(o.sets, strings) ||
      !record(o.queues, strings)
    )
      return 'error load: expected { applied, hash, counters, registers, adds, sets, queues }';
    this.load(o as RegisterState);
    return 'ok';
  }
}
