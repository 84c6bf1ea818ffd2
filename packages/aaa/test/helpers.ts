import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Logger } from '@vcl/core';

/** One log entry, with the bindings of the child logger that wrote it. */
export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  msg?: string;
}

/** A Logger that keeps every entry (shared by its children) for assertions. */
export class RecordingLogger implements Logger {
  constructor(
    readonly entries: LogEntry[] = [],
    private readonly bindings: Record<string, unknown> = {},
  ) {}
  debug(obj: object, msg?: string): void {
    this.add('debug', obj, msg);
  }
  info(obj: object, msg?: string): void {
    this.add('info', obj, msg);
  }
  warn(obj: object, msg?: string): void {
    this.add('warn', obj, msg);
  }
  error(obj: object, msg?: string): void {
    this.add('error', obj, msg);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new RecordingLogger(this.entries, { ...this.bindings, ...bindings });
  }
  /** Warnings, of one member when given. */
  warnings(member?: string): LogEntry[] {
    return this.entries.filter((e) => e.level === 'warn' && (!member || e.fields['member'] === member));
  }
  private add(level: LogEntry['level'], obj: object, msg?: string): void {
    this.entries.push({ level, fields: { ...this.bindings, ...obj }, msg });
  }
}

/** `n` free loopback ports. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const s = net.createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
      return s;
    }),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Resolves once `done()` holds; rejects naming `what` after `timeoutMs`. */
export async function waitFor(what: string, done: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Waits `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fresh temp directory. */
export const tempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-aaa-'));

/** Writes `content` to `dir/name` with `mode`; returns the path. */
export function writeFile(dir: string, name: string, content: string | Uint8Array, mode = 0o600): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, content);
  fs.chmodSync(f, mode);
  return f;
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array): string => new TextDecoder().decode(b);
