import { performance } from 'node:perf_hooks';
import type { Clock, Timer } from '../contracts/clock';
import type { Random } from '../contracts/random';

/** The process's monotonic clock and Node timers. */
export function realClock(): Clock {
  return {
    now: () => performance.now(),
    setTimer(ms: number, fn: () => void): Timer {
      // Node clamps setTimeout(fn, 0) to 1 ms; a zero delay (a flush after the current batch of
      // I/O) must not cost a millisecond per protocol step.
      if (!(ms > 0)) {
        const immediate = setImmediate(fn);
        return { cancel: () => clearImmediate(immediate) };
      }
      const handle = setTimeout(fn, ms);
      return { cancel: () => clearTimeout(handle) };
    },
  };
}

/** `Math.random` as a `Random`. */
export function realRandom(): Random {
  return { next: () => Math.random() };
}
