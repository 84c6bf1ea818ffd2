import 'reflect-metadata';
import { container } from 'tsyringe';
import { OptionsError, resolve, resolveAll, SUBSTRATE } from '@vcl/core';
import { resp, registration, RESP_DEFAULTS, RESP_OPTIONS } from './index';

describe('resp plugin', () => {
  it('registers the substrate under SUBSTRATE and its options, with the defaults filled in', () => {
    const child = container.createChildContainer();
    resp({ maxMessageBytes: 100 }).register(child);
    const [substrate] = resolveAll(child, SUBSTRATE);
    expect([substrate?.name, substrate?.pattern]).toEqual(['resp', 'request-response']);
    expect(resolve(child, RESP_OPTIONS)).toEqual({ ...RESP_DEFAULTS, maxMessageBytes: 100 });
  });

  it('documents its defaults', () => {
    expect(RESP_DEFAULTS).toEqual({ maxMessageBytes: 65536, lingerMs: 1000 });
  });

  it('rejects bad options, naming each', () => {
    expect(registration).toMatchObject({ kind: 'substrate', name: 'resp', packageName: '@vcl/substrate-resp' });
    expect(() => registration.create({ maxMessageBytes: 0 })).toThrow(OptionsError);
    expect(() => registration.create({ maxMessageByte: 10 })).toThrow(/maxMessageByte/);
  });
});
