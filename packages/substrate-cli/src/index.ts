/**
 * @vcl/substrate-cli: the command line as a VCL substrate. Clients run `vcl-exec`, which sends
 * argv + stdin as one request; every replica runs the configured command with it, one request at
 * a time, and `vcl-exec` prints the command's stdout/stderr and exits with its exit code.
 *
 * @example
 * ```ts
 * // In a stack file: substrates: [{ plugin: cli, options: { timeoutMs: 10000 } }] with
 * // service: { command: [/usr/local/bin/jobctl] }; then on any client machine:
 * //   vcl-exec --connect 127.0.0.1:7400 -- submit --name nightly < job.json
 * import { cli, execRemote } from '@vcl/substrate-cli';
 *
 * const plugin = cli({ timeoutMs: 10_000 }); // plugin.register(container) adds it under SUBSTRATE
 * const result = await execRemote(
 *   { argv: ['submit', '--name', 'nightly'], stdin: new TextEncoder().encode('{}') },
 *   { endpoint: { host: '127.0.0.1', port: 7400 } },
 * );
 * console.log(result.exitCode, new TextDecoder().decode(result.stdout));
 * ```
 */
export { cli, registration } from './plugin';
export { CLI_DEFAULTS, CLI_OPTIONS, resolveCliOptions, type CliOptions, type ResolvedCliOptions } from './options';
export { CliSubstrate, exitCodeFor } from './cli-substrate';
export {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  MAX_ARGS,
  type CommandRequest,
  type CommandResult,
} from './codec';
export { execRemote, type ExecRemoteOptions } from './exec-client';
export { vclExec, type ExecIo } from './vcl-exec';
export { cliEndpointOf, endpointFromStack } from './exec-config';
