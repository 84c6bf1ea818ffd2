import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { nullLogger, type JsonLogger } from './log';
import { Namespace } from './namespace';
import { DEFAULT_MAX_LINE_BYTES, LineSplitter, handleLine, tooLongResponse } from './protocol';

/** Options of `createMdsServer`. */
export interface MdsServerOptions {
  /** The state to serve; default a fresh namespace holding only the root. */
  readonly namespace?: Namespace;
  /** Where to log; default nowhere. */
  readonly logger?: JsonLogger;
  /** Longest request line in bytes; a longer one gets an EBADREQ answer. Default 16 MiB. */
  readonly maxLineBytes?: number;
}

/** Counters of a running server. */
export interface MdsServerStats {
  /** Connections accepted so far. */
  connections: number;
  /** Connections open now. */
  open: number;
  /** Request lines answered. */
  requests: number;
  /** Answers that were errors, by code. */
  errors: Record<string, number>;
}

/** A metadata server bound to a TCP address. */
export interface MdsServer {
  /** The served state. */
  readonly namespace: Namespace;
  /** Counters. */
  readonly stats: MdsServerStats;
  /** Starts listening; resolves with the bound address (the real port when 0 was given). */
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Stops accepting, closes every connection and resolves when the server is closed. */
  close(): Promise<void>;
}

/**
 * The metadata server: answers each request line of each connection in order, one response line
 * per request line. Connections share one namespace and requests are applied one at a time (the
 * model is synchronous), so the state is a function of the order requests arrive in. Bad input
 * gets an error answer and the connection keeps being served.
 */
export function createMdsServer(options: MdsServerOptions = {}): MdsServer {
  const namespace = options.namespace ?? new Namespace();
  const log = options.logger ?? nullLogger();
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const stats: MdsServerStats = { connections: 0, open: 0, requests: 0, errors: {} };
  const sockets = new Set<Socket>();
  let server: Server | undefined;

  const serve = (socket: Socket): void => {
    stats.connections++;
    stats.open++;
    sockets.add(socket);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const clog = log.child({ remote });
    clog.debug({}, 'connection opened');
    const splitter = new LineSplitter(maxLineBytes);
    let served = 0;
    socket.on('data', (chunk: Buffer) => {
      const out: string[] = [];
      for (const piece of splitter.push(chunk)) {
        stats.requests++;
        served++;
        if ('tooLong' in piece) {
          stats.errors['EBADREQ'] = (stats.errors['EBADREQ'] ?? 0) + 1;
          clog.warn({ bytes: piece.tooLong, maxLineBytes }, 'request line too long; answered EBADREQ');
          out.push(tooLongResponse(piece.tooLong, maxLineBytes));
          continue;
        }
        const { response, op, error } = handleLine(namespace, piece.line);
        if (error) {
          stats.errors[error] = (stats.errors[error] ?? 0) + 1;
          if (error === 'EBADREQ')
            clog.warn({ request: piece.line.slice(0, 200), response }, 'malformed request; answered EBADREQ');
          else clog.debug({ op, error }, 'request refused');
        } else if (op === 'restore' || op === 'reset')
          clog.info(
            { op, ...namespace.digest() },
            op === 'reset' ? 'namespace reset' : 'namespace restored from a snapshot',
          );
        else clog.debug({ op }, 'request applied');
        out.push(response);
      }
      if (out.length === 0) return;
      // Backpressure: stop reading a client that does not read its answers.
      if (!socket.write(`${out.join('\n')}\n`)) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    });
    socket.on('error', (err) => clog.warn({ err }, 'connection error'));
    socket.on('close', () => {
      stats.open--;
      sockets.delete(socket);
      clog.debug({ served, buffered: splitter.buffered }, 'connection closed');
    });
  };

  return {
    namespace,
    stats,
    listen(host, port) {
      return new Promise((resolve, reject) => {
        const s = createServer(serve);
        server = s;
        s.once('error', reject);
        s.listen(port, host, () => {
          s.off('error', reject);
          s.on('error', (err) => log.error({ err }, 'server error'));
          const addr = s.address() as AddressInfo;
          resolve({ host: addr.address, port: addr.port });
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        if (!server || !server.listening) return resolve();
        server.close(() => resolve());
      });
    },
  };
}
