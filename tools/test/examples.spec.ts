import { execFileSync, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { REPO_ROOT } from './checkout';

// The examples/ folder: each example's own start script, run as a user would, then its service
// used through VCL.

jest.setTimeout(120_000);

beforeAll(() => {
  execFileSync(
    'npx',
    ['tsc', '-b', ...['vcl-core', 'gcs-sequencer', 'substrate-tcp'].map((p) => `packages/${p}/tsconfig.lib.json`)],
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

describe('examples/line-service', () => {
  it('start.sh runs three counters, their members (vcl local, one merged log) and the client side; the counter answers through VCL', async () => {
    const base = (200 + Math.floor(Math.random() * 100)) * 100;
    const proc = spawn(path.join(REPO_ROOT, 'examples/line-service/start.sh'), [], {
      env: { ...process.env, VCL_EXAMPLE_PORT_BASE: String(base) },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    proc.stdout!.on('data', (d) => (log += d));
    proc.stderr!.on('data', (d) => (log += d));
    try {
      const start = Date.now();
      const up = (): boolean =>
        /^client\s+info client interceptor listening/m.test(log) &&
        // Every member logs in the merged log under its own name.
        ['n1', 'n2', 'n3'].every((n) => new RegExp(`^${n}\\s+info member started`, 'm').test(log));
      while (!up()) {
        if (Date.now() - start > 60_000 || proc.exitCode !== null) throw new Error(`not up:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await ask(base, 'add 5\nadd 2\nget\n', 3)).toEqual(['5', '7', '7']);
    } finally {
      // The script's own process group: its shell, the counters and vcl local's children.
      if (proc.pid) process.kill(-proc.pid, 'SIGINT');
      await new Promise((r) => (proc.exitCode !== null ? r(undefined) : proc.once('exit', r)));
    }
  });
});
