import type { WorkloadReport } from '../workload/workload';
import { digestsVerdict, summaryLines, type DemoResult } from './run-demo';

const report: WorkloadReport = {
  planned: 120,
  sent: 120,
  answered: 120,
  ok: 90,
  expectedErrors: 29,
  mismatches: 0,
  lost: 0,
  clientsFailed: 0,
  maxLatencyMs: 512.2,
  totalLatencyMs: 600,
  lastAnswerAt: 1,
  phase: 'done',
  clientErrors: 0,
  firstMismatches: [],
  verifiedDirs: 9,
  elapsedMs: 3000,
};

describe('digestsVerdict', () => {
  it('is equal only when every replica answered the same digest', () => {
    expect(
      digestsVerdict([
        { name: 'a', digest: 'x' },
        { name: 'b', digest: 'x' },
      ]),
    ).toBe('equal');
    expect(
      digestsVerdict([
        { name: 'a', digest: 'x' },
        { name: 'b', digest: 'y' },
      ]),
    ).toBe('differ');
    expect(
      digestsVerdict([
        { name: 'a', digest: 'x' },
        { name: 'b', error: 'refused' },
      ]),
    ).toBe('differ');
    expect(digestsVerdict([])).toBe('differ');
  });
});

describe('summaryLines', () => {
  it('ends with the result line', () => {
    const result: DemoResult = {
      ordering: 'sequencer',
      report,
      failovers: 1,
      digests: [
        { name: 'mds1', digest: 'ab', inodes: 7 },
        { name: 'mds2', digest: 'ab', inodes: 7 },
      ],
      logDir: '/tmp/x',
    };
    const lines = summaryLines(result);
    expect(lines[lines.length - 1]).toBe(
      'demo: ordering=sequencer ops=120 answered=120 client_errors=0 failovers=1 digests=equal',
    );
    expect(lines).toContain('  latency               mean 5.0 ms, max 512 ms');
    expect(lines.some((l) => l.startsWith('  digest mds2') && l.includes('ab  (7 inodes)'))).toBe(true);
  });

  it('reports differing digests and client errors', () => {
    const lines = summaryLines({
      ordering: 'tokenring',
      report: { ...report, clientErrors: 3, mismatches: 2, lost: 1 },
      failovers: 0,
      digests: [
        { name: 'mds1', digest: 'ab', inodes: 7 },
        { name: 'mds2', error: 'connection refused' },
      ],
      logDir: '/tmp/x',
    });
    expect(lines[lines.length - 1]).toContain('client_errors=3 failovers=0 digests=differ');
    expect(lines).toContain('  digest mds2           unavailable: connection refused');
    expect(lines.some((l) => l.includes('models: 2, requests never answered: 1'))).toBe(true);
  });
});
