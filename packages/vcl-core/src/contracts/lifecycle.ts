/**
 * A component with a life. The assembly starts transports, then ordering, then interceptors, and
 * stops them in the reverse order.
 */
export interface Startable {
  /** Starts the component; rejects if it cannot. `signal` aborts a start that waits (e.g. for peers). */
  start(signal?: AbortSignal): Promise<void>;
  /** Stops the component and releases every resource it holds; safe to call twice. */
  stop(): Promise<void>;
}
