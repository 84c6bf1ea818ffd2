import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as net from 'node:net';
import * as path from 'node:path';
import { describeWhenInstalled } from '@vcl/core/testing';
import { REPO_ROOT } from './checkout';

// The examples/ folder: each example's own start script, run as a user would, then its service
// used through VCL.

jest.setTimeout(120_000);

beforeAll(() => {
  execFileSync(
    'npx',
    [
      'tsc',
      '-b',
      ...['vcl-core', 'gcs-sequencer', 'substrate-tcp', 'substrate-http', 'substrate-cli'].map(
        (p) => `packages/${p}/tsconfig.lib.json`,
      ),
    ],
    { cwd: REPO_ROOT, stdio: 'inherit' },
  );
}, 240_000);

function ask(port: number, text: string, answers: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let held = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      held += d;
      const lines = held.split('\n').filter(Boolean);
      if (lines.length >= answers) {
        socket.destroy();
        resolve(lines);
      }
    });
    socket.on('error', reject);
  });
}

interface Example {
  /** Everything the script printed so far (the merged log). */
  readonly log: () => string;
  /** Stops the script's whole process group and waits for it. */
  readonly stop: () => Promise<void>;
}

/** Runs `examples/<name>/start.sh` with every port moved to `base`, until all members and the client are up. */
async function startExample(name: string, base: number, env: Record<string, string> = {}): Promise<Example> {
  const proc = spawn(path.join(REPO_ROOT, 'examples', name, 'start.sh'), [], {
    env: { ...process.env, VCL_EXAMPLE_PORT_BASE: String(base), ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  const stop = async (): Promise<void> => {
    // The script's own process group: its shell, the services and vcl local's children.
    if (proc.pid && proc.exitCode === null) process.kill(-proc.pid, 'SIGINT');
    await new Promise((r) => (proc.exitCode !== null ? r(undefined) : proc.once('exit', r)));
  };
  const start = Date.now();
  const up = (): boolean =>
    /^client\s+info client interceptor listening/m.test(log) &&
    // Every member logs in the merged log under its own name.
    ['n1', 'n2', 'n3'].every((n) => new RegExp(`^${n}\\s+info member started`, 'm').test(log));
  while (!up()) {
    if (Date.now() - start > 60_000 || proc.exitCode !== null) {
      await stop();
      throw new Error(`not up:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { log: () => log, stop };
}

/** A random port base (hundreds) for one example, away from the defaults. */
const portBase = (): number => (200 + Math.floor(Math.random() * 100)) * 100;

describe('examples/line-service', () => {
  it('start.sh runs three counters, their members (vcl local, one merged log) and the client side; the counter answers through VCL', async () => {
    const base = portBase();
    const example = await startExample('line-service', base);
    try {
      expect(await ask(base, 'add 5\nadd 2\nget\n', 3)).toEqual(['5', '7', '7']);
    } finally {
      await example.stop();
    }
  });
});

describeWhenInstalled(
  { programs: ['nginx', 'ab'], install: 'apt-get install nginx-light apache2-utils' },
  'examples/nginx',
  () => {
    it('start.sh runs three nginx behind three members; ab through VCL gets every page and no replica is reported diverged', async () => {
      const base = portBase();
      const example = await startExample('nginx', base);
      try {
        const url = `http://127.0.0.1:${base}/index.html`;
        const ab = spawnSync('ab', ['-q', '-k', '-n', '300', '-c', '4', url], { encoding: 'utf8' });
        expect(ab.stdout).toMatch(/Complete requests:\s+300/);
        expect(ab.stdout).toMatch(/Failed requests:\s+0/);
        const page = await httpGet(base, '/');
        expect(page).toContain('Served by one of three nginx replicas');
        expect(example.log()).not.toMatch(/diverged|disagree/);
      } finally {
        await example.stop();
      }
    });
  },
);

describeWhenInstalled({ programs: ['sqlite3'], install: 'apt-get install sqlite3' }, 'examples/sqlite', () => {
  it('start.sh runs three members of sqlite3; statements through vcl-exec reach every replica, which end equal', async () => {
    const base = portBase();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-sqlite-example-'));
    const example = await startExample('sqlite', base, { VCL_EXAMPLE_DIR: dir });
    const exec = (args: string[], stdin = ''): { code: number | null; out: string } => {
      const r = spawnSync(
        process.execPath,
        [path.join(REPO_ROOT, 'packages/substrate-cli/bin/vcl-exec.cjs'), '--connect', `127.0.0.1:${base}`, ...args],
        { input: stdin, encoding: 'utf8' },
      );
      return { code: r.status, out: r.stdout + r.stderr };
    };
    try {
      expect(exec(['--', 'create table t(x integer); insert into t values (40), (2);']).code).toBe(0);
      expect(exec([], 'select count(*), sum(x) from t;\n')).toEqual({ code: 0, out: '2|42\n' });
      const bad = exec(['--', 'select * from nope;']);
      expect(bad.code).toBe(1);
      expect(bad.out).toMatch(/no such table: nope/);
      await example.stop();
      const dumps = ['n1', 'n2', 'n3'].map((m) =>
        execFileSync('sqlite3', [path.join(dir, `replica-${m}`, 'db.sqlite'), '.dump'], { encoding: 'utf8' }),
      );
      expect(dumps[0]).toContain('INSERT INTO t VALUES(40);');
      expect(new Set(dumps).size).toBe(1);
    } finally {
      await example.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

function httpGet(port: number, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}
