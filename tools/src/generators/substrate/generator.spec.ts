import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { substrateGenerator } from './generator';

// The generator writes a package that works out of the box: generated into a temporary copy of
// the workspace, its own tests (the conformance kit) pass and it typechecks. The last test runs
// `nx g` itself (dry run), which proves the wiring in tools/package.json and generators.json.
// (Prettier cannot run inside Jest's VM, so these runs skip formatting; `nx g` formats.)

const root = path.join(__dirname, '..', '..', '..', '..');

function workspaceTree(): Tree {
  const tree = createTreeWithEmptyWorkspace();
  tree.write('tsconfig.base.json', readFileSync(path.join(root, 'tsconfig.base.json'), 'utf8'));
  tree.write('jest.preset.cjs', readFileSync(path.join(root, 'jest.preset.cjs'), 'utf8'));
  return tree;
}

function run(command: string, args: string[], cwd: string): Promise<{ status: number | null; output: string }> {
  const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', FORCE_COLOR: '0', NO_COLOR: '1' };
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (status) => resolve({ status, output: output.replace(/\x1b\[[0-9;]*m/g, '') }));
  });
}

/** The newest modification time of any file under `dir`. */
function newest(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((e) =>
      e.isDirectory() ? newest(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).mtimeMs,
    ),
  );
}

/**
 * Type declarations of @vcl/core to typecheck the generated package against: the built ones when
 * they are up to date (Nx builds before testing; much faster), else the sources.
 */
function corePaths(): Record<string, string[]> | undefined {
  const core = path.join(root, 'packages', 'vcl-core');
  const info = path.join(core, 'dist', 'tsconfig.lib.tsbuildinfo');
  if (!existsSync(info) || statSync(info).mtimeMs < newest(path.join(core, 'src'))) return undefined;
  return {
    '@vcl/core': ['packages/vcl-core/dist/index.d.ts'],
    '@vcl/core/testing': ['packages/vcl-core/dist/testing/index.d.ts'],
  };
}

describe('nx g @vcl/tools:substrate', () => {
  it('creates the plugin skeleton, README and conformance spec, with every placeholder filled', async () => {
    const tree = workspaceTree();
    await substrateGenerator(tree, { name: 'acme-line', skipFormat: true });
    const files = tree
      .listChanges()
      .map((c) => c.path)
      .filter((p) => p.startsWith('packages/'))
      .sort();
    expect(files).toEqual(
      [
        'README.md',
        'jest.config.cjs',
        'package.json',
        'src/acme-line-substrate.ts',
        'src/framer.ts',
        'src/index.ts',
        'src/options.ts',
        'src/plugin.spec.ts',
        'src/plugin.ts',
        'src/socket-conversation.ts',
        'test/conformance.spec.ts',
        'tsconfig.json',
        'tsconfig.lib.json',
      ].map((f) => `packages/substrate-acme-line/${f}`),
    );
    for (const f of files) expect(tree.read(f, 'utf8')).not.toMatch(/<%|%>|__tmpl__|__fileName__/);
    expect(JSON.parse(tree.read('packages/substrate-acme-line/package.json', 'utf8') as string)).toMatchObject({
      name: '@vcl/substrate-acme-line',
      dependencies: { '@vcl/core': '0.1.0' },
      nx: { tags: ['type:substrate'] },
    });
    const plugin = tree.read('packages/substrate-acme-line/src/plugin.ts', 'utf8') as string;
    expect(plugin).toContain('export function acmeLine(options?: AcmeLineOptions): Plugin');
    expect(plugin).toContain('export const registration: PluginRegistration');
    expect(tree.read('packages/substrate-acme-line/src/index.ts', 'utf8')).toMatch(
      /^\/\*\*\n \* @vcl\/substrate-acme-line/,
    );
    const base = JSON.parse(tree.read('tsconfig.base.json', 'utf8') as string);
    expect(base.compilerOptions.paths['@vcl/substrate-acme-line']).toEqual([
      'packages/substrate-acme-line/src/index.ts',
    ]);
    // Other projects' tests that import the new package load its sources, as for every package.
    const preset = tree.read('jest.preset.cjs', 'utf8') as string;
    expect(preset).toContain(
      "'^@vcl/substrate-acme-line$': path.join(src('packages/substrate-acme-line'), 'index.ts'),",
    );
  });

  it('takes another directory and package name', async () => {
    const tree = workspaceTree();
    await substrateGenerator(tree, {
      name: 'kv',
      directory: 'plugins',
      packageName: '@acme/vcl.kv',
      skipFormat: true,
    });
    expect(JSON.parse(tree.read('plugins/substrate-kv/package.json', 'utf8') as string).name).toBe('@acme/vcl.kv');
    expect(tree.read('plugins/substrate-kv/jest.config.cjs', 'utf8')).toContain("require('../../jest.preset.cjs')");
    // The mapping's key is a regular expression: the dot is escaped, and the entry is added once.
    const preset = tree.read('jest.preset.cjs', 'utf8') as string;
    expect(preset).toContain("'^@acme/vcl\\\\.kv$': path.join(src('plugins/substrate-kv'), 'index.ts'),");
    const mapper = new Function('path', 'src', `return {${preset.split('moduleNameMapper: {')[1]?.split('}')[0]}}`);
    const keys = Object.keys(mapper({ join: () => '' }, () => ''));
    expect(keys.filter((k) => new RegExp(k).test('@acme/vcl.kv'))).toEqual(['^@acme/vcl\\.kv$']);
  });

  it('refuses a bad name, a built-in name and an existing directory', async () => {
    const tree = workspaceTree();
    await expect(substrateGenerator(tree, { name: 'Bad_Name', skipFormat: true })).rejects.toThrow(
      'must be kebab-case',
    );
    await expect(substrateGenerator(tree, { name: 'http', skipFormat: true })).rejects.toThrow(
      'taken by a built-in substrate',
    );
    tree.write('packages/substrate-dup/package.json', '{}');
    await expect(substrateGenerator(tree, { name: 'dup', skipFormat: true })).rejects.toThrow(
      'packages/substrate-dup already exists',
    );
  });

  describe('in a temporary copy of the workspace, and through nx itself', () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'vcl-generator-'));
    const pkg = path.join(tmp, 'packages', 'substrate-gen-check');
    const results = path.join(tmp, 'jest-results.json');
    let jest: Promise<{ status: number | null; output: string }>;
    let tsc: Promise<{ status: number | null; output: string }>;
    let nx: Promise<{ status: number | null; output: string }>;

    // The three runs are slow (each a Node process of its own), so they run at once.
    beforeAll(async () => {
      const tree = workspaceTree();
      await substrateGenerator(tree, { name: 'gen-check', skipFormat: true });
      for (const shared of ['node_modules', 'jest.preset.cjs', 'tsconfig.spec.json', 'tools'])
        symlinkSync(path.join(root, shared), path.join(tmp, shared));
      mkdirSync(path.join(tmp, 'packages'));
      symlinkSync(path.join(root, 'packages', 'vcl-core'), path.join(tmp, 'packages', 'vcl-core'));
      for (const change of tree.listChanges()) {
        if (change.type === 'DELETE' || !change.content) continue;
        if (!change.path.startsWith('packages/') && change.path !== 'tsconfig.base.json') continue;
        mkdirSync(path.join(tmp, path.dirname(change.path)), { recursive: true });
        writeFileSync(path.join(tmp, change.path), change.content);
      }
      const base = JSON.parse(readFileSync(path.join(tmp, 'tsconfig.base.json'), 'utf8'));
      Object.assign(base.compilerOptions.paths, corePaths());
      writeFileSync(path.join(tmp, 'tsconfig.base.json'), JSON.stringify(base));
      const bin = (...p: string[]): string => path.join(root, 'node_modules', ...p);
      jest = run(
        process.execPath,
        [
          bin('jest', 'bin', 'jest.js'),
          '-c',
          path.join(pkg, 'jest.config.cjs'),
          '--ci',
          '--reporters=default',
          '--json',
          `--outputFile=${results}`,
        ],
        pkg,
      );
      tsc = run(
        process.execPath,
        [bin('typescript', 'bin', 'tsc'), '-p', path.join(pkg, 'tsconfig.json'), '--noEmit'],
        pkg,
      );
      nx = run(
        process.execPath,
        [bin('nx', 'bin', 'nx.js'), 'g', '@vcl/tools:substrate', 'wiring-check', '--dry-run', '--no-interactive'],
        root,
      );
    });
    afterAll(async () => {
      await Promise.allSettled([jest, tsc, nx]);
      rmSync(tmp, { recursive: true, force: true });
    });

    it("the new package's own tests (the conformance kit and the plugin spec) pass", async () => {
      const r = await jest;
      expect({ status: r.status, output: r.status === 0 ? '' : r.output }).toEqual({ status: 0, output: '' });
      const summary = JSON.parse(readFileSync(results, 'utf8'));
      expect(summary.numFailedTests).toBe(0);
      expect(summary.numPassedTests).toBeGreaterThanOrEqual(15);
      expect(summary.testResults.map((t: { name: string }) => path.relative(pkg, t.name)).sort()).toEqual([
        'src/plugin.spec.ts',
        'test/conformance.spec.ts',
      ]);
    }, 120_000);

    it('the new package typechecks', async () => {
      const r = await tsc;
      expect({ status: r.status, output: r.status === 0 ? '' : r.output }).toEqual({ status: 0, output: '' });
    }, 120_000);

    it('is wired into Nx: `nx g @vcl/tools:substrate <name> --dry-run` lists the files it would create', async () => {
      const r = await nx;
      expect(r.status).toBe(0);
      expect(r.output).toContain('CREATE packages/substrate-wiring-check/test/conformance.spec.ts');
      expect(r.output).toContain('CREATE packages/substrate-wiring-check/src/wiring-check-substrate.ts');
      expect(r.output).toContain('UPDATE tsconfig.base.json');
    }, 120_000);
  });
});
