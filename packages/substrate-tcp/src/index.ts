/**
 * @vcl/substrate-tcp: TCP byte streams as a VCL substrate (framings `raw`, `line`,
 * `length-prefixed`), and a `net`-compatible API for internal replication.
 *
 * @example
 * ```ts
 * import { tcp } from '@vcl/substrate-tcp';
 *
 * const plugin = tcp({ framing: 'line', maxMessageBytes: 64 * 1024 });
 * const conversation = await plugin.substrate.dial({ host: '127.0.0.1', port: 6380 });
 * conversation.onData((bytes) => console.log(new TextDecoder().decode(bytes)));
 * conversation.write(new TextEncoder().encode('GET a\n'));
 * ```
 */
export * from './framers';
export * from './socket-conversation';
export * from './tcp-substrate';
export * from './vcl-net';
