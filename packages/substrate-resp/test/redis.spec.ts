import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { processFailoverHarness, type ProcessStackHandle } from '@vcl/core/testing';
import { createClient } from 'redis';
import { describeWithRedis, settledDigests, startRedis, type RedisReplica } from './redis-server';
import { buildForProcesses, checkWorkload, command, freezeServingMember, RespClient, workloadClient } from './support';

// The same scenarios against real redis-server replicas: three `vcl service` members, each in front
// of its own redis-server, one `vcl client`; driven by redis-cli, the `redis` npm client and raw
// pipelining clients; replicas compared with DEBUG DIGEST on direct connections.

jest.setTimeout(180_000);
const run = promisify(execFile);

describeWithRedis('resp substrate with real redis-server replicas', () => {
  const stacks: ProcessStackHandle[] = [];
  const replicas = new Map<ProcessStackHandle, RedisReplica[]>();

  async function startStack(): Promise<ProcessStackHandle> {
    const mine: RedisReplica[] = [];
    const stack = await processFailoverHarness({ plugin: 'resp', failoverTimeoutMs: 20_000 }).start({
      substrate: () => {
        throw new Error('the vcl processes create the substrate');
      },
      service: async () => {
        const r = await startRedis();
        mine.push(r);
        return r;
      },
      members: 3,
    });
    stacks.push(stack);
    replicas.set(stack, mine);
    return stack;
  }
  const live = (stack: ProcessStackHandle): RedisReplica[] =>
    replicas.get(stack)!.filter((_, i) => !stack.members[i]!.killed);

  beforeAll(() => buildForProcesses(), 300_000);
  afterAll(() => Promise.all(stacks.map((s) => s.stop())));

  describe('one stack', () => {
    let stack: ProcessStackHandle;
    beforeAll(async () => {
      stack = await startStack();
    }, 120_000);

    it('redis-cli works through VCL (arguments, a stdin script), and a RESP3 connection (HELLO 3) gets RESP3 replies; every replica equal', async () => {
      const port = String(stack.endpoint.port);
      const cli = (...args: string[]) => run('redis-cli', ['-p', port, ...args], { timeout: 30_000 });
      expect((await cli('SET', 'greeting', 'hello world')).stdout).toBe('OK\n');
      expect((await cli('GET', 'greeting')).stdout).toBe('hello world\n');
      expect((await cli('INCR', 'n')).stdout).toBe('1\n');
      const piped = run('redis-cli', ['-p', port], { timeout: 30_000 });
      piped.child.stdin!.end('INCR n\nRPUSH l a b c\nLRANGE l 0 -1\nEXISTS greeting n nope\n');
      expect((await piped).stdout).toBe('2\n3\na\nb\nc\n2\n');
      // RESP3 (HELLO 3): maps, doubles, booleans and nulls come back through VCL as Redis sent them
      const resp3 = await RespClient.connect(stack.endpoint.port!);
      const [hello, ...replies] = await resp3.pipeline([
        command('HELLO', 3),
        command('HSET', 'h3', 'f', '1'),
        command('HGETALL', 'h3'),
        command('ZINCRBY', 'z3', '1.5', 'm'),
        command('GET', 'nope'),
        command('SISMEMBER', 'nope', 'x'),
      ]);
      resp3.close();
      expect(hello).toMatch(/^%7\r\n/);
      expect(replies).toEqual([':1\r\n', '%1\r\n$1\r\nf\r\n$1\r\n1\r\n', ',1.5\r\n', '_\r\n', ':0\r\n']);
      const digests = await settledDigests(live(stack));
      expect(digests).toHaveLength(3);
      expect(new Set(digests).size).toBe(1);
    });

    it('the redis npm client works through VCL: its handshake, auto-pipelined commands, MULTI/EXEC', async () => {
      const client = createClient({
        socket: { host: '127.0.0.1', port: stack.endpoint.port!, reconnectStrategy: false },
      });
      client.on('error', () => undefined);
      await client.connect();
      try {
        await client.set('npm:k', 'v');
        const incrs = await Promise.all(Array.from({ length: 50 }, () => client.incr('npm:n')));
        expect(incrs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
        expect(await client.get('npm:k')).toBe('v');
        expect(await client.multi().incr('npm:n').lPush('npm:l', ['x', 'y']).get('npm:n').exec()).toEqual([
          51,
          2,
          '51',
        ]);
        expect(await client.lRange('npm:l', 0, -1)).toEqual(['y', 'x']);
      } finally {
        client.destroy();
      }
      expect(new Set(await settledDigests(live(stack))).size).toBe(1);
    });

    it('20 concurrent clients mixing INCR/LPUSH/SET/GET with pipelining; the serving member SIGSTOPped mid-run', async () => {
      let frozen = false;
      const runs = await Promise.all(
        Array.from({ length: 20 }, (_, id) =>
          workloadClient(stack.endpoint.port!, id, 12, async (round) => {
            if (round === 5 && id === 0 && !frozen) {
              frozen = true;
              await freezeServingMember(stack);
            }
          }),
        ),
      );
      expect(frozen).toBe(true);
      expect(checkWorkload(runs)).toEqual({ wrong: [], counterGaps: [], total: 240 });
      expect(stack.failovers()).toBeGreaterThan(0);
      const digests = await settledDigests(live(stack));
      expect(digests).toHaveLength(2);
      expect(new Set(digests).size).toBe(1);
    });
  });

  it('20 concurrent clients; the serving member SIGKILLed mid-run: every reply right, survivors equal', async () => {
    const stack = await startStack();
    let killed = false;
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, id) =>
        workloadClient(stack.endpoint.port!, id, 12, async (round) => {
          if (round === 5 && id === 0 && !killed) {
            killed = true;
            await stack.killServingMember();
          }
        }),
      ),
    );
    expect(killed).toBe(true);
    expect(checkWorkload(runs)).toEqual({ wrong: [], counterGaps: [], total: 240 });
    expect(stack.failovers()).toBeGreaterThan(0);
    const digests = await settledDigests(live(stack));
    expect(digests).toHaveLength(2);
    expect(new Set(digests).size).toBe(1);
  });
});
