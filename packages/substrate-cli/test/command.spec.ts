import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type Conversation } from '@vcl/core';
import { ConversationReader } from '@vcl/core/testing';
import { decodeResponse, encodeRequest, type CommandResult, type CliOptions } from '../src';
import { str, substrate, text } from './fixture';

// The service side: each request runs the command, one at a time, with a timeout and an output
// limit, and comes back as stdout, stderr and the exit code.

async function run(
  command: string[],
  requests: Array<{ argv: string[]; stdin?: string }>,
  options: CliOptions = {},
): Promise<CommandResult[]> {
  const s = substrate(options);
  const conversation: Conversation = await s.dial({ command });
  const reader = new ConversationReader(conversation, s.responseFramer());
  for (const r of requests) conversation.write(encodeRequest({ argv: r.argv, stdin: text(r.stdin ?? '') }));
  await reader.until(() => reader.messages.length === requests.length, `${requests.length} responses`, 20_000);
  conversation.end();
  expect(await reader.untilEnd()).toBeNull();
  return reader.messages.map(decodeResponse);
}

const sh = (script: string): string[] => ['/bin/sh', '-c', script, 'sh'];

describe('command-line service side', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'vcl-cli-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the commands one at a time, in the order written, each with its own arguments and stdin', async () => {
    const log = join(dir, 'log');
    const results = await run(
      sh(`echo "start $1" >> ${log}; sleep 0.05; read line; echo "end $1 $line" >> ${log}; echo "done $1"`),
      [1, 2, 3, 4].map((i) => ({ argv: [String(i)], stdin: `in${i}\n` })),
    );
    expect(results.map((r) => str(r.stdout))).toEqual(['done 1\n', 'done 2\n', 'done 3\n', 'done 4\n']);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(
      [1, 2, 3, 4].flatMap((i) => [`start ${i}`, `end ${i} in${i}`]),
    );
  });

  it('passes on the exit code and stderr, and 128 + n for a command killed by signal n', async () => {
    const [exit3, killed] = await run(sh('echo oops >&2; [ "$1" = kill ] && kill -TERM $$; exit 3'), [
      { argv: ['x'] },
      { argv: ['kill'] },
    ]);
    expect(exit3).toEqual({ exitCode: 3, stdout: new Uint8Array(0), stderr: text('oops\n') });
    expect(killed!.exitCode).toBe(128 + 15);
  });

  it('kills a command past its timeout: exit 124, the timedOut flag and a note; the next request still runs', async () => {
    const [slow, next] = await run(
      sh('[ "$1" = slow ] && sleep 5; echo ran'),
      [{ argv: ['slow'] }, { argv: ['fast'] }],
      {
        timeoutMs: 200,
      },
    );
    expect(slow!.exitCode).toBe(124);
    expect(slow!.timedOut).toBe(true);
    expect(str(slow!.stderr)).toBe('vcl: the command ran past its timeout of 200 ms and was killed\n');
    expect(str(next!.stdout)).toBe('ran\n');
  });

  it('cuts output at the limit and kills the command', async () => {
    const [result] = await run(sh('head -c 100000 /dev/zero; sleep 5'), [{ argv: [] }], { maxResponseBytes: 2048 });
    expect(result!.truncated).toBe(true);
    expect(result!.stdout.length).toBe(2048 - 19 - 512);
    expect(str(result!.stderr)).toContain('vcl: output exceeded 1517 bytes; the command was killed');
  });

  it('reports a command that cannot start with exit 127', async () => {
    const [result] = await run([join(dir, 'missing')], [{ argv: [] }]);
    expect(result!.exitCode).toBe(127);
    expect(str(result!.stderr)).toContain(`vcl: cannot run ${join(dir, 'missing')}: spawn`);
  });

  it('runs in the configured directory with the configured extra environment', async () => {
    const [result] = await run(sh('pwd; echo "$VCL_TEST_VAR"'), [{ argv: [] }], {
      cwd: dir,
      env: { VCL_TEST_VAR: 'v1' },
    });
    expect(str(result!.stdout)).toBe(`${dir}\nv1\n`);
  });

  it('refuses to dial without a command', async () => {
    await expect(substrate().dial({ host: '127.0.0.1', port: 1 })).rejects.toThrow(ConfigError);
  });
});
