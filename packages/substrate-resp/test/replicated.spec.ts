import { processFailoverHarness, type ProcessStackHandle } from '@vcl/core/testing';
import { startKvService, type KvService } from './kv-service';
import {
  buildForProcesses,
  checkWorkload,
  command,
  freezeServingMember,
  RespClient,
  until,
  workloadClient,
} from './support';

// End to end with real processes: three `vcl service` members (sequencer), each in front of its
// own in-memory RESP store (in this process, so the spec reads every replica's state directly),
// and one `vcl client` that RESP clients connect to.

jest.setTimeout(180_000);

const stacks: ProcessStackHandle[] = [];

async function startStack(): Promise<ProcessStackHandle> {
  const stack = await processFailoverHarness({ plugin: 'resp', failoverTimeoutMs: 20_000 }).start({
    substrate: () => {
      throw new Error('the vcl processes create the substrate');
    },
    service: () => startKvService(),
    members: 3,
  });
  stacks.push(stack);
  return stack;
}

const store = (stack: ProcessStackHandle, i: number) => (stack.members[i]!.service as KvService).store;

/** Waits until every live replica holds the same state; returns their digests. */
async function liveDigests(stack: ProcessStackHandle): Promise<string[]> {
  const live = stack.members.map((m, i) => (m.killed ? undefined : store(stack, i))).filter((s) => s !== undefined);
  await until('the live replicas hold the same state', () => new Set(live.map((s) => s.digest())).size === 1).catch(
    () => undefined,
  );
  return live.map((s) => s.digest());
}

beforeAll(() => buildForProcesses(), 300_000);
afterAll(() => Promise.all(stacks.map((s) => s.stop())));

describe('resp substrate behind vcl service x3 + vcl client (real processes, in-memory RESP store)', () => {
  let stack: ProcessStackHandle;
  beforeAll(async () => {
    stack = await startStack();
  }, 120_000);

  it('a client that pipelines 16 commands gets 16 replies, in order; every replica applied them alike', async () => {
    const client = await RespClient.connect(stack.endpoint.port!);
    const requests = Array.from({ length: 16 }, (_, i) =>
      i % 4 === 3 ? command('GET', 'p') : i % 2 ? command('INCR', 'p') : command('LPUSH', 'pl', i),
    );
    const replies = await client.pipeline(requests);
    client.close();
    let n = 0;
    let len = 0;
    const want = requests.map((_, i) =>
      i % 4 === 3 ? `$${String(n).length}\r\n${n}\r\n` : i % 2 ? `:${++n}\r\n` : `:${++len}\r\n`,
    );
    expect(replies).toEqual(want);
    expect(new Set(await liveDigests(stack)).size).toBe(1);
  });

  it('MULTI/EXEC is applied as a unit at EXEC, by every replica, inside a pipeline', async () => {
    const client = await RespClient.connect(stack.endpoint.port!);
    const before = stack.members.map((_, i) => store(stack, i).executed.length);
    const replies = await client.pipeline([
      command('SET', 'r', '1'),
      command('MULTI'),
      command('INCR', 'r'),
      command('GET', 'r'),
      command('EXEC'),
      command('GET', 'r'),
    ]);
    client.close();
    expect(replies).toEqual([
      '+OK\r\n',
      '+OK\r\n',
      '+QUEUED\r\n',
      '+QUEUED\r\n',
      '*2\r\n:2\r\n$1\r\n2\r\n',
      '$1\r\n2\r\n',
    ]);
    await liveDigests(stack);
    // (the last GET is a read: once the engine honours plans, only the serving member runs it)
    for (const [i, m] of stack.members.entries())
      if (!m.killed) expect(store(stack, i).executed.slice(before[i]!, before[i]! + 3)).toEqual(['SET', 'INCR', 'GET']);
  });

  describe('refused commands through the stack', () => {
    it('a refused command gets -ERR VCL: ... cannot be replicated at its place in a pipeline, and no replica sees it', async () => {
      const client = await RespClient.connect(stack.endpoint.port!);
      const before = stack.members.map((_, i) => store(stack, i).executed.length);
      const replies = await client.pipeline([
        command('SET', 'q', '1'),
        command('SPOP', 'q'),
        command('TIME'),
        command('INCR', 'q'),
      ]);
      client.close();
      expect(replies[0]).toBe('+OK\r\n');
      expect(replies[1]).toMatch(/^-ERR VCL: SPOP cannot be replicated: it removes a random member.*\r\n$/);
      expect(replies[2]).toMatch(/^-ERR VCL: TIME cannot be replicated: .*clock/);
      expect(replies[3]).toBe(':2\r\n');
      await liveDigests(stack);
      for (const [i, m] of stack.members.entries())
        if (!m.killed) expect(store(stack, i).executed.slice(before[i])).toEqual(['SET', 'INCR']);
    });
  });

  it('8 concurrent pipelining clients: every reply right, the shared counter gives 1..N once each, replicas equal', async () => {
    const runs = await Promise.all(Array.from({ length: 8 }, (_, id) => workloadClient(stack.endpoint.port!, id, 25)));
    const result = checkWorkload(runs);
    expect(result).toEqual({ wrong: [], counterGaps: [], total: 200 });
    const digests = await liveDigests(stack);
    expect(new Set(digests).size).toBe(1);
    expect(store(stack, 0).data.get('counter')?.toString()).toBe('200');
  });

  it('the serving member SIGSTOPped mid-run: clients fail over, every reply right, the other replicas equal', async () => {
    let frozen = false;
    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, id) =>
        workloadClient(stack.endpoint.port!, 100 + id, 20, async (round) => {
          if (round === 8 && id === 0 && !frozen) {
            frozen = true;
            await freezeServingMember(stack);
          }
        }),
      ),
    );
    expect(frozen).toBe(true);
    expect(checkWorkload(runs).wrong).toEqual([]);
    expect(checkWorkload(runs).total).toBe(120);
    expect(stack.failovers()).toBeGreaterThan(0);
    const digests = await liveDigests(stack);
    expect(digests).toHaveLength(2);
    expect(new Set(digests).size).toBe(1);
  });
});

describe('resp substrate: the serving member SIGKILLed mid-run (real processes)', () => {
  it('20 concurrent clients keep their connections; every reply right, counter 1..N, survivors equal', async () => {
    const stack = await startStack();
    let killed = false;
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, id) =>
        workloadClient(stack.endpoint.port!, id, 10, async (round) => {
          if (round === 4 && id === 0 && !killed) {
            killed = true;
            await stack.killServingMember();
          }
        }),
      ),
    );
    expect(killed).toBe(true);
    expect(checkWorkload(runs)).toEqual({ wrong: [], counterGaps: [], total: 200 });
    expect(stack.failovers()).toBeGreaterThan(0);
    const digests = await liveDigests(stack);
    expect(digests).toHaveLength(2);
    expect(new Set(digests).size).toBe(1);
  });
});
