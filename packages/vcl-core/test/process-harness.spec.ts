import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import {
  ensureBuilt,
  freePort,
  MemberProcessError,
  MissingBuildError,
  OrderingProcessGroup,
  type Guarantee,
} from '../src/testing';

// The members run the built JavaScript (the test-only naive protocols ship in @vcl/core's dist).
beforeAll(() => ensureBuilt([path.join(__dirname, '..', 'tsconfig.lib.json')]), 300_000);

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('OrderingProcessGroup (members as separate processes on loopback TCP)', () => {
  it('catches a plugin that delivers in a minority: two of three members frozen with SIGSTOP', async () => {
    const group = await OrderingProcessGroup.start({
      plugin: 'broken-deliver-in-minority',
      members: 3,
      workload: { mode: 'rate', perSecond: 20 },
      keepLogs: false,
    });
    try {
      await group.waitForView(['n1', 'n2', 'n3']);
      await group.waitForDelivered(group.maxDelivered() + 10);
      const before = group.maxDelivered();
      group.freeze('n2');
      group.freeze('n3');
      expect(group.running()).toEqual(['n1']);
      expect(group.alive()).toEqual(['n1', 'n2', 'n3']);
      await group.waitForDelivered(before + 10, { among: ['n1'] });
      const guarantees = new Set<Guarantee>(group.check().map((v) => v.guarantee));
      expect(guarantees).toContain('primary-component');
    } finally {
      await group.stop();
    }
  }, 60_000);

  it('kills, restarts and stops: a new incarnation with its own log, the killed one crashed in the history, no process left', async () => {
    const group = await OrderingProcessGroup.start({ plugin: 'naive', members: 3, keepLogs: false });
    try {
      await group.waitFor('all running', (g) => g.members.every((id) => g.member(id).running));
      const pid1 = group.member('n3').pid;
      await group.kill('n3');
      expect(alive(pid1)).toBe(false);
      expect(group.member('n3').status).toBe('killed');
      await expect(group.stats('n3')).rejects.toThrow(MemberProcessError);
      await group.restart('n3');
      await group.waitFor('n3#2 running', (g) => g.member('n3').running);
      expect(group.member('n3').incarnation).toBe(2);
      const stats = await group.stats('n3');
      expect(stats).toMatchObject({ member: 'n3', incarnation: 2 });
      expect(stats.cpu.user).toBeGreaterThan(0);
      group.freeze('n2');
      await expect(group.restart('n2')).rejects.toThrow('cannot restart n2: it is still frozen');

      const history = group.history();
      const n3 = history.incarnations.filter((h) => h.member === 'n3');
      expect(n3.map((h) => h.incarnation)).toEqual([1, 2]);
      expect(n3[0]!.crashedAt).toBeGreaterThan(n3[0]!.startedAt);
      expect(n3[1]!.crashedAt).toBeUndefined();
      expect(history.faults.map((f) => f.action)).toEqual(['kill n3 (SIGKILL)', 'restart n3', 'freeze n2 (SIGSTOP)']);
    } finally {
      const pids = group.members.map((id) => group.member(id).pid);
      await group.stop();
      expect(pids.filter(alive)).toEqual([]); // the frozen one too
      expect(existsSync(group.dir)).toBe(false);
    }
  }, 60_000);

  it('leaves no process behind when its host dies without stopping the group, a frozen member included', async () => {
    // A host process that starts a group, freezes a member, prints the pids and exits abruptly.
    const dist = path.join(__dirname, '..', 'dist');
    const script = `
      require(${JSON.stringify(require.resolve('reflect-metadata'))});
      const { OrderingProcessGroup } = require(${JSON.stringify(path.join(dist, 'testing'))});
      OrderingProcessGroup.start({ plugin: 'naive', members: 3, keepLogs: false }).then((g) => {
        g.freeze('n2');
        console.log(JSON.stringify({ dir: g.dir, pids: g.members.map((id) => g.member(id).pid) }));
        process.kill(process.pid, 'SIGKILL');
      });`;
    const host = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    const { dir, pids } = JSON.parse(host.stdout.trim().split('\n').at(-1)!) as { dir: string; pids: number[] };
    try {
      expect(pids).toHaveLength(3);
      const deadline = Date.now() + 5000;
      while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(pids.filter(alive)).toEqual([]);
    } finally {
      for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('fails fast with the member’s own error when the plugin cannot be loaded', async () => {
    const error = await OrderingProcessGroup.start({ plugin: 'paxos', members: 2, keepLogs: false }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MemberProcessError);
    expect((error as Error).message).toContain('unknown ordering plugin "paxos"');
  }, 60_000);

  it('picks listen ports below the ephemeral range, free to listen on', async () => {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(low);
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      });
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses to start without a built member entry, saying how to build it', async () => {
    await expect(
      OrderingProcessGroup.start({ plugin: 'naive', memberEntry: path.join(__dirname, 'no-such-member-main.js') }),
    ).rejects.toThrow(MissingBuildError);
  });
});
