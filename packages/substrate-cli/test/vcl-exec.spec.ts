import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { PassThroughRelay } from '@vcl/core/testing';
import { parseStack } from '@vcl/core';
import { cliEndpointOf, vclExec } from '../src';
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

  it('--config finds the cli substrate of the stack (several substrates: its listen; one: client.listen)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vcl-exec-config-'));
    try {
      const port = relay.endpoint.port!;
      const file = join(dir, 'stack.yaml');
      writeFileSync(
        file,
        stackYaml(`  - { plugin: tcp, listen: { host: 127.0.0.1, port: 1 } }
  - { plugin: cli, name: ops, listen: { host: 127.0.0.1, port: ${port} }, service: { command: [x] } }`),
      );
      const t = io('');
      expect(await vclExec(['--config', file, '--no-stdin', '--', 'via', 'config'], t.io)).toBe(2);
      expect(t.out()).toBe('args:via config\n');
      const named = io('');
      expect(await vclExec(['--config', file, '--substrate', 'ops', '--no-stdin', 'x'], named.io)).toBe(1);
      expect(named.out()).toBe('args:x\n');
      const wrong = io('');
      expect(await vclExec(['--config', file, '--substrate', 'nope', 'x'], wrong.io)).toBe(64);
      expect(wrong.err()).toBe(`vcl-exec: ${file}: the stack has no substrate named "nope"\n`);
      const both = io('');
      expect(await vclExec(['--config', file, '--connect', '127.0.0.1:1', 'x'], both.io)).toBe(64);
      expect(both.err()).toMatch(/^vcl-exec: give --connect or --config, not both/);
      const broken = io('');
      writeFileSync(join(dir, 'bad.yaml'), 'group: {}\n');
      expect(await vclExec(['--config', join(dir, 'bad.yaml'), 'x'], broken.io)).toBe(64);
      expect(broken.err()).toMatch(/^vcl-exec: \S+bad\.yaml: 4 problems\n[^]*- group\.name: missing/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function stackYaml(substrates: string, client = '{ listen: { host: 127.0.0.1, port: 9 } }'): string {
  return `group:
  name: g
  members: [{ id: n1, host: 127.0.0.1, port: 7001, clientPort: 7002 }]
substrates:
${substrates}
service: { endpoint: { host: 127.0.0.1, port: 7003 } }
client: ${client}
`;
}

describe('cliEndpointOf', () => {
  const stack = (substrates: string, client?: string) => parseStack(stackYaml(substrates, client), 'stack.yaml');

  it('picks the one cli substrate, by plugin or by --substrate name', () => {
    expect(cliEndpointOf(stack('  - { plugin: cli }'))).toBe('127.0.0.1:9');
    // Listening on every interface is off loopback: the stack must say its links run without security.
    const anyAddress =
      '{ listen: { host: 0.0.0.0, port: 8 } }\naaa: { link: { mode: none }, allowInsecureNetwork: true }';
    expect(cliEndpointOf(stack('  - { plugin: cli }', anyAddress))).toBe('127.0.0.1:8');
    const two = stack(`  - { plugin: tcp, listen: { host: 127.0.0.1, port: 5 } }
  - { plugin: "@vcl/substrate-cli", listen: { host: 127.0.0.2, port: 6 } }`);
    expect(cliEndpointOf(two)).toBe('127.0.0.2:6');
    expect(cliEndpointOf(two, 'cli')).toBe('127.0.0.2:6');
    expect(cliEndpointOf(two, 'tcp')).toBe('127.0.0.1:5');
  });

  it('says what is missing', () => {
    expect(() => cliEndpointOf(stack('  - { plugin: tcp }'))).toThrow('the stack has no cli substrate (it has tcp)');
    const twoCli = stack(`  - { plugin: cli, name: a, listen: { host: h, port: 5 } }
  - { plugin: cli, name: b, listen: { host: h, port: 6 } }`);
    expect(() => cliEndpointOf(twoCli)).toThrow('the stack has 2 cli substrates (a, b): give --substrate <name>');
    expect(cliEndpointOf(twoCli, 'b')).toBe('h:6');
    expect(() => cliEndpointOf(stack('  - { plugin: tcp }\n  - { plugin: cli }'))).toThrow(
      'substrates[1] (cli) has no listen address in the stack',
    );
  });
});
