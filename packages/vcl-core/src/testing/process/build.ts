import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { MissingBuildError } from './errors';
import { memberEntryPath } from './harness';

/**
 * Makes sure the code member processes run is built and current: runs `tsc -b` (incremental, a
 * no-op when up to date) on each given `tsconfig.lib.json` (a plugin package's; its references
 * bring `@vcl/core`), then checks that the member entry exists. Throws `MissingBuildError` with
 * the compiler's output when the build fails. Real-process specs call it first, since they run
 * the built JavaScript, not the sources Jest transforms.
 */
export function ensureBuilt(tsconfigs: readonly string[]): void {
  if (tsconfigs.length) {
    let tsc: string;
    try {
      tsc = require.resolve('typescript/bin/tsc');
    } catch (err) {
      throw new MissingBuildError('cannot find the TypeScript compiler (typescript/bin/tsc); run `npm ci`', {
        cause: err,
      });
    }
    const r = spawnSync(process.execPath, [tsc, '-b', ...tsconfigs], { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0)
      throw new MissingBuildError(
        `building ${tsconfigs.join(', ')} for the member processes failed (exit ${r.status ?? r.signal}):\n` +
          `${r.stdout}${r.stderr}`.slice(0, 4000),
      );
  }
  const entry = memberEntryPath();
  if (!existsSync(entry))
    throw new MissingBuildError(
      `the member process entry ${entry} is missing after the build; run \`npx nx run @vcl/core:build\``,
    );
}
