import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { container as rootContainer } from 'tsyringe';
import {
  assembleStack,
  AUDITOR,
  AUTHENTICATOR,
  AUTHORIZER,
  ConfigError,
  LINK_SECURITY,
  ORDERING,
  parseStack,
  PluginRegistry,
  resolve,
  silentLogger,
  SUBSTRATE,
  type OrderingProtocol,
  type Plugin,
  type PluginKind,
  type Substrate,
} from '@vcl/core';
import { registrations } from './plugin';

/** Registers a placeholder value under `token`: the AAA plugins are what is under test here. */
function placeholder(kind: PluginKind, name: string, register: Plugin['register']) {
  return {
    kind,
    name,
    packageName: `@test/${name}`,
    description: `placeholder ${kind} ${name}`,
    create: (): Plugin => ({ kind, name, register }),
  };
}

function registry(): PluginRegistry {
  const r = new PluginRegistry({
    importer: (s) =>
      Promise.reject(Object.assign(new Error(`Cannot find module '${s}'`), { code: 'MODULE_NOT_FOUND' })),
  });
  r.add(placeholder('ordering', 'fake', (c) => c.register(ORDERING, { useValue: {} as OrderingProtocol })));
  r.add(placeholder('substrate', 'tcp', (c) => c.register(SUBSTRATE, { useValue: {} as Substrate })));
  for (const reg of registrations) r.add(reg);
  return r;
}

const stackText = (aaa: string): string => `
group:
  name: kv
  members:
    - { id: n1, host: 127.0.0.1, port: 7001, clientPort: 7101 }
    - { id: n2, host: 127.0.0.1, port: 7002, clientPort: 7102 }
ordering: { plugin: fake }
substrate: { plugin: tcp }
service: { endpoint: { host: 127.0.0.1, port: 9000 } }
client: { listen: { port: 9100 } }
aaa:
${aaa}`;

describe('@vcl/aaa registrations', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-aaa-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string, mode = 0o600): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, content);
    fs.chmodSync(f, mode);
    return f;
  };
  const assemble = (aaa: string) =>
    assembleStack(parseStack(stackText(aaa), 'kv.yaml'), 'n1', {
      registry: registry(),
      parent: rootContainer.createChildContainer(),
      logger: silentLogger(),
      source: 'kv.yaml',
    });

  it('an aaa section with hmac, token, policy and audit fills every AAA slot', async () => {
    const key = file('group.key', 'k'.repeat(48));
    const tokens = file('tokens', 'alice: alice-secret-0123456789\n');
    const audit = path.join(dir, 'audit.log');
    const a = await assemble(
      `  link: { mode: hmac, keyFile: ${key} }\n  clients: { mode: token, tokensFile: ${tokens} }\n` +
        `  policy: [{ principal: alice, http: ['GET /**'] }]\n  audit: { file: ${audit}, maxBytes: 4096 }\n`,
    );
    expect(a.plugins.map((p) => p.name)).toEqual(['fake', 'tcp', 'hmac', 'token', 'policy', 'file-audit']);
    expect(resolve(a.container, LINK_SECURITY).name).toBe('hmac');
    const alice = await resolve(a.container, AUTHENTICATOR).authenticate(
      { kind: 'client', address: 'x' },
      new TextEncoder().encode('alice-secret-0123456789'),
    );
    expect(alice.id).toBe('alice');
    const authz = resolve(a.container, AUTHORIZER);
    expect(
      await authz.authorize(alice, { substrate: 'http', type: 'request', method: 'GET', path: '/a/b' }),
    ).toMatchObject({
      allow: true,
    });
    expect(
      await authz.authorize(alice, { substrate: 'http', type: 'request', method: 'PUT', path: '/a' }),
    ).toMatchObject({
      allow: false,
    });
    resolve(a.container, AUDITOR).audit({ type: 'authz.denied', member: 'n1', principal: 'alice', reason: 'PUT /a' });
    expect(JSON.parse(fs.readFileSync(audit, 'utf8'))).toMatchObject({ type: 'authz.denied', principal: 'alice' });
  });

  it('a policy file path is read as YAML', async () => {
    const policy = file('policy.yaml', '- principal: ops\n  cli: [uptime]\n', 0o644);
    const a = await assemble(`  policy: ${policy}\n`);
    const authz = resolve(a.container, AUTHORIZER);
    expect(
      await authz.authorize({ id: 'ops', kind: 'client' }, { substrate: 'cli', type: 'request', command: ['uptime'] }),
    ).toMatchObject({ allow: true });
  });

  it('refuses to assemble with a world-readable key file, naming aaa.link.keyFile', async () => {
    const key = file('group.key', 'k'.repeat(48), 0o644);
    const err = await assemble(`  link: { mode: hmac, keyFile: ${key} }\n`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([
      expect.objectContaining({
        path: 'aaa.link.keyFile',
        message: `${key} is readable by group or others (mode 0644)`,
      }),
    ]);
  });
});
