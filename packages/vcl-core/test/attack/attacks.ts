import * as fs from 'node:fs';
import * as net from 'node:net';
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from '../../src/link/frame';
import { decodeMemberFrame, encodeClientFrame, type MemberFrame } from '../../src/vcl/link-frames';

// Attackers on the same network: raw sockets against a member's client port, `vcl client`'s
// port and the admin port, each reporting what it was told and when it was cut off.

/** What one attacking connection saw. */
export interface Outcome {
  /** Member frames received (member client port). */
  readonly frames: MemberFrame[];
  /** Raw bytes received (other ports), as text. */
  readonly text: string;
  /** Whether the other end closed it. */
  readonly closed: boolean;
}

/** Opens a raw connection; `drive` writes the attack; resolves once closed or after `maxMs`. */
export function attack(
  port: number,
  drive: (socket: net.Socket) => void | (() => void),
  maxMs = 10_000,
  member = true,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const frames: MemberFrame[] = [];
    const decoder = new FrameDecoder();
    let text = '';
    let stop: (() => void) | void;
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stop?.();
      socket.destroy();
      resolve({ frames, text, closed });
    };
    const timer = setTimeout(() => finish(false), maxMs);
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      if (!member) {
        text += d.toString('latin1');
        return;
      }
      try {
        for (const f of decoder.push(d)) frames.push(decodeMemberFrame(f));
      } catch {
        text += d.toString('latin1');
      }
    });
    socket.on('close', () => finish(true));
    socket.once('connect', () => (stop = drive(socket)));
  });
}

/** A frame header announcing `bytes` of body (what a 16 MiB flood sends before any OPEN). */
export function announce(bytes: number): Buffer {
  const header = Buffer.from(encodeFrame({ type: 0x22, body: new Uint8Array(0) }).subarray(0, FRAME_HEADER_BYTES));
  header.writeUInt32BE(bytes, FRAME_HEADER_BYTES - 4);
  return header;
}

/** An OPEN frame for `session` with `credentials`. */
export function openFrame(session: string, credentials = ''): Buffer {
  return Buffer.from(
    encodeFrame(
      encodeClientFrame({
        type: 'open',
        session,
        credentials: new TextEncoder().encode(credentials),
        lastInSeq: 0,
        lastOutSeq: 0,
      }),
    ),
  );
}

/** Writes `bytes` one byte every `everyMs` (slowloris); returns the stopper. */
export function trickle(socket: net.Socket, bytes: Buffer, everyMs: number): () => void {
  let i = 0;
  const t = setInterval(() => {
    if (i < bytes.length - 1 && !socket.destroyed) socket.write(bytes.subarray(i, ++i));
  }, everyMs);
  return () => clearInterval(t);
}

/** A line client of `vcl client`: `ask` sends one line and resolves with its answer and latency. */
export async function lineClient(
  port: number,
): Promise<{ ask: (line: string) => Promise<[string, number]>; close: () => void }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((r) => socket.once('connect', r));
  let held = '';
  const waiting: ((line: string) => void)[] = [];
  socket.on('data', (d: Buffer) => {
    held += d.toString();
    let i;
    while ((i = held.indexOf('\n')) >= 0) {
      const line = held.slice(0, i);
      held = held.slice(i + 1);
      waiting.shift()?.(line);
    }
  });
  return {
    ask: (line) =>
      new Promise((resolve) => {
        const t0 = performance.now();
        waiting.push((answer) => resolve([answer, performance.now() - t0]));
        socket.write(`${line}\n`);
      }),
    close: () => socket.destroy(),
  };
}

/** Resident set size of process `pid`, in MiB (Linux). */
export function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** The p-th percentile of `xs`. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Audit events (JSON lines) of type `type` in `file`. */
export function audited(file: string, type: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e['type'] === type);
}
