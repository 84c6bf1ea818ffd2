import { spawn, type ChildProcess } from 'node:child_process';
import type { Stack } from '../config/stack';
import { UsageError } from './args';

/** Options of `runLocal`. */
export interface LocalOptions {
  /** The stack file (passed on to every process). */
  readonly config: string;
  /** The loaded stack. */
  readonly stack: Stack;
  /** Per member, the local service it dials instead of `service.endpoint` (`n1=127.0.0.1:7401,...`). */
  readonly serviceEndpoints?: string;
  /** Start the members only, no `vcl client`. */
  readonly onlyMembers?: boolean;
  /** `--log-level` for every process. */
  readonly logLevel?: string;
  /** Where the merged log goes. */
  readonly out: (text: string) => void;
  /** Resolves when the user asks to stop. */
  readonly stopSignal: () => Promise<string>;
  /** Whether to colour the names (a terminal). */
  readonly colour: boolean;
}

const COLOURS = [36, 33, 35, 32, 34, 31];
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::']);

/**
 * `vcl local`: every member of an all-local stack (`vcl service --member <id>` each) and the client
 * side (`vcl client`) as child processes, with one merged log: a line per log record, prefixed by
 * the process's name in its colour. Stops them all on SIGINT/SIGTERM or when one exits; resolves
 * with the exit code (the first failing process's, else 0).
 */
export async function runLocal(options: LocalOptions): Promise<number> {
  const { stack } = options;
  const remote = stack.group.members.filter((m) => !LOCAL_HOSTS.has(m.host));
  if (remote.length)
    throw new UsageError(
      `vcl local runs stacks whose members are all on this host; ${remote.map((m) => `${m.id} (${m.host})`).join(', ')} is not`,
    );
  const endpoints = new Map<string, string>();
  for (const pair of options.serviceEndpoints?.split(',').filter(Boolean) ?? []) {
    const [id, at] = pair.split('=');
    if (!id || !at || !stack.group.members.some((m) => m.id === id))
      throw new UsageError(`--service-endpoints takes member=host:port,... with the stack's member ids; got "${pair}"`);
    endpoints.set(id, at);
  }
  const main = process.argv[1]!;
  const common = ['--config', options.config, ...(options.logLevel ? ['--log-level', options.logLevel] : [])];
  const children: { name: string; proc: ChildProcess }[] = [];
  const width = Math.max(6, ...stack.group.members.map((m) => m.id.length));
  const start = (name: string, args: string[], colour: number): void => {
    const proc = spawn(process.execPath, [main, ...args, ...common], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tag = options.colour ? `\x1b[${colour}m${name.padEnd(width)}\x1b[0m` : name.padEnd(width);
    const relay = (stream: NodeJS.ReadableStream): void => {
      let held = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        held += chunk;
        const lines = held.split('\n');
        held = lines.pop()!;
        for (const line of lines) if (line) options.out(`${tag} ${readable(line)}\n`);
      });
    };
    relay(proc.stdout!);
    relay(proc.stderr!);
    children.push({ name, proc });
  };
  stack.group.members.forEach((m, i) => {
    const at = endpoints.get(m.id);
    start(m.id, ['service', '--member', m.id, ...(at ? ['--service-endpoint', at] : [])], COLOURS[i % COLOURS.length]!);
  });
  if (!options.onlyMembers) start('client', ['client'], 37);
  const exited = children.map(
    (c) =>
      new Promise<{ name: string; code: number }>((resolve) =>
        c.proc.once('exit', (code, signal) => resolve({ name: c.name, code: code ?? (signal ? 1 : 0) })),
      ),
  );
  const first = await Promise.race([options.stopSignal().then(() => undefined), Promise.race(exited)]);
  if (first) options.out(`vcl local: ${first.name} exited with ${first.code}; stopping the others\n`);
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGTERM');
  const codes = await Promise.all(exited);
  return first ? first.code || 1 : (codes.find((c) => c.code !== 0)?.code ?? 0);
}

/** A pino JSON line as `level msg key=value ...`; any other line as it is. */
function readable(line: string): string {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof r !== 'object' || r === null || !('msg' in r)) return line;
  const { level, msg, time: _t, pid: _p, hostname: _h, name: _n, ...rest } = r;
  const levels: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${levels[level as number] ?? String(level)} ${String(msg)}${fields ? `  ${fields}` : ''}`;
}
