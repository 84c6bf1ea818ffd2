import {
  AuthenticationError,
  AuthorizationError,
  ConfigError,
  FramingError,
  realClock,
  StoppedError,
  TimeoutError,
  UnavailableError,
  type Clock,
  type Conversation,
  type Endpoint,
  type Framer,
  type Listener,
  type Substrate,
} from '@vcl/core';
import { CommandFramer, decodeRequest, decodeResponse, encodeResponse } from './codec';
import { CommandConversation } from './command-conversation';
import { listenTcp } from './listen';
import type { ResolvedCliOptions } from './options';

/** The exit code `vcl-exec` exits with for a failure VCL reports (sysexits.h where one fits). */
export function exitCodeFor(error: Error): number {
  if (error instanceof FramingError) return 65; // EX_DATAERR (malformed or oversize request)
  if (error instanceof AuthenticationError || error instanceof AuthorizationError) return 77; // EX_NOPERM
  if (error instanceof UnavailableError) return 69; // EX_UNAVAILABLE
  if (error instanceof TimeoutError) return 124; // as timeout(1)
  return 70; // EX_SOFTWARE
}

/**
 * The command line as a VCL substrate: request-response, one command run per request. The client
 * side listens on TCP for `vcl-exec`; the service side (`dial` with `endpoint.command`) runs the
 * configured command once per request, appending the request's arguments and feeding its stdin.
 */
export class CliSubstrate implements Substrate {
  readonly name = 'cli';
  readonly pattern = 'request-response' as const;
  /** `dial` runs a command (`service.command`, or the substrate's own `service: { command }`). */
  readonly dialTarget = 'command' as const;

  constructor(
    /** The resolved options. */
    readonly options: ResolvedCliOptions,
    private readonly clock: Clock = realClock(),
  ) {}

  requestFramer(): Framer {
    return new CommandFramer('request', this.options.maxRequestBytes, decodeRequest);
  }

  responseFramer(): Framer {
    return new CommandFramer('response', this.options.maxResponseBytes, decodeResponse);
  }

  listen(endpoint: Endpoint, onConversation: (conversation: Conversation) => void): Promise<Listener> {
    return listenTcp(endpoint, this.clock, this.options.lingerMs, onConversation);
  }

  async dial(endpoint: Endpoint, signal?: AbortSignal): Promise<Conversation> {
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new StoppedError('dial aborted');
    if (!endpoint.command?.length || !endpoint.command[0])
      throw new ConfigError('cli substrate', [
        { path: 'service.command', message: 'the command-line substrate needs the command to run (service.command)' },
      ]);
    // The member's target carries its own directory and VCL_MEMBER/VCL_DATA_DIR (the stack's
    // service.cwd/env with {member} expanded); the plugin options apply to every member alike.
    const options: ResolvedCliOptions = {
      ...this.options,
      ...(endpoint.cwd ? { cwd: endpoint.cwd } : {}),
      env: { ...endpoint.env, ...this.options.env },
    };
    return new CommandConversation(endpoint.command, options, this.clock);
  }

  errorResponse(error: Error): Uint8Array {
    return encodeResponse({
      exitCode: exitCodeFor(error),
      stdout: new Uint8Array(0),
      stderr: new TextEncoder().encode(`vcl: ${error.message}\n`),
    });
  }

  /** The arguments the client asked to run (appended to the configured command), for access policies. */
  describeRequest(message: Uint8Array): { command: readonly string[] } {
    return { command: decodeRequest(message).argv };
  }
}
