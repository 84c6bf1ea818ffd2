// The chaos harness's replicated service: deterministic, one request per line, shared by every
// connection. `<client> <seq> inc` adds one to the client's own counter and answers its value;
// `<client> <seq> w <value>` writes the shared register (`ok`); `<client> <seq> r` reads it;
// `?digest` answers the state digest only, `?save` the whole state as one JSON line and
// `?load <json>` replaces the state with a saved one (`ok`, or `error ...`); those three are asked
// directly, bypassing VCL (the snapshot commands of `snapshot-main.ts`). Every answer to a request
// starts with `<client> <seq>` so the client can tell which request it belongs to.

/** A saved state (`?save`), what `?load` takes back. */
export interface RegisterState {
  /** Requests applied. */
  readonly applied: number;
  /** FNV-1a hash of every applied line, in order. */
  readonly hash: number;
  /** The shared register. */
  readonly register: string;
  /** Each client's counter. */
  readonly counters: Readonly<Record<string, number>>;
}

/** The state of one replica. */
export class RegisterService {
  /** Requests applied. */
  private applied = 0;
  private counters = new Map<string, number>();
  private register = '0';
  private hash = 0x811c9dc5;

  /** Applies one request line; returns the response line (without newline). */
  apply(line: string): string {
    if (line === '?digest') return this.digest();
    if (line === '?save') return JSON.stringify(this.save());
    if (line.startsWith('?load ')) return this.loadLine(line.slice('?load '.length));
    const [client = '', seq = '', op = '', value = ''] = line.split(' ');
    this.applied++;
    for (let i = 0; i < line.length; i++) this.hash = Math.imul(this.hash ^ line.charCodeAt(i), 0x01000193);
    this.hash = Math.imul(this.hash ^ 0x0a, 0x01000193);
    switch (op) {
      case 'inc': {
        const n = (this.counters.get(client) ?? 0) + 1;
        this.counters.set(client, n);
        return `${client} ${seq} ${n}`;
      }
      case 'w':
        this.register = value;
        return `${client} ${seq} ok`;
      case 'r':
        return `${client} ${seq} ${this.register}`;
      default:
        return `${client} ${seq} error unknown-op`;
    }
  }

  /** `<applied>:<hash of every applied line, in order>:<register>`: equal iff the same requests were applied in the same order. */
  digest(): string {
    return `${this.applied}:${(this.hash >>> 0).toString(16)}:${this.register}`;
  }

  /** The whole state. */
  save(): RegisterState {
    return {
      applied: this.applied,
      hash: this.hash >>> 0,
      register: this.register,
      counters: Object.fromEntries(this.counters),
    };
  }

  /** Replaces the state with `s` (a `save()` of any replica), so the digest goes on from there. */
  load(s: RegisterState): void {
    this.applied = s.applied;
    this.hash = s.hash | 0;
    this.register = s.register;
    this.counters = new Map(Object.entries(s.counters));
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
    if (
      typeof o !== 'object' ||
      o === null ||
      !Number.isInteger(o.applied) ||
      !Number.isInteger(o.hash) ||
      typeof o.register !== 'string' ||
      typeof o.counters !== 'object' ||
      o.counters === null ||
      !Object.values(o.counters).every((n) => Number.isInteger(n))
    )
      return 'error load: expected { applied, hash, register, counters }';
    this.load(o as RegisterState);
    return 'ok';
  }
}
