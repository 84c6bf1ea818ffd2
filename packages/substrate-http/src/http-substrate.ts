import {
  FramingError,
  realClock,
  type Clock,
  type Conversation,
  type Endpoint,
  type ExecutionTraits,
  type Framer,
  type RequestPlan,
  type Listener,
  type Substrate,
} from '@vcl/core';
import { HttpServiceConversation } from './dial';
import { httpErrorResponse } from './error-response';
import { HttpFramer, requestLimits, responseLimits } from './framers';
import { listenHttp } from './listen';
import { httpDigestView } from './digest-view';
import type { ResolvedHttpOptions } from './options';

/**
 * HTTP/1.1 as a VCL substrate: request-response, one response per request. Requests and
 * responses are cut by a strict incremental parser (Content-Length and chunked bodies, keep-alive,
 * pipelining), identically at every replica. Malformed requests get 400, oversize ones 413 (431
 * for oversize headers) before their body is read.
 */
export class HttpSubstrate implements Substrate {
  readonly name = 'http';
  readonly pattern = 'request-response' as const;
  /** `dial` connects to a host and port. */
  readonly dialTarget = 'endpoint' as const;
  /**
   * HTTP/1.1 answers a connection's requests in order, so a session's requests may be pipelined;
   * the planner marks `readMethods` (default GET, HEAD, OPTIONS) as reads, everything else as writes.
   */
  readonly execution: ExecutionTraits;

  constructor(
    /** The resolved options. */
    readonly options: ResolvedHttpOptions,
    private readonly clock: Clock = realClock(),
  ) {
    const reads = new Set(options.readMethods.map((m) => m.toUpperCase()));
    this.execution = { pipelining: true, planner: () => ({ plan: (request) => planHttpRequest(request, reads) }) };
  }

  requestFramer(): Framer {
    return new HttpFramer(requestLimits(this.options));
  }

  responseFramer(): Framer {
    return new HttpFramer(responseLimits(this.options));
  }

  /** What divergence detection compares: the response without the `compare` option's headers and JSON fields. */
  digestView(response: Uint8Array): Uint8Array {
    return httpDigestView(response, this.options.compare);
  }

  listen(endpoint: Endpoint, onConversation: (conversation: Conversation) => void): Promise<Listener> {
    return listenHttp(endpoint, this.options, this.clock, onConversation);
  }

  dial(endpoint: Endpoint, signal?: AbortSignal): Promise<Conversation> {
    return HttpServiceConversation.open(endpoint, this.options, signal);
  }

  errorResponse(error: Error): Uint8Array {
    return httpErrorResponse(error);
  }

  describeRequest(message: Uint8Array): { method: string; path: string } {
    return describeHttpRequest(message);
  }
}

/** `read` for a request whose method is in `reads`, else `write` (an unreadable request line is a write). */
export function planHttpRequest(message: Uint8Array, reads: ReadonlySet<string>): RequestPlan {
  let method: string;
  try {
    method = describeHttpRequest(message).method;
  } catch {
    return { kind: 'write' };
  }
  return reads.has(method.toUpperCase()) ? { kind: 'read' } : { kind: 'write' };
}

/** The method and path (without the query) of a framed HTTP request, for access policies. */
export function describeHttpRequest(message: Uint8Array): { method: string; path: string } {
  const head = Buffer.from(message.buffer, message.byteOffset, Math.min(message.length, 8192)).toString('latin1');
  const end = head.indexOf('\r\n');
  const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/\d\.\d$/.exec(end < 0 ? head : head.slice(0, end));
  if (!match) throw new FramingError('not an HTTP request line');
  const target = match[2]!;
  const query = target.indexOf('?');
  return { method: match[1]!, path: query < 0 ? target : target.slice(0, query) };
}
