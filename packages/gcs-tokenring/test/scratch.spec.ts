import { errors, runChaos } from './harness';

const N = Number(process.env['SEEDS'] ?? 20);
const M = Number(process.env['MEMBERS'] ?? 3);
const FROM = Number(process.env['FROM'] ?? 1);
it('scratch chaos', async () => {
  const bad: string[] = [];
  const t0 = Date.now();
  let events = 0;
  for (let seed = FROM; seed < FROM + N; seed++) {
    const { violations, cluster } = await runChaos({ seed, members: M, crashes: true, partitions: true, linkFaults: true });
    events += cluster.sim.stats.events;
    if (violations.length || errors.length) {
      bad.push(`seed ${seed}: ${violations.slice(0, 5).join(' | ')} ${errors.slice(0, 3).join(' | ')}`);
      errors.length = 0;
    }
  }
  console.log(`${N} seeds in ${Date.now() - t0} ms, ${events} events\n` + bad.join('\n'));
}, 600000);
