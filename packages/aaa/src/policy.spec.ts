import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, type Principal } from '@vcl/core';
import { parsePolicy, policyAuthorizer, readPolicyFile } from './policy';

const alice: Principal = { id: 'alice', kind: 'client' };
const bob: Principal = { id: 'bob', kind: 'client' };
const eve: Principal = { id: 'eve', kind: 'client' };

const rules = parsePolicy([
  { principal: 'alice', http: ['GET /items/*', 'post /items', '* /admin/**'], cli: ['ls', 'git status'], tcp: true },
  { principal: 'bob', http: ['GET /items/*'] },
  { principal: '*', http: ['GET /health'] },
]);
const authz = policyAuthorizer(rules);
const http = (method: string, p: string) => ({ substrate: 'http', type: 'request' as const, method, path: p });
const cli = (...command: string[]) => ({ substrate: 'cli', type: 'request' as const, command });

describe('policyAuthorizer', () => {
  it('HTTP: allows method + glob path matches, denies the rest with a reason', () => {
    expect(authz.authorize(alice, http('GET', '/items/42'))).toEqual({
      allow: true,
      reason: 'rule "GET /items/*" for alice',
    });
    expect(authz.authorize(alice, http('POST', '/items')).allow).toBe(true);
    expect(authz.authorize(alice, http('DELETE', '/admin/users/7')).allow).toBe(true);
    expect(authz.authorize(alice, http('GET', '/items/42?x=1')).allow).toBe(true);
    expect(authz.authorize(alice, http('GET', '/items/42/parts'))).toEqual({
      allow: false,
      reason: 'no rule allows client alice GET /items/42/parts',
    });
    expect(authz.authorize(bob, http('POST', '/items/1')).allow).toBe(false);
    expect(authz.authorize(bob, http('GET', '/health')).allow).toBe(true);
    expect(authz.authorize(eve, http('GET', '/health')).allow).toBe(true);
    expect(authz.authorize(eve, http('GET', '/items/1')).allow).toBe(false);
  });

  it('CLI: allows commands by argv prefix (argv[0] by path or base name)', () => {
    expect(authz.authorize(alice, cli('ls', '-l')).allow).toBe(true);
    expect(authz.authorize(alice, cli('/bin/ls')).allow).toBe(true);
    expect(authz.authorize(alice, cli('git', 'status', '--short')).allow).toBe(true);
    expect(authz.authorize(alice, cli('git', 'push'))).toEqual({
      allow: false,
      reason: 'no rule allows client alice to run git push',
    });
    expect(authz.authorize(alice, cli('git')).allow).toBe(false);
    expect(authz.authorize(bob, cli('ls')).allow).toBe(false);
  });

  it('TCP and connect: allowed only with a rule for that substrate', () => {
    expect(authz.authorize(alice, { substrate: 'tcp', type: 'connect' }).allow).toBe(true);
    expect(authz.authorize(alice, { substrate: 'tcp', type: 'request' }).allow).toBe(true);
    expect(authz.authorize(bob, { substrate: 'tcp', type: 'connect' })).toEqual({
      allow: false,
      reason: 'client bob may not connect to tcp',
    });
    expect(authz.authorize(bob, { substrate: 'http', type: 'connect' }).allow).toBe(true);
    expect(authz.authorize(bob, { substrate: 'cli', type: 'connect' }).allow).toBe(false);
    expect(authz.authorize(bob, { substrate: 'smtp', type: 'request' }).allow).toBe(false);
  });

  it('denies by default a principal without rules, and allows everything with no policy', () => {
    const strict = policyAuthorizer(parsePolicy([{ principal: 'alice', tcp: true }]));
    expect(strict.authorize(eve, http('GET', '/'))).toEqual({ allow: false, reason: 'no policy rule for client eve' });
    expect(policyAuthorizer([]).authorize(alice, http('GET', '/')).allow).toBe(false);
    expect(policyAuthorizer(undefined).authorize(eve, http('DELETE', '/all'))).toEqual({
      allow: true,
      reason: 'no policy configured',
    });
  });

  it('reads YAML policy files and rejects bad rules with their paths', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-aaa-'));
    try {
      const f = path.join(dir, 'policy.yaml');
      fs.writeFileSync(f, 'rules:\n  - principal: bob\n    cli: [date]\n');
      expect(policyAuthorizer(readPolicyFile(f)).authorize(bob, cli('date')).allow).toBe(true);
      let err: unknown;
      try {
        parsePolicy([
          { principal: 'x', http: ['/no-method'] },
          { principal: 'y', tpc: true },
        ]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.map((i) => i.path)).toEqual(['[0].http[0]', '[1]']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
