import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import type { Clock } from '../contracts/clock';
import type { Logger } from '../contracts/logger';
import type { Network } from '../contracts/network';
import type { GroupConfig, OrderingProtocol } from '../contracts/ordering';
import type { Plugin } from '../contracts/plugin';
import type { Random } from '../contracts/random';
import { CLOCK, GROUP, LOGGER, NETWORK, ORDERING, RANDOM } from '../contracts/tokens';
import { SlotError } from '../errors';
import { resolveSingle } from './resolve-single';

/** What an ordering plugin needs from its deployment. */
export interface OrderingDeps {
  /** The group as configured. */
  readonly group: GroupConfig;
  /** Links to the other members. */
  readonly network: Network;
  /** Time. */
  readonly clock: Clock;
  /** Randomness. */
  readonly random: Random;
  /** Where the plugin logs. */
  readonly logger: Logger;
}

/**
 * Builds one ordering group member from a configured ordering plugin: a child container holding
 * the member's deps, the plugin registered into it, and the `ORDERING` slot resolved (exactly one
 * candidate, or a `SlotError` naming them). The simulator runner and the real assembly both use it.
 */
export function createOrderingMember(
  plugin: Plugin,
  deps: OrderingDeps,
  parent: DependencyContainer = rootContainer,
): OrderingProtocol {
  if (plugin.kind !== 'ordering')
    throw new SlotError(`slot ordering: plugin ${plugin.name} is a ${plugin.kind} plugin, not an ordering plugin`);
  const child = parent.createChildContainer();
  child.register(GROUP, { useValue: deps.group });
  child.register(NETWORK, { useValue: deps.network });
  child.register(CLOCK, { useValue: deps.clock });
  child.register(RANDOM, { useValue: deps.random });
  child.register(LOGGER, { useValue: deps.logger });
  plugin.register(child);
  return resolveSingle(child, ORDERING, 'ordering');
}
