/**
 * @vcl/substrate-http: HTTP/1.1 as a VCL substrate (keep-alive, chunked and fixed-length bodies,
 * 400/413 for bad input), and an internal API with node:http's shape.
 *
 * @example
 * ```ts
 * // Internal API: the same handler as with node:http; only the import changes.
 * import { createServer } from '@vcl/substrate-http'; // was: from 'node:http'
 *
 * const server = createServer((req, res) => {
 *   res.setHeader('content-type', 'text/plain');
 *   res.end(`${req.method} ${req.url}\n`);
 * });
 * server.listen(8080, '127.0.0.1', () => console.log('listening', server.address()));
 *
 * // As a stack plugin: `substrates: [{ plugin: http, options: { maxBodyBytes: 1048576 } }]`, or in code:
 * import { http } from '@vcl/substrate-http';
 * const plugin = http({ maxBodyBytes: 1 << 20 }); // plugin.register(container) adds it under SUBSTRATE
 * ```
 */
export { http, registration } from './plugin';
export { HTTP_DEFAULTS, HTTP_OPTIONS, resolveHttpOptions, type HttpOptions, type ResolvedHttpOptions } from './options';
export { HttpSubstrate } from './http-substrate';
export { createServer, Server, type ListenOptions, type RequestListener, type ServerOptions } from './server';
export { BodyTooLargeError, HeadersTooLargeError, UnsupportedRequestError } from './errors';
export { httpErrorResponse, statusFor } from './error-response';
export { delivered } from './listen';
export { BODILESS_MARKER } from './parser';
