import { DemoUsageError, parseDemoArgs } from './args';

describe('parseDemoArgs', () => {
  it('has defaults, and the live view only on a terminal', () => {
    expect(parseDemoArgs([], true)).toEqual({
      ordering: 'sequencer',
      direct: false,
      tty: true,
      ops: 3000,
      clients: 8,
      connections: 2,
      rate: 250,
      seed: 1,
      help: false,
    });
    expect(parseDemoArgs([], false).tty).toBe(false);
    expect(parseDemoArgs(['--no-tty'], true).tty).toBe(false);
  });

  it('reads every option', () => {
    const o = parseDemoArgs(
      ['--ordering', 'tokenring', '--ops', '100', '--clients', '3', '--connections', '1', '--rate', '0', '--seed', '9'],
      true,
    );
    expect(o).toMatchObject({ ordering: 'tokenring', ops: 100, clients: 3, connections: 1, rate: 0, seed: 9 });
    expect(parseDemoArgs(['--direct'], false).direct).toBe(true);
  });

  it.each([
    [['--ordering', 'paxos'], '--ordering must be one of sequencer, tokenring, got "paxos"'],
    [['--ops', '0'], '--ops must be an integer >= 1, got "0"'],
    [['--rate=-3'], '--rate must be an integer >= 0, got "-3"'],
    [['--clients', 'many'], '--clients must be an integer >= 1, got "many"'],
    [['--direct', '--ordering', 'tokenring'], '--ordering does not apply'],
    [['--colour'], "Unknown option '--colour'"],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseDemoArgs(argv, false)).toThrow(DemoUsageError);
    expect(() => parseDemoArgs(argv, false)).toThrow(message);
  });
});
