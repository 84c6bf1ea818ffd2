import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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
  return tree;
}

function run(command: string, args: string[], cwd: string): { status: number | null; output: string } {
  const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', FORCE_COLOR: '0', NO_COLOR: '1' };
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '') };
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
  });

  it('takes another directory and package name', async () => {
    const tree = workspaceTree();
    await substrateGenerator(tree, {
      name: 'resp',
      directory: 'plugins',
      packageName: '@acme/vcl-resp',
      skipFormat: true,
    });
    expect(JSON.parse(tree.read('plugins/substrate-resp/package.json', 'utf8') as string).name).toBe('@acme/vcl-resp');
    expect(tree.read('plugins/substrate-resp/jest.config.cjs', 'utf8')).toContain("require('../../jest.preset.cjs')");
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

  it("generated into a temporary copy of the workspace, the new package's tests pass and it typechecks", async () => {
    const tree = workspaceTree();
    await substrateGenerator(tree, { name: 'gen-check', skipFormat: true });
    const tmp = mkdtempSync(path.join(tmpdir(), 'vcl-generator-'));
    try {
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
      const pkg = path.join(tmp, 'packages', 'substrate-gen-check');
      const results = path.join(tmp, 'jest-results.json');
      const jest = run(
        process.execPath,
        [
          path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'),
          '-c',
          path.join(pkg, 'jest.config.cjs'),
          '--ci',
          '--reporters=default',
          '--json',
          `--outputFile=${results}`,
        ],
        pkg,
      );
      expect({ status: jest.status, output: jest.status === 0 ? '' : jest.output }).toEqual({ status: 0, output: '' });
      const summary = JSON.parse(readFileSync(results, 'utf8'));
      expect(summary.numFailedTests).toBe(0);
      expect(summary.numPassedTests).toBeGreaterThanOrEqual(15);
      expect(summary.testResults.map((r: { name: string }) => path.relative(pkg, r.name)).sort()).toEqual([
        'src/plugin.spec.ts',
        'test/conformance.spec.ts',
      ]);
      const tsc = run(
        process.execPath,
        [
          path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
          '-p',
          path.join(pkg, 'tsconfig.json'),
          '--noEmit',
        ],
        pkg,
      );
      expect({ status: tsc.status, output: tsc.status === 0 ? '' : tsc.output }).toEqual({ status: 0, output: '' });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 120_000);

  it('is wired into Nx: `nx g @vcl/tools:substrate <name> --dry-run` lists the files it would create', () => {
    const nx = run(
      process.execPath,
      [
        path.join(root, 'node_modules', 'nx', 'bin', 'nx.js'),
        'g',
        '@vcl/tools:substrate',
        'wiring-check',
        '--dry-run',
        '--no-interactive',
      ],
      root,
    );
    expect(nx.status).toBe(0);
    expect(nx.output).toContain('CREATE packages/substrate-wiring-check/test/conformance.spec.ts');
    expect(nx.output).toContain('CREATE packages/substrate-wiring-check/src/wiring-check-substrate.ts');
    expect(nx.output).toContain('UPDATE tsconfig.base.json');
  }, 60_000);
});
