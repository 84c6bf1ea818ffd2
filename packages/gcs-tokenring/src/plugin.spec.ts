import { ConfigError, ORDERING, PluginRegistry, SlotError, createOrderingMember, type Logger } from '@vcl/core';
import { Simulator } from '@vcl/core/testing';
import { container } from 'tsyringe';
import { TOKEN_RING_DEFAULTS, TOKEN_RING_OPTIONS, TokenRing, registration, tokenRing } from './index';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

function deps(sim: Simulator, id: string, members = sim.members) {
  const node = sim.node(id);
  return {
    group: { self: id, members, partition: 'primary-component' as const },
    network: node.network,
    clock: node.clock,
    random: node.random,
    logger: silent,
  };
}

describe('tokenRing plugin', () => {
  it('registers its options and the protocol class in the given container, resolving nothing', () => {
    const child = container.createChildContainer();
    const plugin = tokenRing({ window: 8 });
    expect(plugin).toMatchObject({ kind: 'ordering', name: 'tokenring' });
    plugin.register(child);
    expect(child.isRegistered(TOKEN_RING_OPTIONS)).toBe(true);
    expect(child.isRegistered(ORDERING)).toBe(true);
  });

  it('is built by createOrderingMember with the deployment deps', () => {
    const sim = new Simulator({ seed: 1, members: ['a', 'b'] });
    const member = createOrderingMember(tokenRing(), deps(sim, 'a'));
    expect(member).toBeInstanceOf(TokenRing);
    expect(member.self).toBe('a');
    expect(member.view()).toBeUndefined();
    expect(member.status()).toMatchObject({ role: 'idle', pending: 0, delivered: 0 });
  });

  it('fails fast on bad options and on a group it is not part of', () => {
    expect(() => tokenRing({ window: -1 })).toThrow(ConfigError);
    const sim = new Simulator({ seed: 1, members: ['a', 'b'] });
    expect(() =>
      createOrderingMember(tokenRing(), { ...deps(sim, 'a'), group: { ...deps(sim, 'a').group, self: 'z' } }),
    ).toThrow(/z is not a configured member/);
    expect(() => createOrderingMember({ kind: 'substrate', name: 'x', register() {} }, deps(sim, 'a'))).toThrow(
      SlotError,
    );
    const three = new Simulator({ seed: 1, members: ['a', 'b', 'c'] });
    const d = deps(three, 'a');
    expect(() => createOrderingMember(tokenRing(), { ...d, group: { ...d.group, partition: 'fail-stop' } })).toThrow(
      /fail-stop is only for 2-member groups/,
    );
  });

  it('is found by the plugin registry under its short name', async () => {
    const found = await new PluginRegistry().load('ordering', 'tokenring');
    expect(found.packageName).toBe('@vcl/gcs-tokenring');
    expect(found.create({ window: 9 }).name).toBe('tokenring');
  });

  it('has a registry entry that validates stack-file options', () => {
    expect(registration).toMatchObject({ kind: 'ordering', name: 'tokenring', packageName: '@vcl/gcs-tokenring' });
    expect(registration.create(undefined).name).toBe('tokenring');
    expect(() => registration.create({ holdMs: 'slow' })).toThrow(/ordering\.options\.holdMs/);
    expect(TOKEN_RING_DEFAULTS.window).toBe(50);
  });

  it('rejects broadcasts after stop with StoppedError, and stop is idempotent', async () => {
    const sim = new Simulator({ seed: 1, members: ['a'] });
    const member = createOrderingMember(tokenRing(), deps(sim, 'a'));
    await sim.node('a').network.start();
    await member.start();
    const pending = member.broadcast(new Uint8Array([1]));
    await member.stop();
    await member.stop();
    await expect(pending).rejects.toMatchObject({ code: 'VCL_STOPPED' });
    await expect(member.broadcast(new Uint8Array([2]))).rejects.toMatchObject({ code: 'VCL_STOPPED' });
    expect(member.status().role).toBe('stopped');
  });

  it('rejects payloads that are not bytes or are too large, and keeps serving', async () => {
    const sim = new Simulator({ seed: 1, members: ['a'] });
    const member = createOrderingMember(tokenRing({ maxMessageBytes: 4 }), deps(sim, 'a'));
    await sim.node('a').network.start();
    await member.start();
    await expect(member.broadcast(new Uint8Array(5))).rejects.toThrow(
      'broadcast payload of 5 bytes exceeds maxMessageBytes (4)',
    );
    await expect(member.broadcast('text' as unknown as Uint8Array)).rejects.toMatchObject({
      code: 'VCL_BROADCAST_REJECTED',
    });
    const ok = member.broadcast(new Uint8Array(4));
    await sim.runFor(2000);
    await expect(ok).resolves.toEqual({ view: 1, seq: 1 });
  });
});
