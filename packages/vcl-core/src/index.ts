/**
 * @vcl/core: the contracts, tokens and errors every VCL package shares, and the engines built on
 * them.
 *
 * @example
 * ```ts
 * import 'reflect-metadata';
 * import { container } from 'tsyringe';
 * import { CLOCK, resolve, realClock } from '@vcl/core';
 *
 * container.register(CLOCK, { useValue: realClock() });
 * const clock = resolve(container, CLOCK); // typed as Clock
 * clock.setTimer(100, () => console.log('100 ms later', clock.now()));
 * ```
 */
import 'reflect-metadata';

export * from './contracts';
export * from './errors';
export * from './runtime/real-clock';
export * from './assembly';
export * from './registry';
export * from './config';
export * from './runtime/logger';
export * from './runtime/rate-limited-log';
export * from './runtime/socket-conversation';
export * from './link';
export * from './vcl';
/** The YAML parser the stack loader uses, for plugins that read their own YAML files (AAA policy). */
export { parse as parseYaml } from 'yaml';
