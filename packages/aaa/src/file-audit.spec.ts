import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileAuditor } from './file-audit';

describe('fileAuditor', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-aaa-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('appends one JSON line per event, written before audit() returns', () => {
    const file = path.join(dir, 'audit.log');
    fs.writeFileSync(file, '{"earlier":true}\n');
    const a = fileAuditor({ file, now: () => Date.UTC(2026, 10, 26, 12) });
    a.audit({ type: 'auth.failure', member: 'n1', principal: 'eve', reason: 'bad token', details: { address: 'x' } });
    expect(fs.readFileSync(file, 'utf8').split('\n')).toHaveLength(3);
    a.audit({ type: 'authz.denied', member: 'n1', principal: 'bob', reason: 'no rule' });
    a.close();
    const lines = fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([
      { earlier: true },
      {
        time: '2026-11-26T12:00:00.000Z',
        member: 'n1',
        type: 'auth.failure',
        principal: 'eve',
        reason: 'bad token',
        details: { address: 'x' },
      },
      { time: '2026-11-26T12:00:00.000Z', member: 'n1', type: 'authz.denied', principal: 'bob', reason: 'no rule' },
    ]);
  });

  it('rotates by size to file.1 ... file.N, keeping N', () => {
    const file = path.join(dir, 'audit.log');
    const a = fileAuditor({ file, maxBytes: 300, keep: 2 });
    for (let i = 0; i < 20; i++) a.audit({ type: 'session.open', member: 'n1', details: { i } });
    a.close();
    const names = fs.readdirSync(dir).sort();
    expect(names).toEqual(['audit.log', 'audit.log.1', 'audit.log.2']);
    const read = (n: string): number[] =>
      fs
        .readFileSync(path.join(dir, n), 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { details: { i: number } }).details.i);
    for (const n of names) expect(fs.statSync(path.join(dir, n)).size).toBeLessThanOrEqual(300);
    // Created by the auditor: private to the owner.
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const all = [...read('audit.log.2'), ...read('audit.log.1'), ...read('audit.log')];
    // The newest events, in order, with no gap: only whole old files were dropped.
    expect(all[all.length - 1]).toBe(19);
    expect(all).toEqual(Array.from({ length: all.length }, (_, k) => 20 - all.length + k));
    expect(all.length).toBeLessThan(20);
  });

  it('never throws: a write failure is reported to the logger', () => {
    const errors: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn() {},
      error: (_o: object, msg?: string) => void errors.push(msg ?? ''),
      child: () => logger,
    };
    const a = fileAuditor({ file: path.join(dir, 'missing-dir', 'audit.log'), logger });
    expect(() => a.audit({ type: 'divergence', member: 'n2' })).not.toThrow();
    expect(errors).toEqual(['audit write failed']);
  });
});
