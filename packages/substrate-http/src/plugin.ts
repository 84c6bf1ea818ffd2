import { SUBSTRATE, type Plugin, type PluginRegistration } from '@vcl/core';
import { HttpSubstrate } from './http-substrate';
import { HTTP_OPTIONS, resolveHttpOptions, type HttpOptions } from './options';

/**
 * The HTTP substrate plugin: `http({ maxBodyBytes: 1 << 20 })`. Its `register` adds the substrate
 * under `SUBSTRATE` (a stack may have several substrates) and its options under `HTTP_OPTIONS`.
 * Throws `OptionsError` naming each bad option.
 */
export function http(options?: HttpOptions): Plugin {
  const resolved = resolveHttpOptions(options);
  return {
    kind: 'substrate',
    name: 'http',
    register(container) {
      container.register(HTTP_OPTIONS, { useValue: resolved });
      container.register(SUBSTRATE, { useValue: new HttpSubstrate(resolved) });
    },
  };
}

/** The plugin registry entry: `substrate: { plugin: http, options: {...} }` in a stack file. */
export const registration: PluginRegistration = {
  kind: 'substrate',
  name: 'http',
  packageName: '@vcl/substrate-http',
  description: 'HTTP/1.1 request/response (keep-alive, chunked and fixed-length bodies)',
  create: (options) => http(options as HttpOptions),
};
