/**
 * @vcl/gcs-sequencer: total order by a fixed sequencer (the first member of the view), with safe
 * delivery, virtual synchrony, primary-component views and Paxos-decided sequencer fail-over.
 *
 * @example
 * ```ts
 * import 'reflect-metadata';
 * import { createOrderingMember } from '@vcl/core';
 * import { Simulator } from '@vcl/core/testing';
 * import { sequencer } from '@vcl/gcs-sequencer';
 *
 * const sim = new Simulator({ seed: 1, members: ['n1', 'n2', 'n3'] });
 * const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
 * const members = sim.members.map((id) => {
 *   const node = sim.node(id);
 *   const m = createOrderingMember(sequencer({ heartbeatMs: 50, suspectTimeoutMs: 250 }), {
 *     group: { self: id, members: sim.members, partition: 'primary-component' },
 *     network: node.network, clock: node.clock, random: node.random, logger: silent,
 *   });
 *   m.onDeliver((d) => console.log(id, d.seq, d.sender, new TextDecoder().decode(d.payload)));
 *   return m;
 * });
 * for (const id of sim.members) await sim.node(id).network.start();
 * for (const m of members) await m.start();
 * const sent = members[1]!.broadcast(new TextEncoder().encode('hello'));
 * await sim.runFor(2000);
 * console.log(await sent); // { view: 1, seq: 1 }
 * ```
 */
export { sequencer, registration } from './plugin';
export {
  SEQUENCER_DEFAULTS,
  SEQUENCER_OPTIONS,
  resolveSequencerOptions,
  type ResolvedSequencerOptions,
  type SequencerOptions,
} from './options';
export { BroadcastRejectedError } from '@vcl/core';
export { SequencerProtocol } from './sequencer-protocol';
