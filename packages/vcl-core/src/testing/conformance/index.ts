/**
 * The ordering conformance kit: a seeded simulator runner that records what every member
 * incarnation did (`runOrderingSeed`, `runOrderingSweep`), the checker of the six guarantees plus
 * liveness (`checkOrderingHistory`), report formatting, and a test-only naive protocol with
 * injectable flaws that shows the kit catches each kind of bug.
 *
 * @example
 * ```ts
 * import { formatViolations, runOrderingSweep } from '@vcl/core/testing';
 * import { sequencer } from '@vcl/gcs-sequencer';
 *
 * const sweep = await runOrderingSweep({ plugin: sequencer(), seeds: 50, members: 5, faults: 'chaos' });
 * if (sweep.failures[0]) console.log(sweep.failures[0].seed, formatViolations(sweep.failures[0].violations));
 * ```
 */
// The runner builds members through tsyringe, which needs the Reflect metadata API first.
import 'reflect-metadata';

export * from './history';
export * from './check';
export * from './runner';
export * from './naive-ordering';
export * from './report';
