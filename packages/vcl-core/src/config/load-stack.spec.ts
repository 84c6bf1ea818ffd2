import * as path from 'node:path';
import { ConfigError } from '../errors';
import { loadStack, memberOf, parseStack } from './load-stack';

const fixtures = path.join(__dirname, '../../test/fixtures/stacks');

// Line numbers in the expectations below refer to this text (line 1 is `group:`).
const BASE = `group:
  name: g
  members:
    - id: n1
      host: 127.0.0.1
      port: 7001
      clientPort: 7101
    - id: n2
      host: 127.0.0.1
      port: 7002
      clientPort: 7102
    - id: n3
      host: 127.0.0.1
      port: 7003
      clientPort: 7103
substrate: { plugin: tcp }
service:
  endpoint: { host: 127.0.0.1, port: 9000 }
client:
  listen: { port: 9100 }
`;

function configError(text: string): ConfigError {
  try {
    parseStack(text, 'stack.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('parseStack: valid stacks', () => {
  it('fills in every default', () => {
    const stack = parseStack(BASE, 'stack.yaml');
    expect(stack).toEqual({
      group: {
        name: 'g',
        partition: 'primary-component',
        members: [
          { id: 'n1', host: '127.0.0.1', port: 7001, clientPort: 7101 },
          { id: 'n2', host: '127.0.0.1', port: 7002, clientPort: 7102 },
          { id: 'n3', host: '127.0.0.1', port: 7003, clientPort: 7103 },
        ],
      },
      ordering: { plugin: 'sequencer' },
      substrates: [{ plugin: 'tcp' }],
      service: { endpoint: { host: '127.0.0.1', port: 9000 }, recovery: 'none' },
      client: { listen: { host: '127.0.0.1', port: 9100 }, failoverTimeoutMs: 10000 },
      timeouts: { heartbeatMs: 100, suspectMs: 1000, connectMs: 2000, requestMs: 30000 },
      admin: { host: '127.0.0.1', enabled: true },
      limits: {
        preAuthFrameBytes: 65536,
        frameBytes: 16777216,
        maxConnections: 2048,
        maxConnectionsPerAddress: 512,
        handshakeTimeoutMs: 10000,
        partialRequestTimeoutMs: 10000,
        adminMaxConnections: 16,
        adminRequestTimeoutMs: 5000,
      },
      onDivergence: 'report',
    });
  });

  it('loads the full three-member example with every section given', async () => {
    const stack = await loadStack(path.join(fixtures, 'three-members-tcp.yaml'));
    expect(stack.group.members.map((m) => `${m.id}@${m.host}:${m.port}/${m.clientPort}/${m.adminPort ?? '-'}`)).toEqual(
      ['n1@127.0.0.1:7101/7201/7301', 'n2@127.0.0.2:7101/7201/7301', 'n3@127.0.0.3:7101/7201/-'],
    );
    expect(stack.ordering).toEqual({ plugin: 'tokenring', options: { rotationMs: 5 } });
    expect(stack.substrates).toEqual([
      { plugin: 'tcp', options: { framing: 'line' }, listen: { host: '127.0.0.1', port: 6379 } },
    ]);
    expect(stack.service).toEqual({
      command: ['node', 'kv-server.js', '--port', '6380'],
      cwd: '/srv/kv',
      env: { KV_MODE: 'strict' },
      resetCommand: ['node', 'kv-reset.js'],
      snapshot: { save: ['node', 'kv-dump.js'], load: ['node', 'kv-load.js'] },
      recovery: 'snapshot',
      dataDir: '/var/lib/vcl/kv',
    });
    expect(stack.aaa).toEqual({
      link: { mode: 'hmac', keyFile: 'group.key' },
      clients: { mode: 'token', tokensFile: 'tokens.txt' },
      policy: [{ principal: '*', tcp: true }],
      audit: { file: 'audit.log', maxBytes: 1048576 },
    });
    expect(stack.timeouts).toEqual({ heartbeatMs: 50, suspectMs: 500, connectMs: 1000, requestMs: 10000 });
    expect(stack.client.failoverTimeoutMs).toBe(5000);
    expect(stack.onDivergence).toBe('evict');
  });

  it('loads the minimal two-member fail-stop example with the substrate shorthand', async () => {
    const stack = await loadStack(path.join(fixtures, 'two-members-http.yaml'));
    expect(stack.group.partition).toBe('fail-stop');
    expect(stack.substrates).toEqual([{ plugin: 'http' }]);
    expect(stack.client.listen).toEqual({ host: '127.0.0.1', port: 8000 });
    expect(stack.ordering.plugin).toBe('sequencer');
    expect(stack.aaa).toBeUndefined();
    expect(stack.service.recovery).toBe('none');
  });

  it('passes plugin options through untouched', () => {
    const options = { nested: { list: [1, 'two', { three: true }] }, 'odd-key': null };
    const stack = parseStack(`${BASE}ordering:\n  plugin: ./my/paxos\n  options: ${JSON.stringify(options)}\n`, 's');
    expect(stack.ordering).toEqual({ plugin: './my/paxos', options });
  });

  it('accepts hmac with keyFile, and tls links and clients with ca, cert and key', () => {
    expect(parseStack(`${BASE}aaa: { link: { mode: hmac, keyFile: k } }`, 's').aaa?.link).toEqual({
      mode: 'hmac',
      keyFile: 'k',
    });
    const tls = parseStack(`${BASE}aaa: { link: { mode: tls, ca: c, cert: e, key: k }, clients: { mode: tls } }`, 's');
    expect(tls.aaa?.clients).toEqual({ mode: 'tls' });
  });

  it('accepts the client-side interceptor’s own credentials in aaa.client, and names an unknown key there', () => {
    const s = parseStack(`${BASE}aaa: { clients: { mode: token, tokensFile: t }, client: { tokenFile: mine } }`, 's');
    expect(s.aaa?.client).toEqual({ tokenFile: 'mine' });
    expect(() => parseStack(`${BASE}aaa: { client: { token: x } }`, 's')).toThrow(/aaa\.client/);
  });
});

describe('parseStack: bad input, one ConfigError naming path, expectation and line', () => {
  it('an unknown key, with a did-you-mean hint', () => {
    const e = configError(BASE.replace('clientPort: 7102', 'clientport: 7102'));
    expect(e.message).toBe(
      'stack.yaml: 2 problems\n' +
        '  - group.members[1].clientPort: missing; expected a number (line 8:7)\n' +
        '  - group.members[1].clientport: unknown key "clientport" (line 11:7) (hint: did you mean "clientPort"?)',
    );
    expect(e.issues[1]).toMatchObject({ path: 'group.members[1].clientport', line: 11, column: 7 });
  });

  it('an unknown top-level key that resembles nothing lists the known keys', () => {
    const e = configError(`${BASE}colour: blue\n`);
    expect(e.issues).toEqual([
      {
        path: 'colour',
        message: 'unknown key "colour" (line 21:1)',
        hint: 'known keys: group, ordering, substrate, substrates, service, client, aaa, timeouts, admin, limits, onDivergence, dependencies',
        line: 21,
        column: 1,
      },
    ]);
  });

  it('a wrong type', () => {
    const e = configError(BASE.replace('port: 7003', 'port: seven'));
    expect(e.message).toBe(
      'stack.yaml: 1 problem\n  - group.members[2].port: expected a number, got "seven" (line 14:13)',
    );
  });

  it('a missing field', () => {
    const e = configError(BASE.replace('  name: g\n', ''));
    expect(e.message).toBe('stack.yaml: 1 problem\n  - group.name: missing; expected a string (line 2:3)');
  });

  it('a duplicate member id', () => {
    const e = configError(BASE.replace('id: n3', 'id: n1'));
    expect(e.message).toBe(
      'stack.yaml: 1 problem\n' +
        '  - group.members[2].id: duplicate member id "n1" (also group.members[0].id) (line 12:11) (hint: every member needs its own id)',
    );
  });

  it('a host:port pair used twice', () => {
    const e = configError(BASE.replace('clientPort: 7103', 'clientPort: 7001'));
    expect(e.message).toContain(
      '  - group.members[2].clientPort: 127.0.0.1:7001 is already used by group.members[0].port (line 15:19)',
    );
  });

  it('a bad port, also a fractional one', () => {
    const e = configError(BASE.replace('port: 7002', 'port: 70000').replace('clientPort: 7101', 'clientPort: 7.5'));
    expect(e.message).toBe(
      'stack.yaml: 2 problems\n' +
        '  - group.members[0].clientPort: expected an integer, got 7.5 (not an integer) (line 7:19)\n' +
        '  - group.members[1].port: expected a port number 1..65535, got 70000 (line 10:13)',
    );
  });

  it('fail-stop with 3 members', () => {
    const e = configError(BASE.replace('  name: g\n', '  name: g\n  partition: fail-stop\n'));
    expect(e.message).toBe(
      'stack.yaml: 1 problem\n' +
        '  - group.partition: fail-stop is only allowed with exactly 2 members, this group has 3 (line 3:14) ' +
        '(hint: use primary-component: with 3 or more members a majority view keeps delivering, without split brain)',
    );
  });

  it('a misspelt enum value, with a did-you-mean hint', () => {
    const e = configError(BASE.replace('  name: g\n', '  name: g\n  partition: primary\n'));
    expect(e.issues[0]!.message).toBe('expected one of primary-component | fail-stop, got "primary" (line 3:14)');
  });

  it('a service with both endpoint and command names both alternatives', () => {
    const e = configError(BASE.replace('service:\n', 'service:\n  command: [./server]\n'));
    expect(e.message).toBe(
      'stack.yaml: 1 problem\n' +
        '  - service.command: service has both endpoint and command; give exactly one: ' +
        'endpoint { host, port } (connect to a running service) or command [argv] (start the service) (line 18:3)',
    );
  });

  it('service.replayLog: only with recovery replay, and a bound of at least 4096 bytes', () => {
    const at = (s: string): string => BASE.replace('  endpoint: { host: 127.0.0.1, port: 9000 }\n', `$&${s}`);
    expect(parseStack(at('  recovery: replay\n  replayLog: { maxBytes: 1048576 }\n'), 's').service.replayLog).toEqual({
      maxBytes: 1048576,
    });
    expect(
      configError(at('  recovery: snapshot\n  replayLog: { maxBytes: 1048576 }\n')).issues.map((i) => i.message),
    ).toEqual([
      'recovery snapshot needs service.snapshot { save, load } (line 19:13)',
      'replayLog only applies with recovery: replay (recovery is snapshot) (line 20:3)',
    ]);
    expect(configError(at('  recovery: replay\n  replayLog: { maxBytes: 100 }\n')).issues.map((i) => i.path)).toEqual([
      'service.replayLog.maxBytes',
    ]);
  });

  it('a service with neither endpoint nor command', () => {
    const e = configError(BASE.replace('  endpoint: { host: 127.0.0.1, port: 9000 }\n', '  recovery: replay\n'));
    expect(e.issues.map((i) => i.message)).toEqual([
      'missing; give exactly one of endpoint { host, port } (connect to a running service) or command [argv] (start the service) (line 18:3)',
    ]);
  });

  it('hmac without keyFile', () => {
    const e = configError(`${BASE}aaa:\n  link: { mode: hmac }\n`);
    expect(e.message).toBe(
      'stack.yaml: 1 problem\n  - aaa.link.keyFile: missing; link mode hmac needs keyFile (the shared group key) (line 22:9)',
    );
  });

  it('tls without ca, cert and key names each', () => {
    const e = configError(`${BASE}aaa:\n  link: { mode: tls, cert: c.pem }\n`);
    expect(e.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'aaa.link.ca: missing; link mode tls needs ca, cert and key (line 22:9)',
      'aaa.link.key: missing; link mode tls needs ca, cert and key (line 22:9)',
    ]);
  });

  it('both substrate and substrates, or neither', () => {
    expect(configError(`${BASE}substrates: [{ plugin: http }]\n`).issues.map((i) => i.message)).toEqual([
      'give either substrate (one) or substrates (a list), not both (line 16:1)',
    ]);
    expect(configError(BASE.replace('substrate: { plugin: tcp }\n', '')).issues.map((i) => i.message)).toEqual([
      'missing; expected a list of substrates (or a single substrate:) (line 1:1)',
    ]);
  });

  it('a YAML syntax error, with its line number', () => {
    const e = configError(BASE.replace('listen: { port: 9100 }', 'listen: { port: 9100'));
    expect(e.message).toMatch(/^stack\.yaml: \d+ problems?\n {2}- \(root\): YAML syntax error: .+ \(line 2\d:\d+\)/);
    expect(e.issues[0]!.line).toBeGreaterThanOrEqual(20);
  });

  it('a duplicate key is a YAML error too', () => {
    const e = configError(`${BASE}client: {}\n`);
    expect(e.issues).toEqual([
      { path: '(root)', message: 'YAML syntax error: Map keys must be unique (line 21:1)', line: 21, column: 1 },
    ]);
  });

  it('every problem in one error, in file order', () => {
    const e = configError(
      BASE.replace('port: 7001', 'port: 0').replace('id: n2', 'id: n1').replace('listen: { port: 9100 }', 'listen: {}'),
    );
    expect(e.issues.map((i) => i.path)).toEqual(['group.members[0].port', 'group.members[1].id', 'client.listen.port']);
  });

  it('an empty file', () => {
    expect(configError('# nothing\n').message).toBe(
      'stack.yaml: 1 problem\n  - (root): the stack file is empty; expected group, service, client, substrates',
    );
  });

  it('a file that does not exist', async () => {
    const missing = path.join(fixtures, 'nope.yaml');
    await expect(loadStack(missing)).rejects.toThrow(`${missing}: 1 problem\n  - (root): file not found`);
  });
});

describe('memberOf', () => {
  const stack = parseStack(BASE, 'stack.yaml');

  it('finds a member by id', () => {
    expect(memberOf(stack, 'n2')).toEqual({ id: 'n2', host: '127.0.0.1', port: 7002, clientPort: 7102 });
  });

  it('lists the known ids for an unknown member id', () => {
    expect(() => memberOf(stack, 'n4')).toThrow(ConfigError);
    expect(() => memberOf(stack, 'n4')).toThrow(
      'group g: 1 problem\n  - group.members: no member with id "n4"; known member ids: n1, n2, n3 (hint: did you mean "n1"?)',
    );
  });
});

describe('parseStack: several substrates', () => {
  // Line 16 of BASE is `substrate: { plugin: tcp }`; the lists below start there.
  const withSubstrates = (list: string): string => BASE.replace('substrate: { plugin: tcp }\n', list);
  const TCP_AND_CLI = `substrates:
  - plugin: tcp
    options: { framing: line }
    listen: { host: 127.0.0.1, port: 9101 }
  - plugin: cli
    name: ops
    listen: { host: 127.0.0.1, port: 9102 }
    service: { command: [./counter-cli, --port, '9000'] }
`;

  it('reads name, listen and a per-substrate service target; absent fields stay absent', () => {
    const stack = parseStack(withSubstrates(TCP_AND_CLI), 'stack.yaml');
    expect(stack.substrates).toEqual([
      { plugin: 'tcp', options: { framing: 'line' }, listen: { host: '127.0.0.1', port: 9101 } },
      {
        plugin: 'cli',
        name: 'ops',
        listen: { host: '127.0.0.1', port: 9102 },
        service: { command: ['./counter-cli', '--port', '9000'] },
      },
    ]);
    expect(stack.service.endpoint).toEqual({ host: '127.0.0.1', port: 9000 });
  });

  it('loads the tcp + cli example of the README', async () => {
    const stack = await loadStack(path.join(fixtures, 'tcp-and-cli.yaml'));
    expect(stack.substrates.map((s) => [s.name ?? s.plugin, s.listen?.port, s.service?.command?.[0] ?? '-'])).toEqual([
      ['tcp', 7400, '-'],
      ['ops', 7401, '/usr/local/bin/jobctl'],
    ]);
    expect(stack.service.endpoint).toEqual({ host: '127.0.0.1', port: 6400 });
  });

  it('a substrate service with an endpoint', () => {
    const stack = parseStack(
      withSubstrates('substrates:\n  - plugin: tcp\n    service: { endpoint: { host: 127.0.0.1, port: 9005 } }\n'),
      'stack.yaml',
    );
    expect(stack.substrates[0]!.service).toEqual({ endpoint: { host: '127.0.0.1', port: 9005 } });
  });

  it('two substrates with the same name (explicit or the plugin), with a hint', () => {
    const e = configError(
      withSubstrates('substrates:\n  - plugin: tcp\n  - plugin: tcp\n    options: { framing: line }\n'),
    );
    expect(e.message).toBe(
      'stack.yaml: 1 problem\n' +
        '  - substrates[1].plugin: two substrates named "tcp" (also substrates[0]) (line 18:13) ' +
        '(hint: give each substrate its own name:, e.g. name: tcp-admin)',
    );
    const named = configError(withSubstrates('substrates:\n  - plugin: tcp\n  - { plugin: cli, name: tcp }\n'));
    expect(named.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'substrates[1].name: two substrates named "tcp" (also substrates[0]) (line 18:26)',
    ]);
  });

  it('a substrate service with both endpoint and command, or neither', () => {
    const both = configError(
      withSubstrates('substrates:\n  - plugin: cli\n    service: { endpoint: { host: h, port: 1 }, command: [x] }\n'),
    );
    expect(both.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'substrates[0].service.command: substrate service has both endpoint and command; give exactly one: ' +
        'endpoint { host, port } (connect to the service) or command [argv] (run it per request) (line 18:48)',
    ]);
    const neither = configError(withSubstrates('substrates:\n  - plugin: cli\n    service: {}\n'));
    expect(neither.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'substrates[0].service: missing; give exactly one of endpoint { host, port } (connect to the service) or ' +
        "command [argv] (run it per request), or leave service out to use the stack's service (line 18:14)",
    ]);
  });

  it('an unknown key in a substrate service, a bad name, an empty command', () => {
    const e = configError(
      withSubstrates('substrates:\n  - plugin: cli\n    name: "no spaces"\n    service: { command: [], cwd: /tmp }\n'),
    );
    expect(e.issues.map((i) => i.path)).toEqual([
      'substrates[0].name',
      'substrates[0].service.command',
      'substrates[0].service.cwd',
    ]);
    expect(e.issues[0]!.message).toMatch(/^expected a name of letters, digits/);
  });
});

describe('parseStack: service.stateDigest', () => {
  const withDigest = (digest: string, extra = ''): string =>
    BASE.replace(
      '  endpoint: { host: 127.0.0.1, port: 9000 }\n',
      `  endpoint: { host: 127.0.0.1, port: 9000 }\n${digest}`,
    ) + extra;

  it('reads the command and every; every defaults to 1000; absent means no state digest', () => {
    expect(parseStack(BASE, 'stack.yaml').service.stateDigest).toBeUndefined();
    expect(
      parseStack(withDigest('  stateDigest: { command: [node, digest.js] }\n'), 'stack.yaml').service.stateDigest,
    ).toEqual({
      command: ['node', 'digest.js'],
      every: 1000,
    });
    expect(
      parseStack(withDigest('  stateDigest: { command: [x], every: 50 }\n'), 'stack.yaml').service.stateDigest?.every,
    ).toBe(50);
    // Internal mode may give only `every` (the program passes the digest callback).
    expect(parseStack(withDigest('  stateDigest: { every: 7 }\n'), 'stack.yaml').service.stateDigest).toEqual({
      every: 7,
    });
  });

  it('a bad every, an empty command, an unknown key: each named with its path', () => {
    for (const [every, message] of [
      ['0', /expected a number more than 0, got 0/],
      ['-3', /expected a number more than 0, got -3/],
      ['2.5', /expected an integer, got 2.5/],
      ['often', /expected a number, got "often"/],
    ] as const) {
      const e = configError(withDigest(`  stateDigest: { command: [x], every: ${every} }\n`));
      expect(e.issues.map((i) => i.path)).toEqual(['service.stateDigest.every']);
      expect(e.issues[0]!.message).toMatch(message);
    }
    const e = configError(withDigest('  stateDigest: { command: [], evry: 5 }\n'));
    expect(e.issues.map((i) => i.path)).toEqual(['service.stateDigest.command', 'service.stateDigest.evry']);
    expect(e.issues[1]!.hint).toMatch(/did you mean "every"/);
  });

  it('onDivergence: off with a state digest is an error (nothing would compare it)', () => {
    const e = configError(withDigest('  stateDigest: { command: [x] }\n', 'onDivergence: off\n'));
    expect(e.issues).toEqual([
      expect.objectContaining({
        path: 'service.stateDigest',
        message: expect.stringMatching(/onDivergence: off turns off/),
        hint: expect.stringMatching(/onDivergence: report/),
      }),
    ]);
    expect(
      parseStack(withDigest('  stateDigest: { command: [x] }\n', 'onDivergence: evict\n'), 'stack.yaml').onDivergence,
    ).toBe('evict');
  });
});
