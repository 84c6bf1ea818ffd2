import { MalformedFrameError, type BodyReader, type BodyWriter, type Ordered } from '@vcl/core';

interface Entry {
  readonly index: number;
  readonly inc: number;
  /** Highest fifo delivered. */
  last: number;
  /** The latest deliveries, oldest first: fifo -> where it was delivered. */
  readonly recent: Map<number, Ordered>;
}

/**
 * Where each sender's latest messages were delivered, per sender incarnation. Every member updates
 * it on delivery, so it is part of the replicated state and travels with a state transfer: a member
 * that rejoins after a partition learns from it which of its broadcasts the group delivered while
 * it was away (resolve those) and which it dropped (send those again), so nothing is duplicated.
 */
export class SenderTable {
  private readonly entries = new Map<string, Entry>();

  /** `limit`: deliveries remembered per sender; at least the most a sender can have in flight. */
  constructor(private readonly limit: number) {}

  /** Records the delivery of `fifo` from sender `index` incarnation `inc` at `at`. */
  record(index: number, inc: number, fifo: number, at: Ordered): void {
    const key = `${index}:${inc}`;
    let e = this.entries.get(key);
    if (!e) {
      for (const [k, other] of this.entries) if (other.index === index && other.inc < inc) this.entries.delete(k);
      e = { index, inc, last: 0, recent: new Map() };
      this.entries.set(key, e);
    }
    e.last = Math.max(e.last, fifo);
    e.recent.set(fifo, at);
    if (e.recent.size > this.limit) e.recent.delete(e.recent.keys().next().value!);
  }

  /**
   * What became of `fifo` from (`index`, `inc`): where it was delivered, `unknown` if it was
   * delivered but is no longer remembered, `undefined` if it was not delivered.
   */
  lookup(index: number, inc: number, fifo: number): Ordered | 'unknown' | undefined {
    const e = this.entries.get(`${index}:${inc}`);
    if (!e || fifo > e.last) return undefined;
    return e.recent.get(fifo) ?? 'unknown';
  }

  /** Appends the table to `w`. */
  write(w: BodyWriter): void {
    w.varint(this.entries.size);
    for (const e of this.entries.values()) {
      w.varint(e.index).varint(e.inc).varint(e.last).varint(e.recent.size);
      for (const [fifo, at] of e.recent) w.varint(fifo).varint(at.view).varint(at.seq);
    }
  }

  /** Replaces the table with one read from `r` (written by `write`). */
  read(r: BodyReader, members: number): void {
    this.entries.clear();
    const n = r.varint('sender count');
    for (let i = 0; i < n; i++) {
      const index = r.varint('sender index');
      if (index >= members) throw new MalformedFrameError(`sender table: member index ${index}`);
      const inc = r.varint('sender inc');
      const e: Entry = { index, inc, last: r.varint('last fifo'), recent: new Map() };
      const m = r.varint('record count');
      if (m > r.remaining) throw new MalformedFrameError(`sender table: ${m} records in ${r.remaining} bytes`);
      for (let j = 0; j < m; j++) {
        const fifo = r.varint('fifo');
        e.recent.set(fifo, { view: r.varint('view'), seq: r.varint('seq') });
      }
      this.entries.set(`${index}:${inc}`, e);
    }
  }
}
