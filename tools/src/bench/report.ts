import * as fs from 'node:fs';
import * as path from 'node:path';

// What `npm run bench` writes under bench/results/: results.json (one entry per configuration and
// payload), results.md (the paper's Tables 1 and 2 with ratio columns) and chart.svg.

/** Configuration names, in table order. */
export const CONFIG_NAMES = [
  'direct',
  'pipe-1',
  'pipe-2',
  'service-only',
  'both',
  'sequencer-3',
  'tokenring-3',
  'sequencer-5',
  'tokenring-5',
] as const;

/** One configuration's name. */
export type BenchConfigName = (typeof CONFIG_NAMES)[number];

/** One measured configuration and payload, as stored in results.json. */
export interface BenchEntry {
  /** Configuration name. */
  readonly config: BenchConfigName;
  /** Payload size in bytes. */
  readonly payload: number;
  /** Round-trip latency in µs. */
  readonly latencyUs: { readonly median: number; readonly p99: number };
  /** Payload bytes echoed back per second of ping-pong, in MB/s (10^6 bytes). */
  readonly bandwidthMBps: number;
  /** Round trips measured. */
  readonly samples: number;
}

/** How the run was made, for the Markdown header. */
export interface BenchMeta {
  /** ISO date of the run. */
  readonly date: string;
  /** `node --version`. */
  readonly node: string;
  /** CPU cores. */
  readonly cpus: number;
  /** Whether it was the `--quick` run. */
  readonly quick: boolean;
  /** Interleaved rounds per payload. */
  readonly rounds: number;
  /** Milliseconds per configuration and round. */
  readonly slotMs: number;
  /** Wall-clock seconds of the whole run. */
  readonly seconds: number;
}

const HOPS: Record<BenchConfigName, number> = {
  direct: 0,
  'pipe-1': 1,
  'pipe-2': 2,
  'service-only': 1,
  both: 2,
  'sequencer-3': 2,
  'tokenring-3': 2,
  'sequencer-5': 2,
  'tokenring-5': 2,
};

/** The pipe-proxy configuration with as many hops as `config` (direct for direct). */
export function floorConfig(config: BenchConfigName): BenchConfigName {
  return (['direct', 'pipe-1', 'pipe-2'] as const)[HOPS[config]]!;
}

function sizeLabel(n: number): string {
  return n >= 1024 && n % 1024 === 0 ? `${n / 1024} KB` : `${n} B`;
}

function pct(value: number, ref: number | undefined): string {
  return ref ? `${Math.round((100 * value) / ref)}%` : '-';
}

function configsIn(entries: readonly BenchEntry[]): BenchConfigName[] {
  return CONFIG_NAMES.filter((c) => entries.some((e) => e.config === c));
}

function payloadsIn(entries: readonly BenchEntry[]): number[] {
  return [...new Set(entries.map((e) => e.payload))].sort((a, b) => a - b);
}

function table(
  entries: readonly BenchEntry[],
  value: (e: BenchEntry) => number,
  unit: string,
  digits: number,
): string[] {
  const configs = configsIn(entries);
  const find = (c: BenchConfigName, p: number): BenchEntry | undefined =>
    entries.find((e) => e.config === c && e.payload === p);
  const out = [`| Payload | ${configs.join(' | ')} |`, `|---|${configs.map(() => '---:').join('|')}|`];
  for (const p of payloadsIn(entries)) {
    const cells = configs.map((c) => {
      const e = find(c, p);
      if (!e) return '-';
      const v = value(e);
      const direct = find('direct', p);
      const floor = find(floorConfig(c), p);
      const extra = c === 'direct' ? '' : ` (${pct(v, direct && value(direct))} / ${pct(v, floor && value(floor))})`;
      return `${v.toFixed(digits)} ${unit}${extra}`;
    });
    out.push(`| ${sizeLabel(p)} | ${cells.join(' | ')} |`);
  }
  return out;
}

/** The Markdown report: the paper's Tables 1 (latency) and 2 (bandwidth), plus p99 and sample counts. */
export function formatMarkdown(entries: readonly BenchEntry[], meta: BenchMeta): string {
  const configs = configsIn(entries);
  const lines = [
    '# VCL ping-pong benchmark',
    '',
    `${meta.date}, node ${meta.node}, ${meta.cpus} cores, ${meta.quick ? '`--quick`' : 'full'} run: ` +
      `${meta.rounds} interleaved rounds of ${meta.slotMs} ms per configuration and payload, ${meta.seconds} s in all. ` +
      'Every configuration is separate processes on 127.0.0.1: the client sends the payload and waits until all of ' +
      'it has come back from a raw TCP echo service. Each cell: value (% of direct / % of the pipe-proxy floor ' +
      'with the same number of hops: pipe-1 for service-only, pipe-2 for both and the replicated configurations).',
    '',
    '**Table 1. Latency** (round trip, median)',
    '',
    ...table(entries, (e) => e.latencyUs.median, 'µs', 0),
    '',
    '**Table 2. Bandwidth** (payload bytes back per second of ping-pong, MB/s = 10^6 B/s)',
    '',
    ...table(entries, (e) => e.bandwidthMBps, 'MB/s', 2),
    '',
    '**Latency p99 (µs) and samples**',
    '',
    `| Payload | ${configs.join(' | ')} |`,
    `|---|${configs.map(() => '---:').join('|')}|`,
    ...payloadsIn(entries).map((p) => {
      const cells = configs.map((c) => {
        const e = entries.find((x) => x.config === c && x.payload === p);
        return e ? `${e.latencyUs.p99} (n=${e.samples})` : '-';
      });
      return `| ${sizeLabel(p)} | ${cells.join(' | ')} |`;
    }),
    '',
    'Configurations: `direct` client -> echo; `pipe-1`/`pipe-2` one/two minimal Node `socket.pipe` proxies; ' +
      '`service-only` the client with the client-side interceptor linked in (internal mode) -> `vcl service` ' +
      '(1 member) -> echo; `both` client -> `vcl client` -> `vcl service` (1 member) -> echo; `sequencer-N`, ' +
      '`tokenring-N` as `both` with N members, each with its own echo replica.',
    '',
  ];
  return lines.join('\n');
}

const COLORS = ['#000000', '#7f7f7f', '#bcbcbc', '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A hand-written SVG: latency (median, log scale) and bandwidth vs payload, one line per configuration. */
export function formatSvg(entries: readonly BenchEntry[]): string {
  const configs = configsIn(entries);
  const payloads = payloadsIn(entries);
  const W = 460;
  const H = 300;
  const pad = { l: 60, r: 10, t: 30, b: 40 };
  const log = (v: number): number => Math.log10(Math.max(v, 1e-3));
  const panel = (x0: number, title: string, value: (e: BenchEntry) => number, axis: string): string[] => {
    const values = entries.map(value).filter((v) => v > 0);
    const lo = Math.floor(log(Math.min(...values)));
    const hi = Math.max(lo + 1, Math.ceil(log(Math.max(...values))));
    const px = (i: number): number =>
      x0 + pad.l + (payloads.length === 1 ? 0 : (i * (W - pad.l - pad.r)) / (payloads.length - 1));
    const py = (v: number): number => pad.t + ((hi - log(v)) * (H - pad.t - pad.b)) / (hi - lo);
    const out = [
      `<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">${escapeXml(title)}</text>`,
      `<line x1="${x0 + pad.l}" y1="${pad.t}" x2="${x0 + pad.l}" y2="${H - pad.b}" stroke="#000"/>`,
      `<line x1="${x0 + pad.l}" y1="${H - pad.b}" x2="${x0 + W - pad.r}" y2="${H - pad.b}" stroke="#000"/>`,
      `<text x="${x0 + 12}" y="${(pad.t + H - pad.b) / 2}" transform="rotate(-90 ${x0 + 12} ${(pad.t + H - pad.b) / 2})" text-anchor="middle">${escapeXml(axis)}</text>`,
    ];
    for (let d = lo; d <= hi; d++)
      out.push(
        `<line x1="${x0 + pad.l}" y1="${py(10 ** d)}" x2="${x0 + W - pad.r}" y2="${py(10 ** d)}" stroke="#eee"/>`,
        `<text x="${x0 + pad.l - 4}" y="${py(10 ** d) + 4}" text-anchor="end">${10 ** d >= 1 ? 10 ** d : (10 ** d).toFixed(-d)}</text>`,
      );
    payloads.forEach((p, i) =>
      out.push(`<text x="${px(i)}" y="${H - pad.b + 16}" text-anchor="middle">${sizeLabel(p)}</text>`),
    );
    configs.forEach((c, ci) => {
      const pts = payloads
        .map((p, i) => [i, entries.find((e) => e.config === c && e.payload === p)] as const)
        .filter((x): x is readonly [number, BenchEntry] => x[1] !== undefined && value(x[1]) > 0)
        .map(([i, e]) => `${px(i).toFixed(1)},${py(value(e)).toFixed(1)}`);
      out.push(
        `<polyline fill="none" stroke="${COLORS[ci % COLORS.length]}" stroke-width="1.5" points="${pts.join(' ')}"/>`,
      );
    });
    return out;
  };
  const legend = configs.map(
    (c, i) =>
      `<rect x="${10 + (i % 5) * 180}" y="${H + 8 + Math.floor(i / 5) * 18}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>` +
      `<text x="${28 + (i % 5) * 180}" y="${H + 18 + Math.floor(i / 5) * 18}">${escapeXml(c)}</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 50}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...panel(0, 'Round-trip latency (median)', (e) => e.latencyUs.median, 'µs (log)'),
    ...panel(W, 'Bandwidth', (e) => e.bandwidthMBps, 'MB/s (log)'),
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}

/** Writes results.json, results.md and chart.svg into `dir`; returns the three paths. */
export function writeResults(dir: string, entries: readonly BenchEntry[], meta: BenchMeta): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const files: [string, string][] = [
    ['results.json', `${JSON.stringify(entries, null, 2)}\n`],
    ['results.md', formatMarkdown(entries, meta)],
    ['chart.svg', formatSvg(entries)],
  ];
  return files.map(([name, text]) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  });
}
