// The chaos harness's replicated service: deterministic, one request per line, shared by every
// connection. `<client> <seq> inc` adds one to the client's own counter and answers its value;
// `<client> <seq> w <value>` writes the shared register (`ok`); `<client> <seq> r` reads it;
// `?digest` answers the state digest only (asked directly, bypassing VCL). Every answer starts with
// `<client> <seq>` so the client can tell which request it belongs to.

/** The state of one replica. */
export class RegisterService {
  /** Requests applied. */
  private applied = 0;
  private readonly counters = new Map<string, number>();
  private register = '0';
  private hash = 0x811c9dc5;

  /** Applies one request line; returns the response line (without newline). */
  apply(line: string): string {
    if (line === '?digest') return this.digest();
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
}
