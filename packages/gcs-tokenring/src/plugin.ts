import type { DependencyContainer } from 'tsyringe';
import { ORDERING, type Plugin, type PluginRegistration } from '@vcl/core';
import { TOKEN_RING_OPTIONS, parseTokenRingOptions, type TokenRingOptions } from './options';
import { TokenRing } from './token-ring';

/** The name stack files use for this plugin. */
export const TOKEN_RING_NAME = 'tokenring';

/**
 * The token ring ordering plugin, configured. `register` puts the resolved options under
 * `TOKEN_RING_OPTIONS` and the protocol class under `ORDERING` in a deployment's child container.
 * Throws `ConfigError` for bad options.
 */
export function tokenRing(options?: TokenRingOptions): Plugin {
  const resolved = parseTokenRingOptions(options);
  return {
    kind: 'ordering',
    name: TOKEN_RING_NAME,
    register(container: DependencyContainer): void {
      container.register(TOKEN_RING_OPTIONS, { useValue: resolved });
      container.register(ORDERING, { useClass: TokenRing });
    },
  };
}

/** The plugin registry entry: `ordering: tokenring` in a stack file. */
export const registration: PluginRegistration = {
  kind: 'ordering',
  name: TOKEN_RING_NAME,
  packageName: '@vcl/gcs-tokenring',
  description: 'rotating token total order (Totem single-ring style): safe delivery, flow control, primary component',
  create: (options: unknown) => tokenRing(parseTokenRingOptions(options, 'ordering.options')),
};
