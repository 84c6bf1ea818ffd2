/** A pending timer; `cancel` is idempotent. */
export interface Timer {
  /** Cancels the timer if it has not fired yet. */
  cancel(): void;
}

/**
 * The only source of time for protocol code, so the same code runs on the real clock and on the
 * simulator's virtual clock.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock (not wall time); may be fractional. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds (0 means "after the current event"). */
  setTimer(ms: number, fn: () => void): Timer;
}
