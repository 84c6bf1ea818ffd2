// `npm run bench:service`: autocannon against a small Node HTTP service (kv-http-main) replicated
// three times behind `vcl service` members and one `vcl client`, and against the same service
// direct, side by side in one run: keep-alive, 1 and 20 connections, GET only, 90/10 GET/PUT and PUT
// only. Prints a table of requests/s with the ratio to direct. VCL_BENCH_SECONDS sets each run's
// duration (default 5).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  buildForProcesses,
  logLine,
  lowPorts,
  spawnNode,
  toolsProgram,
  vclCli,
  vclServiceArgs,
  type Proc,
} from './processes';

interface CannonResult {
  readonly requests: { readonly average: number };
  readonly non2xx: number;
  readonly errors: number;
}
type Cannon = (opts: Record<string, unknown>) => Promise<CannonResult>;
// autocannon ships no types; this is the one call used.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as Cannon;

const seconds = Number(process.env['VCL_BENCH_SECONDS'] ?? 5);
const mixes = {
  'GET only': ['GET'],
  '90/10 GET/PUT': ['GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'PUT'],
  'PUT only': ['PUT'],
} as const;

async function cannon(port: number, connections: number, methods: readonly string[]): Promise<CannonResult> {
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    pipelining: 1,
    requests: methods.map((method, i) =>
      method === 'PUT' ? { method, path: `/k/key${i % 7}`, body: `value-${i}` } : { method, path: `/k/key${i % 7}` },
    ),
  });
}

async function main(): Promise<void> {
  buildForProcesses(); // (npm run bench:service builds the HTTP plugin, which members load by name)
  const procs: Proc[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-bench-service-'));
  try {
    const ports = await lowPorts(14);
    const direct = ports[0]!;
    const members = [0, 1, 2].map((i) => ({
      id: `n${i + 1}`,
      port: ports[1 + 4 * i]!,
      clientPort: ports[2 + 4 * i]!,
      adminPort: ports[3 + 4 * i]!,
      servicePort: ports[4 + 4 * i]!,
    }));
    const clientPort = ports[13]!;
    const service = (name: string, port: number): Proc => {
      const p = spawnNode(name, [toolsProgram('bench/kv-http-main'), String(port)]);
      procs.push(p);
      return p;
    };
    const services = [service('kv-direct', direct), ...members.map((m) => service(`kv-${m.id}`, m.servicePort))];
    await Promise.all(services.map((p) => p.waitFor((l) => l === 'listening', 10_000, 'listening')));
    const stack = path.join(dir, 'stack.yaml');
    fs.writeFileSync(
      stack,
      [
        'group:',
        '  name: bench-service',
        '  members:',
        ...members.map(
          (m) =>
            `    - { id: ${m.id}, host: 127.0.0.1, port: ${m.port}, clientPort: ${m.clientPort}, adminPort: ${m.adminPort} }`,
        ),
        'ordering: { plugin: sequencer }',
        'substrate: { plugin: http }',
        `service: { endpoint: { host: 127.0.0.1, port: ${members[0]!.servicePort} } }`,
        `client: { listen: { host: 127.0.0.1, port: ${clientPort} } }`,
        '',
      ].join('\n'),
    );
    const vcl = members.map((m) => {
      const p = spawnNode(m.id, vclServiceArgs(vclCli, stack, m.id, m.servicePort), {}, false);
      procs.push(p);
      return p;
    });
    await Promise.all(
      vcl.map((p) =>
        p.waitFor(
          (l) => {
            const f = logLine(l);
            return f?.['msg'] === 'view installed' && (f['members'] as unknown[]).length === 3;
          },
          60_000,
          'full view',
        ),
      ),
    );
    const client = spawnNode('vcl-client', [vclCli, 'client', '--config', stack], {}, false);
    procs.push(client);
    await client.waitFor((l) => logLine(l)?.['msg'] === 'client interceptor listening', 20_000, 'client listening');
    // Seed the keys so GETs find values.
    await cannon(direct, 1, ['PUT']);
    await cannon(clientPort, 1, ['PUT']);
    const rows: string[][] = [];
    for (const [mix, methods] of Object.entries(mixes))
      for (const connections of [1, 20]) {
        const d = await cannon(direct, connections, methods);
        const v = await cannon(clientPort, connections, methods);
        const bad = v.errors + d.errors;
        rows.push([
          mix,
          String(connections),
          d.requests.average.toFixed(0),
          v.requests.average.toFixed(0),
          `${((100 * v.requests.average) / d.requests.average).toFixed(1)} %`,
          bad ? `${bad} errors` : '',
        ]);
      }
    const head = ['mix', 'connections', 'direct req/s', '3 replicas req/s', 'ratio', ''];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
    process.stdout.write(
      `${[line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')}\n` +
        `(${seconds} s per run, keep-alive; load average ${os
          .loadavg()
          .map((x) => x.toFixed(1))
          .join(' ')})\n`,
    );
  } finally {
    await Promise.all(procs.map((p) => p.terminate()));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
