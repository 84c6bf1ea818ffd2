// A seeded fault runner for the sequencer (until the shared conformance runner is available):
// load from every member plus faults picked from the seed, then heal, restart, settle and check.
import { SeededRandom } from '@vcl/core/testing';
import { SimGroup } from './harness';

/** Fault profiles. */
export type Profile = 'none' | 'drops' | 'crashes' | 'partitions' | 'chaos';

/** What one seed did and found. */
export interface SeedResult {
  readonly seed: number;
  readonly size: number;
  readonly profile: Profile;
  readonly violations: string[];
  readonly delivered: number;
  readonly faults: string[];
  readonly group: SimGroup;
}

/** Runs one seed: `size` members, `durationMs` of load and faults, then recovery and checks. */
export async function runSeed(seed: number, size: number, profile: Profile, durationMs = 5000): Promise<SeedResult> {
  const rnd = new SeededRandom((seed * 7919) ^ 0x5e9);
  const lossy = profile === 'drops' || profile === 'chaos';
  const faults = lossy
    ? { drop: rnd.next() * 0.1, duplicate: rnd.next() * 0.05, fifo: rnd.chance(0.5), maxDelayMs: rnd.int(2, 30) }
    : { maxDelayMs: rnd.int(2, 10) };
  const g = new SimGroup({ seed, size, faults });
  const log: string[] = [`links ${JSON.stringify(faults)}`];
  await g.start();
  await g.sim.runFor(rnd.int(0, 1200));
  const crashes = profile === 'crashes' || profile === 'chaos';
  const partitions = profile === 'partitions' || profile === 'chaos';
  const end = g.sim.now + durationMs;
  g.load(rnd.int(5, 40), durationMs, rnd.int(1, 3));
  const down = new Set<string>();
  const maxDown = Math.floor((size - 1) / 2);
  let partitioned = false;
  while (g.sim.now < end) {
    await g.sim.runFor(rnd.int(200, 1500));
    const roll = rnd.next();
    if (crashes && roll < 0.35) {
      if (down.size && rnd.chance(0.5)) {
        const id = rnd.pick([...down]);
        down.delete(id);
        log.push(`${g.sim.now} restart ${id}`);
        await g.restart(id);
      } else if (down.size < maxDown) {
        const id = rnd.pick(g.ids.filter((x) => !down.has(x)));
        down.add(id);
        log.push(`${g.sim.now} crash ${id}`);
        g.crash(id);
      }
    } else if (partitions && roll < 0.7) {
      if (partitioned && rnd.chance(0.6)) {
        g.sim.heal();
        partitioned = false;
        log.push(`${g.sim.now} heal`);
      } else {
        const shuffled = [...g.ids].sort(() => rnd.next() - 0.5);
        const cut = rnd.int(1, size - 1);
        const groups = [shuffled.slice(0, cut), shuffled.slice(cut)];
        g.sim.partition(groups);
        partitioned = true;
        log.push(`${g.sim.now} partition ${groups.map((x) => x.join(',')).join('|')}`);
      }
    }
  }
  g.sim.heal();
  for (const id of down) await g.restart(id);
  g.sim.setFaults({ drop: 0, duplicate: 0 });
  log.push(`${g.sim.now} recover`);
  await g.settle(60_000);
  const violations = g.check();
  return { seed, size, profile, violations, delivered: g.global.size, faults: log, group: g };
}
