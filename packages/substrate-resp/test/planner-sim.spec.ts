import { SeededRandom } from '@vcl/core/testing';
import { requestArgs, RespRequestFramer } from '../src';
import { CommandTable } from '../src/commands';
import { Connection, KvStore } from './kv-service';

// The planner in the execution contract, simulated over many seeds: several sessions' commands
// (both request forms, transactions, refused commands) in a random total order, applied by three
// members as the engine will: writes by every member, reads by the session's serving member only
// (which changes at random, as after fail-overs), refusals by none. Every member must plan alike,
// end with the same data, and the client must get the replies one Redis running everything gets.

const SEEDS = 1000;
const MEMBERS = 3;

/** One random command in wire form, with its encoding and maybe the blank lines Redis ignores. */
function randomRequest(rng: SeededRandom, session: number): Buffer {
  const key = `k${rng.int(0, 3)}`;
  const own = `s${session}`;
  const pool: string[][] = [
    ['SET', key, `v${rng.int(0, 9)}`],
    ['GET', key],
    ['INCR', `n${rng.int(0, 1)}`],
    ['LPUSH', 'l', String(rng.int(0, 99))],
    ['LRANGE', 'l', '0', '2'],
    ['DEL', key],
    ['EXISTS', key, own],
    ['PING'],
    ['MULTI'],
    ['EXEC'],
    ['DISCARD'],
    ['INCR', own],
    ['GET', own],
    ['SPOP', key],
    ['TIME'],
    ['RANDOMKEY'],
  ];
  const args = pool[rng.int(0, pool.length - 1)]!;
  const prefix = rng.chance(0.1) ? '\r\n' : '';
  const body = rng.chance(0.3)
    ? `${args.join(' ')}\r\n`
    : `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`;
  return Buffer.from(prefix + body, 'latin1');
}

/** A problem found for one seed, or none. */
function simulate(seed: number): string | undefined {
  const rng = new SeededRandom(seed);
  const sessions = rng.int(1, 5);
  const table = new CommandTable();
  // The client side frames each session's stream (in random chunks) into the messages that get ordered.
  const messages = Array.from({ length: sessions }, (_, s) => {
    const stream = Buffer.concat(Array.from({ length: rng.int(1, 25) }, () => randomRequest(rng, s)));
    const framer = new RespRequestFramer(1 << 16);
    const out: Uint8Array[] = [];
    for (let at = 0; at < stream.length;) {
      const n = rng.int(1, 40);
      out.push(...framer.push(stream.subarray(at, at + n)));
      at += n;
    }
    return out;
  });
  // A random total order that keeps each session's order.
  const order: [number, Uint8Array][] = [];
  const next = messages.map(() => 0);
  while (order.length < messages.flat().length) {
    const s = rng.int(0, sessions - 1);
    if (next[s]! < messages[s]!.length) order.push([s, messages[s]![next[s]!++]!]);
  }

  const stores = Array.from({ length: MEMBERS }, () => new KvStore());
  const connections = stores.map((store) => Array.from({ length: sessions }, () => new Connection(store)));
  const planners = stores.map(() => Array.from({ length: sessions }, () => table.planner()));
  const serving = Array.from({ length: sessions }, () => rng.int(0, MEMBERS - 1));
  const reference = new KvStore();
  const referenceConnections = Array.from({ length: sessions }, () => new Connection(reference));

  for (const [i, [s, message]] of order.entries()) {
    if (rng.chance(0.05)) serving[s] = rng.int(0, MEMBERS - 1); // a fail-over
    const plans = planners.map((p) => p[s]!.plan(message));
    if (new Set(plans.map((p) => JSON.stringify(p))).size !== 1)
      return `request ${i}: members planned differently: ${JSON.stringify(plans)}`;
    const plan = plans[0]!;
    const args = requestArgs(message).map((a) => Buffer.from(a));
    if (plan.kind === 'refuse') continue; // every member answers the error; no replica runs it
    const want = referenceConnections[s]!.handle(args).toString('latin1');
    let got: string | undefined;
    for (let m = 0; m < MEMBERS; m++) {
      if (plan.kind === 'read' && m !== serving[s]) continue;
      const reply = connections[m]![s]!.handle(args).toString('latin1');
      if (m === serving[s]) got = reply;
    }
    if (got !== want)
      return `request ${i} (${args.join(' ')}, ${plan.kind}, session ${s} at n${serving[s]! + 1}): client got ${JSON.stringify(got)}, one Redis gives ${JSON.stringify(want)}`;
  }
  const digests = new Set(stores.map((st) => st.digest()));
  if (digests.size !== 1 || !digests.has(reference.digest())) return 'the replicas ended with different data';
  return undefined;
}

describe('the RESP planner in the execution contract, on simulated members', () => {
  it(`${SEEDS} seeds: members plan alike, replicas end equal, clients get one Redis's replies`, () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const problem = simulate(seed);
      if (problem) failures.push(`seed ${seed}: ${problem}`);
    }
    expect(failures.slice(0, 5)).toEqual([]);
  });
});
