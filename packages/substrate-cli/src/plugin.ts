import { SUBSTRATE, type Plugin, type PluginRegistration } from '@vcl/core';
import { CliSubstrate } from './cli-substrate';
import { CLI_OPTIONS, resolveCliOptions, type CliOptions } from './options';

/**
 * The command-line substrate plugin: `cli({ timeoutMs: 10_000 })`. Its `register` adds the
 * substrate under `SUBSTRATE` (a stack may have several substrates) and its options under
 * `CLI_OPTIONS`. Throws `OptionsError` naming each bad option.
 */
export function cli(options?: CliOptions): Plugin {
  const resolved = resolveCliOptions(options);
  return {
    kind: 'substrate',
    name: 'cli',
    register(container) {
      container.register(CLI_OPTIONS, { useValue: resolved });
      container.register(SUBSTRATE, { useValue: new CliSubstrate(resolved) });
    },
  };
}

/** The plugin registry entry: `substrates: [{ plugin: cli, options: {...} }]` in a stack file. */
export const registration: PluginRegistration = {
  kind: 'substrate',
  name: 'cli',
  packageName: '@vcl/substrate-cli',
  description: 'command line: each request runs the command (argv + stdin -> stdout, stderr, exit code)',
  create: (options) => cli(options as CliOptions),
};
