import { ORDERING, type Plugin, type PluginRegistration } from '@vcl/core';
import type { DependencyContainer } from 'tsyringe';
import { SEQUENCER_OPTIONS, resolveSequencerOptions, type SequencerOptions } from './options';
import { SequencerProtocol } from './sequencer-protocol';

/**
 * The fixed-sequencer ordering plugin. `register` puts the validated options under
 * `SEQUENCER_OPTIONS` and the protocol class under `ORDERING`; the deployment's container builds
 * it with the group's network, clock, randomness, logger and group config.
 * Throws `ConfigError` naming every bad option.
 */
export function sequencer(options?: SequencerOptions): Plugin {
  const resolved = resolveSequencerOptions(options);
  return {
    kind: 'ordering',
    name: 'sequencer',
    register(container: DependencyContainer): void {
      container.register(SEQUENCER_OPTIONS, { useValue: resolved });
      container.register(ORDERING, { useClass: SequencerProtocol });
    },
  };
}

/** The plugin-registry entry: `ordering: sequencer` in a stack file. */
export const registration: PluginRegistration = {
  kind: 'ordering',
  name: 'sequencer',
  packageName: '@vcl/gcs-sequencer',
  description: 'fixed sequencer total order with safe delivery and Paxos-decided sequencer fail-over',
  create(options: unknown): Plugin {
    return sequencer(resolveSequencerOptions(options, 'ordering.options'));
  },
};
