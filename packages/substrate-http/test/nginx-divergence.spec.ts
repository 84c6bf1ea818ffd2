import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  describeWhenInstalled,
  freePorts,
  processFailoverHarness,
  type ProcessStackHandle,
  type RunningService,
} from '@vcl/core/testing';

// Issue #20: HTTP replicas always differ in `Date`, so nginx behind VCL logged ~42,000 divergence
// errors per 5,000-request run. The HTTP substrate now leaves `Date` out of what it compares: a
// 1,000-request `ab` run against three real nginx replicas logs no divergence, while every response
// is still compared.

jest.setTimeout(180_000);

const root = path.resolve(__dirname, '../../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-nginx-'));
const nginxProcs: ChildProcess[] = [];

/**
 * One nginx replica serving the same file: same bytes, and the same mtime (so the same ETag and
 * Last-Modified) unless `ownMtime`, as with copies made at different times.
 */
async function nginx(ownMtime = false): Promise<RunningService> {
  const [port] = await freePorts(1);
  const home = path.join(dir, `nginx-${nginxProcs.length + 1}`);
  fs.mkdirSync(path.join(home, 'www'), { recursive: true });
  fs.writeFileSync(path.join(home, 'www', 'index.html'), '<h1>replicated</h1>\n');
  const fixed = new Date(Date.UTC(2026, 0, 1) + (ownMtime ? nginxProcs.length * 1000 : 0));
  fs.utimesSync(path.join(home, 'www', 'index.html'), fixed, fixed);
  fs.writeFileSync(
    path.join(home, 'nginx.conf'),
    `daemon off; master_process off; worker_processes 1; pid ${home}/nginx.pid; error_log ${home}/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${home}/tmp-body; proxy_temp_path ${home}/tmp-proxy; fastcgi_temp_path ${home}/tmp-fcgi;
  uwsgi_temp_path ${home}/tmp-uwsgi; scgi_temp_path ${home}/tmp-scgi;
  server { listen 127.0.0.1:${port}; root ${home}/www; }
}
`,
  );
  const proc = spawn('nginx', ['-p', home, '-c', path.join(home, 'nginx.conf')], { stdio: 'ignore' });
  nginxProcs.push(proc);
  await until(() => fs.existsSync(path.join(home, 'nginx.pid')));
  return {
    endpoint: { host: '127.0.0.1', port: port! },
    close: async () => void proc.kill('SIGTERM'),
  };
}

function metric(port: number, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(body)?.[1] ?? NaN)));
      })
      .on('error', reject);
  });
}

beforeAll(() => {
  fs.chmodSync(dir, 0o755);
  execFileSync(
    'npx',
    ['tsc', '-b', ...['vcl-core', 'gcs-sequencer', 'substrate-http'].map((p) => `packages/${p}/tsconfig.lib.json`)],
    { cwd: root, stdio: 'inherit' },
  );
}, 240_000);

afterAll(() => {
  for (const p of nginxProcs) p.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
});

function startStack(options: Record<string, unknown> | undefined, ownMtime: boolean): Promise<ProcessStackHandle> {
  return processFailoverHarness({ plugin: 'http', ...(options ? { options } : {}) }).start({
    substrate: () => {
      throw new Error('the process harness starts the substrate in the vcl processes');
    },
    service: () => nginx(ownMtime),
    members: 3,
  });
}

/** Runs `ab` against the stack and waits until every member compared `n` responses. */
async function abRun(stack: ProcessStackHandle, n: number): Promise<void> {
  const url = `http://127.0.0.1:${stack.endpoint.port}/index.html`;
  const ab = spawnSync('ab', ['-q', '-k', '-n', String(n), '-c', '4', url], { encoding: 'utf8' });
  expect(ab.stdout).toMatch(new RegExp(`Complete requests:\\s+${n}`));
  expect(ab.stdout).toMatch(/Failed requests:\s+0/);
  // Responses are compared once every member's hash is ordered: wait until all are.
  for (const m of stack.members)
    await until(async () => (await metric(m.adminPort, 'vcl_divergence_compared_total')) >= n, 60_000);
}

async function expectNoDivergence(stack: ProcessStackHandle): Promise<void> {
  for (const m of stack.members) {
    expect(await metric(m.adminPort, 'vcl_divergence_divergent_outputs_total')).toBe(0);
    expect(await metric(m.adminPort, 'vcl_divergence_undecided_total')).toBe(0);
    expect(m.proc.lines.filter((l) => /diverged|disagree/.test(l))).toEqual([]);
  }
}

describeWhenInstalled(
  { programs: ['nginx', 'ab'], install: 'apt-get install nginx-light apache2-utils' },
  'nginx behind three members',
  () => {
    it('an ab run of 1,000 requests logs no divergence with the default compare options (Date ignored), and every response is compared', async () => {
      const stack = await startStack(undefined, false);
      try {
        await abRun(stack, 1000);
        await expectNoDivergence(stack);
      } finally {
        await stack.stop();
      }
    });

    it('copies with their own mtimes differ in ETag and Last-Modified: compare.ignoreHeaders in the stack leaves them out', async () => {
      const stack = await startStack({ compare: { ignoreHeaders: ['date', 'etag', 'last-modified'] } }, true);
      try {
        await abRun(stack, 200);
        await expectNoDivergence(stack);
      } finally {
        await stack.stop();
      }
    });
  },
);

async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
