import 'reflect-metadata';
import { container } from 'tsyringe';
import { FramingError, MessageTooLargeError, OptionsError, resolve, resolveAll, SUBSTRATE } from '@vcl/core';
import { decodeResponse } from './codec';
import { CLI_DEFAULTS, CLI_OPTIONS } from './options';
import { cli, registration } from './plugin';

describe('cli plugin', () => {
  it('registers a substrate under SUBSTRATE and its options under CLI_OPTIONS, with defaults filled in', () => {
    const child = container.createChildContainer();
    cli({ timeoutMs: 100 }).register(child);
    const [substrate] = resolveAll(child, SUBSTRATE);
    expect([substrate?.name, substrate?.pattern]).toEqual(['cli', 'request-response']);
    expect(resolve(child, CLI_OPTIONS)).toEqual({ ...CLI_DEFAULTS, timeoutMs: 100 });
  });

  it('documents its defaults', () => {
    expect(CLI_DEFAULTS).toEqual({
      maxRequestBytes: 512 * 1024,
      maxResponseBytes: 8 * 1024 * 1024,
      timeoutMs: 30_000,
      killSignal: 'SIGKILL',
      env: {},
      lingerMs: 2000,
    });
  });

  it('registration.create validates stack-file options and names each bad one', () => {
    expect(registration).toMatchObject({ kind: 'substrate', name: 'cli', packageName: '@vcl/substrate-cli' });
    let error: unknown;
    try {
      registration.create({ timeoutMs: 0, killSignal: 'SIGFOO' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OptionsError);
    expect((error as OptionsError).relativeIssues.map((i) => i.path).sort()).toEqual(['killSignal', 'timeoutMs']);
  });

  it("reports failures the command line's way: a non-zero exit with the reason on stderr", () => {
    const child = container.createChildContainer();
    cli().register(child);
    const [substrate] = resolveAll(child, SUBSTRATE);
    const reply = (e: Error) => decodeResponse(substrate!.errorResponse!(e) as Uint8Array);
    expect(reply(new FramingError('bad frame'))).toEqual({
      exitCode: 65,
      stdout: new Uint8Array(0),
      stderr: new TextEncoder().encode('vcl: bad frame\n'),
    });
    expect(reply(new MessageTooLargeError('too big')).exitCode).toBe(65);
    expect(reply(new Error('other')).exitCode).toBe(70);
  });
});
