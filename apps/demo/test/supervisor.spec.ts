// The demo's process supervisor with real child processes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Supervisor, type ChildLine } from '../src/demo/supervisor';

const node = process.execPath;
const script = (code: string): string[] => ['-e', code];

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

describe('Supervisor', () => {
  let dir: string;
  let sup: Supervisor;
  const lines: ChildLine[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vcl-sup-'));
    lines.length = 0;
    sup = new Supervisor({ logDir: dir, onLine: (l) => lines.push(l), stopTimeoutMs: 400 });
  });

  afterEach(async () => {
    await sup.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('collects every line into the child log and the prefixed combined log, parsing JSON lines', async () => {
    const a = sup.start({
      name: 'a',
      command: node,
      args: script('console.log(JSON.stringify({msg:"ready",port:7})); console.error("oops"); console.log("plain")'),
    });
    const ready = await a.waitFor((l) => l.entry?.['msg'] === 'ready', '"ready"');
    expect(ready.entry).toEqual({ msg: 'ready', port: 7 });
    expect(await a.exited).toEqual({ code: 0, signal: null });
    await sup.close();
    expect(readFileSync(join(dir, 'a.log'), 'utf8').split('\n').sort()).toEqual(
      ['', '{"msg":"ready","port":7}', 'oops', 'plain'].sort(),
    );
    const all = readFileSync(join(dir, 'all.log'), 'utf8');
    expect(all).toContain('[a] {"msg":"ready","port":7}\n');
    expect(all).toContain('[a] oops\n');
    expect(all).toContain('[a] supervisor: exited with code 0\n');
    expect(lines.find((l) => l.text === 'oops')).toMatchObject({ child: 'a', stream: 'stderr' });
  });

  it('rejects waitFor when the child exits first, quoting its last lines', async () => {
    const b = sup.start({ name: 'b', command: node, args: script('console.log("bad config"); process.exit(3)') });
    await expect(b.waitFor(() => false, '"listening"')).rejects.toThrow(
      /b exited \(code 3\) before "listening".*bad config/s,
    );
    await expect(b.waitFor(() => true, 'anything')).rejects.toThrow('b exited before anything');
  });

  it('rejects waitFor after its timeout', async () => {
    const c = sup.start({ name: 'c', command: node, args: script('setInterval(() => {}, 1000)') });
    await expect(c.waitFor(() => false, '"never"', 200)).rejects.toThrow('c did not log "never" within 200 ms');
  });

  it('kills with SIGKILL, refuses a second copy while running, and starts a name again after it exited', async () => {
    const d = sup.start({ name: 'd', command: node, args: script('console.log("one"); setInterval(() => {}, 1000)') });
    await d.waitFor((l) => l.text === 'one', 'one');
    expect(() => sup.start({ name: 'd', command: node, args: [] })).toThrow('d is already running');
    expect(await sup.kill('d')).toEqual({ code: null, signal: 'SIGKILL' });
    const d2 = sup.start({ name: 'd', command: node, args: script('console.log("two")') });
    await d2.exited;
    expect(sup.get('d')).toBe(d2);
    await sup.close();
    expect(readFileSync(join(dir, 'd.log'), 'utf8')).toBe('one\ntwo\n');
  });

  it('stops everything: SIGTERM first, SIGKILL for a child that ignores it', async () => {
    const polite = sup.start({
      name: 'polite',
      command: node,
      args: script('console.log("up"); setInterval(() => {}, 1000)'),
    });
    const stubborn = sup.start({
      name: 'stubborn',
      command: node,
      args: script(
        'process.on("SIGTERM", () => console.log("ignoring")); console.log("up"); setInterval(() => {}, 1000)',
      ),
    });
    await Promise.all([polite, stubborn].map((c) => c.waitFor((l) => l.text === 'up', 'up')));
    await sup.stopAll();
    expect(await polite.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(await stubborn.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(gone(polite.pid!) && gone(stubborn.pid!)).toBe(true);
  });
});
