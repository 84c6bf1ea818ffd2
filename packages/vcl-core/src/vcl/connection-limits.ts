import type { Auditor } from '../contracts/aaa';
import type { MemberId } from '../contracts/network';
import { LimitExceededError, VclError } from '../errors';
import type { RateLimitedLog } from '../runtime/rate-limited-log';

/** Limits of one listening port (member client port, `vcl client` listen port, admin port). */
export interface PortLimits {
  /** Connections open at once on the port. */
  readonly maxConnections: number;
  /** Connections open at once from one remote address (IP, without the port). */
  readonly maxConnectionsPerAddress: number;
}

/** The stack's default limits (`limits:`), safe for a member on a shared network. */
export const DEFAULT_LIMITS = {
  /** Largest client-link frame before the session is open (authenticated and welcomed): 64 KiB. */
  preAuthFrameBytes: 64 * 1024,
  /** Largest client-link frame after: the link codec's 16 MiB. */
  frameBytes: 16 * 1024 * 1024,
  /** Connections per listening port. */
  maxConnections: 2048,
  /** Connections per remote address per listening port. */
  maxConnectionsPerAddress: 512,
  /** A client link must have its session open within this long (slow handshakes hold resources). */
  handshakeTimeoutMs: 10_000,
  /** `vcl client`: a request that stays incomplete this long drops its connection (slowloris). */
  partialRequestTimeoutMs: 10_000,
  /** Admin port: connections at once. */
  adminMaxConnections: 16,
  /** Admin port: a request (headers and body) must arrive within this long. */
  adminRequestTimeoutMs: 5_000,
} as const;

/** The remote address of `remote` (`10.0.0.1:5312` → `10.0.0.1`, `[::1]:80` / `::1:80` → `::1`). */
export function remoteHost(remote: string): string {
  const i = remote.lastIndexOf(':');
  const host = i > 0 ? remote.slice(0, i) : remote;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Counts open connections of one port, in total and per remote address, and refuses those over
 * `PortLimits`; each refusal is logged (rate-limited), counted and audited as `limit.refused`.
 */
export class ConnectionLimiter {
  /** Connections refused at a limit so far (for `/metrics`). */
  refused = 0;
  private open = 0;
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly limits: PortLimits,
    private readonly port: string,
    private readonly report: Pick<LimitReport, 'refused'>,
  ) {}

  /** Connections open now. */
  get connections(): number {
    return this.open;
  }

  /**
   * Admits a connection from `remote`; returns the refusal (already reported) when over a limit,
   * else undefined and the caller must `release` it once it closes.
   */
  admit(remote: string): LimitExceededError | undefined {
    const host = remoteHost(remote);
    const mine = this.perAddress.get(host) ?? 0;
    const why =
      this.open >= this.limits.maxConnections
        ? `${this.port}: ${this.open} connections open, the limit is ${this.limits.maxConnections} (limits.maxConnections)`
        : mine >= this.limits.maxConnectionsPerAddress
          ? `${this.port}: ${mine} connections open from ${host}, the limit is ${this.limits.maxConnectionsPerAddress} (limits.maxConnectionsPerAddress)`
          : undefined;
    if (why) {
      this.refused++;
      const error = new LimitExceededError(why);
      this.report.refused(remote, error);
      return error;
    }
    this.open++;
    this.perAddress.set(host, mine + 1);
    return undefined;
  }

  /** A connection admitted from `remote` closed. */
  release(remote: string): void {
    const host = remoteHost(remote);
    const mine = this.perAddress.get(host) ?? 0;
    if (mine <= 1) this.perAddress.delete(host);
    else this.perAddress.set(host, mine - 1);
    this.open = Math.max(0, this.open - 1);
  }
}

/** Where refusals at a limit go: a rate-limited warning and an audit event. */
export class LimitReport {
  /** Refusals reported so far (connections, frames, timeouts). */
  count = 0;

  constructor(
    private readonly log: RateLimitedLog,
    private readonly member: MemberId,
    private readonly auditor?: Auditor,
  ) {}

  /** Reports one refusal of `remote` at a limit. */
  refused(remote: string, error: Error): void {
    this.count++;
    this.log.warn(
      { remote, code: error instanceof VclError ? error.code : 'VCL_ERROR', err: error.message },
      'refused at a limit',
    );
    this.auditor?.audit({
      type: 'limit.refused',
      member: this.member,
      reason: error.message,
      details: { remote },
    });
  }
}
