import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { PassThroughRelay } from '@vcl/core/testing';
import { vclExec } from '../src';
import { COMMAND, substrate } from './fixture';

// vcl-exec against a cli listener relayed to the command (listen + dial, nothing replicated):
// in process through `vclExec`, and as the real built bin in its own process.

function io(stdin: string, env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  return {
    io: { stdin: Readable.from([Buffer.from(stdin)]), stdout, stderr, env },
    out: () => Buffer.concat(out).toString(),
    err: () => Buffer.concat(err).toString(),
  };
}

describe('vcl-exec', () => {
  let relay: PassThroughRelay;
  let connect: string;
  beforeAll(async () => {
    relay = await PassThroughRelay.start({ substrate: substrate(), service: { command: COMMAND } });
    connect = `127.0.0.1:${relay.endpoint.port}`;
  });
  afterAll(() => relay.close());

  it("sends argv and stdin, prints the command's stdout and stderr, and returns its exit code", async () => {
    const t = io('from stdin\n');
    const code = await vclExec(['--connect', connect, '--', 'put', 'key', 'value with spaces', '--flag'], t.io);
    expect(t.out()).toBe('args:put key value with spaces --flag\nfrom stdin\n');
    expect(t.err()).toBe('err 4\n');
    expect(code).toBe(1);
  });

  it('takes the endpoint from VCL_EXEC_CONNECT, and sends no stdin with --no-stdin', async () => {
    const t = io('ignored', { VCL_EXEC_CONNECT: connect });
    expect(await vclExec(['--no-stdin', 'a', 'b'], t.io)).toBe(2);
    expect(t.out()).toBe('args:a b\n');
  });

  it('exits 64 without an endpoint and 69 when the endpoint does not answer', async () => {
    const none = io('');
    expect(await vclExec(['x'], none.io)).toBe(64);
    expect(none.err()).toContain('no endpoint: give --connect host:port or set VCL_EXEC_CONNECT');
    const closed = await PassThroughRelay.start({ substrate: substrate(), service: { command: COMMAND } });
    const port = closed.endpoint.port;
    await closed.close();
    const down = io('');
    expect(await vclExec(['--connect', `127.0.0.1:${port}`, 'x'], down.io)).toBe(69);
    expect(down.err()).toMatch(/^vcl-exec: cannot reach 127\.0\.0\.1:\d+: connect ECONNREFUSED/);
  });

  it('an oversize stdin gets exit 65 with the reason; the listener keeps serving', async () => {
    const big = io('x'.repeat(10_000));
    expect(await vclExec(['--connect', connect, 'big'], big.io)).toBe(65);
    expect(big.err()).toMatch(/^vcl: request of \d+ bytes exceeds the maximum of 4096 bytes\n$/);
    const next = io('');
    expect(await vclExec(['--connect', connect, 'after'], next.io)).toBe(1);
    expect(next.out()).toBe('args:after\n');
  });

  it('the built bin, as its own process, exits with the replicated command exit code', async () => {
    const bin = join(__dirname, '..', 'dist', 'bin', 'vcl-exec.js');
    if (!existsSync(bin)) throw new Error(`${bin} is missing: build first (npx nx run @vcl/substrate-cli:build)`);
    const child = spawn(process.execPath, [bin, '--connect', connect, '--', 'one', 'two'], { stdio: 'pipe' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.end('piped\n');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect([code, Buffer.concat(out).toString(), Buffer.concat(err).toString()]).toEqual([
      2,
      'args:one two\npiped\n',
      'err 2\n',
    ]);
  });
});
