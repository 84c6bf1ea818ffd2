import { container as rootContainer, inject, injectable, Lifecycle, type DependencyContainer } from 'tsyringe';
import { parseStack } from '../config/load-stack';
import { z } from '../config/options';
import { defineOptions } from '../config/options';
import type { Delivery, GroupConfig, Ordered, OrderingProtocol, OrderingStatus, View } from '../contracts/ordering';
import type { Plugin, PluginKind, PluginRegistration } from '../contracts/plugin';
import type { Endpoint, Substrate } from '../contracts/substrate';
import { resolve } from '../contracts/token';
import { GROUP, LOGGER, MEMBER, ORDERING, STACK, SUBSTRATE } from '../contracts/tokens';
import { ConfigError, SlotError } from '../errors';
import { PluginRegistry } from '../registry/plugin-registry';
import { silentLogger } from '../runtime/logger';
import { assembleStack, planPlugins } from './assemble-stack';
import { resolveSingle } from './resolve-single';

const fakeOptions = defineOptions({ windowSize: z.number().int().positive().default(8) });

/** A fake ordering protocol that only remembers what it was built with and whether it was started. */
@injectable()
class FakeOrdering implements OrderingProtocol {
  started = false;
  constructor(@inject(GROUP) readonly group: GroupConfig) {}
  get self(): string {
    return this.group.self;
  }
  async start(): Promise<void> {
    this.started = true;
  }
  async stop(): Promise<void> {}
  broadcast(): Promise<Ordered> {
    throw new Error('not used');
  }
  onDeliver(_handler: (delivery: Delivery) => void): void {}
  onView(_handler: (view: View) => void): void {}
  setStateTransfer(): void {}
  view(): View | undefined {
    return undefined;
  }
  status(): OrderingStatus {
    return { role: 'fake', pending: 0, delivered: 0 };
  }
}

function reg(
  kind: PluginKind,
  name: string,
  register: (c: DependencyContainer, options: unknown) => void,
): PluginRegistration {
  return {
    kind,
    name,
    packageName: `@test/${name}`,
    description: `test ${kind} plugin ${name}`,
    create: (options): Plugin => ({ kind, name, register: (c) => register(c, options) }),
  };
}

const fakeSubstrate = (name: string, pattern: Substrate['pattern'] = 'request-response'): Substrate => ({
  name,
  pattern,
  requestFramer: () => ({ push: () => [], buffered: 0 }),
  responseFramer: () => ({ push: () => [], buffered: 0 }),
  listen: (_e: Endpoint) => Promise.reject(new Error('not used')),
  dial: () => Promise.reject(new Error('not used')),
});

function testRegistry(seen: Array<[string, unknown]> = []): PluginRegistry {
  const registry = new PluginRegistry({
    importer: async (s) => {
      throw Object.assign(new Error(`Cannot find module '${s}'`), { code: 'MODULE_NOT_FOUND' });
    },
  });
  registry.add({
    ...reg('ordering', 'fake', () => undefined),
    create: (options): Plugin => {
      fakeOptions.parse(options, 'fake options');
      return {
        kind: 'ordering',
        name: 'fake',
        register: (c) => c.register(ORDERING, { useClass: FakeOrdering }, { lifecycle: Lifecycle.ContainerScoped }),
      };
    },
  });
  registry.add(reg('ordering', 'lazy', () => undefined));
  registry.add(reg('substrate', 'tcp', (c) => c.register(SUBSTRATE, { useValue: fakeSubstrate('tcp') })));
  registry.add(
    reg('substrate', 'greedy', (c) => {
      c.register(SUBSTRATE, { useValue: fakeSubstrate('greedy') });
      c.register(ORDERING, { useClass: FakeOrdering });
    }),
  );
  for (const name of ['hmac', 'file-audit', 'policy'])
    registry.add(reg('aaa', name, (_c, options) => void seen.push([name, options])));
  return registry;
}

const stackText = (name: string, extra = ''): string => `
group:
  name: ${name}
  members:
    - { id: n1, host: 127.0.0.1, port: 7001, clientPort: 7101 }
    - { id: n2, host: 127.0.0.1, port: 7002, clientPort: 7102 }
    - { id: n3, host: 127.0.0.1, port: 7003, clientPort: 7103 }
ordering: { plugin: fake }
substrate: { plugin: tcp }
service: { endpoint: { host: 127.0.0.1, port: 9000 } }
client: { listen: { port: 9100 } }
${extra}`;

const options = (registry: PluginRegistry) => ({
  registry,
  parent: rootContainer.createChildContainer(),
  logger: silentLogger(),
});

describe('assembleStack', () => {
  it('registers GROUP, STACK, MEMBER, LOGGER and the plugins, and starts nothing', async () => {
    const stack = parseStack(stackText('kv'), 'kv.yaml');
    const a = await assembleStack(stack, 'n2', options(testRegistry()));
    expect(resolve(a.container, GROUP)).toEqual({
      self: 'n2',
      members: ['n1', 'n2', 'n3'],
      partition: 'primary-component',
    });
    expect(resolve(a.container, STACK)).toBe(stack);
    expect(resolve(a.container, MEMBER).clientPort).toBe(7102);
    expect(typeof resolve(a.container, LOGGER).info).toBe('function');
    expect(a.plugins.map((p) => `${p.kind}:${p.name}`)).toEqual(['ordering:fake', 'substrate:tcp']);
    expect(resolveSingle(a.container, SUBSTRATE, 'substrate').name).toBe('tcp');
    const ordering = resolveSingle(a.container, ORDERING, 'ordering') as FakeOrdering;
    expect(ordering.self).toBe('n2');
    expect(ordering.started).toBe(false);
  });

  it('lets two stacks and two members of one stack live in one process, each with its own instances', async () => {
    const registry = testRegistry();
    const parent = rootContainer.createChildContainer();
    const kv = parseStack(stackText('kv'), 'kv.yaml');
    const meta = parseStack(stackText('meta'), 'meta.yaml');
    const assemblies = await Promise.all([
      assembleStack(kv, 'n1', { registry, parent, logger: silentLogger() }),
      assembleStack(kv, 'n2', { registry, parent, logger: silentLogger() }),
      assembleStack(meta, 'n1', { registry, parent, logger: silentLogger() }),
    ]);
    const orderings = assemblies.map((a) => resolve(a.container, ORDERING) as FakeOrdering);
    expect(new Set(orderings).size).toBe(3);
    expect(orderings.map((o) => o.self)).toEqual(['n1', 'n2', 'n1']);
    expect(assemblies.map((a) => resolve(a.container, STACK).group.name)).toEqual(['kv', 'kv', 'meta']);
    expect(resolve(assemblies[0]!.container, ORDERING)).toBe(orderings[0]);
    expect(parent.isRegistered(ORDERING)).toBe(false);
  });

  it('fails with a SlotError naming the slot when the ordering plugin registers nothing', async () => {
    const stack = parseStack(stackText('kv').replace('plugin: fake', 'plugin: lazy'), 'kv.yaml');
    const error = await assembleStack(stack, 'n1', options(testRegistry())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlotError);
    expect((error as Error).message).toBe(
      'slot ordering (@vcl/core:OrderingProtocol) needs exactly one registration, found 0 (ordering plugin lazy registered none)',
    );
  });

  it('fails with a SlotError naming the candidates when several plugins fill the ordering slot', async () => {
    const stack = parseStack(stackText('kv').replace('plugin: tcp', 'plugin: greedy'), 'kv.yaml');
    await expect(assembleStack(stack, 'n1', options(testRegistry()))).rejects.toThrow(
      new SlotError('slot ordering (@vcl/core:OrderingProtocol) needs exactly one registration, found 2: fake, greedy'),
    );
  });

  it('reports unknown plugin names with their paths and the known names', async () => {
    const stack = parseStack(
      stackText('kv')
        .replace('plugin: fake', 'plugin: paxos')
        .replace('substrate: { plugin: tcp }', 'substrates: [{ plugin: tcp }, { plugin: grpc }]'),
      'kv.yaml',
    );
    const error = await assembleStack(stack, 'n1', { ...options(testRegistry()), source: 'kv.yaml' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      'kv.yaml: 2 problems\n' +
        '  - ordering.plugin: unknown ordering plugin "paxos"; known ordering plugins: fake, lazy, sequencer, tokenring\n' +
        '  - substrates[1].plugin: unknown substrate plugin "grpc"; known substrate plugins: cli, greedy, http, resp, tcp',
    );
  });

  it('reports bad plugin options at their place in the stack', async () => {
    const stack = parseStack(
      stackText('kv').replace('plugin: fake }', 'plugin: fake, options: { windowSise: 0 } }'),
      'kv.yaml',
    );
    await expect(assembleStack(stack, 'n1', options(testRegistry()))).rejects.toThrow(
      'stack kv: 1 problem\n  - ordering.options.windowSise: unknown key "windowSise" (hint: did you mean "windowSize"?)',
    );
  });

  it('refuses a stream substrate that states no sessions setting, saying why and what to use instead', async () => {
    const withRaw = (): PluginRegistry => {
      const r = testRegistry();
      r.add(reg('substrate', 'raw', (c) => c.register(SUBSTRATE, { useValue: fakeSubstrate('raw', 'stream') })));
      return r;
    };
    const text = stackText('s').replace('substrate: { plugin: tcp }', 'substrate: { plugin: raw }');
    const error = await assembleStack(parseStack(text, 's.yaml'), 'n1', options(withRaw())).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      expect.objectContaining({
        path: 'substrates[0].sessions',
        message: expect.stringMatching(/byte stream.*replicas would diverge/),
        hint: expect.stringMatching(/request-response framing.*one-at-a-time.*isolated/),
      }),
    ]);
    for (const sessions of ['one-at-a-time', 'isolated']) {
      const ok = text.replace('substrate: { plugin: raw }', `substrate: { plugin: raw, sessions: ${sessions} }`);
      await expect(assembleStack(parseStack(ok, 's.yaml'), 'n1', options(withRaw()))).resolves.toBeDefined();
    }
    // Request-response substrates need no setting.
    await expect(
      assembleStack(parseStack(stackText('t'), 't.yaml'), 'n1', options(testRegistry())),
    ).resolves.toBeDefined();
  });

  it('reports an unknown member id with the known ids', async () => {
    const stack = parseStack(stackText('kv'), 'kv.yaml');
    await expect(assembleStack(stack, 'n9', options(testRegistry()))).rejects.toThrow(
      'no member with id "n9"; known member ids: n1, n2, n3',
    );
  });

  it('derives the AAA plugins from the aaa section and gives each the whole section', async () => {
    const stack = parseStack(
      stackText(
        'kv',
        'aaa:\n  link: { mode: hmac, keyFile: k }\n  policy: [{ allow: all }]\n  audit: { file: a.log }\n',
      ),
      'kv.yaml',
    );
    expect(planPlugins(stack).map((p) => `${p.kind}:${p.name}@${p.optionsPath}`)).toEqual([
      'ordering:fake@ordering.options',
      'substrate:tcp@substrates[0].options',
      'aaa:hmac@aaa',
      'aaa:policy@aaa',
      'aaa:file-audit@aaa',
    ]);
    const seen: Array<[string, unknown]> = [];
    const a = await assembleStack(stack, 'n3', options(testRegistry(seen)));
    expect(a.plugins.map((p) => p.name)).toEqual(['fake', 'tcp', 'hmac', 'policy', 'file-audit']);
    expect(seen.map(([name]) => name)).toEqual(['hmac', 'policy', 'file-audit']);
    expect(seen.every(([, o]) => o === stack.aaa)).toBe(true);
  });
});
