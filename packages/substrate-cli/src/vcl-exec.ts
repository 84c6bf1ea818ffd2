// Only what `--connect` needs is loaded up front (net and the codec): vcl-exec runs once per
// command, so its start-up is most of a short command's latency. `--config` loads the stack loader.
import { execRemote } from './exec-client';

/** Where `vcl-exec` reads its input and writes its output. */
export interface ExecIo {
  /** Standard input; not read when it is a terminal or `--no-stdin` is given. */
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Standard output. */
  readonly stdout: NodeJS.WritableStream;
  /** Standard error. */
  readonly stderr: NodeJS.WritableStream;
  /** Environment (for `VCL_EXEC_CONNECT`). */
  readonly env: NodeJS.ProcessEnv;
}

const USAGE = `usage: vcl-exec [--connect host:port | --config stack.yaml [--substrate name]] [--no-stdin] [--] [arguments...]
Runs the replicated command with the arguments (and standard input) and prints its output,
exiting with its exit code.
  --connect host:port  the VCL client-side interceptor to use (default: $VCL_EXEC_CONNECT)
  --config stack.yaml  use the listen address of the stack's cli substrate (its vcl client)
  --substrate name     which cli substrate, when the stack has several (substrates[].name)
  --no-stdin           send no standard input (default: read it unless it is a terminal)
`;

function readAll(stream: NodeJS.ReadableStream): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer | string) => chunks.push(Buffer.from(c)));
    stream.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    stream.on('error', reject);
  });
}

function write(stream: NodeJS.WritableStream, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => (bytes.length ? stream.write(bytes, () => resolve()) : resolve()));
}

/**
 * `vcl-exec`: sends argv + stdin as one request, prints the replicated command's stdout and stderr,
 * and resolves with its exit code (64 for a usage error, 69 when VCL cannot be reached).
 */
export async function vclExec(args: readonly string[], io: ExecIo): Promise<number> {
  let connect: string | undefined;
  let config: string | undefined;
  let substrate: string | undefined;
  let readStdin = !io.stdin.isTTY;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') {
      i++;
      break;
    }
    if (a === '--connect') connect = args[++i];
    else if (a.startsWith('--connect=')) connect = a.slice('--connect='.length);
    else if (a === '--config') config = args[++i];
    else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else if (a === '--substrate') substrate = args[++i];
    else if (a.startsWith('--substrate=')) substrate = a.slice('--substrate='.length);
    else if (a === '--no-stdin') readStdin = false;
    else if (a === '--help' || a === '-h') {
      io.stdout.write(USAGE);
      return 0;
    } else break;
  }
  const argv = args.slice(i);
  if (connect !== undefined && config !== undefined) {
    io.stderr.write(`vcl-exec: give --connect or --config, not both\n${USAGE}`);
    return 64;
  }
  if (config !== undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { endpointFromStack } = require('./exec-config') as typeof import('./exec-config');
      connect = await endpointFromStack(config, substrate);
    } catch (e) {
      io.stderr.write(`vcl-exec: ${(e as Error).message}\n`);
      return 64;
    }
  } else if (substrate !== undefined) {
    io.stderr.write(`vcl-exec: --substrate needs --config\n${USAGE}`);
    return 64;
  }
  connect ??= io.env.VCL_EXEC_CONNECT;
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(connect ?? '');
  if (!m) {
    io.stderr.write(
      connect === undefined
        ? `vcl-exec: no endpoint: give --connect host:port or set VCL_EXEC_CONNECT\n${USAGE}`
        : `vcl-exec: bad endpoint ${JSON.stringify(connect)}, expected host:port\n`,
    );
    return 64;
  }
  const stdin = readStdin ? await readAll(io.stdin) : new Uint8Array(0);
  try {
    const result = await execRemote({ argv, stdin }, { endpoint: { host: m[1] ?? m[2], port: Number(m[3]) } });
    await write(io.stdout, result.stdout);
    await write(io.stderr, result.stderr);
    return result.exitCode >= 0 && result.exitCode <= 255 ? result.exitCode : 70;
  } catch (e) {
    io.stderr.write(`vcl-exec: ${(e as Error).message}\n`);
    return 69;
  }
}
