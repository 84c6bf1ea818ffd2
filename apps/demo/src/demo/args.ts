import { parseArgs } from 'node:util';

/** The ordering plugins the demo can run. */
export const ORDERINGS = ['sequencer', 'tokenring'] as const;

/** One of `ORDERINGS`. */
export type OrderingName = (typeof ORDERINGS)[number];

/** What `npm run demo` runs. */
export interface DemoOptions {
  /** The ordering plugin of the replicated demo; default `sequencer`. */
  readonly ordering: OrderingName;
  /** Run the workload against one plain metadata server, without VCL; default false. */
  readonly direct: boolean;
  /** Live terminal view (true) or plain progress lines (false); default: whether stdout is a terminal. */
  readonly tty: boolean;
  /** Random workload operations; default 3000. */
  readonly ops: number;
  /** Logical clients; default 8. */
  readonly clients: number;
  /** Connections the clients share; default 2. */
  readonly connections: number;
  /** Most operations per second, 0 for unpaced; default 250. */
  readonly rate: number;
  /** Workload seed; default 1. */
  readonly seed: number;
  /** Show the usage and exit. */
  readonly help: boolean;
}

/** The usage text of the demo. */
export const DEMO_USAGE = `usage: npm run demo -- [options]

  --ordering <sequencer|tokenring>  the ordering plugin (default sequencer)
  --direct                          one plain metadata server, no VCL (no replication, no fail-over)
  --no-tty                          plain progress lines instead of the live view (automatic when
                                    the output is not a terminal)
  --ops <n>                         workload operations (default 3000)
  --clients <n>                     logical clients (default 8)
  --connections <n>                 connections the clients share (default 2)
  --rate <n>                        most operations per second, 0 for unpaced (default 250)
  --seed <n>                        workload seed (default 1)
  --help                            this text`;

/** A demo command line that cannot run; the message says what is wrong. */
export class DemoUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoUsageError';
  }
}

function integer(flag: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min)
    throw new DemoUsageError(`--${flag} must be an integer >= ${min}, got "${value}"`);
  return n;
}

/** Parses the demo's arguments; `isTTY` is whether standard output is a terminal. Throws `DemoUsageError`. */
export function parseDemoArgs(argv: readonly string[], isTTY: boolean): DemoOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        ordering: { type: 'string' },
        direct: { type: 'boolean' },
        'no-tty': { type: 'boolean' },
        ops: { type: 'string' },
        clients: { type: 'string' },
        connections: { type: 'string' },
        rate: { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    throw new DemoUsageError((e as Error).message);
  }
  const ordering = values.ordering ?? 'sequencer';
  if (!(ORDERINGS as readonly string[]).includes(ordering))
    throw new DemoUsageError(`--ordering must be one of ${ORDERINGS.join(', ')}, got "${ordering}"`);
  if (values.direct && values.ordering !== undefined)
    throw new DemoUsageError('--direct runs without VCL, so --ordering does not apply');
  return {
    ordering: ordering as OrderingName,
    direct: values.direct ?? false,
    tty: isTTY && !values['no-tty'],
    ops: integer('ops', values.ops, 3000, 1),
    clients: integer('clients', values.clients, 8, 1),
    connections: integer('connections', values.connections, 2, 1),
    rate: integer('rate', values.rate, 250, 0),
    seed: integer('seed', values.seed, 1, 0),
    help: values.help ?? false,
  };
}
