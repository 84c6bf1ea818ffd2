#!/usr/bin/env node
// `npm run chaos -- --ordering <sequencer|tokenring> --duration <s> [--clients N] [--members 3|5]
// [--seed S] [--no-restarts] [--recovery replay|snapshot] [--keep] [--json]`. Progress on stderr; findings and,
// last, the one-line verdict on stdout; exit code 1 when a check failed.
import { parseArgs } from 'node:util';
import { chaosClean, chaosFigures, chaosLine, runChaos, type ChaosOptions } from './chaos';
import type { FaultEvent } from './schedule';

const USAGE = `usage: npm run chaos -- --ordering <sequencer|tokenring> --duration <s> [--clients N] [--members 3|5]
                     [--seed S] [--no-restarts] [--recovery replay|snapshot] [--compact-bytes B] [--window W]
                     [--schedule ...] [--max-gap-ms G] [--keep] [--json]
  --ordering   ordering plugin (required)
  --duration   seconds of workload under faults (required, 5..3600)
  --clients    clients, each through its own vcl client (default 3)
  --members    replicas, 3 or 5 (default 3)
  --seed       seed of the fault schedule and workload (default: random, printed)
  --no-restarts  never restart killed members nor thaw long freezes (default: they rejoin by state transfer)
  --restarts   accepted for older command lines; restarts are the default
  --recovery   service.recovery for restarted members: replay (default) or snapshot
  --compact-bytes  replay: service.replayLog.maxBytes, so the log is compacted during the run (default 1048576;
               0 = no snapshot commands, the log is never compacted)
  --max-gap-ms the longest a group with a majority up may go without answering any client (default 5000)
  --keep       keep the run directory (member logs, stack file, history) even when the run is clean;
               it is always kept, and its path printed, when a check failed
  --window     requests each client keeps in flight (default 2)
  --schedule   a fixed schedule instead of the seeded one: ms:kind:member,... (kind kill, freeze, thaw,
               restart; member an id, @attached = the live member most sessions are attached to,
               or @same = the member the last @attached fault hit)
  --history    write every request with its invoke/complete times to this file (JSON lines)
  --json       print the full report as JSON before the last line`;

/** Parses the command line; returns the options or a message for the user. */
export function parseChaosArgs(argv: readonly string[]): ChaosOptions | string {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parseArgs({
      args: [...argv],
      options: {
        ordering: { type: 'string' },
        duration: { type: 'string' },
        clients: { type: 'string' },
        members: { type: 'string' },
        seed: { type: 'string' },
        restarts: { type: 'boolean' },
        'no-restarts': { type: 'boolean' },
        recovery: { type: 'string' },
        window: { type: 'string' },
        json: { type: 'boolean' },
        schedule: { type: 'string' },
        history: { type: 'string' },
        keep: { type: 'boolean' },
        'max-gap-ms': { type: 'string' },
        'compact-bytes': { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (err) {
    return (err as Error).message;
  }
  const problems: string[] = [];
  const int = (name: string, fallback: number | undefined, min: number, max: number): number => {
    const raw = v[name];
    if (raw === undefined) {
      if (fallback === undefined) problems.push(`--${name} is required`);
      return fallback ?? min;
    }
    const x = Number(raw);
    if (!Number.isInteger(x) || x < min || x > max)
      problems.push(`--${name} must be an integer in ${min}..${max}, got ${String(raw)}`);
    return x;
  };
  const ordering = v['ordering'];
  if (ordering !== 'sequencer' && ordering !== 'tokenring')
    problems.push(`--ordering must be sequencer or tokenring, got ${String(ordering ?? '(none)')}`);
  const members = int('members', 3, 3, 5);
  if (members !== 3 && members !== 5) problems.push(`--members must be 3 or 5, got ${members}`);
  const recovery = v['recovery'] ?? 'replay';
  if (recovery !== 'replay' && recovery !== 'snapshot')
    problems.push(`--recovery must be replay or snapshot, got ${String(recovery)}`);
  let schedule: FaultEvent[] | undefined;
  if (typeof v['schedule'] === 'string') {
    schedule = [];
    for (const part of v['schedule'].split(',')) {
      const [at, kind, member] = part.split(':');
      if (!Number.isInteger(Number(at)) || !['kill', 'freeze', 'thaw', 'restart'].includes(kind ?? '') || !member)
        problems.push(`--schedule entries look like 2000:freeze:n1 or 9000:kill:@attached, got ${part}`);
      else schedule.push({ at: Number(at), kind: kind as FaultEvent['kind'], member });
    }
  }
  const opts: ChaosOptions = {
    ordering: ordering as 'sequencer' | 'tokenring',
    durationS: int('duration', undefined, 5, 3600),
    clients: int('clients', 3, 1, 32),
    members: members as 3 | 5,
    seed: int('seed', Math.floor(Math.random() * 1_000_000), 0, 2 ** 31 - 1),
    restarts: v['no-restarts'] !== true,
    recovery: recovery as 'replay' | 'snapshot',
    window: int('window', 2, 1, 64),
    ...(schedule ? { schedule } : {}),
    ...(typeof v['history'] === 'string' ? { historyFile: v['history'] } : {}),
    keep: v['keep'] === true,
    maxGapMs: int('max-gap-ms', 5000, 100, 600_000),
    compactBytes: int('compact-bytes', 1024 * 1024, 0, 2 ** 31 - 1),
  };
  return problems.length ? problems.join('; ') : opts;
}

async function main(): Promise<number> {
  const opts = parseChaosArgs(process.argv.slice(2));
  if (typeof opts === 'string') {
    process.stderr.write(`chaos: ${opts}\n${USAGE}\n`);
    return 2;
  }
  const report = await runChaos(opts, (line) => void process.stderr.write(`${line}\n`));
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    process.stdout.write(
      `seed ${report.seed}, ${opts.members} members, ${opts.clients} clients, ${report.seconds} s; faults: ` +
        `${report.faults.map((f) => `${(f.at / 1000).toFixed(1)}s ${f.kind} ${f.member}`).join(', ') || 'none'}\n`,
    );
    for (const c of report.clients)
      process.stdout.write(
        `client ${c.id}: requests=${c.requests} lost=${c.lost} duplicated=${c.duplicated} reordered=${c.reordered} connection=${c.disconnected ? 'lost' : 'up'}\n`,
      );
    process.stdout.write(
      `digests: ${Object.entries(report.digests)
        .map(([m, d]) => `${m}=${d}`)
        .join(' ')}${
        Object.keys(report.excluded).length
          ? `; not compared: ${Object.entries(report.excluded)
              .map(([m, why]) => `${m} (${why})`)
              .join(', ')}`
          : ''
      }\n`,
    );
    process.stdout.write(
      `linearizability: ${report.registerOps} operations on ${report.checkedKeys ?? 1} objects checked, each key on its own${report.violation ? `; first violation: ${report.violation}` : ''}\n`,
    );
    for (const line of chaosFigures(report)) process.stdout.write(`${line}\n`);
    if (report.runDir) process.stdout.write(`run directory: ${report.runDir}\n`);
  }
  process.stdout.write(`${chaosLine(report)}\n`);
  return chaosClean(report) ? 0 : 1;
}

if (require.main === module)
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
