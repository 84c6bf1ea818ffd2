import {
  AuthenticationError,
  AuthorizationError,
  FramingError,
  MessageTooLargeError,
  TimeoutError,
  UnavailableError,
} from '@vcl/core';
import { BodyTooLargeError, HeadersTooLargeError, UnsupportedRequestError } from './errors';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The HTTP status that reports `error` to a client. */
export function statusFor(error: Error): number {
  if (error instanceof HeadersTooLargeError) return 431;
  if (error instanceof BodyTooLargeError || error instanceof MessageTooLargeError) return 413;
  if (error instanceof UnsupportedRequestError) return 501;
  if (error instanceof FramingError) return 400;
  if (error instanceof AuthenticationError) return 401;
  if (error instanceof AuthorizationError) return 403;
  if (error instanceof UnavailableError) return 503;
  if (error instanceof TimeoutError) return 504;
  return 500;
}

/**
 * A complete `text/plain` response with `status` and `message` as its body, and `Connection:
 * close` (the conversation ends after it).
 */
export function plainResponse(status: number, message: string, close = true): Uint8Array {
  const body = Buffer.from(`${message}\n`, 'utf8');
  const head =
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n` +
    'content-type: text/plain; charset=utf-8\r\n' +
    `content-length: ${body.length}\r\n` +
    (close ? 'connection: close\r\n' : '') +
    '\r\n';
  return new Uint8Array(Buffer.concat([Buffer.from(head, 'latin1'), body]));
}

/** The substrate's `errorResponse`: 400 for malformed input, 413/431 past the limits, and so on. */
export function httpErrorResponse(error: Error): Uint8Array {
  return plainResponse(statusFor(error), error.message.replace(/[\r\n]+/g, ' '));
}
