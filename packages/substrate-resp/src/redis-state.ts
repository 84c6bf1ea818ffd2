import * as net from 'node:net';
import { VclError, type Endpoint } from '@vcl/core';
import { requestArgs, RespReplyFramer, RespRequestFramer } from './framers';

// Recovery for Redis replicas (`service.snapshot` and `service.resetCommand`, docs/recovery.md):
// `save` writes the replica's whole data set as a RESP request stream (FLUSHALL, then per database
// SELECT and one RESTORE ... ABSTTL per key from DUMP and PEXPIRETIME, then FUNCTION RESTORE);
// `load` replays such a stream into a replica; `reset` empties it (FLUSHALL, FUNCTION FLUSH). The
// donor runs `save` while its member holds every request after the cut, so the scan is consistent.

/** A failed save, load or reset (the member logs it as a `RecoveryCommandError`). */
export class RedisStateError extends VclError {
  override readonly code = 'VCL_REDIS_STATE';
}

const command = (...args: (string | Uint8Array)[]): Buffer =>
  Buffer.concat([
    Buffer.from(`*${args.length}\r\n`),
    ...args.flatMap((a) => {
      const b = typeof a === 'string' ? Buffer.from(a) : Buffer.from(a);
      return [Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')];
    }),
  ]);

/** A decoded reply: enough of RESP for the commands this tool sends. */
type Reply = string | number | Buffer | null | Reply[] | RedisReplyError;

/** An error reply of the replica. */
class RedisReplyError {
  constructor(readonly message: string) {}
}

/** Decodes one complete reply message (as the reply framer cut it). */
function decode(b: Buffer, at = 0): [Reply, number] {
  const eol = b.indexOf('\r\n', at);
  const head = b.toString('latin1', at + 1, eol);
  const next = eol + 2;
  switch (String.fromCharCode(b[at]!)) {
    case '+':
      return [head, next];
    case '-':
      return [new RedisReplyError(head), next];
    case ':':
      return [Number(head), next];
    case '$': {
      const n = Number(head);
      return n < 0 ? [null, next] : [b.subarray(next, next + n), next + n + 2];
    }
    case '*': {
      const n = Number(head);
      if (n < 0) return [null, next];
      const items: Reply[] = [];
      let end = next;
      for (let i = 0; i < n; i++) {
        const [item, after] = decode(b, end);
        items.push(item);
        end = after;
      }
      return [items, end];
    }
    default:
      throw new RedisStateError(`unexpected reply type ${JSON.stringify(b.toString('latin1', at, at + 1))}`);
  }
}

/** One RESP2 connection to the replica that sends pipelines and reads their replies. */
class Connection {
  private readonly framer = new RespReplyFramer(2 ** 31);
  private readonly replies: Buffer[] = [];
  private wake?: () => void;
  private failure?: Error;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      for (const m of this.framer.push(chunk)) this.replies.push(Buffer.from(m));
      this.wake?.();
    });
    socket.on('error', (e) => (this.failure ??= e));
    socket.on('close', () => {
      this.failure ??= new RedisStateError('the replica closed the connection');
      this.wake?.();
    });
  }

  static open(endpoint: Endpoint): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(endpoint.port ?? 6379, endpoint.host ?? '127.0.0.1', () => {
        socket.off('error', reject);
        resolve(new Connection(socket));
      });
      socket.once('error', (e) =>
        reject(
          new RedisStateError(`cannot reach Redis at ${endpoint.host}:${endpoint.port}: ${e.message}`, { cause: e }),
        ),
      );
    });
  }

  /** Sends `requests` at once and resolves with their decoded replies; an error reply throws. */
  async pipeline(requests: readonly Buffer[]): Promise<Reply[]> {
    if (!requests.length) return [];
    this.socket.write(Buffer.concat(requests));
    while (this.replies.length < requests.length) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    const replies = this.replies.splice(0, requests.length).map((r) => decode(r)[0]);
    const error = replies.find((r): r is RedisReplyError => r instanceof RedisReplyError);
    if (error) throw new RedisStateError(`Redis answered: ${error.message}`);
    return replies;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The numbers of the databases that hold keys (`INFO keyspace`: `db3:keys=...`). */
async function databases(c: Connection): Promise<number[]> {
  const [info] = await c.pipeline([command('INFO', 'keyspace')]);
  return [...String(info).matchAll(/^db(\d+):keys=/gm)].map((m) => Number(m[1]));
}

/**
 * Writes the replica's data set to `out` as a RESP request stream that `loadRedis` (or plain
 * `redis-cli --pipe`) replays: keys with their values (DUMP) and absolute expiry (PEXPIRETIME),
 * every database, and the function libraries. Keys are sorted, so equal replicas give equal bytes.
 */
export async function saveRedis(endpoint: Endpoint, out: (bytes: Buffer) => void): Promise<{ keys: number }> {
  const c = await Connection.open(endpoint);
  let keys = 0;
  try {
    out(command('FLUSHALL'));
    for (const db of await databases(c)) {
      await c.pipeline([command('SELECT', String(db))]);
      const names: Buffer[] = [];
      let cursor = '0';
      do {
        const [reply] = await c.pipeline([command('SCAN', cursor, 'COUNT', '1000')]);
        const [next, batch] = reply as [Buffer, Buffer[]];
        cursor = next.toString('latin1');
        names.push(...batch);
      } while (cursor !== '0');
      names.sort(Buffer.compare);
      out(command('SELECT', String(db)));
      for (let i = 0; i < names.length; i += 500) {
        const batch = names.slice(i, i + 500);
        const replies = await c.pipeline(batch.flatMap((k) => [command('DUMP', k), command('PEXPIRETIME', k)]));
        batch.forEach((k, j) => {
          const value = replies[2 * j] as Buffer | null;
          const at = replies[2 * j + 1] as number;
          if (value === null) return; // expired between SCAN and DUMP
          out(command('RESTORE', k, String(at > 0 ? at : 0), value, 'REPLACE', 'ABSTTL'));
          keys++;
        });
      }
    }
    const [functions] = await c.pipeline([command('FUNCTION', 'DUMP')]);
    if (functions instanceof Buffer) out(command('FUNCTION', 'RESTORE', functions, 'REPLACE'));
    out(command('SELECT', '0'));
    return { keys };
  } finally {
    c.close();
  }
}

/** Replays a stream written by `saveRedis` into the replica (it starts with FLUSHALL, so it replaces everything). */
export async function loadRedis(endpoint: Endpoint, input: AsyncIterable<Uint8Array>): Promise<{ commands: number }> {
  const c = await Connection.open(endpoint);
  const framer = new RespRequestFramer(2 ** 31);
  let commands = 0;
  try {
    await c.pipeline([command('FUNCTION', 'FLUSH')]);
    for await (const chunk of input) {
      const requests = framer.push(chunk).map((m) => {
        requestArgs(m); // a FramingError for a stream that is not RESP requests
        return Buffer.from(m);
      });
      await c.pipeline(requests);
      commands += requests.length;
    }
    if (framer.buffered)
      throw new RedisStateError(`the snapshot ends inside a command (${framer.buffered} bytes left)`);
    return { commands };
  } finally {
    c.close();
  }
}

/** Brings the replica to its initial state: no keys in any database, no function libraries. */
export async function resetRedis(endpoint: Endpoint): Promise<void> {
  const c = await Connection.open(endpoint);
  try {
    await c.pipeline([command('FLUSHALL'), command('FUNCTION', 'FLUSH')]);
  } finally {
    c.close();
  }
}
