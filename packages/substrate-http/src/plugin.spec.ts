import 'reflect-metadata';
import { container } from 'tsyringe';
import { OptionsError, resolveAll, SUBSTRATE, resolve } from '@vcl/core';
import { HTTP_DEFAULTS, HTTP_OPTIONS } from './options';
import { http, registration } from './plugin';

describe('http plugin', () => {
  it('registers a substrate under SUBSTRATE and its options under HTTP_OPTIONS, with defaults filled in', () => {
    const child = container.createChildContainer();
    http({ maxBodyBytes: 1000 }).register(child);
    const [substrate] = resolveAll(child, SUBSTRATE);
    expect(substrate?.name).toBe('http');
    expect(substrate?.pattern).toBe('request-response');
    expect(resolve(child, HTTP_OPTIONS)).toEqual({ ...HTTP_DEFAULTS, maxBodyBytes: 1000 });
  });

  it('two http substrates in one stack are two registrations', () => {
    const child = container.createChildContainer();
    http().register(child);
    http({ maxBodyBytes: 1 }).register(child);
    expect(resolveAll(child, SUBSTRATE)).toHaveLength(2);
  });

  it('documents its defaults', () => {
    expect(HTTP_DEFAULTS).toEqual({
      maxHeaderBytes: 16384,
      maxBodyBytes: 512 * 1024,
      maxResponseBodyBytes: 8 * 1024 * 1024,
      lingerMs: 2000,
      sendDate: false,
      readMethods: ['GET', 'HEAD', 'OPTIONS'],
      compare: { ignoreHeaders: ['date'], ignoreJsonFields: [] },
    });
  });

  it('registration.create validates stack-file options and names each bad one', () => {
    expect(registration).toMatchObject({ kind: 'substrate', name: 'http', packageName: '@vcl/substrate-http' });
    expect(registration.create(undefined).name).toBe('http');
    let error: unknown;
    try {
      registration.create({ maxBodyBytes: -1, maxBodyByte: 3 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OptionsError);
    const paths = (error as OptionsError).relativeIssues.map((i) => i.path).sort();
    expect(paths).toEqual(['maxBodyByte', 'maxBodyBytes']);
    expect((error as Error).message).toContain('maxBodyByte');
  });
});
