import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';

// Issue #20: vcl-exec took ~400 ms to start (node -e 0: 165 ms), most of a short command's latency,
// because it loaded the whole of @vcl/core (yaml, zod, pino, tsyringe, prom-client). `--connect`
// now loads net and the codec only; the stack loader only for --config. Asserted on what is
// loaded, not on time (timings flake on a loaded machine); the ratio is printed.

jest.setTimeout(240_000);

const root = path.resolve(__dirname, '../../..');
const shim = path.join(root, 'packages/substrate-cli/bin/vcl-exec.cjs');

beforeAll(() => {
  execFileSync('npx', ['tsc', '-b', 'packages/substrate-cli/tsconfig.lib.json'], { cwd: root, stdio: 'inherit' });
}, 240_000);

/** The files a `vcl-exec` run loaded (through the committed bin shim). */
function loaded(args: readonly string[]): string[] {
  const probe = `process.argv.splice(1, process.argv.length, ${JSON.stringify(shim)}, ...${JSON.stringify(args)});
process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify(Object.keys(require.cache))));
require(${JSON.stringify(shim)});`;
  const r = spawnSync(process.execPath, ['-e', probe], { cwd: root, encoding: 'utf8' });
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  if (!line) throw new Error(`no module list: ${r.stderr}`);
  return JSON.parse(line.slice('LOADED '.length)) as string[];
}

const HEAVY = [
  '/node_modules/yaml/',
  '/node_modules/zod/',
  '/node_modules/pino/',
  '/node_modules/tsyringe/',
  '/node_modules/prom-client/',
];

describe('vcl-exec start-up', () => {
  it('--help and --connect load no part of @vcl/core but its errors, and none of its dependencies', () => {
    for (const args of [['--help'], ['--connect', '127.0.0.1:1', '--no-stdin', '--', 'true']]) {
      const files = loaded(args);
      expect(files.some((f) => f.endsWith(path.join('substrate-cli', 'dist', 'exec-client.js')))).toBe(true);
      expect(files.filter((f) => HEAVY.some((h) => f.includes(h)))).toEqual([]);
      expect(files.filter((f) => f.includes(path.join('vcl-core', 'dist')) && !f.endsWith('errors.js'))).toEqual([]);
    }
  });

  it('--config loads the stack loader', () => {
    const files = loaded(['--config', path.join(root, 'no-such-stack.yaml'), '--no-stdin', '--', 'true']);
    expect(files.some((f) => f.includes('/node_modules/yaml/') || f.includes('/vcl-core/node_modules/yaml/'))).toBe(
      true,
    );
  });

  it('prints its start-up time next to node -e 0 (measured side by side, not asserted)', () => {
    const time = (args: readonly string[]): number => {
      const start = process.hrtime.bigint();
      spawnSync(process.execPath, args, { stdio: 'ignore' });
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    const bare: number[] = [];
    const exec: number[] = [];
    for (let i = 0; i < 7; i++) {
      bare.push(time(['-e', '0']));
      exec.push(time([shim, '--help']));
    }
    const median = (xs: number[]): number => xs.sort((a, b) => a - b)[xs.length >> 1]!;
    console.log(
      `vcl-exec --help ${median(exec).toFixed(0)} ms, node -e 0 ${median(bare).toFixed(0)} ms: ratio ${(median(exec) / median(bare)).toFixed(2)}`,
    );
  });
});
