import type { MdsTransport } from '../client/mds-client';
import { Namespace } from '../mds/namespace';
import { handleLine, type Request, type Response } from '../mds/protocol';
import { Workload, WorkloadError } from './workload';

/** An in-process metadata server: answers each line from a namespace, asynchronously like a socket. */
class InProcessTransport implements MdsTransport {
  lines = 0;
  constructor(readonly ns: Namespace) {}

  send(request: Request): Promise<Response> {
    return this.sendLine(JSON.stringify(request));
  }

  async sendLine(line: string): Promise<Response> {
    await Promise.resolve();
    this.lines++;
    return JSON.parse(handleLine(this.ns, line).response) as Response;
  }
}

/** A server with a bug: every `nth` successful create is answered but not applied. */
class ForgetfulTransport extends InProcessTransport {
  private creates = 0;
  constructor(
    ns: Namespace,
    private readonly nth: number,
  ) {
    super(ns);
  }

  override async sendLine(line: string): Promise<Response> {
    if (line.includes('"op":"create"') && ++this.creates % this.nth === 0) {
      const probe = Namespace.restore(this.ns.snapshot());
      return JSON.parse(handleLine(probe, line).response) as Response;
    }
    return super.sendLine(line);
  }
}

/** A connection that breaks after `limit` lines: later requests get no answer. */
class BreakingTransport extends InProcessTransport {
  constructor(
    ns: Namespace,
    private readonly limit: number,
  ) {
    super(ns);
  }

  override async sendLine(line: string): Promise<Response> {
    if (this.lines >= this.limit) throw new Error('connection reset');
    return super.sendLine(line);
  }
}

describe('Workload', () => {
  it('runs every client to the end with zero client errors against a correct server', async () => {
    const ns = new Namespace();
    const transports = [new InProcessTransport(ns), new InProcessTransport(ns)];
    const report = await new Workload(transports, { clients: 5, ops: 600, seed: 7 }).run();
    expect(report).toMatchObject({ mismatches: 0, lost: 0, clientErrors: 0, clientsFailed: 0, phase: 'done' });
    expect(report.planned).toBe(1 + 5 + 600 + report.verifiedDirs);
    expect(report.answered).toBe(report.sent);
    expect(report.sent).toBe(report.planned);
    expect(report.ok + report.expectedErrors).toBe(report.answered - 1);
    expect(report.expectedErrors).toBeGreaterThan(50);
    expect(report.ok).toBeGreaterThan(200);
    expect(report.verifiedDirs).toBeGreaterThanOrEqual(5);
    expect(transports[0]!.lines).toBeGreaterThan(0);
    expect(transports[1]!.lines).toBeGreaterThan(0);
    expect(ns.readdir({ path: '/w' }).entries.map((e) => e.name)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
  });

  it('sends malformed lines that the server must refuse, and counts them as expected errors', async () => {
    const ns = new Namespace();
    const t = new InProcessTransport(ns);
    const seen: string[] = [];
    const spy: MdsTransport = {
      send: (r) => t.send(r),
      sendLine: (line) => {
        seen.push(line);
        return t.sendLine(line);
      },
    };
    const report = await new Workload([spy], { clients: 2, ops: 300, malformedRatio: 0.2 }).run();
    const malformed = seen.filter((l) => JSON.parse(handleLine(new Namespace(), l).response).error?.code === 'EBADREQ');
    expect(malformed.length).toBeGreaterThan(30);
    expect(report.clientErrors).toBe(0);
  });

  it('is a function of the seed: same seed, same final namespace; other seed, another', async () => {
    const digestFor = async (seed: number): Promise<string> => {
      const ns = new Namespace();
      await new Workload([new InProcessTransport(ns)], { clients: 3, ops: 300, seed }).run();
      return ns.digest().digest;
    };
    const a = await digestFor(3);
    expect(await digestFor(3)).toBe(a);
    expect(await digestFor(4)).not.toBe(a);
  });

  it('counts answers that differ from the model as client errors (a forgetful server)', async () => {
    const ns = new Namespace();
    const report = await new Workload([new ForgetfulTransport(ns, 10)], { clients: 3, ops: 400 }).run();
    expect(report.mismatches).toBeGreaterThan(0);
    expect(report.clientErrors).toBe(report.mismatches);
    expect(report.firstMismatches[0]).toMatchObject({ expected: expect.any(String), actual: expect.any(String) });
  });

  it('counts requests that get no answer and stops the clients of a broken connection', async () => {
    const ns = new Namespace();
    const broken = new BreakingTransport(ns, 50);
    const report = await new Workload([new InProcessTransport(ns), broken], { clients: 4, ops: 400 }).run();
    expect(report.lost).toBe(2);
    expect(report.clientsFailed).toBe(2);
    expect(report.clientErrors).toBe(2);
    expect(report.firstMismatches.filter((m) => m.actual.startsWith('no answer'))).toHaveLength(2);
    expect(report.mismatches).toBe(0);
  });

  it('refuses to start in an existing root directory', async () => {
    const ns = new Namespace();
    ns.mkdir('/w');
    await expect(new Workload([new InProcessTransport(ns)]).run()).rejects.toThrow(WorkloadError);
    await expect(new Workload([new InProcessTransport(ns)]).run()).rejects.toThrow('/w exists already');
  });

  it('stops early when aborted', async () => {
    const ns = new Namespace();
    const ac = new AbortController();
    const w = new Workload([new InProcessTransport(ns)], {
      clients: 2,
      ops: 100000,
      onAnswer: () => {
        if (w.stats.answered === 200) ac.abort();
      },
    });
    const report = await w.run(ac.signal);
    expect(report.answered).toBeLessThan(300);
    expect(report.clientErrors).toBe(0);
  });

  it('paces requests when a rate is given', async () => {
    const ns = new Namespace();
    const report = await new Workload([new InProcessTransport(ns)], {
      clients: 2,
      ops: 20,
      rate: 100,
      verify: false,
    }).run();
    // 20 operations at 100/s cannot take less than ~190 ms (the first of each client goes at once).
    expect(report.elapsedMs).toBeGreaterThanOrEqual(150);
    expect(report.clientErrors).toBe(0);
  });

  it('refuses bad options', () => {
    const ns = new Namespace();
    expect(() => new Workload([])).toThrow(WorkloadError);
    expect(() => new Workload([new InProcessTransport(ns)], { clients: 0 })).toThrow('clients must be >= 1');
    expect(() => new Workload([new InProcessTransport(ns)], { ops: -1 })).toThrow('ops must be >= 0');
  });
});
