import * as net from 'node:net';
import * as path from 'node:path';
import { ensureBuilt, type ProcessMember, type ProcessStackHandle } from '@vcl/core/testing';
import { RespReplyFramer } from '../src';

// What the end-to-end specs share: a raw RESP client that pipelines, the workload of concurrent
// clients and its checks, and waiting helpers.

/** Builds what the `vcl` processes run: core, the sequencer and this substrate (incremental). */
export function buildForProcesses(): void {
  const root = path.resolve(__dirname, '../../..');
  ensureBuilt(
    ['vcl-core', 'gcs-sequencer', 'substrate-resp'].map((p) => path.join(root, 'packages', p, 'tsconfig.lib.json')),
  );
}

/** A request in wire form: an array of bulk strings, as client libraries send it. */
export const command = (...args: (string | number)[]): Buffer =>
  Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`);

/** A RESP client on one connection: writes any number of requests, reads replies in order. */
export class RespClient {
  private readonly framer = new RespReplyFramer(1 << 26);
  private readonly replies: string[] = [];
  private waiter?: () => void;
  private closed?: Error;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      for (const r of this.framer.push(chunk)) this.replies.push(Buffer.from(r).toString('latin1'));
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed ??= new Error(`connection closed with ${this.replies.length} unread replies`);
      this.waiter?.();
    });
    socket.on('error', (e) => (this.closed ??= e));
  }

  /** Connects to `port` on the loopback address. */
  static connect(port: number): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        resolve(new RespClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Sends every request at once (pipelined), then resolves with their replies in wire form. */
  async pipeline(requests: readonly Buffer[], timeoutMs = 30_000): Promise<string[]> {
    this.socket.write(Buffer.concat(requests));
    return this.read(requests.length, timeoutMs);
  }

  /** Sends one request and resolves with its reply. */
  async call(...args: (string | number)[]): Promise<string> {
    return (await this.pipeline([command(...args)]))[0]!;
  }

  /** The next `n` replies. */
  async read(n: number, timeoutMs = 30_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < n) {
      if (this.closed) throw this.closed;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${n - this.replies.length} of ${n} replies missing after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.replies.splice(0, n);
  }

  /** Closes the connection. */
  close(): void {
    this.socket.destroy();
  }
}

/** Resolves once `test` holds; throws after `timeoutMs` naming `what`. */
export async function until(what: string, test: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What one workload client did, and every reply it got. */
export interface ClientRun {
  /** Client number. */
  readonly id: number;
  /** Replies to the shared `INCR counter`, as integers. */
  readonly counters: number[];
  /** Replies that were not what the client's own keys make certain, with what was expected. */
  readonly wrong: string[];
}

/**
 * One client of the concurrent workload: `rounds` pipelines of 8 requests (INCR on a shared
 * counter, LPUSH/SET/GET/INCR on its own keys, a pipelined MULTI/EXEC). Its own keys make every
 * reply but the shared counter's certain; the shared counter's replies are checked across clients.
 * `onRound` runs before each round (to kill a member mid-run).
 */
export async function workloadClient(
  port: number,
  id: number,
  rounds: number,
  onRound?: (round: number) => Promise<void> | void,
): Promise<ClientRun> {
  const client = await RespClient.connect(port);
  const counters: number[] = [];
  const wrong: string[] = [];
  try {
    for (let r = 1; r <= rounds; r++) {
      await onRound?.(r);
      const replies = await client.pipeline([
        command('INCR', 'counter'),
        command('LPUSH', `list:${id}`, `v${r}`),
        command('SET', `key:${id}`, `r${r}`),
        command('GET', `key:${id}`),
        command('MULTI'),
        command('INCR', `own:${id}`),
        command('EXEC'),
        command('LRANGE', `list:${id}`, 0, 0),
      ]);
      const want = [
        undefined,
        `:${r}\r\n`,
        '+OK\r\n',
        `$${String(`r${r}`).length}\r\nr${r}\r\n`,
        '+OK\r\n',
        '+QUEUED\r\n',
        `*1\r\n:${r}\r\n`,
        `*1\r\n$${`v${r}`.length}\r\nv${r}\r\n`,
      ];
      const counter = /^:(\d+)\r\n$/.exec(replies[0] ?? '');
      if (counter) counters.push(Number(counter[1]));
      else wrong.push(`client ${id} round ${r} INCR counter: ${JSON.stringify(replies[0])}`);
      want.forEach((w, i) => {
        if (w !== undefined && replies[i] !== w)
          wrong.push(
            `client ${id} round ${r} reply ${i}: got ${JSON.stringify(replies[i])}, want ${JSON.stringify(w)}`,
          );
      });
    }
  } finally {
    client.close();
  }
  return { id, counters, wrong };
}

/** Checks a finished workload: no wrong reply, and the shared counter's replies are exactly 1..N. */
export function checkWorkload(runs: readonly ClientRun[]): { wrong: string[]; counterGaps: number[]; total: number } {
  const all = runs.flatMap((r) => r.counters).sort((a, b) => a - b);
  const counterGaps = all.filter((v, i) => v !== i + 1);
  return { wrong: runs.flatMap((r) => r.wrong), counterGaps: counterGaps.slice(0, 10), total: all.length };
}

/** SIGSTOPs the member serving the stack's most recent session; returns it (resume or kill it later). */
export async function freezeServingMember(stack: ProcessStackHandle): Promise<ProcessMember> {
  const victim = await stack.servingMember();
  victim.killed = true; // no longer a live member for the harness
  victim.proc.signal('SIGSTOP');
  return victim;
}
