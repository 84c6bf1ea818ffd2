import { PluginRegistry } from '@vcl/core';
import { parseSimArgs, replayCommand, runSim } from './run-sim';

async function sim(...argv: string[]) {
  const out: string[] = [];
  const progress: string[] = [];
  const code = await runSim(
    argv,
    { out: (l) => out.push(...l.split('\n')), progress: (t) => progress.push(t) },
    new PluginRegistry(),
  );
  return { code, out, progress, last: out[out.length - 1] };
}

describe('npm run sim', () => {
  // One test per fake: together they took over 30 s on a loaded 2-core machine.
  it.each([
    ['broken-reorder', 'drops', '[total-order]'],
    ['broken-duplicate', 'drops', '[integrity]'],
    ['broken-lose-on-crash', 'crashes', '[agreement]'],
    ['broken-deliver-in-minority', 'partitions', '[primary-component]'],
  ])(
    'catches the broken fake %s under %s, naming %s and the command that replays the seed',
    async (ordering, faults, guarantee) => {
      const r = await sim('--ordering', ordering, '--seeds', '3', '--faults', faults, '--duration', '4000');
      expect(r.code).toBe(1);
      expect(r.last).toMatch(new RegExp(`^sim: ordering=${ordering} seeds=3 violations=[1-9][0-9]*$`));
      expect(r.out.some((l) => l.startsWith(`  ${guarantee} `))).toBe(true);
      expect(r.out.some((l) => /^\d+ violation\(s\) \(/.test(l) && l.includes(`${guarantee.slice(1, -1)}=`))).toBe(
        true,
      );
      const seed = Number(
        /^first failing seed: (\d+)/.exec(r.out.find((l) => l.startsWith('first failing seed'))!)![1],
      );
      expect(r.out).toContain(
        `replay: npm run sim -- --ordering ${ordering} --seeds 1 --seed ${seed} --members 3 --faults ${faults} --duration 4000 --trace`,
      );
      expect(r.progress.some((p) => p.includes('3/3 seeds'))).toBe(true);
    },
    60_000,
  );

  it('replays one failing seed with its timeline, and the replay fails the same way', async () => {
    const common = ['--ordering', 'broken-duplicate', '--faults', 'drops', '--duration', '3000'];
    const sweep = await sim(...common, '--seeds', '3');
    const firstLine = sweep.out.find((l) => l.startsWith('first failing seed'))!;
    const seed = /^first failing seed: (\d+) /.exec(firstLine)![1]!;
    const replay = await sim(...common, '--seeds', '1', '--seed', seed, '--trace');
    expect(replay.code).toBe(1);
    expect(replay.out).toContain(firstLine);
    expect(replay.out).toContain(`timeline of seed ${seed}:`);
    expect(replay.out.some((l) => /^\s+\d+\.\d  n1#1   view \d+ \{n1,n2,n3\} cut 0$/.test(l))).toBe(true);
    expect(replay.last).toMatch(/^sim: ordering=broken-duplicate seeds=1 violations=[1-9]\d*$/);
  });

  it('passes the naive reference protocol and exits 0', async () => {
    const r = await sim(
      '--ordering',
      'naive',
      '--seeds',
      '2',
      '--members',
      '5',
      '--faults',
      'chaos',
      '--duration',
      '3000',
    );
    expect(r.code).toBe(0);
    expect(r.last).toBe('sim: ordering=naive seeds=2 violations=0');
  });

  it('exits 2 with the problem and the usage for bad arguments or an unknown plugin', async () => {
    const bad = await sim('--seeds', 'many', '--faults', 'storm');
    expect(bad.code).toBe(2);
    expect(bad.out[0]).toBe('sim: sim arguments: 3 problems');
    expect(bad.out).toContain('  - --ordering: is required (e.g. --ordering sequencer)');
    expect(bad.out).toContain('  - --seeds: must be an integer in 1..9007199254740991, got many');
    expect(bad.out).toContain('  - --faults: must be one of none, drops, crashes, partitions, chaos, got storm');
    const unknown = await sim('--ordering', 'paxos', '--seeds', '1');
    expect(unknown.code).toBe(2);
    expect(unknown.out[0]).toBe('sim: unknown ordering plugin "paxos"; known ordering plugins: sequencer, tokenring');
    const flag = await sim('--ordering', 'naive', '--sedes', '3');
    expect(flag.code).toBe(2);
    expect(flag.out.some((l) => l.includes("Unknown option '--sedes'"))).toBe(true);
  });

  it('builds replay commands that carry plugin options', () => {
    const args = parseSimArgs(['--ordering', 'sequencer', '--options', '{"heartbeatMs":50}', '--members', '5']);
    expect(replayCommand(args, 42)).toBe(
      `npm run sim -- --ordering sequencer --seeds 1 --seed 42 --members 5 --faults chaos --duration 10000 --options '{"heartbeatMs":50}' --trace`,
    );
  });
});
