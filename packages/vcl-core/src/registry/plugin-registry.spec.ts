import * as path from 'node:path';
import type { DependencyContainer } from 'tsyringe';
import type { PluginKind, PluginRegistration } from '../contracts/plugin';
import { DuplicatePluginError, PluginLoadError, UnknownPluginError } from '../errors';
import { BUILTIN_PLUGINS } from './builtins';
import { PluginRegistry, isPackageSpecifier, pluginRegistry } from './plugin-registry';

const fixtures = path.join(__dirname, '../../test/fixtures/plugins');

function registration(kind: PluginKind, name: string, packageName = `@test/${name}`): PluginRegistration {
  return {
    kind,
    name,
    packageName,
    description: `${kind} ${name}`,
    create: () => ({ kind, name, register: (_c: DependencyContainer) => undefined }),
  };
}

describe('PluginRegistry', () => {
  it('adds, gets and lists registrations by kind', () => {
    const registry = new PluginRegistry();
    registry.add(registration('ordering', 'b'));
    registry.add(registration('ordering', 'a'));
    registry.add(registration('substrate', 'tcp'));
    expect(registry.get('ordering', 'a').packageName).toBe('@test/a');
    expect(registry.list('ordering').map((r) => r.name)).toEqual(['a', 'b']);
    expect(registry.list().map((r) => `${r.kind}:${r.name}`)).toEqual(['ordering:a', 'ordering:b', 'substrate:tcp']);
    expect(registry.has('substrate', 'tcp')).toBe(true);
    expect(registry.has('ordering', 'tcp')).toBe(false);
  });

  it('rejects the same kind and name from a different package, naming both packages', () => {
    const registry = new PluginRegistry();
    registry.add(registration('ordering', 'paxos', '@one/paxos'));
    expect(() => registry.add(registration('ordering', 'paxos', '@two/paxos'))).toThrow(DuplicatePluginError);
    expect(() => registry.add(registration('ordering', 'paxos', '@two/paxos'))).toThrow(
      'ordering plugin "paxos" is registered by both @one/paxos and @two/paxos',
    );
  });

  it('accepts the same registration again from the same package (a package loaded twice)', () => {
    const registry = new PluginRegistry();
    registry.add(registration('ordering', 'paxos', '@one/paxos'));
    registry.add(registration('ordering', 'paxos', '@one/paxos'));
    expect(registry.list('ordering')).toHaveLength(1);
  });

  it('rejects something that is not a registration', () => {
    const registry = new PluginRegistry();
    expect(() => registry.add({ kind: 'ordering', name: 'x' } as unknown as PluginRegistration)).toThrow(
      PluginLoadError,
    );
  });

  it('names the known names of the kind for an unknown plugin', () => {
    const registry = new PluginRegistry();
    registry.add(registration('ordering', 'paxos'));
    registry.add(registration('substrate', 'grpc'));
    expect(() => registry.get('ordering', 'paxoz')).toThrow(UnknownPluginError);
    expect(() => registry.get('ordering', 'paxoz')).toThrow(
      'unknown ordering plugin "paxoz"; known ordering plugins: paxos, sequencer, tokenring',
    );
  });

  it('tells short names from package names and paths', () => {
    expect(isPackageSpecifier('sequencer')).toBe(false);
    expect(isPackageSpecifier('file-audit')).toBe(false);
    expect(isPackageSpecifier('@acme/paxos')).toBe(true);
    expect(isPackageSpecifier('acme/paxos')).toBe(true);
    expect(isPackageSpecifier('./plugins/paxos')).toBe(true);
    expect(isPackageSpecifier('/opt/plugins/paxos')).toBe(true);
  });

  it('has a process-wide default instance', () => {
    expect(pluginRegistry).toBeInstanceOf(PluginRegistry);
  });
});

describe('PluginRegistry.load', () => {
  it('maps every built-in short name to its package', async () => {
    const expected: Array<[PluginKind, string, string]> = [
      ['ordering', 'sequencer', '@vcl/gcs-sequencer'],
      ['ordering', 'tokenring', '@vcl/gcs-tokenring'],
      ['substrate', 'tcp', '@vcl/substrate-tcp'],
      ['substrate', 'http', '@vcl/substrate-http'],
      ['substrate', 'cli', '@vcl/substrate-cli'],
      ['substrate', 'resp', '@vcl/substrate-resp'],
      ['aaa', 'hmac', '@vcl/aaa'],
      ['aaa', 'tls', '@vcl/aaa'],
      ['aaa', 'token', '@vcl/aaa'],
      ['aaa', 'policy', '@vcl/aaa'],
      ['aaa', 'file-audit', '@vcl/aaa'],
    ];
    for (const [kind, name, pkg] of expected) {
      const imported: string[] = [];
      const registry = new PluginRegistry({
        importer: async (specifier) => {
          imported.push(specifier);
          return { registrations: BUILTIN_PLUGINS[kind][name] ? [registration(kind, name, pkg)] : [] };
        },
      });
      const loaded = await registry.load(kind, name);
      expect([kind, name, loaded.packageName, imported]).toEqual([kind, name, pkg, [pkg]]);
    }
  });

  it('does not import again what is already registered', async () => {
    let imports = 0;
    const registry = new PluginRegistry({
      importer: async () => {
        imports++;
        return { registration: registration('ordering', 'sequencer', '@vcl/gcs-sequencer') };
      },
    });
    await registry.load('ordering', 'sequencer');
    await registry.load('ordering', 'sequencer');
    expect(imports).toBe(1);
  });

  it('fails for an unknown short name, listing the known names, without importing anything', async () => {
    const registry = new PluginRegistry({
      importer: async (s) => {
        throw new Error(`must not import ${s}`);
      },
    });
    await expect(registry.load('ordering', 'paxos')).rejects.toThrow(
      'unknown ordering plugin "paxos"; known ordering plugins: sequencer, tokenring',
    );
  });

  it('fails when a built-in package does not provide the name it is mapped for', async () => {
    const registry = new PluginRegistry({
      importer: async () => ({ registration: registration('aaa', 'hmac', '@vcl/aaa') }),
    });
    await expect(registry.load('aaa', 'tls')).rejects.toThrow(
      'package @vcl/aaa was loaded for aaa plugin "tls" but does not provide it; it provides: aaa "hmac"',
    );
  });

  it('loads a third-party package from a path and adds its registration', async () => {
    const registry = new PluginRegistry();
    const loaded = await registry.load('ordering', path.join(fixtures, 'fake-ordering'));
    expect(loaded.name).toBe('acme-fake');
    expect(loaded.packageName).toBe('@acme/vcl-fake-ordering');
    expect(registry.get('ordering', 'acme-fake')).toBe(loaded);
    expect(loaded.create({ x: 1 }).name).toBe('acme-fake');
  });

  it('loads a relative path against the working directory', async () => {
    const registry = new PluginRegistry();
    const relative = path.relative(process.cwd(), path.join(fixtures, 'fake-ordering'));
    const loaded = await registry.load('ordering', relative.startsWith('.') ? relative : `./${relative}`);
    expect(loaded.name).toBe('acme-fake');
  });

  it('adds every registration of a package that exports `registrations`', async () => {
    const registry = new PluginRegistry();
    const aaa = await registry.load('aaa', path.join(fixtures, 'several'));
    expect(aaa.name).toBe('acme-ldap');
    expect(registry.list('substrate').map((r) => r.name)).toEqual(['acme-json', 'acme-line']);
  });

  it('refuses to pick one of several plugins of a kind named only by package', async () => {
    const registry = new PluginRegistry();
    await expect(registry.load('substrate', path.join(fixtures, 'several'))).rejects.toThrow(
      /must provide exactly one substrate plugin to be named by package, it provides 2: substrate "acme-line", substrate "acme-json", aaa "acme-ldap"; load the package and name the plugin by its short name/,
    );
  });

  it('fails for a package that provides no plugin of the asked kind', async () => {
    const registry = new PluginRegistry();
    await expect(registry.load('substrate', path.join(fixtures, 'fake-ordering'))).rejects.toThrow(
      /must provide exactly one substrate plugin to be named by package, it provides 0: ordering "acme-fake"/,
    );
  });

  it('fails for a package that exports neither registration nor registrations, naming it', async () => {
    const registry = new PluginRegistry();
    const pkg = path.join(fixtures, 'no-registration');
    await expect(registry.load('ordering', pkg)).rejects.toThrow(PluginLoadError);
    await expect(registry.load('ordering', pkg)).rejects.toThrow(
      `plugin package ${pkg} exports neither "registration" (a PluginRegistration) nor "registrations" (an array of them)`,
    );
  });

  it('fails for a package that cannot be found, naming it', async () => {
    const registry = new PluginRegistry();
    await expect(registry.load('ordering', '@acme/does-not-exist')).rejects.toThrow(
      'plugin package @acme/does-not-exist not found (is it installed?',
    );
    const missingPath = path.join(fixtures, 'nowhere');
    await expect(registry.load('ordering', missingPath)).rejects.toThrow(`plugin package ${missingPath} not found`);
  });

  it('reports a package that throws while loading, with the cause', async () => {
    const registry = new PluginRegistry({
      importer: async () => {
        throw new TypeError('boom in module body');
      },
    });
    const error = await registry.load('ordering', '@acme/broken').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginLoadError);
    expect((error as Error).message).toBe('plugin package @acme/broken failed to load: boom in module body');
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });

  it('reports a conflicting registration from a loaded package', async () => {
    const registry = new PluginRegistry();
    registry.add(registration('ordering', 'acme-fake', '@other/fake'));
    await expect(registry.load('ordering', path.join(fixtures, 'fake-ordering'))).rejects.toThrow(
      'ordering plugin "acme-fake" is registered by both @other/fake and @acme/vcl-fake-ordering',
    );
  });
});
