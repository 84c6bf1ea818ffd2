import { closeSync, openSync, readSync } from 'node:fs';
import type { MemberId } from '../../contracts/network';
import { MalformedLogError } from './errors';

/**
 * One line of a member process's event log. `t` is wall-clock ms (`performance.timeOrigin +
 * performance.now()`), comparable between processes on one machine.
 */
export type MemberLogEvent =
  /** The process started and read its config. */
  | {
      readonly type: 'start';
      readonly t: number;
      readonly member: MemberId;
      readonly incarnation: number;
      readonly pid: number;
      readonly plugin: string;
    }
  /** The network listens (peers can reach this member). */
  | { readonly type: 'listening'; readonly t: number }
  /** The ordering member's `start()` resolved. */
  | { readonly type: 'running'; readonly t: number }
  /** A view was installed. */
  | {
      readonly type: 'view';
      readonly t: number;
      readonly id: number;
      readonly members: readonly MemberId[];
      readonly primary: boolean;
      readonly cut: number;
    }
  /** A message was delivered; `id` is the workload message id (`n1#2:17`) or null. */
  | {
      readonly type: 'deliver';
      readonly t: number;
      readonly seq: number;
      readonly view: number;
      readonly sender: MemberId;
      readonly id: string | null;
    }
  /** `broadcast` was called (logged before the call, so a message on the wire always has its line). */
  | { readonly type: 'broadcast'; readonly t: number; readonly id: string; readonly counter: number }
  /** A broadcast promise resolved. */
  | { readonly type: 'resolved'; readonly t: number; readonly id: string; readonly seq: number; readonly view: number }
  /** A broadcast promise rejected. */
  | { readonly type: 'rejected'; readonly t: number; readonly id: string; readonly error: string }
  /** State captured for joiners at `cut`. */
  | {
      readonly type: 'capture';
      readonly t: number;
      readonly cut: number;
      readonly digest: string;
      readonly applied: number;
    }
  /** State installed from a donor at `cut`. */
  | {
      readonly type: 'install';
      readonly t: number;
      readonly cut: number;
      readonly digest: string;
      readonly capturedCut: number;
    }
  /** Something failed (`stage`: `config`, `plugin`, `start`, `uncaught`, ...); the process exits after it. */
  | { readonly type: 'error'; readonly t: number; readonly stage: string; readonly error: string }
  /** The process stopped on request. */
  | { readonly type: 'stopped'; readonly t: number };

/** The `type` of every log event. */
export type MemberLogEventType = MemberLogEvent['type'];

const TYPES: ReadonlySet<string> = new Set<MemberLogEventType>([
  'start',
  'listening',
  'running',
  'view',
  'deliver',
  'broadcast',
  'resolved',
  'rejected',
  'capture',
  'install',
  'error',
  'stopped',
]);

/**
 * Parses log text into events. A last line without its newline is what a SIGKILL can leave behind,
 * so it is returned as `partial` and not parsed; a complete line that is not a log event is a
 * `MalformedLogError` naming the file and line.
 */
export function parseMemberLog(text: string, source = 'member log'): { events: MemberLogEvent[]; partial: string } {
  const lines = text.split('\n');
  const partial = lines.pop() ?? '';
  const events: MemberLogEvent[] = [];
  lines.forEach((line, i) => {
    if (line === '') return;
    events.push(parseLine(line, source, i + 1));
  });
  return { events, partial };
}

function parseLine(line: string, source: string, lineNo: number): MemberLogEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new MalformedLogError(`${source}:${lineNo}: not JSON: ${line.slice(0, 120)}`, { cause: err });
  }
  const type = (value as { type?: unknown } | null)?.type;
  const t = (value as { t?: unknown } | null)?.t;
  if (typeof type !== 'string' || !TYPES.has(type) || typeof t !== 'number')
    throw new MalformedLogError(
      `${source}:${lineNo}: not a member log event (needs a known "type" and a numeric "t"): ${line.slice(0, 120)}`,
    );
  return value as MemberLogEvent;
}

/**
 * Reads a growing log file incrementally: each `read()` returns the events of the complete lines
 * appended since the previous call, keeping an unterminated last line for later.
 */
export class MemberLogTail {
  private offset = 0;
  private carry: Buffer = Buffer.alloc(0);
  private lineNo = 0;

  constructor(readonly file: string) {}

  /** The events appended since the last call (complete lines only). */
  read(): MemberLogEvent[] {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const chunks: Buffer[] = [];
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(256 * 1024);
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n === 0) break;
        chunks.push(buf.subarray(0, n));
        this.offset += n;
      }
    } finally {
      closeSync(fd);
    }
    if (chunks.length === 0) return [];
    // Cut at the last newline byte, so a multi-byte character split by a read waits for its rest.
    const bytes = Buffer.concat([this.carry, ...chunks]);
    const end = bytes.lastIndexOf(0x0a);
    this.carry = end < 0 ? bytes : bytes.subarray(end + 1);
    if (end < 0) return [];
    const events: MemberLogEvent[] = [];
    for (const line of bytes.subarray(0, end).toString('utf8').split('\n')) {
      this.lineNo++;
      if (line !== '') events.push(parseLine(line, this.file, this.lineNo));
    }
    return events;
  }

  /** The unterminated text after the last newline (what a SIGKILL cut short), if any. */
  get partial(): string {
    return this.carry.toString('utf8');
  }
}
