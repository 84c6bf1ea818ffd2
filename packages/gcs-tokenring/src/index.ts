/**
 * @vcl/gcs-tokenring: total order by a rotating token, after Totem's single-ring protocol (as in
 * Corosync): safe delivery, flow control, token-loss membership rounds, primary component and
 * state transfer for joiners. Swappable with `@vcl/gcs-sequencer` by its registered name.
 *
 * @example
 * ```ts
 * import 'reflect-metadata';
 * import { createOrderingMember } from '@vcl/core';
 * import { Simulator } from '@vcl/core/testing';
 * import { tokenRing } from '@vcl/gcs-tokenring';
 *
 * const sim = new Simulator({ seed: 1, members: ['n1', 'n2', 'n3'] });
 * const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
 * const members = sim.members.map((id) => {
 *   const node = sim.node(id);
 *   const group = { self: id, members: sim.members, partition: 'primary-component' as const };
 *   return createOrderingMember(tokenRing({ holdMs: 50 }), { group, ...node, logger: silent });
 * });
 * members[0]!.onDeliver((d) => console.log(d.seq, d.sender, new TextDecoder().decode(d.payload)));
 * for (const [i, m] of members.entries()) {
 *   await sim.node(sim.members[i]!).network.start();
 *   await m.start();
 * }
 * const sent = members[1]!.broadcast(new TextEncoder().encode('hello'));
 * await sim.runFor(1000); // virtual time: the ring forms, orders and delivers
 * console.log(await sent); // { view: 1, seq: 1 }
 * ```
 */
export { tokenRing, registration, TOKEN_RING_NAME } from './plugin';
export {
  TOKEN_RING_DEFAULTS,
  TOKEN_RING_OPTIONS,
  parseTokenRingOptions,
  type ResolvedTokenRingOptions,
  type TokenRingOptions,
} from './options';
export { BroadcastRejectedError } from '@vcl/core';
export { TokenRing, DeliveryUnknownError } from './token-ring';
