/**
 * @vcl/substrate-resp: the Redis protocol (RESP2 and RESP3) as a VCL substrate, so redis-server
 * runs as active replicas behind `vcl service` and redis-cli, redis-benchmark or any client library
 * talk to `vcl client` unchanged.
 *
 * @example
 * ```ts
 * // In a stack file: `substrates: [{ plugin: resp, options: { allow: ['TIME'], reads: ['MYMODULE.GET'] } }]`.
 * // In code, the framers and the planner on their own:
 * import { resp, RespRequestFramer, CommandTable } from '@vcl/substrate-resp';
 *
 * const framer = new RespRequestFramer(512 * 1024);
 * const [set, get] = framer.push(Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nGET k\r\n'));
 * const planner = new CommandTable().planner();
 * console.log(planner.plan(set!), planner.plan(get!)); // { kind: 'write' } { kind: 'read' }
 * const plugin = resp({ allow: ['TIME'] }); // plugin.register(container) adds it under SUBSTRATE
 * ```
 */
export { resp, registration } from './plugin';
export { RESP_DEFAULTS, RESP_OPTIONS, resolveRespOptions, type RespOptions, type ResolvedRespOptions } from './options';
export { RespSubstrate, respErrorResponse } from './resp-substrate';
export { RespReplyFramer, RespRequestFramer, requestArgs, splitInline, MAX_NESTING, MAX_REQUEST_ARGS } from './framers';
export {
  CommandTable,
  commandName,
  CONTAINER_COMMANDS,
  READ_ONLY_COMMANDS,
  REFUSED_COMMANDS,
  type CommandTableOverrides,
} from './commands';
export { loadRedis, RedisStateError, resetRedis, saveRedis } from './redis-state';
