import { VclError } from '../errors';

/** A command line the `vcl` command does not understand. */
export class UsageError extends VclError {
  override readonly code = 'VCL_USAGE';
}

/** Parsed `vcl` arguments: the command and its `--name value` flags. */
export interface ParsedArgs {
  /** The command (`service`, `client`, `status`, `check`, `help`). */
  readonly command: string;
  /** Flags by name (without `--`); boolean flags have the value `true`. */
  readonly flags: Readonly<Record<string, string | true>>;
}

/** Parses `argv` (without node and script): a command, then `--flag value`, `--flag=value` or `--switch`. */
export function parseArgs(argv: readonly string[], booleans: readonly string[] = ['json', 'help']): ParsedArgs {
  const [command = 'help', ...rest] = argv;
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"; flags look like --config stack.yaml`);
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (eq > 0) flags[name] = a.slice(eq + 1);
    else if (booleans.includes(name)) flags[name] = true;
    else {
      const value = rest[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`flag --${name} needs a value`);
      flags[name] = value;
      i++;
    }
  }
  return { command, flags };
}

/** A `host:port` flag value. */
export function parseHostPort(flag: string, value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--${flag} must be host:port (e.g. 127.0.0.1:6380), got "${value}"`);
  return { host: value.slice(0, i), port };
}
