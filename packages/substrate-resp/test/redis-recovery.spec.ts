import { describeWithRedis } from './redis-server';
import { RedisDeployment } from './redis-deployment';
import { buildForProcesses, checkWorkload, command, RespClient, workloadClient } from './support';

// Recovery of a Redis replica: a member killed with its redis-server, restarted with a fresh, empty
// one, rejoins by state transfer (`service.snapshot` = vcl-redis-state save/load, or `replay` with
// `resetCommand` = vcl-redis-state reset) and ends with the same DEBUG DIGEST as the others.

jest.setTimeout(240_000);

describeWithRedis('Redis replica recovery (real redis-server, vcl-redis-state)', () => {
  beforeAll(() => buildForProcesses(), 300_000);

  it.each(['snapshot', 'replay'] as const)(
    '%s: a killed member restarted with an empty redis-server rejoins; all three DEBUG DIGESTs equal, keys with expiry included',
    async (mode) => {
      const d = new RedisDeployment(mode);
      try {
        await d.start();
        const setup = await RespClient.connect(d.clientPort);
        expect(
          await setup.pipeline([
            command('SET', 'ttl:key', 'v', 'EX', 3600),
            command('HSET', 'h', 'a', '1', 'b', '2'),
            command('SELECT', 5),
            command('SET', 'db5', 'x'),
          ]),
        ).toEqual(['+OK\r\n', ':2\r\n', '+OK\r\n', '+OK\r\n']);
        setup.close();
        const before = await Promise.all(Array.from({ length: 5 }, (_, id) => workloadClient(d.clientPort, id, 10)));
        const victim = d.members[2]!;
        await d.kill(victim);
        const during = await Promise.all(
          Array.from({ length: 5 }, (_, id) => workloadClient(d.clientPort, 10 + id, 10)),
        );
        const rejoined = await d.restart(victim);
        expect(rejoined['mode']).toBe(mode);
        const after = await Promise.all(
          Array.from({ length: 5 }, (_, id) => workloadClient(d.clientPort, 20 + id, 10)),
        );
        expect(checkWorkload([...before, ...during, ...after])).toEqual({ wrong: [], counterGaps: [], total: 150 });
        const digests = await d.digests();
        expect(digests).toHaveLength(3);
        expect(new Set(digests).size).toBe(1);
        expect(digests[0]).not.toBe('+0000000000000000000000000000000000000000\r\n');
        // The rejoined replica holds the key's expiry, not only its value.
        const direct = await victim.redis!.direct();
        const ttl = await direct.call('TTL', 'ttl:key');
        direct.close();
        expect(Number(ttl.slice(1))).toBeGreaterThan(3000);
      } finally {
        await d.stop();
      }
    },
  );
});
