import type { Substrate } from '../../contracts/substrate';
import { handlerBackend, type ServiceBackend } from '../../vcl/backend';

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A deterministic service for replication tests: a counter shared by all sessions. A request line
 * `<tag> <k>\n` adds `k` and is answered `<tag> <total>\n`; `digest()` summarises every state
 * transition, so replicas that applied the same requests in the same order have equal digests.
 */
export class CounterService {
  /** The counter. */
  total = 0;
  /** Every applied request's tag, in application order. */
  readonly applied: string[] = [];
  private hash = 0x811c9dc5;

  /** Applies one request line and returns the response line. */
  handle(request: Uint8Array): Uint8Array {
    const line = dec.decode(request).trim();
    const [tag = '', k = '0'] = line.split(' ');
    const add = Number.parseInt(k, 10) || 0;
    this.total += add;
    this.applied.push(tag);
    for (let i = 0; i < line.length; i++) this.hash = Math.imul(this.hash ^ line.charCodeAt(i), 0x01000193);
    this.hash = Math.imul(this.hash ^ 0x0a, 0x01000193);
    return enc.encode(`${tag} ${this.total}\n`);
  }

  /** The state digest: total, number of requests and a hash of their order. */
  digest(): string {
    return `${this.total}:${this.applied.length}:${(this.hash >>> 0).toString(16)}`;
  }

  /** An internal-mode backend running this service for `substrate`'s request framing. */
  backend(substrate: Pick<Substrate, 'requestFramer'>): ServiceBackend {
    return handlerBackend(
      () => substrate.requestFramer(),
      (request) => this.handle(request),
    );
  }
}
