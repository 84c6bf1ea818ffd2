import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Logger } from '@vcl/core';
import { MdsClient } from '../client/mds-client';
import { Workload, type WorkloadReport } from '../workload/workload';
import type { DemoOptions } from './args';
import { Supervisor, type ChildLine } from './supervisor';
import { RateMeter, TerminalView, type MemberView, type ViewOutput, type ViewState } from './view';

/** The built `mds-server` entry, beside this file's directory in dist/. */
export const MDS_SERVER_ENTRY = join(__dirname, '..', 'bin', 'mds-server.js');

/** What the demo runs the workload against. */
export interface Deployment {
  /** The view's title. */
  readonly title: string;
  /** The name on the last line (`ordering=<name>`). */
  readonly ordering: string;
  /** Members (or servers) and their states. */
  members(): MemberView[];
  /** The group's current view, when known. */
  view(): { id: number; members: string[] } | undefined;
  /** The members serving the client's sessions (empty when not known). */
  serving(): string[];
  /** Fail-overs so far. */
  failovers(): number;
  /** Starts every process; resolves with the address the workload connects to. */
  start(signal: AbortSignal): Promise<{ host: string; port: number }>;
  /** Where each replica's metadata server listens, to ask it for its digest. */
  replicas(): Array<{ name: string; host: string; port: number }>;
  /** Told of the workload's progress about 20 times a second (a deployment may inject its fault here). */
  progress?(answered: number, planned: number): void;
  /** Told of every answer the workload gets, with its time (`performance.now()`) and latency in ms. */
  answer?(at: number, latencyMs: number): void;
  /** Replicas left out of the digest comparison, and why (e.g. killed and not restarted). */
  excluded?(): Array<{ name: string; why: string }>;
  /** Told of every line a child writes. */
  line?(line: ChildLine): void;
  /** Settles once the deployment has nothing more to do (e.g. a restarted member is back). */
  settle?(signal: AbortSignal): Promise<void>;
}

/** What everyone around the deployment shares. */
export interface DemoContext {
  /** Starts and stops the child processes. */
  readonly supervisor: Supervisor;
  /** The demo's own structured log (demo.log). */
  readonly logger: Logger;
  /** Where the logs go. */
  readonly logDir: string;
  /** Records an event in the view. */
  event(text: string): void;
}

/** The demo's outcome, for the summary. */
export interface DemoResult {
  /** The name on the last line. */
  readonly ordering: string;
  /** The workload's report. */
  readonly report: WorkloadReport;
  /** Fail-overs. */
  readonly failovers: number;
  /** Each replica's digest, or the error met asking it. */
  readonly digests: ReadonlyArray<{ name: string; digest?: string; inodes?: number; error?: string }>;
  /** Replicas not compared, and why. */
  readonly excluded?: ReadonlyArray<{ name: string; why: string }>;
  /** Where the logs are. */
  readonly logDir: string;
}

/** Starts one metadata server under the supervisor and resolves with its port once it listens. */
export async function startMds(
  ctx: DemoContext,
  name: string,
  port = 0,
): Promise<{ host: string; port: number; pid?: number }> {
  const child = ctx.supervisor.start({
    name,
    command: process.execPath,
    args: [MDS_SERVER_ENTRY, '--host', '127.0.0.1', '--port', String(port), '--name', name],
  });
  const listening = await child.waitFor((l) => l.entry?.['msg'] === 'listening', '"listening"');
  const bound = { host: '127.0.0.1', port: listening.entry!['port'] as number, pid: child.pid };
  ctx.logger.info({ child: name, pid: child.pid, port: bound.port }, 'metadata server started');
  return bound;
}

/** Direct mode: one plain metadata server and no VCL, to see the workload and view without replication. */
export class DirectDeployment implements Deployment {
  readonly title = 'direct, 1 plain metadata server, no VCL (no replication, no fail-over)';
  readonly ordering = 'direct';
  private server: { host: string; port: number } | undefined;

  constructor(private readonly ctx: DemoContext) {}

  members(): MemberView[] {
    return [{ id: 'mds1', status: this.server ? 'up' : 'starting' }];
  }

  view(): undefined {
    return undefined;
  }

  serving(): string[] {
    return this.server ? ['mds1'] : [];
  }

  failovers(): number {
    return 0;
  }

  async start(): Promise<{ host: string; port: number }> {
    const s = await startMds(this.ctx, 'mds1');
    this.server = s;
    this.ctx.event(`started mds1 (pid ${s.pid}) on ${s.host}:${s.port}`);
    return s;
  }

  replicas(): Array<{ name: string; host: string; port: number }> {
    return this.server ? [{ name: 'mds1', ...this.server }] : [];
  }
}

/** Asks every replica's metadata server for its digest once, directly (not through VCL). */
export async function collectDigests(
  replicas: Array<{ name: string; host: string; port: number }>,
): Promise<Array<{ name: string; digest?: string; inodes?: number; version?: number; error?: string }>> {
  return Promise.all(
    replicas.map(async (r) => {
      try {
        const c = await MdsClient.connect({ host: r.host, port: r.port, connectTimeoutMs: 3000 });
        try {
          const d = await c.digest();
          return { name: r.name, digest: d.digest, inodes: d.inodes, version: d.version };
        } finally {
          await c.close();
        }
      } catch (e) {
        return { name: r.name, error: (e as Error).message };
      }
    }),
  );
}

/**
 * The replicas' digests once they have caught up: replicas apply the ordered requests on their
 * own, so one may still be applying the last few when the client has its last answer. Asks until
 * every replica answers the same digest, or until no replica's version moved for `quietMs`, or
 * `timeoutMs` passed; resolves with the last answers.
 */
export async function settledDigests(
  replicas: Array<{ name: string; host: string; port: number }>,
  timeoutMs = 10000,
  quietMs = 2000,
): Promise<{ digests: DemoResult['digests']; waitedMs: number }> {
  const started = performance.now();
  let last = await collectDigests(replicas);
  let lastMove = performance.now();
  for (;;) {
    const now = performance.now();
    if (last.length > 0 && last.every((d) => d.digest !== undefined && d.digest === last[0]!.digest))
      return { digests: last, waitedMs: now - started };
    if (now - started >= timeoutMs || now - lastMove >= quietMs) return { digests: last, waitedMs: now - started };
    await new Promise((resolve) => setTimeout(resolve, 100));
    const next = await collectDigests(replicas);
    if (next.some((d, i) => d.version !== last[i]!.version)) lastMove = performance.now();
    last = next;
  }
}

/** `equal` when every replica answered the same digest, else `differ`. */
export function digestsVerdict(digests: DemoResult['digests']): 'equal' | 'differ' {
  const values = digests.map((d) => d.digest);
  return values.length > 0 && values.every((v) => v !== undefined && v === values[0]) ? 'equal' : 'differ';
}

/** The summary block and, as the very last line, the machine-readable result line. */
export function summaryLines(result: DemoResult): string[] {
  const r = result.report;
  const verdict = digestsVerdict(result.digests);
  const mean = r.answered > 0 ? r.totalLatencyMs / r.answered : 0;
  return [
    '',
    'demo: summary',
    `  operations sent       ${r.sent}`,
    `  answered              ${r.answered}`,
    `  expected errors       ${r.expectedErrors}  (answers the clients predicted: EEXIST, ENOENT, EBADREQ for malformed lines, ...)`,
    `  client errors         ${r.clientErrors}  (answers that differed from the clients' models: ${r.mismatches}, requests never answered: ${r.lost})`,
    `  fail-overs            ${result.failovers}`,
    `  latency               mean ${mean.toFixed(1)} ms, max ${Math.round(r.maxLatencyMs)} ms`,
    `  verified              ${r.verifiedDirs} directories listed at the end, compared with the clients' models`,
    ...result.digests.map(
      (d) =>
        `  digest ${d.name.padEnd(14)} ${d.digest ? `${d.digest}  (${d.inodes} inodes)` : `unavailable: ${d.error}`}`,
    ),
    ...(result.excluded ?? []).map((x) => `  digest ${x.name.padEnd(14)} not compared: ${x.why}`),
    `  digests               ${verdict}`,
    `  logs                  ${result.logDir}`,
    `demo: ordering=${result.ordering} ops=${r.sent} answered=${r.answered} client_errors=${r.clientErrors} failovers=${result.failovers} digests=${verdict}`,
  ];
}

/** Where the demo writes, and whether to install process signal handlers. */
export interface DemoIo {
  /** Standard output (the view and the summary). */
  readonly out: ViewOutput;
  /** Standard error (fatal problems). */
  readonly err: ViewOutput;
}

/**
 * Runs the demo: starts the deployment, runs the workload through it while the view shows
 * progress, asks every replica for its digest, stops everything and prints the summary with the
 * result line last. Resolves with the exit status (0 when the client saw no error and the digests
 * are equal). SIGINT, SIGTERM and SIGHUP stop everything it started.
 */
export async function runDemo(
  options: DemoOptions,
  makeDeployment: (ctx: DemoContext) => Deployment,
  io: DemoIo = { out: process.stdout, err: process.stderr },
): Promise<number> {
  const started = performance.now();
  const logDir = mkdtempSync(join(tmpdir(), 'vcl-demo-'));
  const logStream = createWriteStream(join(logDir, 'demo.log'));
  const logger = createLogger({ name: 'vcl-demo', destination: logStream });
  let deployment: Deployment | undefined;
  let workload: Workload | undefined;
  const meter = new RateMeter();
  let rate = 0;
  const state = (): ViewState => {
    const s = workload?.stats;
    return {
      title: deployment?.title ?? '',
      elapsedMs: performance.now() - started,
      members: deployment?.members() ?? [],
      view: deployment?.view(),
      serving: deployment?.serving() ?? [],
      progress: { done: s?.answered ?? 0, total: s?.planned ?? options.ops, phase: s?.phase ?? 'starting' },
      ratePerSec: rate,
      clientErrors: workload?.clientErrors ?? 0,
      expectedErrors: s?.expectedErrors ?? 0,
      maxLatencyMs: s?.maxLatencyMs ?? 0,
      failovers: deployment?.failovers() ?? 0,
      logDir,
    };
  };
  const view = new TerminalView(io.out, options.tty, state);
  const supervisor = new Supervisor({
    logDir,
    onLine: (line) => deployment?.line?.(line),
    onExit: (name, exit) => logger.info({ child: name, ...exit }, 'child exited'),
  });
  let interrupted: NodeJS.Signals | undefined;
  const ctx: DemoContext = {
    supervisor,
    logger,
    logDir,
    event: (text) => {
      logger.info({ event: text }, 'event');
      // After an interrupt, what breaks is what we stopped ourselves; the log keeps it, the screen does not.
      if (!interrupted) view.event(text);
    },
  };
  const abort = new AbortController();
  let finishing: Promise<void> | undefined;
  const finish = async (): Promise<void> => {
    view.stop();
    await supervisor.close();
    await new Promise<void>((resolve) => logStream.end(resolve));
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      supervisor.killAllNow();
      process.exit(130);
    }
    interrupted = signal;
    abort.abort();
    logger.warn({ signal }, 'interrupted; stopping everything');
    finishing ??= finish().then(() => {
      io.out.write(`demo: interrupted by ${signal}; stopped everything it started (logs: ${logDir})\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);

  try {
    deployment = makeDeployment(ctx);
    view.print(`demo: ${deployment.title}; logs in ${logDir}`);
    view.start();
    const endpoint = await deployment.start(abort.signal);
    const conns = await Promise.all(
      Array.from({ length: options.connections }, () =>
        MdsClient.connect({ host: endpoint.host, port: endpoint.port }),
      ),
    );
    ctx.event(
      `workload: ${options.ops} operations by ${options.clients} clients over ${options.connections} connection${options.connections === 1 ? '' : 's'}${options.rate ? ` at up to ${options.rate}/s` : ''}, seed ${options.seed}`,
    );
    const w = new Workload(conns, {
      clients: options.clients,
      ops: options.ops,
      seed: options.seed,
      rate: options.rate,
      onAnswer: (at, latency) => deployment?.answer?.(at, latency),
    });
    workload = w;
    const ticker = setInterval(() => {
      rate = meter.sample(performance.now(), w.stats.answered);
      deployment!.progress?.(w.stats.answered, w.stats.planned);
    }, 50);
    let report: WorkloadReport;
    try {
      report = await w.run(abort.signal);
    } finally {
      clearInterval(ticker);
    }
    rate = 0;
    ctx.event(
      `workload done: ${report.answered}/${report.sent} answered, ${report.clientErrors} client errors, ${report.verifiedDirs} directories verified`,
    );
    for (const m of report.firstMismatches) logger.error({ ...m }, 'client-visible error');
    await deployment.settle?.(abort.signal);
    await Promise.all(conns.map((c) => c.close()));
    const replicas = deployment.replicas();
    const { digests, waitedMs } = await settledDigests(replicas);
    if (replicas.length > 1)
      ctx.event(
        digestsVerdict(digests) === 'equal'
          ? `replicas agree: ${replicas.length} equal digests after ${Math.round(waitedMs)} ms (a replica applies the last ordered requests on its own time)`
          : `replicas differ after waiting ${Math.round(waitedMs)} ms`,
      );
    const result: DemoResult = {
      ordering: deployment.ordering,
      report,
      failovers: deployment.failovers(),
      digests,
      excluded: deployment.excluded?.() ?? [],
      logDir,
    };
    logger.info({ ...result, report: { ...report, firstMismatches: undefined } }, 'summary');
    if (interrupted) return await new Promise<number>(() => undefined);
    await finish();
    for (const line of summaryLines(result)) io.out.write(`${line}\n`);
    return report.clientErrors === 0 && digestsVerdict(digests) === 'equal' ? 0 : 1;
  } catch (e) {
    if (interrupted) return await new Promise<number>(() => undefined);
    logger.error({ err: e }, 'demo failed');
    await finish();
    io.err.write(`demo: failed: ${(e as Error).message}\n(logs: ${logDir})\n`);
    return 1;
  } finally {
    if (!interrupted) for (const s of signals) process.off(s, onSignal);
  }
}
