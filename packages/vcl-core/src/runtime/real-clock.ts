import { performance } from 'node:perf_hooks';
import type { Clock, Timer } from '../contracts/clock';
import type { Random } from '../contracts/random';

/** The process's monotonic clock and Node timers. */
export function realClock(): Clock {
  return {
    now: () => performance.now(),
    setTimer(ms: number, fn: () => void): Timer {
      const handle = setTimeout(fn, Math.max(0, ms));
      return { cancel: () => clearTimeout(handle) };
    },
  };
}

/** `Math.random` as a `Random`. */
export function realRandom(): Random {
  return { next: () => Math.random() };
}
