/** How output is numbered: one unit per message (framed substrates) or per byte (streams). */
export type OutputUnit = 'message' | 'byte';

/** A numbered piece of a session's output: units `from` (inclusive) to `to` (exclusive). */
export interface OutputChunk {
  /** Position of the first unit. */
  readonly from: number;
  /** Position after the last unit. */
  readonly to: number;
  /** The output bytes. */
  readonly bytes: Uint8Array;
}

/**
 * A session's output, numbered and kept until the client acknowledges it.
 *
 * Every member numbers its own service's output identically (message index or byte offset) and
 * trims at acknowledgements that arrive through the total order, so after every ack all members
 * hold the same suffix. The cache never drops unacknowledged output: `full` tells the owner to
 * stop reading the service (backpressure).
 */
export class OutputCache {
  private readonly chunks: OutputChunk[] = [];
  private head = 0;
  private held = 0;
  private producedUnits = 0;
  private ackedUnits = 0;

  constructor(
    /** How output is numbered. */
    readonly unit: OutputUnit,
    /** Cached bytes at which `full` turns true. */
    readonly maxBytes: number,
  ) {}

  /** Units produced so far (the `to` of the last chunk). */
  get produced(): number {
    return this.producedUnits;
  }

  /** The highest acknowledgement applied. */
  get acked(): number {
    return this.ackedUnits;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.held;
  }

  /** Chunks held. */
  get size(): number {
    return this.chunks.length - this.head;
  }

  /** Whether the owner must stop reading the service until an ack trims the cache. */
  get full(): boolean {
    return this.held >= this.maxBytes;
  }

  /**
   * Numbers `bytes` as the next output and keeps whatever the client has not acknowledged yet
   * (a member that lags may receive acks beyond what its service has produced).
   */
  append(bytes: Uint8Array): OutputChunk {
    const units = this.unit === 'message' ? 1 : bytes.length;
    const chunk: OutputChunk = { from: this.producedUnits, to: this.producedUnits + units, bytes };
    this.producedUnits = chunk.to;
    if (units === 0 || chunk.to <= this.ackedUnits) return chunk;
    const kept = chunk.from < this.ackedUnits ? slice(chunk, this.ackedUnits) : chunk;
    this.chunks.push(kept);
    this.held += kept.bytes.length;
    return chunk;
  }

  /** Drops every unit before `outSeq` (acks only move forward); returns whether bytes were freed. */
  trim(outSeq: number): boolean {
    if (outSeq <= this.ackedUnits) return false;
    this.ackedUnits = outSeq;
    const before = this.held;
    while (this.head < this.chunks.length) {
      const c = this.chunks[this.head]!;
      if (c.to <= outSeq) {
        this.held -= c.bytes.length;
        this.chunks[this.head++] = undefined as unknown as OutputChunk;
        continue;
      }
      if (c.from < outSeq) {
        const rest = slice(c, outSeq);
        this.held -= c.bytes.length - rest.bytes.length;
        this.chunks[this.head] = rest;
      }
      break;
    }
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
    return this.held < before;
  }

  /** The cached output after position `outSeq`, in order (a partial chunk is cut for streams). */
  after(outSeq: number): OutputChunk[] {
    const out: OutputChunk[] = [];
    for (let i = this.head; i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      if (c.to <= outSeq) continue;
      out.push(c.from < outSeq ? slice(c, outSeq) : c);
    }
    return out;
  }

  /** The oldest position still held (or `produced` when empty). */
  get first(): number {
    return this.head < this.chunks.length ? this.chunks[this.head]!.from : this.producedUnits;
  }

  /**
   * Replaces the cache with one captured at another member (state transfer): `produced` and
   * `acked` positions and the unacknowledged chunks, in order.
   */
  restore(produced: number, acked: number, chunks: readonly OutputChunk[]): void {
    this.clear();
    this.producedUnits = produced;
    this.ackedUnits = acked;
    for (const c of chunks) {
      this.chunks.push(c);
      this.held += c.bytes.length;
    }
  }

  /** Frees everything (session closed). */
  clear(): void {
    this.chunks.length = 0;
    this.head = 0;
    this.held = 0;
  }
}

/** The part of a byte-numbered chunk from position `at` on. */
function slice(c: OutputChunk, at: number): OutputChunk {
  return { from: at, to: c.to, bytes: c.bytes.subarray(at - c.from) };
}
