import { errors, runChaos } from './harness';

it('scratch 5 chaos single', async () => {
  const seed = Number(process.env['SEED'] ?? 1);
  const t0 = Date.now();
  const { violations, cluster } = await runChaos({ seed, members: Number(process.env['MEMBERS'] ?? 5), crashes: true, partitions: true, linkFaults: true });
  console.log(seed, Date.now() - t0, cluster.sim.stats, cluster.sim.now, violations.slice(0, 10), errors.slice(0, 5));
}, 600000);
