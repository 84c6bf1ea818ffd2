import type { DependencyContainer, InjectionToken } from 'tsyringe';
import type { MemberId } from '../../contracts/network';
import type { OrderingProtocol, OrderingStatus, View } from '../../contracts/ordering';
import type { Plugin } from '../../contracts/plugin';
import { GROUP, ORDERING } from '../../contracts/tokens';
import { ConfigError } from '../../errors';
import type { Guarantee } from './history';
import { brokenOrdering, naiveOrdering, type OrderingFlaw } from './naive-ordering';
import { FAULT_PROFILES, runOrderingSeed, runOrderingSweep, type FaultProfile } from './runner';

const short = { durationMs: 4000, tailMs: 500, quietMs: 4000 } as const;

describe('runOrderingSeed', () => {
  it('replays a seed bit for bit: same fingerprint, same history', async () => {
    const options = { plugin: naiveOrdering(), seed: 11, faults: 'chaos' as const, ...short };
    const one = await runOrderingSeed(options);
    const two = await runOrderingSeed(options);
    expect(two.fingerprint).toBe(one.fingerprint);
    expect(two.history).toEqual(one.history);
    expect(one.stats.deliveries).toBeGreaterThan(100);
    expect(one.history.faults.length).toBeGreaterThan(3);
    const other = await runOrderingSeed({ ...options, seed: 12 });
    expect(other.fingerprint).not.toBe(one.fingerprint);
  });

  it.each(FAULT_PROFILES.map((p) => [p]))(
    'finds no violation in the naive reference protocol under %s (3 seeds)',
    async (faults) => {
      const sweep = await runOrderingSweep({ plugin: naiveOrdering(), seeds: 3, faults, ...short });
      expect({ failing: sweep.failingSeeds, first: sweep.failures[0]?.violations.slice(0, 3) }).toEqual({
        failing: [],
        first: undefined,
      });
      expect(sweep.totals.deliveries).toBeGreaterThan(3 * 3 * 50);
    },
  );

  it('runs a 5-member 10 s chaos seed of the naive protocol without violations, every member delivering', async () => {
    const r = await runOrderingSeed({ plugin: naiveOrdering(), seed: 3, members: 5, faults: 'chaos' });
    expect(r.violations).toEqual([]);
    expect(r.stats.virtualMs).toBeGreaterThanOrEqual(11_000);
    expect(new Set(r.history.incarnations.filter((h) => h.deliveries.length > 0).map((h) => h.member)).size).toBe(5);
  });

  // Seeds that once failed the naive protocol (a fresh group stuck on an uncommitted install; a
  // member committing an older install after promising a newer view), kept as regressions.
  it.each([
    [29, 'chaos'],
    [63, 'partitions'],
  ] as const)('keeps naive-protocol regression seed %i (%s, 5 members) clean', async (seed, faults) => {
    const r = await runOrderingSeed({ plugin: naiveOrdering(), seed, members: 5, faults });
    expect(r.violations).toEqual([]);
    expect(r.stats.deliveries).toBeGreaterThan(100);
  });

  const flaws: [OrderingFlaw, FaultProfile, Guarantee][] = [
    ['reorder', 'drops', 'total-order'],
    ['duplicate', 'drops', 'integrity'],
    ['lose-on-crash', 'crashes', 'agreement'],
    ['deliver-in-minority', 'partitions', 'primary-component'],
  ];
  it.each(flaws)('catches the %s flaw under %s as a %s violation', async (flaw, faults, guarantee) => {
    const sweep = await runOrderingSweep({
      plugin: brokenOrdering({ flaw }),
      seeds: 10,
      faults,
      stopOnFailure: true,
      ...short,
    });
    expect(sweep.violations).toBeGreaterThan(0);
    expect(sweep.failures[0]!.violations.map((v) => v.guarantee)).toContain(guarantee);
  });

  it('reports liveness for a protocol that never installs a view nor delivers', async () => {
    const r = await runOrderingSeed({ plugin: silentOrdering(), seed: 1, ...short });
    expect(new Set(r.violations.map((v) => v.guarantee))).toEqual(new Set(['liveness']));
    expect(r.violations[0]!.message).toMatch(/the live members are not in one primary view of all members/);
    expect(r.violations.filter((v) => /was never delivered by anyone/.test(v.message)).length).toBe(r.stats.broadcasts);
  });

  it('crashes at most a minority at once, often the first member of the view, sometimes right after a delivery', async () => {
    const actions: string[] = [];
    for (let seed = 1; seed <= 4; seed++) {
      const r = await runOrderingSeed({ plugin: naiveOrdering(), seed, members: 5, faults: 'crashes', ...short });
      const down = new Set<string>();
      for (const f of r.history.faults) {
        const [verb, member] = f.action.split(' ');
        if (verb === 'crash' && !f.action.includes('after its next delivery')) down.add(member!);
        if (verb === 'restart') down.delete(member!);
        expect(down.size).toBeLessThanOrEqual(2);
        actions.push(f.action);
      }
    }
    expect(actions.some((a) => a.includes('(first member of the latest view)'))).toBe(true);
    expect(actions.some((a) => /right after delivering seq \d+/.test(a))).toBe(true);
  });

  it('splits into a majority and a minority and heals under partitions', async () => {
    const r = await runOrderingSeed({ plugin: naiveOrdering(), seed: 2, members: 5, faults: 'partitions', ...short });
    const splits = r.history.faults.filter((f) => f.action.startsWith('partition '));
    expect(splits.length).toBeGreaterThan(0);
    for (const s of splits) {
      const sides = s.action.slice('partition '.length).split('|');
      expect(Math.max(...sides.map((g) => g.split(',').length))).toBe(3);
    }
    expect(r.history.faults.some((f) => f.action === 'heal')).toBe(true);
  });

  it('rejects bad options with a ConfigError naming each', async () => {
    const bad = runOrderingSeed({
      plugin: { kind: 'substrate', name: 'x', register: () => {} },
      seed: -1,
      members: 0,
      faults: 'storm' as FaultProfile,
    });
    await expect(bad).rejects.toThrow(ConfigError);
    await expect(bad).rejects.toThrow(/seed: must be an integer in 0\.\.4294967295, got -1/);
    await expect(bad).rejects.toThrow(/members: must be an integer >= 1, got 0/);
    await expect(bad).rejects.toThrow(/faults: unknown fault profile storm/);
    await expect(bad).rejects.toThrow(/plugin: must be an ordering plugin, got substrate/);
  });
});

/** A typed ordering fake that starts and then does nothing: every broadcast waits forever. */
function silentOrdering(): Plugin {
  class Silent implements OrderingProtocol {
    readonly self: MemberId;
    constructor(group: { self: MemberId }) {
      this.self = group.self;
    }
    async start(): Promise<void> {}
    async stop(): Promise<void> {}
    broadcast(): Promise<never> {
      return new Promise<never>(() => {});
    }
    onDeliver(): void {}
    onView(): void {}
    setStateTransfer(): void {}
    view(): View | undefined {
      return undefined;
    }
    status(): OrderingStatus {
      return { role: 'silent', pending: 0, delivered: 0 };
    }
  }
  return {
    kind: 'ordering',
    name: 'silent',
    register(container: DependencyContainer) {
      container.register(ORDERING as InjectionToken<OrderingProtocol>, {
        useFactory: (c) => new Silent(c.resolve(GROUP as InjectionToken<{ self: MemberId }>)),
      });
    },
  };
}
