// The fuzz corpus in the repository (tools/fuzz/corpus/<target>/<hash>.bin): the seeds each target
// starts from and every input that once found a defect. `npm test` replays all of it.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The corpus folder of `target` under the repository root. */
export function corpusDir(root: string, target: string): string {
  return join(root, 'tools', 'fuzz', 'corpus', target);
}

/** Every input kept for `target`, with its file name. */
export function readCorpus(root: string, target: string): { readonly file: string; readonly input: Uint8Array }[] {
  const dir = corpusDir(root, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((file) => ({ file, input: new Uint8Array(readFileSync(join(dir, file))) }));
}

/** Keeps `input` in `target`'s corpus under the hash of its bytes; returns the file's path. */
export function keepInput(root: string, target: string, input: Uint8Array, prefix = ''): string {
  const dir = corpusDir(root, target);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${prefix}${createHash('sha256').update(input).digest('hex').slice(0, 16)}.bin`);
  writeFileSync(file, input);
  return file;
}
