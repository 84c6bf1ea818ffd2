import {
  ConfigError,
  ORDERING,
  PluginRegistry,
  SlotError,
  createOrderingMember,
  resolve,
  type Logger,
} from '@vcl/core';
import { Simulator } from '@vcl/core/testing';
import { container } from 'tsyringe';
import { SEQUENCER_OPTIONS, SequencerProtocol, registration, sequencer } from './index';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

function deps(sim: Simulator, id: string, partition: 'primary-component' | 'fail-stop' = 'primary-component') {
  const node = sim.node(id);
  return {
    group: { self: id, members: sim.members, partition },
    network: node.network,
    clock: node.clock,
    random: node.random,
    logger: silent,
  };
}

describe('sequencer plugin packaging', () => {
  it('registers its options and the protocol under ORDERING', () => {
    const plugin = sequencer({ heartbeatMs: 20, suspectTimeoutMs: 100 });
    expect(plugin).toMatchObject({ kind: 'ordering', name: 'sequencer' });
    const child = container.createChildContainer();
    plugin.register(child);
    expect(resolve(child, SEQUENCER_OPTIONS).heartbeatMs).toBe(20);
    expect(child.isRegistered(ORDERING as symbol)).toBe(true);
  });

  it('is built by createOrderingMember with the deployment deps', async () => {
    const sim = new Simulator({ seed: 1, members: ['a', 'b', 'c'] });
    const member = createOrderingMember(sequencer(), deps(sim, 'b'));
    expect(member).toBeInstanceOf(SequencerProtocol);
    expect(member.self).toBe('b');
    expect(member.view()).toBeUndefined();
    expect(member.status()).toMatchObject({ role: 'joining', pending: 0, delivered: 0 });
  });

  it('exposes a registry entry that validates stack-file options', () => {
    expect(registration).toMatchObject({ kind: 'ordering', name: 'sequencer', packageName: '@vcl/gcs-sequencer' });
    expect(registration.create(undefined).name).toBe('sequencer');
    expect(registration.create({ maxPending: 8 }).kind).toBe('ordering');
    expect(() => registration.create({ maxPending: -1 })).toThrow(ConfigError);
    expect(() => registration.create({ maxPending: -1 })).toThrow('maxPending: expected a number at least 1, got -1');
  });

  it('is found by the plugin registry under its short name', async () => {
    const registry = new PluginRegistry();
    const found = await registry.load('ordering', 'sequencer');
    expect(found.packageName).toBe('@vcl/gcs-sequencer');
    expect(found.create({ heartbeatMs: 50 }).name).toBe('sequencer');
  });

  it('refuses fail-stop in groups larger than two and a member that is not configured', () => {
    const sim = new Simulator({ seed: 1, members: ['a', 'b', 'c'] });
    expect(() => createOrderingMember(sequencer(), deps(sim, 'a', 'fail-stop'))).toThrow(
      'partition: fail-stop is only for groups of 2 members, this one has 3',
    );
    expect(() =>
      createOrderingMember(sequencer(), {
        ...deps(sim, 'a'),
        group: { self: 'z', members: ['a', 'b', 'c'], partition: 'primary-component' },
      }),
    ).toThrow('member z is not one of the configured members a, b, c');
    expect(() => createOrderingMember({ ...sequencer(), kind: 'aaa' }, deps(sim, 'a'))).toThrow(SlotError);
  });
});
