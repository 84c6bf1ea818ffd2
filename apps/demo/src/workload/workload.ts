import type { MdsTransport } from '../client/mds-client';
import { MdsError } from '../mds/errors';
import { Namespace } from '../mds/namespace';
import { executeRequest, type Request, type Response } from '../mds/protocol';
import { Prng } from './prng';

/** Options of a workload run. */
export interface WorkloadOptions {
  /** Logical clients, each closed-loop (one request outstanding) in its own directory; default 8. */
  readonly clients?: number;
  /** Random operations in total, split evenly over the clients; default 1000. */
  readonly ops?: number;
  /** Seed of every choice; default 1. */
  readonly seed?: number;
  /** Most operations per second over all clients; 0 for as fast as answers come. Default 0. */
  readonly rate?: number;
  /** Directory the clients work under; it must not exist yet. Default `/w`. */
  readonly root?: string;
  /** Share of requests sent malformed on purpose (they must be answered EBADREQ); default 0.01. */
  readonly malformedRatio?: number;
  /** After the operations, list every directory of every client and compare; default true. */
  readonly verify?: boolean;
  /** Told of every answer, with its time (`performance.now()`) and latency in ms. */
  readonly onAnswer?: (at: number, latencyMs: number) => void;
}

/** One answer that differed from what the client's model predicted (a client-visible error). */
export interface Mismatch {
  /** Logical client number. */
  readonly client: number;
  /** The line sent. */
  readonly request: string;
  /** What the model predicted: `ok` or an error code. */
  readonly expected: string;
  /** What came back: the response, or the transport error. */
  readonly actual: string;
}

/** Live counters of a run; read them at any time. */
export interface WorkloadStats {
  /** Requests planned: setup and operations, plus the verification reads once they are known. */
  planned: number;
  /** Requests sent. */
  sent: number;
  /** Requests answered. */
  answered: number;
  /** Answers that were successes, as predicted. */
  ok: number;
  /** Answers that were errors, as predicted (EEXIST for an existing name, EBADREQ for a malformed line, ...). */
  expectedErrors: number;
  /** Answers that differed from the prediction. */
  mismatches: number;
  /** Requests that got no answer (the connection broke). */
  lost: number;
  /** Clients stopped early by a broken connection. */
  clientsFailed: number;
  /** Longest time a request waited for its answer, ms. */
  maxLatencyMs: number;
  /** Sum of all latencies, ms (for the mean). */
  totalLatencyMs: number;
  /** Time of the last answer (`performance.now()`), or 0. */
  lastAnswerAt: number;
  /** Current phase. */
  phase: 'setup' | 'running' | 'verifying' | 'done';
}

/** The outcome of a run. */
export interface WorkloadReport extends WorkloadStats {
  /** Client-visible errors: mismatches plus requests that got no answer. */
  readonly clientErrors: number;
  /** The first mismatches (at most 20), for the log. */
  readonly firstMismatches: readonly Mismatch[];
  /** Directories compared in the verification phase. */
  readonly verifiedDirs: number;
  /** Wall time of the run, ms. */
  readonly elapsedMs: number;
}

/** A workload that could not start (e.g. its root directory exists already). */
export class WorkloadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkloadError';
  }
}

const OP_WEIGHTS = {
  create: 30,
  mkdir: 6,
  readdir: 12,
  stat: 10,
  lookup: 6,
  setattr: 8,
  rename: 16,
  remove: 12,
} as const;

const FILES = ['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7'];
const DIRS = ['d0', 'd1', 'd2'];
const NESTED = ['g0', 'g1', 'g2', 'g3'];

/** What one step sends and what the model predicts for it. */
interface Step {
  readonly line: string;
  readonly op: Request['op'] | 'malformed';
  readonly expected: { ok: true; result: unknown } | { ok: false; code: string };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A workload generator: logical clients, each creating, listing, renaming and removing files in
 * its own directory, over one or several connections. Every client keeps a model of its directory
 * (the same namespace model the server runs), predicts every answer from it and counts any answer
 * that differs, so client-visible errors are counted exactly. It knows nothing of VCL.
 */
export class Workload {
  /** Live counters. */
  readonly stats: WorkloadStats;
  private readonly clients: number;
  private readonly ops: number;
  private readonly seed: number;
  private readonly rate: number;
  private readonly root: string;
  private readonly malformedRatio: number;
  private readonly verify: boolean;
  private readonly mismatchList: Mismatch[] = [];
  private verifiedDirs = 0;

  constructor(
    private readonly transports: readonly MdsTransport[],
    private readonly options: WorkloadOptions = {},
  ) {
    if (transports.length === 0) throw new WorkloadError('a workload needs at least one connection');
    this.clients = options.clients ?? 8;
    this.ops = options.ops ?? 1000;
    this.seed = options.seed ?? 1;
    this.rate = options.rate ?? 0;
    this.root = options.root ?? '/w';
    this.malformedRatio = options.malformedRatio ?? 0.01;
    this.verify = options.verify ?? true;
    if (!Number.isInteger(this.clients) || this.clients < 1)
      throw new WorkloadError(`clients must be >= 1, got ${this.clients}`);
    if (!Number.isInteger(this.ops) || this.ops < 0) throw new WorkloadError(`ops must be >= 0, got ${this.ops}`);
    if (!(this.rate >= 0)) throw new WorkloadError(`rate must be >= 0, got ${this.rate}`);
    this.stats = {
      planned: 1 + this.clients + this.ops,
      sent: 0,
      answered: 0,
      ok: 0,
      expectedErrors: 0,
      mismatches: 0,
      lost: 0,
      clientsFailed: 0,
      maxLatencyMs: 0,
      totalLatencyMs: 0,
      lastAnswerAt: 0,
      phase: 'setup',
    };
  }

  /** Client-visible errors so far: mismatches plus requests that got no answer. */
  get clientErrors(): number {
    return this.stats.mismatches + this.stats.lost;
  }

  /** Runs to the end (or until `signal` aborts) and reports. Throws `WorkloadError` if the root exists. */
  async run(signal?: AbortSignal): Promise<WorkloadReport> {
    const started = performance.now();
    const setup = await this.exchange(-1, this.transports[0]!, {
      line: JSON.stringify({ op: 'mkdir', path: this.root }),
      op: 'mkdir',
      expected: { ok: true, result: undefined },
    });
    if (setup && !setup.ok) {
      throw new WorkloadError(
        setup.error.code === 'EEXIST'
          ? `the workload directory ${this.root} exists already; use a fresh server or another root`
          : `cannot create the workload directory ${this.root}: ${setup.error.code}: ${setup.error.message}`,
      );
    }
    if (!setup) throw new WorkloadError('the connection broke during setup');
    this.stats.phase = 'running';
    const quota = (i: number): number => Math.floor(this.ops / this.clients) + (i < this.ops % this.clients ? 1 : 0);
    const models: Array<Namespace | undefined> = await Promise.all(
      Array.from({ length: this.clients }, (_, i) => this.runClient(i, quota(i), signal)),
    );
    if (this.verify && !signal?.aborted) {
      for (const m of models)
        if (m) this.stats.planned += 1 + m.readdir({ path: '/' }).entries.filter((e) => e.type === 'dir').length;
      this.stats.phase = 'verifying';
      await Promise.all(models.map((m, i) => (m ? this.verifyClient(i, m) : undefined)));
    }
    this.stats.phase = 'done';
    return {
      ...this.stats,
      clientErrors: this.clientErrors,
      firstMismatches: [...this.mismatchList],
      verifiedDirs: this.verifiedDirs,
      elapsedMs: performance.now() - started,
    };
  }

  private serverPath(client: number, path: string): string {
    return `${this.root}/c${client}${path === '/' ? '' : path}`;
  }

  private async runClient(client: number, ops: number, signal?: AbortSignal): Promise<Namespace | undefined> {
    const transport = this.transports[client % this.transports.length]!;
    const model = new Namespace();
    const rng = new Prng(this.seed, client);
    const mkdir = await this.exchange(client, transport, {
      line: JSON.stringify({ op: 'mkdir', path: this.serverPath(client, '/') }),
      op: 'mkdir',
      expected: { ok: true, result: model.stat({ path: '/' }) },
    });
    if (!mkdir) return undefined;
    const interval = this.rate > 0 ? (1000 * this.clients) / this.rate : 0;
    // Stagger the clients over one interval so a paced run does not send in bursts.
    let nextAt = performance.now() + (interval * client) / this.clients;
    for (let k = 0; k < ops; k++) {
      if (signal?.aborted) break;
      if (interval > 0) {
        const now = performance.now();
        if (nextAt > now) await sleep(nextAt - now);
        // After a stall, do not burst to catch up: the rate is a ceiling, not a debt.
        nextAt = Math.max(nextAt + interval, performance.now() - 1000);
      }
      const answer = await this.exchange(client, transport, this.step(client, model, rng));
      if (!answer) return undefined;
    }
    return model;
  }

  private step(client: number, model: Namespace, rng: Prng): Step {
    if (rng.next() < this.malformedRatio) return this.malformed(client, rng);
    // Blind choices from small name pools make collisions (and so predicted errors) common;
    // informed choices from the model make most requests succeed, like a real client's.
    const file = (): string => (rng.next() < 0.5 ? `/${rng.pick(FILES)}` : `/${rng.pick(DIRS)}/${rng.pick(NESTED)}`);
    const dir = (): string => `/${rng.pick(DIRS)}`;
    const any = (): string => (rng.next() < 0.7 ? file() : dir());
    const informed = rng.next() < 0.75;
    const dirs = model
      .readdir({ path: '/' })
      .entries.filter((e) => e.type === 'dir')
      .map((e) => `/${e.name}`);
    const files = ['/', ...dirs].flatMap((d) =>
      model
        .readdir({ path: d })
        .entries.filter((e) => e.type === 'file')
        .map((e) => (d === '/' ? `/${e.name}` : `${d}/${e.name}`)),
    );
    const existing = (): string | undefined =>
      files.length > 0 && (dirs.length === 0 || rng.next() < 0.8)
        ? rng.pick(files)
        : dirs.length
          ? rng.pick(dirs)
          : undefined;
    const freshFile = (): string => {
      const parent = rng.pick(['/', ...dirs]);
      const pool = parent === '/' ? FILES : NESTED;
      const free = pool.filter((n) => !files.includes(parent === '/' ? `/${n}` : `${parent}/${n}`));
      return free.length === 0 ? file() : parent === '/' ? `/${rng.pick(free)}` : `${parent}/${rng.pick(free)}`;
    };
    const freshDir = (): string => {
      const free = DIRS.filter((n) => !dirs.includes(`/${n}`) && !files.includes(`/${n}`));
      return free.length ? `/${rng.pick(free)}` : dir();
    };
    const op = rng.weighted(OP_WEIGHTS);
    let local: Request;
    switch (op) {
      case 'create': {
        const path = informed ? freshFile() : file();
        local = rng.next() < 0.2 ? { op, path, mode: 0o600 } : { op, path };
        break;
      }
      case 'mkdir':
        local = { op, path: informed ? freshDir() : dir() };
        break;
      case 'readdir':
        local = { op, path: rng.next() < 0.4 ? '/' : informed && dirs.length ? rng.pick(dirs) : dir() };
        break;
      case 'stat':
      case 'lookup':
        local = { op, path: (informed && existing()) || any() };
        break;
      case 'setattr': {
        const path = informed && files.length ? rng.pick(files) : rng.next() < 0.7 ? file() : any();
        local = rng.next() < 0.7 ? { op, path, size: rng.int(1 << 20) } : { op, path, mode: 0o600 + rng.int(0o100) };
        break;
      }
      case 'rename': {
        const from = (informed && existing()) || any();
        const isDir = dirs.includes(from) || (from.split('/').length === 2 && DIRS.includes(from.slice(1)));
        const to = informed ? (isDir ? freshDir() : freshFile()) : rng.next() < 0.8 ? (isDir ? dir() : file()) : any();
        local = { op, from, to };
        break;
      }
      case 'remove':
        local = { op, path: (informed && existing()) || any() };
        break;
    }
    let expected: Step['expected'];
    try {
      expected = { ok: true, result: executeRequest(model, local) };
    } catch (e) {
      if (!(e instanceof MdsError)) throw e;
      expected = { ok: false, code: e.code };
    }
    return { line: JSON.stringify(this.toServer(client, local)), op, expected };
  }

  private toServer(client: number, req: Request): Request {
    const out: Record<string, unknown> = { ...req };
    for (const key of ['path', 'from', 'to'] as const)
      if (typeof out[key] === 'string') out[key] = this.serverPath(client, out[key] as string);
    return out as unknown as Request;
  }

  private malformed(client: number, rng: Prng): Step {
    const path = this.serverPath(client, `/${rng.pick(FILES)}`);
    const lines = [
      JSON.stringify({ op: 'create', path }).slice(0, -3),
      JSON.stringify({ op: 'chmod', path }),
      JSON.stringify({ op: 'create', path: 42 }),
      JSON.stringify({ op: 'remove', path, recursive: true }),
      'this is not json',
    ];
    return { line: rng.pick(lines), op: 'malformed', expected: { ok: false, code: 'EBADREQ' } };
  }

  /** Sends one step and checks its answer; returns the response, or undefined if the connection broke. */
  private async exchange(client: number, transport: MdsTransport, step: Step): Promise<Response | undefined> {
    this.stats.sent++;
    const sentAt = performance.now();
    let response: Response;
    try {
      response = await transport.sendLine(step.line);
    } catch (e) {
      this.stats.lost++;
      this.stats.clientsFailed++;
      this.record({
        client,
        request: step.line,
        expected: this.describe(step.expected),
        actual: `no answer: ${(e as Error).message}`,
      });
      return undefined;
    }
    const now = performance.now();
    const latency = now - sentAt;
    this.stats.answered++;
    this.stats.lastAnswerAt = now;
    this.stats.totalLatencyMs += latency;
    if (latency > this.stats.maxLatencyMs) this.stats.maxLatencyMs = latency;
    this.options.onAnswer?.(now, latency);
    if (client < 0) return response;
    if (this.matches(step, response)) {
      if (response.ok) this.stats.ok++;
      else this.stats.expectedErrors++;
    } else {
      this.stats.mismatches++;
      this.record({
        client,
        request: step.line,
        expected: this.describe(step.expected),
        actual: JSON.stringify(response),
      });
    }
    return response;
  }

  private describe(expected: Step['expected']): string {
    return expected.ok ? 'ok' : expected.code;
  }

  private record(m: Mismatch): void {
    if (this.mismatchList.length < 20) this.mismatchList.push(m);
  }

  private matches(step: Step, response: Response): boolean {
    const exp = step.expected;
    if (!exp.ok) return !response.ok && response.error.code === exp.code;
    if (!response.ok) return false;
    // Inode numbers, handles and times are global to the server, so compare what the model owns.
    const want = exp.result as Record<string, unknown>;
    const got = response.result as Record<string, unknown>;
    switch (step.op) {
      case 'mkdir':
      case 'create':
      case 'stat':
      case 'setattr':
        return ['type', 'mode', 'uid', 'gid', 'size', 'nlink'].every((k) => want[k] === got[k]);
      case 'lookup':
      case 'remove':
        return want['type'] === got['type'];
      case 'rename':
        return (want['replaced'] === null) === (got['replaced'] === null);
      case 'readdir':
        return sameEntries(want, got);
      default:
        return false;
    }
  }

  private async verifyClient(client: number, model: Namespace): Promise<void> {
    const transport = this.transports[client % this.transports.length]!;
    const dirs = [
      '/',
      ...model
        .readdir({ path: '/' })
        .entries.filter((e) => e.type === 'dir')
        .map((e) => `/${e.name}`),
    ];
    for (const path of dirs) {
      this.verifiedDirs++;
      const answer = await this.exchange(client, transport, {
        line: JSON.stringify({ op: 'readdir', path: this.serverPath(client, path) }),
        op: 'readdir',
        expected: { ok: true, result: model.readdir({ path }) },
      });
      if (!answer) return;
    }
  }
}

function sameEntries(want: Record<string, unknown>, got: Record<string, unknown>): boolean {
  const a = want['entries'] as Array<{ name: string; type: string }>;
  const b = got['entries'] as Array<{ name: string; type: string }> | undefined;
  return Array.isArray(b) && a.length === b.length && a.every((e, i) => e.name === b[i]?.name && e.type === b[i]?.type);
}
