import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, type CliIo } from './run';

// `vcl check` runs every check `vcl service` and `vcl client` run at start, and names file, path
// and line for each problem; nothing it finds may surface as a stack trace.
const BASE = `group:
  name: g
  members:
    - { id: n1, host: 127.0.0.1, port: 7001, clientPort: 7101 }
    - { id: n2, host: 127.0.0.1, port: 7002, clientPort: 7102 }
substrate: { plugin: tcp, options: { framing: line } }
service: { endpoint: { host: 127.0.0.1, port: 9000 } }
client: { listen: { port: 9100 } }
`;

async function check(text: string): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    stopSignal: () => new Promise(() => undefined),
  };
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vcl-check-'));
  const file = path.join(dir, 'stack.yaml');
  await fs.writeFile(file, text);
  try {
    const code = await runCli(['check', '--config', file], io);
    return { code, out: out.join(''), err: err.join('').replaceAll(file, 'stack.yaml') };
  } finally {
    await fs.rm(dir, { recursive: true });
  }
}

describe('vcl check', () => {
  it('creates no member directories (vcl service creates service.cwd and the data directory at start; a check changes nothing)', async () => {
    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'vcl-check-dirs-'));
    try {
      const stack = BASE.replace(
        'substrate: { plugin: tcp, options: { framing: line } }\nservice: { endpoint: { host: 127.0.0.1, port: 9000 } }',
        `substrate: { plugin: cli }\nservice: { command: [sqlite3, db], cwd: '${scratch}/replica-{member}', dataDir: '${scratch}/data' }`,
      );
      const r = await check(stack);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(await fs.readdir(scratch)).toEqual([]);
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
  });

  it('accepts a good stack', async () => {
    const r = await check(BASE);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });

  it('reports a YAML alias bomb as a ConfigError, not a stack trace', async () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      bomb.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    const r = await check(`${bomb.join('\n')}\n${BASE}`);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/VCL_CONFIG|YAML resource limit/);
    expect(r.err).toMatch(/alias/i);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('bounds member ids by the wire format and every timeout by 2^31-1 ms', async () => {
    const longId = 'n'.repeat(257);
    const r = await check(
      `${BASE.replace('id: n1,', `id: ${longId},`)}timeouts: { requestMs: 4294967296 }\nlimits: { handshakeTimeoutMs: 2147483648 }\n`,
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/group\.members\[0\]\.id: expected a string of at most 256 characters.*\(line 4:/);
    expect(r.err).toMatch(/timeouts\.requestMs: expected a number at most 2147483647, got 4294967296/);
    expect(r.err).toMatch(/limits\.handshakeTimeoutMs: expected a number at most 2147483647/);
  });

  it('refuses members off loopback without link security unless the stack says so twice', async () => {
    const exposed = BASE.replace('host: 127.0.0.1, port: 7002', 'host: 10.1.2.3, port: 7002');
    const r = await check(exposed);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/links without integrity or authentication on a network \(member n2 at 10\.1\.2\.3\)/);
    // Saying only one of the two is not enough.
    expect((await check(`${exposed}aaa: { allowInsecureNetwork: true }\n`)).code).toBe(1);
    expect((await check(`${exposed}aaa: { link: { mode: none } }\n`)).code).toBe(1);
    expect((await check(`${exposed}aaa: { link: { mode: none }, allowInsecureNetwork: true }\n`)).code).toBe(0);
  });

  it('labels policy errors aaa.policy[i] and gives plugin and AAA errors their line', async () => {
    const r = await check(
      `${BASE}aaa:\n  policy:\n    - { principal: alice, tcp: true }\n    - { principal: bob, commands: [qstat] }\n`,
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/aaa\.policy\[1\]: Unrecognized key\(s\) in object: 'commands' \(line 12:7\)/);
    const key = await check(`${BASE}aaa:\n  link: { mode: hmac, keyFile: /nonexistent/group.key }\n`);
    expect(key.code).toBe(1);
    expect(key.err).toMatch(/aaa\.link\.keyFile: .*\(line 10:/);
    const opts = await check(BASE.replace('framing: line', 'framing: lines'));
    expect(opts.code).toBe(1);
    expect(opts.err).toMatch(/substrate(s\[0\])?\.options\.framing: .*\(line 6:/);
  });

  it('rejects a substrate whose service target does not fit, as vcl service would', async () => {
    const r = await check(
      BASE.replace('substrate: { plugin: tcp, options: { framing: line } }', 'substrate: { plugin: cli }'),
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/runs a command for each request, but its service target is 127\.0\.0\.1:9000/);
  });
});
