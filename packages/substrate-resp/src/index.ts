/**
 * @vcl/substrate-resp: the resp protocol as a VCL substrate.
 *
 * @example
 * ```ts
 * import 'reflect-metadata';
 * import { container } from 'tsyringe';
 * import { resp } from '@vcl/substrate-resp';
 *
 * // In a stack file: substrates: [{ plugin: '@vcl/substrate-resp', options: { maxMessageBytes: 4096 } }]
 * resp({ maxMessageBytes: 4096 }).register(container.createChildContainer());
 * ```
 */
export { resp, registration } from './plugin';
export { RESP_DEFAULTS, RESP_OPTIONS, resolveRespOptions, type RespOptions, type ResolvedRespOptions } from './options';
export { RespSubstrate } from './resp-substrate';
export { LineFramer } from './framer';
