import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { Endpoint } from '../../contracts/substrate';
import type { Stack } from '../../config/stack';
import { RecoveryCommandError } from '../../errors';

/**
 * The environment of the stack's service commands (snapshot, reset, state digest), so one stack
 * file serves every member: `VCL_MEMBER`, `VCL_SERVICE_HOST` and `VCL_SERVICE_PORT` (the endpoint
 * this member dials) and `VCL_DATA_DIR` (`<service.dataDir>/<member>`).
 */
export function commandEnv(stack: Stack, member: string, endpoint?: Endpoint): Record<string, string> {
  const dir = memberDataDir(stack, member);
  const at = endpoint?.port !== undefined ? endpoint : undefined;
  return {
    VCL_MEMBER: member,
    ...(at ? { VCL_SERVICE_HOST: String(at.host ?? '127.0.0.1'), VCL_SERVICE_PORT: String(at.port!) } : {}),
    ...(dir ? { VCL_DATA_DIR: dir } : {}),
  };
}

/**
 * `text` with every `{member}` replaced by the member id, so one stack file gives each member its
 * own command arguments and working directory (three replicas of a file-based service on one host).
 */
export function expandMember(text: string, member: string): string {
  return text.split('{member}').join(member);
}

/** `<service.dataDir>/<member>`: a member's own files (several members may share a host and a stack file). */
export function memberDataDir(stack: Stack, member: string): string | undefined {
  return stack.service.dataDir ? path.join(stack.service.dataDir, member) : undefined;
}

/** How the recovery reaches the replicated service's own state. */
export interface ServiceStateAccess {
  /** Returns the service's state (`snapshot` mode, and `replay` compaction). */
  save?(): Promise<Uint8Array>;
  /** Replaces the service's state with `state`. */
  load?(state: Uint8Array): Promise<void>;
  /** Brings the service back to its initial state before a replay. */
  reset?(): Promise<void>;
}

/** Internal mode: the program's own snapshot callbacks (the `snapshot` option of `startServiceMember`). */
export interface SnapshotCallbacks {
  /** Returns the program's replicated state. Called only when every request up to the cut has been answered. */
  save(): Promise<Uint8Array>;
  /** Replaces the program's replicated state (at a joiner, before it goes live). */
  load(state: Uint8Array): Promise<void>;
  /** Brings the program back to its initial state before a replay; default: it is fresh already. */
  reset?(): Promise<void>;
}

/** Options of `commandStateAccess`. */
export interface CommandStateOptions {
  /** `service.snapshot.save`: argv whose standard output is the state. */
  readonly save?: readonly string[];
  /** `service.snapshot.load`: argv that reads the state from standard input. */
  readonly load?: readonly string[];
  /** `service.resetCommand`: argv that resets the service. */
  readonly reset?: readonly string[];
  /** Extra environment (the member id and service endpoint, so one stack file serves every member). */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory. */
  readonly cwd?: string;
  /** A command running longer than this fails. Default 60 s. */
  readonly timeoutMs?: number;
}

/** External mode: the stack file's commands. */
export function commandStateAccess(options: CommandStateOptions): ServiceStateAccess {
  const run = (field: string, argv: readonly string[], stdin?: Uint8Array): Promise<Uint8Array> =>
    runCommand(field, argv, {
      ...(stdin ? { stdin } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.cwd ? { cwd: options.cwd } : {}),
      timeoutMs: options.timeoutMs ?? 60_000,
    });
  const { save, load, reset } = options;
  return {
    ...(save ? { save: () => run('service.snapshot.save', save) } : {}),
    ...(load ? { load: async (state: Uint8Array) => void (await run('service.snapshot.load', load, state)) } : {}),
    ...(reset ? { reset: async () => void (await run('service.resetCommand', reset)) } : {}),
  };
}

/**
 * Runs `argv` (no shell), feeding `stdin`, and returns its standard output; a non-zero exit, a
 * signal, a spawn failure or the timeout is a `RecoveryCommandError` naming the stack field.
 */
export function runCommand(
  field: string,
  argv: readonly string[],
  opts: { stdin?: Uint8Array; env?: Readonly<Record<string, string>>; cwd?: string; timeoutMs: number },
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv;
    if (!file) return reject(new RecoveryCommandError(`${field}: empty command`));
    const child = spawn(file, args, {
      env: { ...process.env, ...opts.env },
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs,
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString('utf8')).slice(-2000)));
    child.stdin.on('error', () => undefined);
    child.on('error', (e) =>
      reject(new RecoveryCommandError(`${field}: cannot run ${argv.join(' ')}: ${e.message}`, { cause: e })),
    );
    child.on('close', (code, signal) => {
      if (code === 0) resolve(new Uint8Array(Buffer.concat(out)));
      else
        reject(
          new RecoveryCommandError(
            `${field}: ${argv.join(' ')} ${signal ? `killed by ${signal}` : `exited with ${code}`}${err ? `: ${err.trim()}` : ''}`,
          ),
        );
    });
    child.stdin.end(opts.stdin ? Buffer.from(opts.stdin) : undefined);
  });
}
