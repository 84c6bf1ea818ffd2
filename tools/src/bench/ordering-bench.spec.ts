import { ConfigError } from '@vcl/core';
import { formatOrderingBench, parseOrderingBenchArgs, quantile, type OrderingBenchResult } from './ordering-bench';

describe('bench:ordering', () => {
  it('parses the defaults and explicit values', () => {
    expect(parseOrderingBenchArgs(['--ordering', 'sequencer'])).toEqual({
      ordering: 'sequencer',
      options: undefined,
      groups: [3, 5],
      sizes: [100, 1024],
      seconds: 5,
      warmupSeconds: 2,
      window: 32,
      lightRate: 50,
      failoverRuns: 3,
      idleSeconds: 5,
      json: false,
      runs: 1,
    });
    const a = parseOrderingBenchArgs([
      '--ordering=tokenring',
      '--options',
      '{"tokenLossMs":500}',
      '--groups',
      '3',
      '--sizes',
      '100, 4096',
      '--seconds',
      '2.5',
      '--json',
    ]);
    expect(a).toMatchObject({
      ordering: 'tokenring',
      options: { tokenLossMs: 500 },
      groups: [3],
      sizes: [100, 4096],
      seconds: 2.5,
      json: true,
    });
  });

  it('names every bad argument at once', () => {
    let error: unknown;
    try {
      parseOrderingBenchArgs(['--groups', '3,x', '--options', '{oops', '--window', '0']);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map((i) => i.path);
    expect(paths).toEqual(['--ordering', '--options', '--groups', '--window']);
    expect(() => parseOrderingBenchArgs(['--ordering', 'sequencer', '--colour'])).toThrow(ConfigError);
    expect(() => parseOrderingBenchArgs(['--ordering', 'sequencer', '--scenario', 'kill-all'])).toThrow(
      '--scenario: must be kill-freeze or kill-restart, got kill-all',
    );
    expect(
      parseOrderingBenchArgs(['--ordering', 'sequencer', '--scenario', 'kill-restart', '--runs', '3']),
    ).toMatchObject({ scenario: 'kill-restart', runs: 3 });
  });

  it('takes nearest-rank quantiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(xs, 0.5)).toBe(50);
    expect(quantile(xs, 0.99)).toBe(99);
    expect(quantile(xs, 1)).toBe(100);
    expect(quantile([7], 0.99)).toBe(7);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('prints Markdown tables with one row per point', () => {
    const result: OrderingBenchResult = {
      args: parseOrderingBenchArgs(['--ordering', 'sequencer']),
      node: 'v20.0.0',
      cpus: 2,
      loadAvg: [1, 2, 3],
      load: [
        {
          members: 3,
          payloadBytes: 100,
          load: 'saturated',
          orderedPerSecond: 2186.4,
          p50Ms: 36.05,
          p99Ms: 144.29,
          samples: 4448,
        },
        { members: 3, payloadBytes: 1024, load: 'rate', orderedPerSecond: 150, p50Ms: 2.93, p99Ms: 45.3, samples: 302 },
      ],
      failover: [
        {
          members: 3,
          runs: [
            { killed: 'n1', role: 'sequencer', anyDeliveryMs: 10, viewMs: 700, deliveryMs: 720 },
            { killed: 'n1', role: 'sequencer', anyDeliveryMs: 30, viewMs: 900, deliveryMs: 950 },
          ],
        },
        {
          members: 5,
          runs: [
            { killed: 'n1', role: 'token-holder', anyDeliveryMs: 5, viewMs: 800, deliveryMs: 810 },
            { killed: 'n1', role: 'member', anyDeliveryMs: 7, viewMs: NaN, deliveryMs: NaN },
          ],
        },
      ],
      idle: [{ members: 3, seconds: 5, cpuMs: [50, 60, 70] }],
      wallSeconds: 12,
    };
    const text = formatOrderingBench(result);
    expect(text).toContain('| 3 | 100 B | saturated (32 in flight per member) | 2186 | 36.05 | 144.29 | 4448 |');
    expect(text).toContain('| 3 | 1 KiB | 50 msg/s per member | 150 | 2.93 | 45.30 | 302 |');
    expect(text).toContain('| 3 | 2 | n1 (sequencer) | 10 / 30 | 700 / 900 | 720 / 950 |');
    // A run without a new view counts as the slowest and shows as such.
    expect(text).toContain(
      '| 5 | 2 | n1 (token-holder), n1 (member) | 5 / 7 | 800 / none in 30 s | 810 / none in 30 s |',
    );
    expect(text).toContain('| 3 | 60.0 / 70.0 | 1.20 % | 3.60 % |');
  });
});
