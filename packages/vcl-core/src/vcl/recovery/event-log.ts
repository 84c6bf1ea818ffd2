import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../../contracts/logger';
import { RecoveryStateError } from '../../errors';
import { decodeLogRecords, encodeLogRecord, type LoggedEvent } from './recovery-state';

/** Options of an `EventLog`. */
export interface EventLogOptions {
  /** Directory of this member's log (created if missing). */
  readonly dir: string;
  /** Size at which the log reports that it is over its bound (it cannot drop events it may have to ship). Default 256 MiB. */
  readonly maxBytes?: number;
  /** Where it logs. */
  readonly logger: Logger;
}

/**
 * The ordered log of delivered session events (`replay` mode): `<dir>/events.log`, one record per
 * delivery (varint seq, length-prefixed payload), appended synchronously in delivery order so that
 * at the moment the ordering plugin asks for the state at a cut, the file holds exactly the events
 * up to that cut.
 */
export class EventLog {
  /** The log file. */
  readonly file: string;
  private fd: number | undefined;
  private size = 0;
  private last = 0;
  private warned = false;
  private readonly maxBytes: number;

  constructor(private readonly options: EventLogOptions) {
    this.file = path.join(options.dir, 'events.log');
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
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
    this.fd = fs.openSync(this.file, 'w+');
    this.size = 0;
    this.last = 0;
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

  /** The raw records logged so far (the first `length` bytes of the file). */
  read(length = this.size): Uint8Array {
    if (this.fd === undefined) return new Uint8Array(0);
    const out = new Uint8Array(length);
    let at = 0;
    while (at < length) {
      const n = fs.readSync(this.fd, out, at, length - at, at);
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

  private write(bytes: Uint8Array): void {
    if (this.fd === undefined) throw new RecoveryStateError(`replay log ${this.file} is not open`);
    let at = 0;
    while (at < bytes.length) at += fs.writeSync(this.fd, bytes, at, bytes.length - at, this.size + at);
    this.size += bytes.length;
    if (this.size > this.maxBytes && !this.warned) {
      this.warned = true;
      this.options.logger.warn(
        { file: this.file, bytes: this.size, maxBytes: this.maxBytes },
        'replay log over its bound: every event since the group started is kept for joiners',
      );
    }
  }
}
