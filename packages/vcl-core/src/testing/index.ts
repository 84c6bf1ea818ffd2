/**
 * @vcl/core/testing: the deterministic simulator and the conformance kits that every plugin runs.
 *
 * @example
 * ```ts
 * import { Simulator } from '@vcl/core/testing';
 *
 * const sim = new Simulator({ seed: 42, members: ['n1', 'n2', 'n3'], faults: { drop: 0.01 } });
 * sim.node('n2').network.onMessage((from, bytes) => console.log(from, bytes));
 * await sim.node('n2').network.start();
 * sim.node('n1').network.send('n2', new Uint8Array([1]));
 * await sim.runFor(100);
 * ```
 */
// An entry point of its own: tsyringe (loaded by the assembly code the kits use) needs the reflect
// polyfill before anything else, as with `@vcl/core`.
import 'reflect-metadata';

export * from './sim';
export * from './substrate';
export * from './conformance';
export * from './vcl';
export * from './process';
