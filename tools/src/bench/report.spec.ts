import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CONFIG_NAMES, floorConfig, formatMarkdown, formatSvg, writeResults, type BenchEntry } from './report';

const payloads = [100, 1024, 10240, 102400];
// Made-up figures: latency grows with the configuration's index and the payload.
const entries: BenchEntry[] = payloads.flatMap((payload) =>
  CONFIG_NAMES.map((config, i) => ({
    config,
    payload,
    latencyUs: { median: (i + 1) * 100 + payload / 100, p99: (i + 1) * 300 + payload / 50 },
    bandwidthMBps: Number((payload / ((i + 1) * 100 + payload / 100)).toFixed(3)),
    samples: 1000 - i,
  })),
);
const meta = {
  date: '2026-11-26T00:00:00.000Z',
  node: 'v20',
  cpus: 2,
  quick: true,
  rounds: 3,
  slotMs: 200,
  seconds: 55,
};

describe('bench result files', () => {
  it('results.json holds one entry per configuration and payload in the issue format', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-bench-report-'));
    try {
      const files = writeResults(dir, entries, meta);
      expect(files.map((f) => path.basename(f))).toEqual(['results.json', 'results.md', 'chart.svg']);
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as BenchEntry[];
      expect(json).toHaveLength(9 * 4);
      expect(json[0]).toEqual({
        config: 'direct',
        payload: 100,
        latencyUs: { median: 101, p99: 302 },
        bandwidthMBps: 0.99,
        samples: 1000,
      });
      for (const e of json)
        expect(Object.keys(e).sort()).toEqual(['bandwidthMBps', 'config', 'latencyUs', 'payload', 'samples']);
      expect(new Set(json.map((e) => e.config))).toEqual(new Set(CONFIG_NAMES));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the ratio floor has the same number of hops', () => {
    expect(floorConfig('direct')).toBe('direct');
    expect(floorConfig('service-only')).toBe('pipe-1');
    expect(floorConfig('both')).toBe('pipe-2');
    expect(floorConfig('tokenring-5')).toBe('pipe-2');
  });

  it('the Markdown has Table 1 (latency) and Table 2 (bandwidth): a row per payload, a column per configuration, % of direct and of the floor', () => {
    const md = formatMarkdown(entries, meta);
    expect(md).toContain('**Table 1. Latency**');
    expect(md).toContain('**Table 2. Bandwidth**');
    expect(md).toContain(`| Payload | ${CONFIG_NAMES.join(' | ')} |`);
    // 100 B: direct 101 µs; pipe-2 (index 2) 301 µs; both (index 4) 501 µs -> 496% of direct, 166% of pipe-2.
    const row = md.split('\n').find((l) => l.startsWith('| 100 B |'))!;
    expect(row).toContain('| 101 µs |');
    expect(row).toContain('501 µs (496% / 166%)');
    expect(md.split('\n').filter((l) => l.startsWith('| 100 KB |'))).toHaveLength(3);
  });

  it('the SVG has two panels with a line per configuration and a legend', () => {
    const svg = formatSvg(entries);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2 * 9);
    for (const c of CONFIG_NAMES) expect(svg).toContain(`>${c}</text>`);
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  });
});
