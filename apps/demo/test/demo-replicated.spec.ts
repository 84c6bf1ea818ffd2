// The replicated demo end to end, non-interactively, for both ordering plugins: 3 metadata
// servers, 3 `vcl service` members and a `vcl client` as real processes on 127.0.0.1; the member
// serving the client is killed (SIGKILL) half-way. The client must see no error and the surviving
// replicas must end in the same state.
import { rmSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DEMO, requireBuilt } from './processes';

const ORDERINGS = ['sequencer', 'tokenring'];
const VCL = join(__dirname, '..', '..', '..', 'packages', 'vcl-core', 'dist', 'cli', 'main.js');
const STACKS = join(__dirname, '..', 'stacks');

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

function runDemo(args: string[]): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DEMO, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (status) => resolve({ status, out, err }));
  });
}

describe('the replicated demo (npm run demo --no-tty)', () => {
  beforeAll(() => requireBuilt(DEMO, VCL));

  it.each(ORDERINGS)('stacks/mds-%s.yaml passes `vcl check` (its plugins accept their options)', (ordering) => {
    const r = spawnSync(process.execPath, [VCL, 'check', '--config', join(STACKS, `mds-${ordering}.yaml`)], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`ok: group mds, 3 members (n1, n2, n3), ordering ${ordering}, substrate tcp`);
    expect(r.status).toBe(0);
  });

  it.each(ORDERINGS)(
    'ordering=%s: kills the serving member half-way; zero client errors, equal digests',
    async (ordering) => {
      const r = await runDemo(['--ordering', ordering, '--ops', '300', '--rate', '0', '--clients', '6']);
      remember(r.out);
      const lines = r.out.trimEnd().split('\n');
      const last = lines[lines.length - 1]!;
      const context = `\n--- stdout ---\n${r.out}\n--- stderr ---\n${r.err}`;
      const m = new RegExp(
        `^demo: ordering=${ordering} ops=(\\d+) answered=(\\d+) client_errors=(\\d+) failovers=(\\d+) digests=(equal|differ)$`,
      ).exec(last);
      if (!m) throw new Error(`no result line${context}`);
      expect({ status: r.status, clientErrors: m[3], digests: m[5] }).toEqual({
        status: 0,
        clientErrors: '0',
        digests: 'equal',
      });
      expect(m[2]).toBe(m[1]);
      expect(Number(m[1])).toBeGreaterThan(300);
      expect(Number(m[4])).toBeGreaterThanOrEqual(1);
      expect(r.out).toMatch(/SIGKILL n\d and its metadata server mds\d/);
      expect(r.out).toMatch(/fail-over: session \S+ n\d → n\d in \d+ ms/);
      expect(r.out).toMatch(/client-visible stall: the longest request waited \d+ ms/);
      // The killed member restarts with a fresh replica and rejoins with state transfer
      // (stack file service.recovery): all three replicas compared, equal.
      expect(r.out).toMatch(/n\d rejoined at cut \d+: \d+ state bytes \(recovery (snapshot|replay)\)/);
      expect(lines.filter((l) => /^ {2}digest mds\d +[0-9a-f]{64}/.test(l))).toHaveLength(3);
      // Everything it started is gone.
      for (const pid of [...r.out.matchAll(/pid (\d+)/g)].map((x) => Number(x[1]))) expect(gone(pid)).toBe(true);
    },
    150000,
  );

  it('stops every process it started (servers, members, client) on SIGINT', async () => {
    const child = spawn(process.execPath, [DEMO, '--ops', '1000000', '--rate', '100'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the workload did not start within 40 s:\n${out}`)), 40000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('workload: ')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const pids = [...out.matchAll(/pid (\d+)/g)].map((x) => Number(x[1]));
    expect(pids).toHaveLength(7);
    expect(pids.every((p) => !gone(p))).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    remember(out);
    expect(out).toMatch(/demo: interrupted by SIGINT; stopped everything it started/);
    expect(out).not.toContain('client errors');
    expect(pids.filter((p) => !gone(p))).toEqual([]);
  }, 60000);
});
