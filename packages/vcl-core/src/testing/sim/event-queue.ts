/** One scheduled simulator event. Ties in `time` run in scheduling order, so runs are reproducible. */
export interface SimEvent {
  /** Virtual time in ms. */
  readonly time: number;
  /** Scheduling order, the tie breaker. */
  readonly order: number;
  /** What to do; skipped when `cancelled`. */
  readonly run: () => void;
  /** Set by `Timer.cancel`. */
  cancelled: boolean;
}

/** A binary min-heap of events by (time, order). */
export class EventQueue {
  private readonly heap: SimEvent[] = [];
  private counter = 0;

  get size(): number {
    return this.heap.length;
  }

  push(time: number, run: () => void): SimEvent {
    const event: SimEvent = { time, order: this.counter++, run, cancelled: false };
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
    return event;
  }

  peek(): SimEvent | undefined {
    return this.heap[0];
  }

  pop(): SimEvent | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.order < b.order);
}
