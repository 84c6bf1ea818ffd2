import { UsageError, parseClientArgs } from './cli';

describe('parseClientArgs', () => {
  it('builds every request', () => {
    const send = (...argv: string[]) => parseClientArgs(['--port', '7001', ...argv]).send;
    expect(parseClientArgs(['--host', '127.0.0.2', '--port', '7001', 'digest'])).toEqual({
      host: '127.0.0.2',
      port: 7001,
      send: { request: { op: 'digest' } },
    });
    expect(send('mkdir', '/a', '--mode', '0o700')).toEqual({ request: { op: 'mkdir', path: '/a', mode: 0o700 } });
    expect(send('create', '/a/f')).toEqual({ request: { op: 'create', path: '/a/f' } });
    expect(send('lookup', '/a')).toEqual({ request: { op: 'lookup', path: '/a' } });
    expect(send('lookup', '--parent', 'abc', 'f')).toEqual({ request: { op: 'lookup', parent: 'abc', name: 'f' } });
    expect(send('readdir', '0123456789abcdef')).toEqual({ request: { op: 'readdir', handle: '0123456789abcdef' } });
    expect(send('stat', '/a')).toEqual({ request: { op: 'stat', path: '/a' } });
    expect(send('setattr', '/a/f', '--size', '10', '--uid', '5', '--mode', '600')).toEqual({
      request: { op: 'setattr', path: '/a/f', size: 10, uid: 5, mode: 0o600 },
    });
    expect(send('rename', '/a', '/b')).toEqual({ request: { op: 'rename', from: '/a', to: '/b' } });
    expect(send('remove', '/b')).toEqual({ request: { op: 'remove', path: '/b' } });
    expect(send('reset')).toEqual({ request: { op: 'reset' } });
    expect(parseClientArgs(['snapshot'])).toMatchObject({
      port: 7000,
      compact: true,
      send: { request: { op: 'snapshot' } },
    });
    expect(send('restore')).toEqual({ restoreFrom: '-' });
    expect(send('restore', 'snap.json')).toEqual({ restoreFrom: 'snap.json' });
    expect(send('raw', 'hello')).toEqual({ line: 'hello' });
  });

  it.each([
    [[], 'no command given'],
    [['frob'], 'unknown command "frob"'],
    [['mkdir'], 'mkdir takes one path, got 0 arguments'],
    [['rename', '/a'], 'rename takes a source and a destination path'],
    [['digest', 'x'], 'digest takes no arguments'],
    [['mkdir', '/a', '--mode', '999'], '--mode must be octal digits like 755, got "999"'],
    [['setattr', '/a'], 'setattr needs at least one of --mode'],
    [['setattr', '/a', '--size', '-1'], "Option '--size' argument is ambiguous"],
    [['setattr', '/a', '--size', 'x'], '--size must be a non-negative integer, got "x"'],
    [['stat', '/', '--size', '3'], '--size does not apply to stat'],
    [['stat'], 'stat takes one target'],
    [['restore', 'a', 'b'], 'restore takes at most one file'],
    [['--port', '0', 'digest'], '--port must be 1..65535, got "0"'],
    [['--port', 'x', 'digest'], '--port must be 1..65535, got "x"'],
    [['--colour', 'digest'], "Unknown option '--colour'"],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseClientArgs(argv)).toThrow(UsageError);
    expect(() => parseClientArgs(argv)).toThrow(message);
  });
});
