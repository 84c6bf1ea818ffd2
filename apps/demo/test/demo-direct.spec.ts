// The demo end to end in direct mode (one plain metadata server, no VCL), as a real process.
import { rmSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO, requireBuilt } from './processes';

/** Log directories the demo runs printed (`logs in <dir>`), removed after the tests. */
const logDirs = new Set<string>();
afterAll(() => {
  for (const d of logDirs) rmSync(d, { recursive: true, force: true });
});
function remember(out: string): void {
  for (const m of out.matchAll(/logs in (\/\S+?vcl-demo-\w+)/g)) logDirs.add(m[1]!);
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

describe('demo --direct', () => {
  beforeAll(() => requireBuilt(DEMO));

  it('runs the workload with plain progress lines and ends with the summary and the result line', () => {
    const r = spawnSync(process.execPath, [DEMO, '--direct', '--ops', '400', '--rate', '0', '--clients', '4'], {
      encoding: 'utf8',
      timeout: 60000,
    });
    remember(r.stdout);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout.trimEnd().split('\n');
    // Not a terminal, so no live view: no escape sequences at all.
    expect(r.stdout).not.toContain('\x1b');
    const last = out[out.length - 1]!;
    const m = /^demo: ordering=direct ops=(\d+) answered=(\d+) client_errors=0 failovers=0 digests=equal$/.exec(last);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(400);
    expect(m![2]).toBe(m![1]);
    const pid = Number(/started mds1 \(pid (\d+)\)/.exec(r.stdout)![1]);
    expect(gone(pid)).toBe(true);
    const logDir = /logs {18}(\S+)/.exec(r.stdout)![1]!;
    for (const f of ['mds1.log', 'all.log', 'demo.log']) expect(existsSync(join(logDir, f))).toBe(true);
    expect(out).toContain(
      "  client errors         0  (answers that differed from the clients' models: 0, requests never answered: 0)",
    );
  });

  it('stops everything it started on SIGINT', async () => {
    const child = spawn(process.execPath, [DEMO, '--direct', '--ops', '1000000', '--rate', '100'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no progress line within 20 s:\n${out}`)), 20000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (/demo: [\d.]+s running/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const pid = Number(/started mds1 \(pid (\d+)\)/.exec(out)![1]);
    expect(gone(pid)).toBe(false);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    remember(out);
    expect(out).toMatch(/demo: interrupted by SIGINT; stopped everything it started/);
    expect(gone(pid)).toBe(true);
  });

  it('refuses bad options with status 2 and the usage', () => {
    const r = spawnSync(process.execPath, [DEMO, '--ordering', 'paxos'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--ordering must be one of sequencer, tokenring');
    expect(r.stderr).toContain('usage: npm run demo');
  });
});
