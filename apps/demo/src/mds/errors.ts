/**
 * Errors of the mock metadata server. The server is an ordinary, unmodified service that knows
 * nothing of VCL, so its errors are its own: an errno-style `code` that travels over the wire as
 * data (`{"ok":false,"error":{"code":"ENOENT",...}}`), never as a thrown exception in the peer.
 */

/** Every error code the metadata server answers with. */
export const MDS_ERROR_CODES = [
  'EBADREQ',
  'ENOENT',
  'EEXIST',
  'ENOTDIR',
  'EISDIR',
  'ENOTEMPTY',
  'EINVAL',
  'ENAMETOOLONG',
  'ESTALE',
] as const;

/**
 * One of `MDS_ERROR_CODES`:
 * - `EBADREQ` the request line is malformed (not JSON, unknown op, missing or mistyped field);
 * - `ENOENT` no such file or directory; `EEXIST` it already exists;
 * - `ENOTDIR` a path component or target is not a directory; `EISDIR` it is a directory;
 * - `ENOTEMPTY` the directory is not empty; `EINVAL` an invalid argument (bad path, bad mode,
 *   a directory moved into itself, the root removed); `ENAMETOOLONG` a name or path too long;
 * - `ESTALE` a handle that names no inode (never allocated, or removed).
 */
export type MdsErrorCode = (typeof MDS_ERROR_CODES)[number];

/** A request the metadata server refused; `code` says why, `message` names what was wrong. */
export class MdsError extends Error {
  /** The errno-style code, identical at every replica for the same request and state. */
  readonly code: MdsErrorCode;

  constructor(code: MdsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MdsError';
    this.code = code;
  }
}

/** True when `value` is one of the metadata server's error codes. */
export function isMdsErrorCode(value: unknown): value is MdsErrorCode {
  return typeof value === 'string' && (MDS_ERROR_CODES as readonly string[]).includes(value);
}
