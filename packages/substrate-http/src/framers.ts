import type { Framer } from '@vcl/core';
import { HttpParser, type HttpParserOptions } from './parser';
import type { ResolvedHttpOptions } from './options';

/** A `Framer` over an `HttpParser`: messages are the exact bytes of each request or response. */
export class HttpFramer implements Framer {
  private readonly parser: HttpParser;

  constructor(options: HttpParserOptions) {
    this.parser = new HttpParser(options);
  }

  get buffered(): number {
    return this.parser.buffered;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    return this.parser.push(chunk).map((m) => m.bytes);
  }
}

/** Parser settings for requests under `options`. */
export function requestLimits(options: ResolvedHttpOptions): HttpParserOptions {
  return { kind: 'request', maxHeaderBytes: options.maxHeaderBytes, maxBodyBytes: options.maxBodyBytes };
}

/**
 * Parser settings for responses as the dial side hands them on: already normalized, so a body
 * delimited by the connection's end never occurs and a HEAD response carries the bodiless marker.
 */
export function responseLimits(options: ResolvedHttpOptions): HttpParserOptions {
  // Room for what normalizing adds to a head (the bodiless marker, a Content-Length).
  return { kind: 'response', maxHeaderBytes: options.maxHeaderBytes + 64, maxBodyBytes: options.maxResponseBodyBytes };
}
