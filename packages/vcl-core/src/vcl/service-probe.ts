import * as net from 'node:net';
import type { Clock, Timer } from '../contracts/clock';
import type { Logger } from '../contracts/logger';

/** Options of `probeService`. */
export interface ServiceProbeOptions {
  /** The local service's TCP address. */
  readonly host: string;
  /** Its port. */
  readonly port: number;
  /** The stack field (or flag) that names the address, for the operator. */
  readonly field: string;
  /** Time for the backoff. */
  readonly clock: Clock;
  /** Where the waiting is reported. */
  readonly logger: Logger;
  /** First pause between attempts, in ms; doubled up to `maxDelayMs`. Default 250. */
  readonly firstDelayMs?: number;
  /** Longest pause between attempts, in ms. Default 5000. */
  readonly maxDelayMs?: number;
}

/** A running probe. */
export interface ServiceProbe {
  /** Resolves once the service accepted a connection. */
  readonly up: Promise<void>;
  /** Stops probing (the member stops). */
  stop(): void;
}

/**
 * Connects to a member's local service until it accepts once, warning (with backoff) what the member
 * is waiting for: a member started before its service would otherwise say nothing until its first
 * session failed. The connection is closed at once without a byte written.
 */
export function probeService(options: ServiceProbeOptions): ServiceProbe {
  const { host, port, field, clock, logger } = options;
  const maxDelay = options.maxDelayMs ?? 5000;
  let delay = options.firstDelayMs ?? 250;
  let stopped = false;
  let timer: Timer | undefined;
  let socket: net.Socket | undefined;
  let waited = false;
  const started = clock.now();
  let markUp: () => void = () => undefined;
  const up = new Promise<void>((resolve) => (markUp = resolve));
  const attempt = (): void => {
    if (stopped) return;
    const s = net.connect({ host, port });
    socket = s;
    s.once('connect', () => {
      s.destroy();
      if (stopped) return;
      if (waited)
        logger.info({ service: `${host}:${port}`, waitedMs: Math.round(clock.now() - started) }, 'service is up');
      markUp();
    });
    s.once('error', (error: NodeJS.ErrnoException) => {
      s.destroy();
      if (stopped) return;
      waited = true;
      logger.warn(
        { service: `${host}:${port}`, field, err: error.code ?? error.message, retryInMs: delay },
        `waiting for the service at ${host}:${port} (${field}): ${error.code === 'ECONNREFUSED' ? 'nothing accepts connections there yet' : error.message}; sessions opened now wait for it up to timeouts.connectMs, then fail over`,
      );
      timer = clock.setTimer(delay, attempt);
      delay = Math.min(delay * 2, maxDelay);
    });
  };
  attempt();
  return {
    up,
    stop: () => {
      stopped = true;
      timer?.cancel();
      socket?.destroy();
    },
  };
}
