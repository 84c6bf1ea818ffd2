import * as fs from 'node:fs';
import * as path from 'node:path';
import { freshClone, installOffline, REPO_ROOT, run } from './checkout';

// Issue #20: `npm ci` then `npx vcl --help` failed on a fresh clone ("could not determine
// executable to run"): npm links bins at install time, before dist/ exists. The bins are committed
// shims that build the libraries on first use.

jest.setTimeout(300_000);

describe('a fresh clone', () => {
  let clone: string;
  beforeAll(() => {
    clone = freshClone('vcl-fresh-clone-');
    installOffline(clone);
  }, 120_000);
  afterAll(() => fs.rmSync(clone, { recursive: true, force: true }));

  it('npm links vcl and vcl-exec, and the lockfile agrees with the package manifests', () => {
    expect(fs.existsSync(path.join(clone, 'node_modules/.bin/vcl'))).toBe(true);
    expect(fs.existsSync(path.join(clone, 'node_modules/.bin/vcl-exec'))).toBe(true);
    // npm ci refuses a lockfile that disagrees with a package.json; npm install rewrites it instead.
    expect(fs.readFileSync(path.join(clone, 'package-lock.json'), 'utf8')).toBe(
      fs.readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8'),
    );
    expect(fs.existsSync(path.join(clone, 'packages/vcl-core/dist'))).toBe(false);
  });

  it('npx vcl --help builds the libraries once, then prints the usage and exits 0', () => {
    const r = run('npx', ['vcl', '--help'], clone, false);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: expect.stringMatching(/building/) });
    expect(r.stdout).toMatch(/^usage: vcl <command>/);
    expect(fs.existsSync(path.join(clone, 'packages/gcs-sequencer/dist/index.js'))).toBe(true);
    const again = run('npx', ['vcl', 'service', '--help'], clone, false);
    expect({ status: again.status, stderr: again.stderr }).toEqual({ status: 0, stderr: '' });
    expect(again.stdout).toMatch(/^usage: vcl service .*--member/);
  });

  it('npx vcl-exec --help prints its usage and exits 0', () => {
    const r = run('npx', ['vcl-exec', '--help'], clone, false);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: vcl-exec/);
  });

  it('npx vcl check validates a stack from the clone', () => {
    const r = run('npx', ['vcl', 'check', '--config', 'apps/demo/stacks/mds-sequencer.yaml'], clone, false);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/ok: group/);
    expect(r.status).toBe(0);
  });
});
