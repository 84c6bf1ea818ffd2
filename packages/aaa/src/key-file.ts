import * as fs from 'node:fs';
import { ConfigError } from '@vcl/core';

/**
 * Reads a secret file (group key, private key, tokens), refusing one that other users can read
 * (`mode & 0o077`): a secret that is not secret authenticates nobody.
 * `path` names the option in errors (`aaa.link.keyFile`).
 */
export function readSecretFile(file: string, path: string, source = 'aaa'): Buffer {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (e) {
    throw new ConfigError(source, [{ path, message: `cannot read ${file}: ${(e as Error).message}` }], { cause: e });
  }
  if (!stat.isFile()) throw new ConfigError(source, [{ path, message: `${file} is not a regular file` }]);
  if ((stat.mode & 0o077) !== 0)
    throw new ConfigError(source, [
      {
        path,
        message: `${file} is readable by group or others (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')})`,
        hint: `chmod 600 ${file}`,
      },
    ]);
  return fs.readFileSync(file);
}
