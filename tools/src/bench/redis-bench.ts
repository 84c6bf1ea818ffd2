import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePorts, LineProcess, logLine, vclServiceArgs } from '@vcl/core/testing';
import { repoRoot, vclCli } from './processes';

// `npm run bench:redis`: redis-benchmark against Redis behind VCL (3 redis-server replicas, their
// 3 `vcl service` members and one `vcl client`, all on this machine) and against one plain
// redis-server, side by side in one run (direct and VCL alternate per configuration, so both see
// the same machine load), for SET, GET and INCR with 1 and 50 clients and 50 clients pipelining 16
// deep. Prints a Markdown table with the ratios and the load average before and after.
//
//   npm run bench:redis -- [--requests 100000] [--tests set,get,incr]

/** One redis-benchmark configuration. */
interface Config {
  readonly clients: number;
  readonly pipeline: number;
}

const CONFIGS: readonly Config[] = [
  { clients: 1, pipeline: 1 },
  { clients: 50, pipeline: 1 },
  { clients: 50, pipeline: 16 },
];

/** The issue's goals (VCL as a share of direct), per test and configuration; none where it sets none. */
function goal(test: string, c: Config): number | undefined {
  if (c.pipeline === 16) return 0.1;
  if (c.clients === 50 && test === 'INCR') return 0.1;
  if (c.clients === 50 && test === 'GET') return 0.2;
  return undefined;
}

function flag(args: readonly string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
}

/** Requests per second per test (`SET` -> 41000) from redis-benchmark's CSV. */
function runBenchmark(port: number, tests: string, requests: number, c: Config): Map<string, number> {
  const out = execFileSync(
    'redis-benchmark',
    ['-h', '127.0.0.1', '-p', String(port), '-t', tests, '-n', String(requests), '-c', String(c.clients), '-P', String(c.pipeline), '--csv'],
    { encoding: 'utf8', timeout: 30 * 60_000, stdio: ['ignore', 'pipe', 'pipe'] },
  ); // prettier-ignore
  const rps = new Map<string, number>();
  for (const line of out.split('\n').slice(1)) {
    const [test, value] = line.split(',').map((f) => f.replace(/"/g, ''));
    if (test && value) rps.set(test, Number(value));
  }
  return rps;
}

const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function main(args: readonly string[]): Promise<void> {
  for (const program of ['redis-server', 'redis-benchmark'])
    if (spawnSync('sh', ['-c', `command -v ${program}`]).status !== 0) {
      console.error(`bench:redis: ${program} is not on the PATH (apt-get install redis-server redis-tools)`);
      process.exitCode = 2;
      return;
    }
  const requests = Number(flag(args, 'requests', '100000'));
  const tests = flag(args, 'tests', 'set,get,incr');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-bench-redis-'));
  const procs: LineProcess[] = [];
  const spawnLines = (name: string, command: string, argv: string[]): LineProcess => {
    const p = new LineProcess(name, spawn(command, argv, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] }), false);
    procs.push(p);
    return p;
  };
  const redis = (port: number): Promise<string> =>
    spawnLines(`redis-${port}`, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir])
      .waitFor((l) => l.includes('Ready to accept connections'), 20_000, 'redis ready'); // prettier-ignore
  try {
    const ports = await freePorts(12);
    const [direct, clientPort] = [ports[0]!, ports[1]!];
    const members = [0, 1, 2].map((i) => ({
      id: `n${i + 1}`,
      port: ports[2 + 3 * i]!,
      clientPort: ports[3 + 3 * i]!,
      redis: ports[4 + 3 * i]!,
    }));
    const stackFile = path.join(dir, 'stack.yaml');
    fs.writeFileSync(
      stackFile,
      `group:
  name: bench-redis
  members:
${members.map((m) => `    - { id: ${m.id}, host: 127.0.0.1, port: ${m.port}, clientPort: ${m.clientPort} }`).join('\n')}
ordering: { plugin: sequencer }
substrates: [{ plugin: resp }]
service: { endpoint: { host: 127.0.0.1, port: ${members[0]!.redis} } }
client: { listen: { host: 127.0.0.1, port: ${clientPort} } }
`,
    );
    await Promise.all([direct, ...members.map((m) => m.redis)].map(redis));
    const vcl = members.map((m) =>
      spawnLines(m.id, process.execPath, vclServiceArgs(vclCli, stackFile, m.id, m.redis)),
    );
    await Promise.all(
      vcl.map((p) =>
        p.waitFor((l) => (logLine(l)?.['members'] as unknown[] | undefined)?.length === 3, 30_000, 'full view'),
      ),
    );
    const client = spawnLines('vcl-client', process.execPath, [vclCli, 'client', '--config', stackFile]);
    await client.waitFor((l) => logLine(l)?.['msg'] === 'client interceptor listening', 30_000, 'client listening');

    const before = load();
    console.log(
      `bench:redis: ${requests} requests per test, tests ${tests}; load average before ${before} (${os.cpus().length} cores)`,
    );
    const rows: string[] = [];
    for (const c of CONFIGS) {
      const d = runBenchmark(direct, tests, requests, c);
      const v = runBenchmark(clientPort, tests, requests, c);
      for (const [test, directRps] of d) {
        const vclRps = v.get(test) ?? 0;
        const ratio = vclRps / directRps;
        const g = goal(test, c);
        const verdict = g === undefined ? '' : `${(g * 100).toFixed(0)} % ${ratio >= g ? 'met' : 'not met'}`;
        rows.push(
          `| ${test} | ${c.clients} | ${c.pipeline} | ${Math.round(directRps)} | ${Math.round(vclRps)} | ${(ratio * 100).toFixed(1)} % | ${verdict} |`,
        );
        console.log(rows.at(-1));
      }
    }
    console.log('');
    console.log(
      `Load average before ${before}, after ${load()}; ${requests} requests per test; ${os.cpus().length} cores.`,
    );
    console.log('');
    console.log('| test | clients | pipeline | direct req/s | VCL req/s | VCL / direct | goal |');
    console.log('| ---- | ------: | -------: | -----------: | --------: | -----------: | ---- |');
    for (const r of rows) console.log(r);
  } finally {
    await Promise.all(procs.map((p) => p.terminate()));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((e: Error) => {
  console.error(`bench:redis: ${e.message}`);
  process.exitCode = 1;
});
