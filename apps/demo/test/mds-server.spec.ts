// The metadata server, its client library and CLI, and the workload, as real processes on 127.0.0.1.
import { spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { MdsClient, MdsConnectionError } from '../src/client/mds-client';
import { MdsError } from '../src/mds/errors';
import { Workload } from '../src/workload/workload';
import { MDS_CLIENT, MDS_SERVER, requireBuilt, startServer, type ServerProcess } from './processes';

/** A raw connection that collects answer lines. */
async function rawConnection(port: number): Promise<{ socket: Socket; next(n: number): Promise<string[]> }> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let buffer = '';
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  socket.on('data', (d: Buffer) => {
    buffer += d.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      lines.push(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  return {
    socket,
    async next(n) {
      while (lines.length < n) await new Promise<void>((r) => waiters.push(r));
      return lines.splice(0, n);
    },
  };
}

function code(response: string): string {
  const r = JSON.parse(response);
  return r.ok ? 'ok' : r.error.code;
}

describe('mds-server process', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer(['--max-line-bytes', '1024']);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('serves every operation through the client library, errors as MdsError codes', async () => {
    const c = await MdsClient.connect({ port: server.port });
    try {
      const dir = await c.mkdir('/lib');
      expect(dir).toMatchObject({ type: 'dir', mode: 0o755 });
      const file = await c.create('/lib/f', 0o600);
      expect(file).toMatchObject({ type: 'file', mode: 0o600, ino: dir.ino + 1 });
      expect(await c.lookup('/lib/f')).toEqual({ ino: file.ino, handle: file.handle, type: 'file' });
      expect(await c.lookupAt(dir.handle, 'f')).toEqual({ ino: file.ino, handle: file.handle, type: 'file' });
      expect((await c.readdir({ handle: dir.handle })).entries.map((e) => e.name)).toEqual(['f']);
      expect(await c.setattr({ handle: file.handle }, { size: 10 })).toMatchObject({ size: 10 });
      expect(await c.stat({ path: '/lib/f' })).toMatchObject({ size: 10 });
      expect(await c.rename('/lib/f', '/lib/g')).toEqual({ ino: file.ino, replaced: null });
      expect(await c.remove('/lib/g')).toEqual({ ino: file.ino, type: 'file' });
      const d = await c.digest();
      expect(d.digest).toMatch(/^[0-9a-f]{64}$/);
      await expect(c.mkdir('/lib')).rejects.toMatchObject({ name: 'MdsError', code: 'EEXIST' });
      await expect(c.stat({ path: '/lib/g' })).rejects.toBeInstanceOf(MdsError);
      await expect(c.remove('/')).rejects.toMatchObject({ code: 'EINVAL' });
      await expect(c.rename('/nope', '/x')).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(c.remove('/lib/g/x')).rejects.toMatchObject({ code: 'ENOENT' });
      await c.create('/lib/h');
      await expect(c.create('/lib/h/x')).rejects.toMatchObject({ code: 'ENOTDIR' });
      await expect(c.remove('/lib')).rejects.toMatchObject({ code: 'ENOTEMPTY' });
      await expect(c.stat({ handle: file.handle })).rejects.toMatchObject({ code: 'ESTALE' });
      expect((await c.digest()).digest).not.toBe(d.digest);
    } finally {
      await c.close();
    }
  });

  it('answers malformed and over-long lines with EBADREQ, in order, and keeps serving the connection', async () => {
    const raw = await rawConnection(server.port);
    const long = `{"op":"mkdir","path":"/${'x'.repeat(2000)}"}`;
    raw.socket.write(
      Buffer.concat([
        Buffer.from('{"op":"mkdir","path":"/raw"}\nnot json\n\n{"op":"explode"}\n'),
        Buffer.from([0xff, 0xfe, 0x0a]),
        Buffer.from(`${long}\r\n{"op":"create","path":"/raw/a"}\n`),
      ]),
    );
    const answers = await raw.next(7);
    expect(answers.map(code)).toEqual(['ok', 'EBADREQ', 'EBADREQ', 'EBADREQ', 'EBADREQ', 'EBADREQ', 'ok']);
    expect(JSON.parse(answers[5]!).error.message).toContain('longer than the maximum 1024');
    // A request split over many writes is still one request.
    for (const ch of '{"op":"readdir","path":"/raw"}\n') raw.socket.write(ch);
    expect(JSON.parse((await raw.next(1))[0]!).result.entries).toHaveLength(1);
    raw.socket.destroy();
    expect(server.lines.some((l) => l['msg'] === 'malformed request; answered EBADREQ')).toBe(true);
  });

  it('serves many connections at once: a workload of 8 clients over 4 connections sees zero errors', async () => {
    const conns = await Promise.all(Array.from({ length: 4 }, () => MdsClient.connect({ port: server.port })));
    try {
      const report = await new Workload(conns, { clients: 8, ops: 1000, seed: 11, root: '/load' }).run();
      expect(report).toMatchObject({ clientErrors: 0, mismatches: 0, lost: 0, phase: 'done' });
      expect(report.answered).toBe(report.sent);
      expect(report.expectedErrors).toBeGreaterThan(0);
      expect(report.verifiedDirs).toBeGreaterThanOrEqual(8);
    } finally {
      await Promise.all(conns.map((c) => c.close()));
    }
  });

  it('keeps serving others while one client sends without reading its answers', async () => {
    const greedy = await rawConnection(server.port);
    const burst = '{"op":"stat","path":"/"}\n'.repeat(20000);
    greedy.socket.write(burst);
    const c = await MdsClient.connect({ port: server.port });
    expect(await c.stat({ path: '/' })).toMatchObject({ ino: 1 });
    await c.close();
    expect((await greedy.next(20000)).every((l) => code(l) === 'ok')).toBe(true);
    greedy.socket.destroy();
  });

  it('fails pending client calls with MdsConnectionError when the server goes away', async () => {
    const own = await startServer();
    const c = await MdsClient.connect({ port: own.port });
    await c.mkdir('/x');
    expect(await own.stop()).toBe(0);
    await expect(c.stat({ path: '/x' })).rejects.toBeInstanceOf(MdsConnectionError);
    expect(c.isClosed).toBe(true);
    const stopped = own.lines.find((l) => l['msg'] === 'stopped');
    expect(stopped).toMatchObject({ signal: 'SIGTERM', requests: 1, inodes: 2, version: 1 });
    await expect(MdsClient.connect({ port: own.port })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('mds-client CLI', () => {
  let server: ServerProcess;
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [MDS_CLIENT, '--port', String(server.port), ...args], { encoding: 'utf8' });
    return { status: r.status, out: r.stdout, err: r.stderr };
  };

  beforeAll(async () => {
    requireBuilt(MDS_CLIENT);
    server = await startServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('runs commands and prints JSON results; error answers go to stderr with status 1', () => {
    expect(JSON.parse(cli('mkdir', '/cli', '--mode', '700').out)).toMatchObject({ type: 'dir', mode: 0o700 });
    const dir = JSON.parse(cli('create', '/cli/f').out) as { ino: number };
    expect(JSON.parse(cli('readdir', '/cli').out).entries.map((e: { name: string }) => e.name)).toEqual(['f']);
    const handle = JSON.parse(cli('setattr', '/cli', '--mode', '755').out).handle as string;
    expect(JSON.parse(cli('lookup', '--parent', handle, 'f').out)).toMatchObject({ type: 'file', ino: dir.ino });
    expect(JSON.parse(cli('rename', '/cli/f', '/cli/g').out)).toEqual({ ino: dir.ino, replaced: null });
    expect(cli('mkdir', '/cli')).toMatchObject({ status: 1, err: 'mds-client: EEXIST: "/cli" already exists\n' });
    expect(cli('raw', '{"op":"nope"}')).toMatchObject({
      status: 1,
      err: expect.stringContaining('EBADREQ: unknown op "nope"'),
    });
  });

  it('transfers the whole namespace with snapshot | restore, and empties it with reset', async () => {
    const other = await startServer();
    try {
      expect(cli('mkdir', '/xfer').status).toBe(0);
      const snap = cli('snapshot');
      expect(snap.status).toBe(0);
      expect(snap.out.trimEnd().split('\n')).toHaveLength(1);
      const restore = spawnSync(process.execPath, [MDS_CLIENT, '--port', String(other.port), 'restore'], {
        input: snap.out,
        encoding: 'utf8',
      });
      expect(restore.status).toBe(0);
      expect(JSON.parse(restore.stdout).digest).toBe(JSON.parse(cli('digest').out).digest);
      // The server's log line travels through a pipe; give it a moment.
      for (let i = 0; i < 50 && !other.lines.some((l) => l['msg'] === 'namespace restored from a snapshot'); i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(other.lines.some((l) => l['msg'] === 'namespace restored from a snapshot')).toBe(true);
      const bad = spawnSync(process.execPath, [MDS_CLIENT, '--port', String(other.port), 'restore'], {
        input: '{"format":1}',
      });
      expect(bad.status).toBe(1);
      expect(bad.stderr.toString()).toContain('EINVAL: bad snapshot: format');
      const reset = spawnSync(process.execPath, [MDS_CLIENT, '--port', String(other.port), 'reset'], {
        encoding: 'utf8',
      });
      expect(JSON.parse(reset.stdout)).toMatchObject({ inodes: 1, version: 0 });
    } finally {
      await other.stop();
    }
  });

  it('refuses bad usage with status 2 and an unreachable server with status 3', () => {
    expect(cli('frob')).toMatchObject({ status: 2, err: expect.stringContaining('unknown command "frob"') });
    const r = spawnSync(process.execPath, [MDS_CLIENT, '--port', '1', 'digest'], { encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('ECONNREFUSED');
  });
});

describe('mds-server command line', () => {
  it('refuses bad options with status 2 and says which', () => {
    const r = spawnSync(process.execPath, [MDS_SERVER, '--port', 'x'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--port must be 0..65535, got "x"');
    const r2 = spawnSync(process.execPath, [MDS_SERVER, '--colour'], { encoding: 'utf8' });
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain("Unknown option '--colour'");
  });

  it('reports a port it cannot bind and exits 1', async () => {
    const first = await startServer();
    const r = spawnSync(process.execPath, [MDS_SERVER, '--port', String(first.port)], {
      encoding: 'utf8',
      timeout: 10000,
    });
    await first.stop();
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('"msg":"cannot listen"');
    expect(r.stdout).toContain('EADDRINUSE');
  });
});
