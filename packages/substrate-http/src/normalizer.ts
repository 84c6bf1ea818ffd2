import { FramingError } from '@vcl/core';
import { plainResponse } from './error-response';
import { BODILESS_LINE, headerHasToken, HttpParser, type HttpHead, type HttpMessage } from './parser';
import type { ResolvedHttpOptions } from './options';

/** What a `ResponseNormalizer` makes of the service's bytes. */
export interface Normalized {
  /** Complete responses, in order, one per request answered. */
  readonly responses: Uint8Array[];
  /** Set when the service's output could not be used; the connection to it must be dropped. */
  readonly broken?: Error;
  /** Set when a response says the service closes the connection after it (`Connection: close`). */
  readonly closing?: boolean;
}

const CRLF = 0x0a;

/**
 * Turns what a real HTTP service writes into self-delimiting responses, one per request, that the
 * substrate's response framer cuts without knowing the requests:
 * - interim 1xx responses are dropped (one response per request, as the interceptors count them);
 * - a response to HEAD gets the bodiless marker header, since its Content-Length describes a body
 *   that is not sent;
 * - a body delimited by closing the connection becomes a Content-Length body when it ends;
 * - an unusable response (malformed, too large, a protocol switch) becomes a 502 with the reason,
 *   and the connection to the service is to be dropped.
 * It is a pure function of the requests noted and the bytes pushed, so replicas whose services
 * answer alike hand on identical responses.
 */
export class ResponseNormalizer {
  private readonly methods: string[] = [];
  private readonly parser: HttpParser;
  // Methods of the requests whose response heads were read but not yet handed on, in order.
  private readonly matched: Array<string | undefined> = [];

  constructor(options: ResolvedHttpOptions) {
    this.parser = new HttpParser({
      kind: 'response',
      maxHeaderBytes: options.maxHeaderBytes,
      maxBodyBytes: options.maxResponseBodyBytes,
      allowCloseDelimited: true,
      bodilessResponse: () => {
        const method = this.methods.shift();
        this.matched.push(method);
        return method === 'HEAD';
      },
    });
  }

  /** Requests sent and not yet (completely) answered. */
  get pending(): number {
    return this.methods.length + this.matched.length;
  }

  /** Notes a request sent to the service (its exact bytes), so its response can be told apart. */
  noteRequest(request: Uint8Array): void {
    this.methods.push(requestMethod(request));
  }

  /** Feeds the service's bytes. */
  push(chunk: Uint8Array): Normalized {
    const { messages, error } = this.parser.pushSome(chunk);
    const done = this.emit(messages);
    return error && !done.broken ? this.fail(error, done.responses) : done;
  }

  /** The service closed the connection: completes a close-delimited response, or fails a cut one. */
  end(): Normalized {
    const closeDelimited = this.parser.readingUntilClose;
    let messages: HttpMessage[];
    try {
      messages = this.parser.finish();
    } catch (e) {
      return this.fail(e as Error);
    }
    return this.emit(messages, closeDelimited);
  }

  private emit(messages: HttpMessage[], closeDelimitedLast = false): Normalized {
    const responses: Uint8Array[] = [];
    let closing = false;
    for (const [i, m] of messages.entries()) {
      const status = m.head.status as number;
      if (status === 101)
        return this.fail(
          new FramingError('the service switched protocols (101), which the HTTP substrate does not carry'),
          responses,
        );
      if (status < 200) continue;
      const method = this.matched.shift();
      if (method === undefined)
        return this.fail(new FramingError(`the service sent a response (${status}) to no request`), responses);
      if (method === 'HEAD') responses.push(insertHeader(m, BODILESS_LINE));
      else if (closeDelimitedLast && i === messages.length - 1 && m.body.kind === 'close')
        responses.push(withContentLength(m));
      else responses.push(m.bytes);
      if (closesConnection(m.head)) closing = true;
    }
    return { responses, closing };
  }

  private fail(error: Error, before: Uint8Array[] = []): Normalized {
    // Every request still unanswered gets the 502, so the count of responses stays one per request.
    const unanswered = this.methods.length + this.matched.filter((m) => m !== undefined).length;
    this.methods.length = 0;
    this.matched.length = 0;
    const reply = plainResponse(502, `bad response from the service: ${error.message.replace(/[\r\n]+/g, ' ')}`, false);
    return { responses: [...before, ...Array.from({ length: unanswered }, () => reply)], broken: error };
  }
}

/** The method of a request message (its first token after any leading empty lines). */
export function requestMethod(request: Uint8Array): string {
  let i = 0;
  while (i < request.length && (request[i] === 0x0d || request[i] === CRLF)) i++;
  const space = request.indexOf(0x20, i);
  return Buffer.from(request.subarray(i, space < 0 ? request.length : space)).toString('latin1');
}

/** `m` with the header line `line` (ending in CRLF) added at the end of its head. */
function insertHeader(m: HttpMessage, line: string): Uint8Array {
  const at = m.head.length - 2; // before the empty line that closes the head
  return new Uint8Array(Buffer.concat([m.bytes.subarray(0, at), Buffer.from(line, 'latin1'), m.bytes.subarray(at)]));
}

/** A close-delimited response rewritten with a Content-Length of its body. */
function withContentLength(m: HttpMessage): Uint8Array {
  return insertHeader(m, `content-length: ${m.bytes.length - m.head.length}\r\n`);
}

/** Whether the connection ends after this message (`Connection: close`, or HTTP/1.0 without keep-alive). */
export function closesConnection(head: HttpHead): boolean {
  if (headerHasToken(head, 'connection', 'close')) return true;
  return head.version === '1.0' && !headerHasToken(head, 'connection', 'keep-alive');
}
