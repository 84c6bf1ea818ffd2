import { createHash } from 'node:crypto';
import * as net from 'node:net';
import type { RunningService } from '@vcl/core/testing';
import { requestArgs, RespRequestFramer } from '../src';

// A small in-memory key-value store that speaks RESP, as Redis does for the commands it knows:
// SET, GET, INCR, LPUSH, LRANGE, DEL, EXISTS, PING, ECHO, MULTI/EXEC/DISCARD, and DIGEST (a hash
// of the whole state, what DEBUG DIGEST is for Redis). The suite runs on it, so it needs no Redis.

type Value = Buffer | Buffer[];

const bulk = (b: Buffer | null): Buffer =>
  b === null ? Buffer.from('$-1\r\n') : Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')]);
const simple = (s: string): Buffer => Buffer.from(`+${s}\r\n`);
const error = (s: string): Buffer => Buffer.from(`-${s}\r\n`);
const integer = (n: number): Buffer => Buffer.from(`:${n}\r\n`);
const array = (items: Buffer[]): Buffer => Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items]);
const WRONGTYPE = error('WRONGTYPE Operation against a key holding the wrong kind of value');

/** One replica's data and what it executed. */
export class KvStore {
  readonly data = new Map<string, Value>();
  /** Every command executed, by name, in order (to check what a replica ran). */
  readonly executed: string[] = [];

  /** A hash of the whole state, keys in sorted order (equal states, equal digests). */
  digest(): string {
    const h = createHash('sha1');
    for (const k of [...this.data.keys()].sort()) {
      const v = this.data.get(k)!;
      h.update(`${k.length}:${k}=`);
      for (const part of Array.isArray(v) ? v : [v]) h.update(`${part.length}:`).update(part);
      h.update(Array.isArray(v) ? 'L;' : 'S;');
    }
    return h.digest('hex');
  }

  /** Executes one command and returns its reply. */
  execute(args: Buffer[]): Buffer {
    const name = (args[0] ?? Buffer.alloc(0)).toString('latin1').toUpperCase();
    this.executed.push(name);
    const key = args[1]?.toString('latin1');
    const arity = (n: number): boolean => args.length === n;
    switch (name) {
      case 'PING':
        return args.length > 1 ? bulk(args[1]!) : simple('PONG');
      case 'ECHO':
        return arity(2) ? bulk(args[1]!) : error("ERR wrong number of arguments for 'echo' command");
      case 'SET':
        if (args.length < 3) return error("ERR wrong number of arguments for 'set' command");
        this.data.set(key!, Buffer.from(args[2]!));
        return simple('OK');
      case 'GET': {
        const v = this.data.get(key!);
        if (Array.isArray(v)) return WRONGTYPE;
        return bulk(v ?? null);
      }
      case 'INCR': {
        const v = this.data.get(key!) ?? Buffer.from('0');
        if (Array.isArray(v)) return WRONGTYPE;
        const n = Number(v.toString('latin1'));
        if (!Number.isSafeInteger(n)) return error('ERR value is not an integer or out of range');
        this.data.set(key!, Buffer.from(String(n + 1)));
        return integer(n + 1);
      }
      case 'LPUSH': {
        if (args.length < 3) return error("ERR wrong number of arguments for 'lpush' command");
        const v = this.data.get(key!) ?? [];
        if (!Array.isArray(v)) return WRONGTYPE;
        for (const x of args.slice(2)) v.unshift(Buffer.from(x));
        this.data.set(key!, v);
        return integer(v.length);
      }
      case 'LRANGE': {
        const v = this.data.get(key!) ?? [];
        if (!Array.isArray(v)) return WRONGTYPE;
        const norm = (i: number): number => (i < 0 ? Math.max(0, v.length + i) : i);
        const from = norm(Number(args[2])),
          to = norm(Number(args[3]));
        return array(v.slice(from, to + 1).map(bulk));
      }
      case 'DEL':
        return integer(args.slice(1).filter((k) => this.data.delete(k.toString('latin1'))).length);
      case 'EXISTS':
        return integer(args.slice(1).filter((k) => this.data.has(k.toString('latin1'))).length);
      case 'DIGEST':
        return bulk(Buffer.from(this.digest()));
      default:
        return error(`ERR unknown command '${name}'`);
    }
  }
}

/** One client connection: transaction state, as Redis keeps it per connection. */
export class Connection {
  private queued?: Buffer[][];
  private aborted = false;

  constructor(private readonly store: KvStore) {}

  /** Executes (or queues, inside MULTI) one command and returns its reply. */
  handle(args: Buffer[]): Buffer {
    const name = (args[0] ?? Buffer.alloc(0)).toString('latin1').toUpperCase();
    if (name === 'MULTI') {
      if (this.queued) return error('ERR MULTI calls can not be nested');
      this.queued = [];
      this.aborted = false;
      return simple('OK');
    }
    if (name === 'EXEC' || name === 'DISCARD') {
      const queued = this.queued;
      this.queued = undefined;
      if (!queued) return error(`ERR ${name} without MULTI`);
      if (name === 'DISCARD') return simple('OK');
      if (this.aborted) return error('EXECABORT Transaction discarded because of previous errors.');
      return array(queued.map((a) => this.store.execute(a)));
    }
    if (this.queued) {
      this.queued.push(args);
      return simple('QUEUED');
    }
    return this.store.execute(args);
  }
}

/** A running replica: its store, its endpoint, and how to stop it. */
export interface KvService extends RunningService {
  readonly store: KvStore;
}

/**
 * Starts one replica on a free loopback port. `stateless`: every command runs on an empty store
 * (the conformance kit expects the same answer to a request on every conversation).
 */
export async function startKvService(options: { port?: number; stateless?: boolean } = {}): Promise<KvService> {
  const store = new KvStore();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const framer = new RespRequestFramer(1 << 20);
    const connection = new Connection(store);
    const handle = (args: Buffer[]): Buffer =>
      (options.stateless ? new Connection(new KvStore()) : connection).handle(args);
    socket.on('data', (chunk) => {
      try {
        const replies = framer.push(chunk).map((m) => handle(requestArgs(m).map((a) => Buffer.from(a))));
        if (replies.length) socket.write(Buffer.concat(replies));
      } catch (e) {
        socket.end(error(`ERR Protocol error: ${(e as Error).message}`));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  return {
    store,
    endpoint: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The reply `KvStore` gives to `request` on a fresh connection (the conformance kit's `respond`). */
export function kvRespond(request: Uint8Array): Uint8Array {
  return new Connection(new KvStore()).handle(requestArgs(request).map((a) => Buffer.from(a)));
}
