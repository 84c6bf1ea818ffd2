// Helpers for the multi-process tests: start the built metadata server as a real process on
// 127.0.0.1 and stop it again. The tests run against dist/ (Nx's test target builds first).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The built entry points. */
export const DIST = join(__dirname, '..', 'dist');
export const MDS_SERVER = join(DIST, 'bin', 'mds-server.js');
export const MDS_CLIENT = join(DIST, 'bin', 'mds-client.js');
export const DEMO = join(DIST, 'bin', 'demo.js');

/** Fails with a clear message when dist/ is missing (jest run directly, without a build). */
export function requireBuilt(...files: string[]): void {
  for (const f of files)
    if (!existsSync(f)) throw new Error(`${f} is missing: run "npx nx run @vcl/demo:build" first (nx test does it)`);
}

/** A running metadata server process. */
export interface ServerProcess {
  readonly proc: ChildProcess;
  readonly port: number;
  /** Every JSON log line so far. */
  readonly lines: Array<Record<string, unknown>>;
  /** Sends SIGTERM and resolves with the exit code once it exited. */
  stop(): Promise<number | null>;
}

/** Starts `mds-server --port 0` and resolves once it logged `listening`. */
export function startServer(args: string[] = []): Promise<ServerProcess> {
  requireBuilt(MDS_SERVER);
  const proc = spawn(process.execPath, [MDS_SERVER, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('mds-server did not log "listening" within 10 s')), 10000);
    proc.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry['msg'] === 'listening') {
        clearTimeout(timer);
        resolve({
          proc,
          port: entry['port'] as number,
          lines,
          stop: () => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mds-server exited with ${code} before listening`));
    });
  });
}
