import { SUBSTRATE, type Plugin, type PluginRegistration } from '@vcl/core';
import { RespSubstrate } from './resp-substrate';
import { RESP_OPTIONS, resolveRespOptions, type RespOptions } from './options';

/**
 * The resp substrate plugin: `resp({ allow: ['TIME'] })`. Its `register` adds the substrate under
 * `SUBSTRATE` and its options under `RESP_OPTIONS` (never resolving anything). Throws
 * `OptionsError` naming each bad option.
 */
export function resp(options?: RespOptions): Plugin {
  const resolved = resolveRespOptions(options);
  return {
    kind: 'substrate',
    name: 'resp',
    register(container) {
      container.register(RESP_OPTIONS, { useValue: resolved });
      container.register(SUBSTRATE, { useValue: new RespSubstrate(resolved) });
    },
  };
}

/** The plugin registry entry: `substrates: [{ plugin: resp, options: {...} }]` in a stack file. */
export const registration: PluginRegistration = {
  kind: 'substrate',
  name: 'resp',
  packageName: '@vcl/substrate-resp',
  description:
    'the Redis protocol (RESP2/RESP3): pipelined request/response, read-only command table, refused commands',
  create: (options) => resp(options as RespOptions),
};
