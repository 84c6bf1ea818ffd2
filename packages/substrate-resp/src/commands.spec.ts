import { CommandTable, READ_ONLY_COMMANDS, REFUSED_COMMANDS, commandName } from './commands';

const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
/** A request in wire form (array of bulk strings). */
const req = (...args: string[]): Uint8Array =>
  enc(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('')}`);
const kinds = (table: CommandTable, ...requests: Uint8Array[]): string[] => {
  const planner = table.planner();
  return requests.map((r) => planner.plan(r).kind);
};

describe('the Redis command table', () => {
  const table = new CommandTable();

  it('names commands as Redis does, subcommands of containers included', () => {
    expect(commandName([enc('get'), enc('k')])).toBe('GET');
    expect(commandName([enc('client'), enc('kill'), enc('x')])).toBe('CLIENT KILL');
    expect(commandName([enc('client')])).toBe('CLIENT');
  });

  it('plans reads from the READONLY table and writes for the rest, in both request forms', () => {
    expect(kinds(table, req('GET', 'k'), req('mget', 'a', 'b'), req('EXISTS', 'k'), req('TTL', 'k'))).toEqual([
      'read',
      'read',
      'read',
      'read',
    ]);
    expect(
      kinds(table, req('LRANGE', 'l', '0', '-1'), req('HGETALL', 'h'), req('SCAN', '0'), enc('get k\r\n')),
    ).toEqual(['read', 'read', 'read', 'read']);
    expect(kinds(table, req('SET', 'k', 'v'), req('INCR', 'k'), req('LPUSH', 'l', 'x'), enc('DEL k\r\n'))).toEqual([
      'write',
      'write',
      'write',
      'write',
    ]);
    // PFCOUNT is READONLY in Redis but caches the cardinality in the key (MAY_REPLICATE)
    expect(kinds(table, req('PFCOUNT', 'h'), req('XREAD', 'STREAMS', 's', '0'), req('PING'))).toEqual([
      'write',
      'read',
      'read',
    ]);
    expect(kinds(table, req('CLIENT', 'SETNAME', 'me'), req('SELECT', '1'), req('HELLO', '3'))).toEqual([
      'write',
      'write',
      'write',
    ]);
  });

  it('applies MULTI/EXEC blocks as a unit: every command inside is a write, reads included', () => {
    expect(kinds(table, req('MULTI'), req('GET', 'k'), req('INCR', 'k'), req('EXEC'), req('GET', 'k'))).toEqual([
      'write',
      'write',
      'write',
      'write',
      'read',
    ]);
    expect(kinds(table, req('multi'), req('GET', 'k'), req('DISCARD'), req('GET', 'k'))).toEqual([
      'write',
      'write',
      'write',
      'read',
    ]);
    expect(kinds(table, req('MULTI'), req('MULTI'), req('GET', 'k'), req('RESET'), req('GET', 'k'))).toEqual([
      'write',
      'write',
      'write',
      'write',
      'read',
    ]);
    // sessions are independent: one session's MULTI does not make another's reads writes
    const a = table.planner();
    const b = table.planner();
    a.plan(req('MULTI'));
    expect([a.plan(req('GET', 'k')).kind, b.plan(req('GET', 'k')).kind]).toEqual(['write', 'read']);
  });

  it.each([
    ['RANDOMKEY'],
    ['SPOP', 's'],
    ['SRANDMEMBER', 's'],
    ['HRANDFIELD', 'h'],
    ['ZRANDMEMBER', 'z'],
    ['TIME'],
    ['CLIENT', 'ID'],
    ['CLIENT', 'KILL', 'ID', '3'],
    ['CLIENT', 'LIST'],
    ['BLPOP', 'l', '0'],
    ['BRPOP', 'l', '0'],
    ['BLMOVE', 'a', 'b', 'LEFT', 'LEFT', '0'],
    ['BZPOPMIN', 'z', '0'],
    ['XREAD', 'BLOCK', '0', 'STREAMS', 's', '$'],
    ['XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', '10', 'STREAMS', 's', '>'],
    ['XADD', 's', '*', 'f', 'v'],
    ['XADD', 's', 'NOMKSTREAM', 'MAXLEN', '~', '10', 'LIMIT', '5', '*', 'f', 'v'],
    ['SUBSCRIBE', 'c'],
    ['PSUBSCRIBE', 'c*'],
    ['MONITOR'],
    ['DEBUG', 'SLEEP', '0'],
    ['SHUTDOWN'],
    ['REPLICAOF', 'h', '1'],
    ['SYNC'],
    ['WAIT', '1', '0'],
  ])('refuses %s with a reason naming the command', (...args) => {
    const plan = table.planner().plan(req(...args));
    expect(plan.kind).toBe('refuse');
    const name = commandName(args.map(enc));
    expect(plan.kind === 'refuse' && plan.reason).toMatch(new RegExp(`^${name} cannot be replicated: .{20,}`));
  });

  it('does not refuse what only looks alike', () => {
    expect(kinds(table, req('XADD', 's', '1-1', 'f', 'v'), req('XREAD', 'COUNT', '1', 'STREAMS', 's', '0'))).toEqual([
      'write',
      'read',
    ]);
    expect(kinds(table, req('CLIENT', 'SETINFO', 'LIB-NAME', 'x'), req('PUBLISH', 'c', 'm'))).toEqual([
      'write',
      'write',
    ]);
  });

  it('refuses inside MULTI as well, and the block still ends at EXEC', () => {
    expect(kinds(table, req('MULTI'), req('SPOP', 's'), req('EXEC'), req('GET', 'k'))).toEqual([
      'write',
      'refuse',
      'write',
      'read',
    ]);
  });

  it('documents a reason for every refused command', () => {
    for (const [name, reason] of Object.entries(REFUSED_COMMANDS))
      if (reason !== null) expect({ name, reason: reason.length > 30 }).toEqual({ name, reason: true });
    expect(READ_ONLY_COMMANDS.has('GET')).toBe(true);
    expect(READ_ONLY_COMMANDS.has('SET')).toBe(false);
  });

  it("takes the stack's overrides: allowed refusals, extra reads, reads made writes", () => {
    const custom = new CommandTable({ allow: ['time', 'CLIENT'], reads: ['my.get'], writes: ['get'] });
    expect(
      kinds(
        custom,
        req('TIME'),
        req('CLIENT', 'ID'),
        req('MY.GET', 'k'),
        req('GET', 'k'),
        req('SRANDMEMBER', 's'),
        req('MGET', 'k'),
      ),
    ).toEqual(['write', 'write', 'read', 'write', 'refuse', 'read']);
    // an allowed command of the read table runs at the serving member only
    expect(kinds(new CommandTable({ allow: ['RANDOMKEY'] }), req('RANDOMKEY'))).toEqual(['read']);
  });

  it('plans bytes that are not one request as writes (the service answers them with its own error)', () => {
    expect(kinds(table, enc('*2\r\n$3\r\nGET\r\n'), enc('\r\n'))).toEqual(['write', 'write']);
  });
});
