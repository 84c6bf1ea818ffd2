import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { processFailoverHarness, type ProcessStackHandle, type RunningService } from '@vcl/core/testing';
import { TEST_LIMITS } from './fixture';

// End to end with real processes: three `vcl service` members (sequencer), each running its own
// copy of the replicated command (which logs every run to a file of its member), one `vcl client`,
// and the real client: the built `vcl-exec` bin, one process per request.

jest.setTimeout(60_000);

const root = path.resolve(__dirname, '../../..');
const vclExecBin = path.join(root, 'packages/substrate-cli/dist/bin/vcl-exec.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-cli-e2e-'));
/** Each member's run log, one file per member. */
const logs: string[] = [];
let stack: ProcessStackHandle;

/** The replicated command of member `i`: logs its arguments, sleeps 1.5 s for `slow`, prints them. */
async function commandService(): Promise<RunningService> {
  const log = path.join(dir, `runs-${logs.length + 1}.log`);
  fs.writeFileSync(log, '');
  logs.push(log);
  const script = `printf '%s\\n' "$*" >> '${log}'; if [ "$1" = slow ]; then sleep 1.5; fi; printf 'out:%s\\n' "$*"; printf 'n=%s\\n' "$#" >&2`;
  return { endpoint: { command: ['/bin/sh', '-c', script, 'sh'] }, close: async () => undefined };
}

beforeAll(async () => {
  execFileSync(
    'npx',
    ['tsc', '-b', ...['vcl-core', 'gcs-sequencer', 'substrate-cli'].map((p) => `packages/${p}/tsconfig.lib.json`)],
    { cwd: root, stdio: 'inherit' },
  );
  stack = await processFailoverHarness({ plugin: 'cli', options: { ...TEST_LIMITS } }).start({
    substrate: () => {
      throw new Error('the process harness starts the substrate in the vcl processes');
    },
    service: commandService,
    members: 3,
  });
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real `vcl-exec` bin against the stack's client-side interceptor. */
function vclExec(args: readonly string[], stdin = ''): { done: Promise<ExecResult> } {
  const child = spawn(process.execPath, [vclExecBin, '--connect', `127.0.0.1:${stack.endpoint.port}`, '--', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => undefined);
  child.stdin.end(stdin);
  return { done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))) };
}

const runs = (i: number): string[] => fs.readFileSync(logs[i]!, 'utf8').split('\n').filter(Boolean);

async function until(what: string, test: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('cli substrate behind vcl service x3 + vcl client (real processes)', () => {
  it('vcl-exec runs survive a SIGKILL of the member serving one mid-command: every answer exactly once, every surviving replica runs each command once, in order', async () => {
    const args = Array.from({ length: 10 }, (_, i) => (i === 5 ? ['slow', `r${i + 1}`] : [`r${i + 1}`, 'x']));
    const results: ExecResult[] = [];
    for (const [i, a] of args.entries()) {
      const run = vclExec(a);
      if (i === 5) {
        // The command has started at every replica (it is ordered) and is still running: kill the
        // member this vcl-exec's session is attached to.
        await until('every replica started the slow command', () =>
          logs.every((_, m) => runs(m).includes(a.join(' '))),
        );
        await stack.killServingMember();
      }
      results.push(await run.done);
    }
    expect(results).toEqual(
      args.map((a) => ({
        code: 0,
        stdout: `out:${a.join(' ')}\n`,
        stderr: `n=${a.length}\n`,
      })),
    );
    expect(stack.failovers()).toBe(1);
    // (A replica that does not serve the client may still be running the last command.)
    const survivors = (): string[][] => stack.members.flatMap((m, i) => (m.killed ? [] : [runs(i)]));
    await until('every survivor ran the last command', () => survivors().every((r) => r.length >= args.length));
    expect(survivors()).toEqual([1, 2].map(() => args.map((a) => a.join(' '))));
  });

  it('an oversize request gets exit 65 and the reason from the running client interceptor, which keeps serving', async () => {
    const before = stack.members.flatMap((m, i) => (m.killed ? [] : [runs(i).length]));
    const big = await vclExec(['big'], 'z'.repeat(TEST_LIMITS.maxRequestBytes! + 1)).done;
    const next = await vclExec(['after', 'big']).done;
    expect(big.code).toBe(65);
    expect(big.stderr).toMatch(/exceeds the maximum of 4096 bytes/);
    expect(next).toEqual({ code: 0, stdout: 'out:after big\n', stderr: 'n=2\n' });
    // The oversize request never reached a replica; the next one ran once at each.
    const live = (): string[][] => stack.members.flatMap((m, i) => (m.killed ? [] : [runs(i)]));
    await until('every survivor ran the next command', () => live().every((r, k) => r.length > before[k]!));
    const after = live();
    expect(after.map((r, k) => r.slice(before[k]))).toEqual(after.map(() => ['after big']));
  });
});
