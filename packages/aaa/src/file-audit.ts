import * as fs from 'node:fs';
import type { AuditEvent, Auditor, Logger } from '@vcl/core';

/** Options of `fileAuditor`. */
export interface FileAuditOptions {
  /** The audit log file (JSON lines, appended). Required. */
  readonly file: string;
  /** Size past which the file is rotated (to `file.1`, older ones shifted up), in bytes. Default 10 MiB. */
  readonly maxBytes?: number;
  /** Rotated files kept (`file.1` ... `file.N`); older ones are deleted. Default 5. */
  readonly keep?: number;
  /** Wall-clock time of an event, in ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
  /** Where write failures are reported (the auditor never throws). Default: stderr. */
  readonly logger?: Logger;
}

/** Default `maxBytes` of `fileAuditor`: 10 MiB. */
export const DEFAULT_AUDIT_MAX_BYTES = 10 * 1024 * 1024;

/**
 * An append-only JSON-lines audit log: one line per event with `time` (ISO 8601), `member`,
 * `type`, `principal`, `reason`, `details`. Each line is written synchronously with one
 * `write(2)` on an `O_APPEND` descriptor, so a crash loses at most the line being written and
 * concurrent writers never interleave within a line. Rotated by size, keeping `keep` old files.
 */
export function fileAuditor(options: FileAuditOptions): Auditor & { close(): void } {
  const maxBytes = options.maxBytes ?? DEFAULT_AUDIT_MAX_BYTES;
  const keep = options.keep ?? 5;
  const now = options.now ?? Date.now;
  const file = options.file;
  let fd: number | undefined;
  let size = 0;
  const open = (): number => {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
    size = fs.fstatSync(fd).size;
    return fd;
  };
  const rotate = (): void => {
    if (fd !== undefined) fs.closeSync(fd);
    fd = undefined;
    for (let i = keep; i >= 1; i--) {
      const from = i === 1 ? file : `${file}.${i - 1}`;
      const to = `${file}.${i}`;
      if (i === keep) fs.rmSync(to, { force: true });
      if (fs.existsSync(from)) fs.renameSync(from, to);
    }
    if (keep === 0) fs.rmSync(file, { force: true });
  };
  const report = (err: unknown, event: AuditEvent): void => {
    const fields = { err: (err as Error).message, file, event: event.type };
    if (options.logger) options.logger.error(fields, 'audit write failed');
    else process.stderr.write(`audit write failed: ${JSON.stringify(fields)}\n`);
  };
  return {
    audit(event: AuditEvent): void {
      try {
        const line = Buffer.from(
          JSON.stringify({
            time: new Date(now()).toISOString(),
            member: event.member,
            type: event.type,
            principal: event.principal,
            reason: event.reason,
            details: event.details,
          }) + '\n',
        );
        const d = fd ?? open();
        if (size > 0 && size + line.length > maxBytes) {
          rotate();
          open();
        }
        fs.writeSync(fd ?? d, line);
        size += line.length;
      } catch (e) {
        report(e, event);
      }
    },
    close(): void {
      if (fd !== undefined) fs.closeSync(fd);
      fd = undefined;
    },
  };
}
