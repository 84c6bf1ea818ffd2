import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import { loadStack, locateIssues } from '../config/load-stack';
import type { Stack } from '../config/stack';
import type { Logger } from '../contracts/logger';
import { ConfigError, VclError } from '../errors';
import { createLogger, type LogLevel } from '../runtime/logger';
import type { MemberStatus } from '../vcl/admin';
import { checkStack, startClientInterceptors, startServiceMember } from '../vcl/deployment';
import { divergencePoint } from '../vcl/divergence';
import { parseArgs, parseHostPort, UsageError, type ParsedArgs } from './args';
import { runLocal } from './local';
import { COMMANDS, usage } from './usage';

/** The usage text of `vcl` (every command; `usage(command)` gives one command's). */
export const USAGE = usage();

/** Where the command writes its human-readable output. */
export interface CliIo {
  /** Standard output. */
  out(text: string): void;
  /** Standard error. */
  err(text: string): void;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
  stopSignal(): Promise<string>;
}

const processIo: CliIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  stopSignal: () =>
    new Promise((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    }),
};

/** Runs `vcl` with `argv`; resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  // `vcl`, `vcl --help`, `vcl -h`: the overview; `vcl help <command>`: that command's usage.
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    io.out(USAGE);
    return 0;
  }
  if (argv[0] === 'help') {
    const topic = argv[1];
    if (topic !== undefined && !COMMANDS[topic]) {
      io.err(`unknown command "${topic}"\n\n${USAGE}`);
      return 2;
    }
    io.out(usage(topic));
    return 0;
  }
  let args: ParsedArgs;
  try {
    args = parseArgs(
      argv.map((a) => (a === '-h' ? '--help' : a)),
      ['json', 'help', 'only-members'],
    );
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${usage(COMMANDS[argv[0]!] ? argv[0] : undefined)}`);
    return 2;
  }
  if (args.flags['help']) {
    if (!COMMANDS[args.command]) {
      io.err(`unknown command "${args.command}"\n\n${USAGE}`);
      return 2;
    }
    io.out(usage(args.command));
    return 0;
  }
  try {
    const config = stringFlag(args, 'config');
    if (!config) throw new UsageError('--config <stack file> is required');
    const logger = () =>
      createLogger({
        name: `vcl-${args.command}`,
        ...(args.flags['log-level'] ? { level: stringFlag(args, 'log-level') as LogLevel } : {}),
      });
    switch (args.command) {
      case 'check':
        return await check(config, io);
      case 'status':
        return await status(await loadStack(config), io, args.flags['json'] === true);
      case 'service':
        return await service(config, args, logger(), io);
      case 'client':
        return await client(config, args, logger(), io);
      case 'local':
        return await runLocal({
          config,
          stack: await loadStack(config),
          ...optionalFlag('serviceEndpoints', stringFlag(args, 'service-endpoints')),
          ...optionalFlag('logLevel', stringFlag(args, 'log-level')),
          onlyMembers: args.flags['only-members'] === true,
          out: io.out,
          stopSignal: io.stopSignal,
          colour: process.stdout.isTTY === true,
        });
      default:
        throw new UsageError(`unknown command "${args.command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n\n${usage(COMMANDS[args.command] ? args.command : undefined)}`);
      return 2;
    }
    io.err(`vcl ${args.command}: ${error instanceof VclError ? error.message : (error as Error).stack}\n`);
    return 1;
  }
}

function optionalFlag<K extends string>(key: K, value: string | undefined): { [k in K]?: string } {
  return value === undefined ? {} : ({ [key]: value } as { [k in K]?: string });
}

function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  if (v === true) throw new UsageError(`flag --${name} needs a value`);
  return v;
}

async function check(config: string, io: CliIo): Promise<number> {
  const stack = await loadStack(config);
  // Every check `vcl service` (each member) and `vcl client` run at start, nothing started; the
  // problems found past the schema get their line in the file too.
  try {
    await checkStack(stack, config);
  } catch (error) {
    if (error instanceof ConfigError) throw locateIssues(error, await readFile(config, 'utf8'), config);
    throw error;
  }
  io.out(
    `${config}: ok: group ${stack.group.name}, ${stack.group.members.length} members (${stack.group.members.map((m) => m.id).join(', ')}), ` +
      `ordering ${stack.ordering.plugin}, substrate ${stack.substrates.map((s) => s.plugin).join(', ')}\n`,
  );
  return 0;
}

async function service(config: string, args: ParsedArgs, logger: Logger, io: CliIo): Promise<number> {
  const member = stringFlag(args, 'member');
  if (!member) throw new UsageError('vcl service needs --member <id>');
  const endpoint = stringFlag(args, 'service-endpoint');
  const stack = await loadStack(config);
  const m = await startServiceMember({
    stack,
    member,
    source: config,
    logger,
    ...(endpoint ? { serviceEndpoint: parseHostPort('service-endpoint', endpoint) } : {}),
  });
  const evicted = m.evicted.then((report) => ({ report }));
  const serviceFailed = m.serviceFailed.then((failure) => ({ failure }));
  const outcome = await Promise.race([io.stopSignal(), evicted, serviceFailed, m.failed]);
  if (outcome instanceof VclError) {
    // The member refused to join a running group (e.g. service.recovery none): stop and say why.
    await m.stop();
    throw outcome;
  }
  if (typeof outcome === 'object' && 'failure' in outcome) {
    io.err(`vcl service: member ${member} left the group: ${outcome.failure.message}\n`);
    return EXIT_SERVICE_FAILED;
  }
  if (typeof outcome !== 'string') {
    io.err(
      `vcl service: member ${member} evicted: its replica diverged from the majority at ${divergencePoint(outcome.report)}\n`,
    );
    return EXIT_EVICTED;
  }
  logger.info({ signal: outcome }, 'stopping');
  await m.stop();
  return 0;
}

/** `vcl service` exit code when the member left the group because its replica diverged (`onDivergence: evict`). */
export const EXIT_EVICTED = 3;

/** `vcl service` exit code when the member left the group because its service failed (the process is gone). */
export const EXIT_SERVICE_FAILED = 4;

async function client(config: string, args: ParsedArgs, logger: Logger, io: CliIo): Promise<number> {
  const listen = stringFlag(args, 'listen');
  const substrate = stringFlag(args, 'substrate');
  const tokenFile = stringFlag(args, 'token-file');
  const loaded = await loadStack(config);
  const stack: Stack = tokenFile
    ? {
        ...loaded,
        aaa: {
          ...(loaded.aaa ?? { link: { mode: 'none' }, clients: { mode: 'none' } }),
          client: { ...loaded.aaa?.client, tokenFile },
        },
      }
    : loaded;
  const c = await startClientInterceptors({
    stack,
    logger,
    source: config,
    ...(listen ? { listen: parseHostPort('listen', listen) } : {}),
    ...(substrate ? { substrate } : {}),
  });
  const signal = await io.stopSignal();
  logger.info({ signal }, 'stopping');
  await c.stop();
  return 0;
}

/** One member's line in `vcl status`. */
export interface StatusRow {
  /** Member id. */
  readonly member: string;
  /** The admin endpoint's answer, or why there is none. */
  readonly status?: MemberStatus;
  /** Why the member could not be asked. */
  readonly error?: string;
}

/** Asks every member with an admin port for its `/status`. */
export async function collectStatus(stack: Stack, timeoutMs = 1000): Promise<StatusRow[]> {
  return Promise.all(
    stack.group.members.map(async (m): Promise<StatusRow> => {
      if (m.adminPort === undefined) return { member: m.id, error: 'no adminPort configured' };
      try {
        return {
          member: m.id,
          status: (await getJson(adminHost(stack, m.host), m.adminPort, '/status', timeoutMs)) as MemberStatus,
        };
      } catch (error) {
        return { member: m.id, error: `unreachable: ${(error as Error).message}` };
      }
    }),
  );
}

async function status(stack: Stack, io: CliIo, json: boolean): Promise<number> {
  const rows = await collectStatus(stack);
  if (json) {
    io.out(`${JSON.stringify(rows, null, 2)}\n`);
    return rows.some((r) => r.status) ? 0 : 1;
  }
  const table = [['member', 'state', 'view', 'view members', 'role', 'sessions', 'cache bytes', 'clients']];
  for (const r of rows) {
    const s = r.status;
    table.push(
      s
        ? [
            r.member,
            s.view?.primary === false ? 'minority' : s.recovery?.phase === 'catching-up' ? 'catching-up' : 'up',
            String(s.view?.id ?? '-'),
            s.view?.members.join(',') ?? '-',
            s.ordering.role,
            String(s.sessions.length),
            String(s.cacheBytes),
            String(s.links),
          ]
        : [r.member, r.error ?? 'down', '', '', '', '', '', ''],
    );
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  io.out(`group ${stack.group.name}\n`);
  for (const row of table)
    io.out(
      `${row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
  for (const r of rows) {
    const rec = r.status?.recovery;
    if (rec?.joinedAtCut !== undefined || rec?.phase === 'catching-up' || rec?.phase === 'refused')
      io.out(
        `recovery ${r.member}: ${rec.mode}, ${rec.phase}` +
          (rec.joinedAtCut !== undefined
            ? `, rejoined at ${rec.joinedAtCut} with ${rec.stateBytes} state bytes in ${rec.installMs} ms (${rec.rejoinMs} ms after start)`
            : '') +
          (rec.error ? `: ${rec.error}` : '') +
          '\n',
      );
  }
  const diverged = new Map<string, string>();
  for (const r of rows)
    for (const d of r.status?.divergence?.diverged ?? [])
      diverged.set(d.member, `${d.member} diverged at ${divergencePoint(d)} (majority ${d.majority.join(',')})`);
  if (diverged.size)
    io.out(`\ndiverged (onDivergence: ${rows.find((r) => r.status?.divergence)!.status!.divergence!.policy})\n`);
  for (const line of diverged.values()) io.out(`  ${line}\n`);
  const sessions = rows.find((r) => r.status)?.status?.sessions ?? [];
  if (sessions.length) {
    io.out('\nsessions (per member: produced output / cached bytes)\n');
    for (const s of sessions) {
      const per = rows
        .filter((r) => r.status)
        .map((r) => {
          const x = r.status!.sessions.find((y) => y.id === s.id);
          return `${r.member}=${x ? `${x.produced}/${x.cacheBytes}` : '-'}`;
        });
      io.out(
        `  ${s.id}${s.substrate ? `  ${s.substrate}` : ''}  attached ${s.attached}  in ${s.lastInSeq}  acked ${s.ackedOut}  ${per.join(' ')}\n`,
      );
    }
  }
  return rows.some((r) => r.status) ? 0 : 1;
}

function getJson(host: string, port: number, path: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (error) {
          reject(error as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

const noop = (): void => undefined;
const silent: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silent };

/** Where to reach a member's admin endpoint: its bind address, or the member's host for a wildcard bind. */
function adminHost(stack: Stack, memberHost: string): string {
  const h = stack.admin.host;
  return h === '0.0.0.0' || h === '::' ? memberHost : h;
}
