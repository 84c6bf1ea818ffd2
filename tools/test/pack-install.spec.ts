import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, run } from './checkout';

// Issue #20: the packages could not be published. Every library is packed as npm would publish it
// and installed from the tarballs alone into an empty folder, where `npx vcl` must work. Only the
// third-party dependencies come from this checkout (an offline test cannot fetch them): they are
// linked through `overrides`, so every @vcl package is the packed one.

jest.setTimeout(300_000);

const LIBRARIES = [
  'vcl-core',
  'gcs-sequencer',
  'gcs-tokenring',
  'substrate-tcp',
  'substrate-http',
  'substrate-cli',
  'aaa',
];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-pack-'));
const app = path.join(dir, 'app');
let tarballs: string[] = [];

beforeAll(() => {
  run('npx', ['tsc', '-b', ...LIBRARIES.map((p) => `packages/${p}/tsconfig.lib.json`)], REPO_ROOT);
  for (const p of LIBRARIES)
    run('npm', ['pack', '--pack-destination', dir, '--silent'], path.join(REPO_ROOT, 'packages', p));
  tarballs = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.tgz'))
    .map((f) => path.join(dir, f));
  fs.mkdirSync(app);
  const thirdParty = new Set<string>();
  for (const p of LIBRARIES) {
    const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'packages', p, 'package.json'), 'utf8'));
    for (const d of Object.keys(manifest.dependencies ?? {})) if (!d.startsWith('@vcl/')) thirdParty.add(d);
  }
  const installed = (name: string): string => {
    // @vcl/core's own yaml (v2) is nested under it; the root one is another major version.
    const nested = path.join(REPO_ROOT, 'packages/vcl-core/node_modules', name);
    return fs.existsSync(nested) ? nested : path.join(REPO_ROOT, 'node_modules', name);
  };
  const overrides = Object.fromEntries([...thirdParty].map((d) => [d, `file:${installed(d)}`]));
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, overrides }, null, 2));
  run('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', ...tarballs], app);
  afterAllCleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
}, 300_000);

const afterAllCleanup: (() => void)[] = [];
afterAll(() => afterAllCleanup.forEach((f) => f()));

describe('the packed libraries', () => {
  it('contain dist without build-info or source maps, and a manifest fit to publish', () => {
    for (const t of tarballs) {
      const files = run('tar', ['-tzf', t], dir).stdout.split('\n');
      expect(files.filter((f) => /\.tsbuildinfo$|\.map$|\/src\//.test(f))).toEqual([]);
      expect(files).toContain('package/dist/index.js');
      expect(files).toContain('package/LICENSE');
    }
    for (const p of LIBRARIES) {
      const m = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'packages', p, 'package.json'), 'utf8'));
      expect({ name: m.name, private: m.private }).toEqual({ name: m.name, private: undefined });
      expect(m).toMatchObject({
        types: 'dist/index.d.ts',
        publishConfig: { access: 'public' },
        repository: { type: 'git', directory: `packages/${p}` },
        exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
      });
    }
    for (const p of ['apps/demo', 'tools'])
      expect(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, p, 'package.json'), 'utf8')).private).toBe(true);
  });

  it('installed from the tarballs alone: npx vcl --help, vcl check of a stack with their plugins, vcl-exec --help', () => {
    const help = run('npx', ['vcl', '--help'], app, false);
    expect({ status: help.status, stderr: help.stderr }).toEqual({ status: 0, stderr: '' });
    expect(help.stdout).toMatch(/^usage: vcl <command>/);
    // Every @vcl package resolves to the installed copy, not to this checkout.
    expect(fs.realpathSync(path.join(app, 'node_modules/@vcl/core'))).toBe(path.join(app, 'node_modules/@vcl/core'));
    fs.copyFileSync(path.join(REPO_ROOT, 'examples/line-service/stack.yaml'), path.join(app, 'stack.yaml'));
    const check = run('npx', ['vcl', 'check', '--config', 'stack.yaml'], app, false);
    expect(check.stdout).toMatch(/ok: group counter, 3 members/);
    expect(check.status).toBe(0);
    const exec = run('npx', ['vcl-exec', '--help'], app, false);
    expect(exec.status).toBe(0);
    expect(exec.stdout).toMatch(/^usage: vcl-exec/);
  });
});
