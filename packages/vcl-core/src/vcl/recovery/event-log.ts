import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../../contracts/logger';
import { RecoveryStateError } from '../../errors';
import { decodeLogRecords, encodeLogRecord, type LoggedEvent } from './recovery-state';

/** Options of an `EventLog`. */
export interface EventLogOptions {
  /** Directory of this member's log (created if missing). */
  readonly dir: string;
  /**
   * Size at which a log that cannot be compacted (no snapshot save/load) reports that it is over
   * its bound (it cannot drop events it may have to ship). Default 256 MiB.
   */
  readonly maxBytes?: number;
  /** Where it logs. */
  readonly logger: Logger;
}

/**
 * The ordered log of delivered session events (`replay` mode): `<dir>/events.log`, one record per
 * delivery (varint seq, length-prefixed payload), appended synchronously in delivery order so that
 * at the moment the ordering plugin asks for the state at a cut, the file holds exactly the events
 * up to that cut.
 *
 * After a compaction the log starts at a base: `<dir>/base.state` holds the replicated state at
 * delivery `base` (an encoded recovery state with the service's snapshot) and `events.log` only
 * the events after it. Both files are replaced by rename, and both change in one synchronous step,
 * so a reader between two deliveries always sees a base and the events that follow it.
 */
export class EventLog {
  /** The log file. */
  readonly file: string;
  /** The state at the base (after a compaction). */
  readonly baseFile: string;
  private fd: number | undefined;
  private size = 0;
  private last = 0;
  private baseSeq = 0;
  private warned = false;
  private readonly maxBytes: number;

  constructor(private readonly options: EventLogOptions) {
    this.file = path.join(options.dir, 'events.log');
    this.baseFile = path.join(options.dir, 'base.state');
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
  }

  /** The delivery the base state reflects (0: the log starts at the group's beginning). */
  get base(): number {
    return this.baseSeq;
  }

  /** Bytes in the log. */
  get bytes(): number {
    return this.size;
  }

  /** Sequence number of the last event logged (0 when empty). */
  get lastSeq(): number {
    return this.last;
  }

  /**
   * Starts an empty log. A restarted member's old log is stale (it missed what the group ordered
   * while it was down), so the log always begins again from the state the member installs.
   */
  open(): void {
    fs.mkdirSync(this.options.dir, { recursive: true });
    this.close();
    fs.rmSync(this.baseFile, { force: true });
    this.fd = fs.openSync(this.file, 'w+');
    this.size = 0;
    this.last = 0;
    this.baseSeq = 0;
    this.warned = false;
  }

  /** The encoded state at the base, or undefined when the log starts at the group's beginning. */
  readBase(): Uint8Array | undefined {
    return this.baseSeq > 0 ? new Uint8Array(fs.readFileSync(this.baseFile)) : undefined;
  }

  /**
   * Compaction: `state` (encoded) is the replicated state at delivery `base`, and `offset` the
   * log's size right after `base` was appended. Writes the state, then keeps only the events after
   * `offset`. Synchronous, so no delivery is appended in between.
   */
  compact(base: number, offset: number, state: Uint8Array): void {
    if (base <= this.baseSeq || base > this.last || offset > this.size)
      throw new RecoveryStateError(
        `replay log: cannot compact at ${base} (offset ${offset}): the log holds ${this.baseSeq + 1}..${this.last} in ${this.size} bytes`,
      );
    const rest = this.read(this.size - offset, offset);
    this.writeFile(this.baseFile, state);
    this.replaceLog(rest);
    this.baseSeq = base;
  }

  /**
   * Starts the log again at a base received with a state transfer (`state` undefined: at the
   * group's beginning); the events after it are appended next.
   */
  rebase(base: number, state: Uint8Array | undefined): void {
    if (state) this.writeFile(this.baseFile, state);
    else fs.rmSync(this.baseFile, { force: true });
    this.replaceLog(new Uint8Array(0));
    this.baseSeq = state ? base : 0;
    this.last = base;
  }

  /** Appends the events a joiner received (its log then matches the donor's up to the cut). */
  appendRaw(records: Uint8Array, lastSeq: number): void {
    this.write(records);
    this.last = lastSeq;
  }

  /** Appends one delivered event. */
  append(event: LoggedEvent): void {
    if (event.seq <= this.last) throw new RecoveryStateError(`replay log: event ${event.seq} after event ${this.last}`);
    this.write(encodeLogRecord(event));
    this.last = event.seq;
  }

  /** The raw records logged so far (`length` bytes of the file from `offset`). */
  read(length = this.size, offset = 0): Uint8Array {
    if (this.fd === undefined) return new Uint8Array(0);
    const out = new Uint8Array(length);
    let at = 0;
    while (at < length) {
      const n = fs.readSync(this.fd, out, at, length - at, offset + at);
      if (n === 0) throw new RecoveryStateError(`replay log ${this.file}: ${length} bytes expected, ${at} on disk`);
      at += n;
    }
    return out;
  }

  /** The events logged so far, decoded. */
  events(): LoggedEvent[] {
    return decodeLogRecords(this.read(), `replay log ${this.file}`);
  }

  /** Closes the file (it stays on disk). */
  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  /** Writes `file` whole and durable before it replaces the old one. */
  private writeFile(file: string, bytes: Uint8Array): void {
    const tmp = `${file}.tmp`;
    const fd = fs.openSync(tmp, 'w');
    try {
      let at = 0;
      while (at < bytes.length) at += fs.writeSync(fd, bytes, at, bytes.length - at, at);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  }

  private replaceLog(records: Uint8Array): void {
    if (this.fd === undefined) throw new RecoveryStateError(`replay log ${this.file} is not open`);
    this.writeFile(this.file, records);
    fs.closeSync(this.fd);
    this.fd = fs.openSync(this.file, 'r+');
    this.size = records.length;
    this.warned = false;
  }

  private write(bytes: Uint8Array): void {
    if (this.fd === undefined) throw new RecoveryStateError(`replay log ${this.file} is not open`);
    let at = 0;
    while (at < bytes.length) at += fs.writeSync(this.fd, bytes, at, bytes.length - at, this.size + at);
    this.size += bytes.length;
    if (this.size > this.maxBytes && !this.warned) {
      this.warned = true;
      this.options.logger.warn(
        { file: this.file, bytes: this.size, maxBytes: this.maxBytes },
        'replay log over its bound: every event since its base is kept for joiners (compaction needs service.snapshot save and load)',
      );
    }
  }
}
