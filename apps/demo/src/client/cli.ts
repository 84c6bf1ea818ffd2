import { parseArgs } from 'node:util';
import type { Request } from '../mds/protocol';

/** The usage text of `mds-client`. */
export const CLIENT_USAGE = `usage: mds-client [--host 127.0.0.1] [--port 7000] <command> [arguments]

commands (a target is an absolute path, or a handle of 16 hex digits):
  mkdir <path> [--mode 755]           create a directory (mode in octal, like chmod)
  create <path> [--mode 644]          create an empty file
  lookup <path>                       resolve a path
  lookup --parent <handle> <name>     resolve a name in a directory
  readdir <target>                    list a directory
  stat <target>                       show attributes
  setattr <target> [--mode 600] [--uid N] [--gid N] [--size N] [--mtime N]
  rename <from> <to>                  move a file or directory
  remove <path>                       remove a file or an empty directory
  digest                              hash of the whole namespace
  snapshot                            print the whole namespace as one JSON line (state transfer)
  restore [file]                      replace the namespace with a snapshot from file or stdin
  reset                               empty the namespace (only the root remains)
  raw <line>                          send one line as it is (to see the server refuse bad input)

prints the result as JSON; an error answer goes to stderr as "CODE: message" with exit status 1
(2: bad usage, 3: cannot reach the server)`;

/** A command line that `mds-client` cannot run; the message says what is wrong. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A parsed `mds-client` command line. */
export interface ClientCommand {
  /** Server host. */
  readonly host: string;
  /** Server port. */
  readonly port: number;
  /** What to send: a request, a raw line, or a restore whose snapshot is read from a file or stdin. */
  readonly send: { readonly request: Request } | { readonly line: string } | { readonly restoreFrom: string };
  /** Print the result as one compact line (snapshot) rather than indented JSON. */
  readonly compact?: boolean;
}

function octal(flag: string, value: string): number {
  if (!/^(0o)?[0-7]{1,4}$/.test(value)) throw new UsageError(`--${flag} must be octal digits like 755, got "${value}"`);
  return parseInt(value.replace(/^0o/, ''), 8);
}

function uint(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new UsageError(`--${flag} must be a non-negative integer, got "${value}"`);
  return n;
}

function target(value: string | undefined, what: string): { path: string } | { handle: string } {
  if (value === undefined) throw new UsageError(`${what} needs a target (a path or a handle)`);
  return value.startsWith('/') ? { path: value } : { handle: value };
}

function arity(command: string, args: readonly string[], n: number, names: string): void {
  if (args.length !== n)
    throw new UsageError(
      `${command} takes ${n === 0 ? 'no arguments' : names}, got ${args.length} argument${args.length === 1 ? '' : 's'}`,
    );
}

/** Parses `mds-client` arguments (without `node` and the script) into a command; throws `UsageError`. */
export function parseClientArgs(argv: readonly string[]): ClientCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        // VCL runs recovery commands with the member's service endpoint in these variables.
        host: { type: 'string', default: process.env['VCL_SERVICE_HOST'] ?? '127.0.0.1' },
        port: { type: 'string', default: process.env['VCL_SERVICE_PORT'] ?? '7000' },
        mode: { type: 'string' },
        uid: { type: 'string' },
        gid: { type: 'string' },
        size: { type: 'string' },
        mtime: { type: 'string' },
        parent: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port < 1 || port > 65535)
    throw new UsageError(`--port must be 1..65535, got "${values.port}"`);
  const [command, ...args] = positionals;
  if (command === undefined) throw new UsageError('no command given');
  const allowed: Record<string, readonly string[]> = {
    mkdir: ['mode'],
    create: ['mode'],
    lookup: ['parent'],
    setattr: ['mode', 'uid', 'gid', 'size', 'mtime'],
  };
  for (const flag of ['mode', 'uid', 'gid', 'size', 'mtime', 'parent'] as const)
    if (values[flag] !== undefined && !(allowed[command] ?? []).includes(flag))
      throw new UsageError(`--${flag} does not apply to ${command}`);
  const mode = values.mode !== undefined ? { mode: octal('mode', values.mode) } : {};
  let request: Request;
  switch (command) {
    case 'mkdir':
    case 'create':
      arity(command, args, 1, 'one path');
      request = { op: command, path: args[0]!, ...mode };
      break;
    case 'lookup':
      arity(command, args, 1, values.parent !== undefined ? 'one name' : 'one path');
      request =
        values.parent !== undefined
          ? { op: 'lookup', parent: values.parent, name: args[0]! }
          : { op: 'lookup', path: args[0]! };
      break;
    case 'readdir':
    case 'stat':
      arity(command, args, 1, 'one target');
      request = { op: command, ...target(args[0], command) };
      break;
    case 'setattr': {
      arity(command, args, 1, 'one target');
      const changes: Record<string, number> = {};
      if (values.mode !== undefined) changes['mode'] = octal('mode', values.mode);
      for (const f of ['uid', 'gid', 'size', 'mtime'] as const)
        if (values[f] !== undefined) changes[f] = uint(f, values[f]);
      if (Object.keys(changes).length === 0)
        throw new UsageError('setattr needs at least one of --mode, --uid, --gid, --size, --mtime');
      request = { op: 'setattr', ...target(args[0], command), ...changes };
      break;
    }
    case 'rename':
      arity(command, args, 2, 'a source and a destination path');
      request = { op: 'rename', from: args[0]!, to: args[1]! };
      break;
    case 'remove':
      arity(command, args, 1, 'one path');
      request = { op: 'remove', path: args[0]! };
      break;
    case 'digest':
    case 'snapshot':
    case 'reset':
      arity(command, args, 0, '');
      request = { op: command };
      if (command === 'snapshot') return { host: values.host, port, send: { request }, compact: true };
      break;
    case 'restore':
      if (args.length > 1) throw new UsageError(`restore takes at most one file, got ${args.length} arguments`);
      return { host: values.host, port, send: { restoreFrom: args[0] ?? '-' } };
    case 'raw':
      arity(command, args, 1, 'one line');
      return { host: values.host, port, send: { line: args[0]! } };
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
  return { host: values.host, port, send: { request } };
}
