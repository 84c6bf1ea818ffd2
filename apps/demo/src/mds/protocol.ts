/**
 * The metadata server's wire protocol: newline-delimited JSON over TCP. Every request is one line
 * holding one JSON object with an `op`; the server answers every line (even an empty or malformed
 * one) with exactly one response line, in request order, so no request ids are needed and a
 * line-framing proxy can cut both directions alike.
 *
 * ```
 * > {"op":"mkdir","path":"/a"}
 * < {"ok":true,"result":{"ino":2,"handle":"…","type":"dir","mode":493,…}}
 * > {"op":"mkdir","path":"/a"}
 * < {"ok":false,"error":{"code":"EEXIST","message":"\"/a\" already exists"}}
 * ```
 */
import { MdsError, isMdsErrorCode, type MdsErrorCode } from './errors';
import type {
  Attributes,
  AttributeChanges,
  DigestResult,
  DirEntry,
  LookupResult,
  Namespace,
  NamespaceSnapshot,
  RemoveResult,
  RenameResult,
} from './namespace';

/** Creates a directory: `{"op":"mkdir","path":"/a","mode":493}` (mode optional, default 0o755). */
export interface MkdirRequest {
  readonly op: 'mkdir';
  /** Absolute path of the new directory. */
  readonly path: string;
  /** Permission bits; default 0o755. */
  readonly mode?: number;
}

/** Creates an empty file exclusively: `{"op":"create","path":"/a/f"}` (mode optional, default 0o644). */
export interface CreateRequest {
  readonly op: 'create';
  /** Absolute path of the new file. */
  readonly path: string;
  /** Permission bits; default 0o644. */
  readonly mode?: number;
}

/** Resolves a path, or one name in a directory given by handle: `{"op":"lookup","path":"/a"}`. */
export interface LookupRequest {
  readonly op: 'lookup';
  /** Absolute path to resolve (or give `parent` and `name`). */
  readonly path?: string;
  /** Handle of the directory to look `name` up in. */
  readonly parent?: string;
  /** The name to look up in `parent`. */
  readonly name?: string;
}

/** Lists a directory by path or handle: `{"op":"readdir","path":"/a"}`. */
export interface ReaddirRequest {
  readonly op: 'readdir';
  /** Absolute path (or give `handle`). */
  readonly path?: string;
  /** Handle (or give `path`). */
  readonly handle?: string;
}

/** Reads the attributes of a path or handle: `{"op":"stat","handle":"…"}`. */
export interface StatRequest {
  readonly op: 'stat';
  /** Absolute path (or give `handle`). */
  readonly path?: string;
  /** Handle (or give `path`). */
  readonly handle?: string;
}

/** Changes attributes: `{"op":"setattr","path":"/a/f","size":4096}`. */
export interface SetattrRequest extends AttributeChanges {
  readonly op: 'setattr';
  /** Absolute path (or give `handle`). */
  readonly path?: string;
  /** Handle (or give `path`). */
  readonly handle?: string;
}

/** Moves a file or directory: `{"op":"rename","from":"/a/f","to":"/b/g"}`. */
export interface RenameRequest {
  readonly op: 'rename';
  /** Absolute source path. */
  readonly from: string;
  /** Absolute destination path. */
  readonly to: string;
}

/** Removes a file or an empty directory: `{"op":"remove","path":"/a/f"}`. */
export interface RemoveRequest {
  readonly op: 'remove';
  /** Absolute path. */
  readonly path: string;
}

/** A hash of the whole namespace: `{"op":"digest"}`. */
export interface DigestRequest {
  readonly op: 'digest';
}

/** The whole namespace as data, for state transfer: `{"op":"snapshot"}`. */
export interface SnapshotRequest {
  readonly op: 'snapshot';
}

/** Replaces the whole namespace with a snapshot, for state transfer: `{"op":"restore","snapshot":{…}}`. */
export interface RestoreRequest {
  readonly op: 'restore';
  /** What `snapshot` answered. */
  readonly snapshot: NamespaceSnapshot;
}

/** Empties the namespace (only the root, version 0), for state transfer by replay: `{"op":"reset"}`. */
export interface ResetRequest {
  readonly op: 'reset';
}

/** Any request the metadata server understands. */
export type Request =
  | MkdirRequest
  | CreateRequest
  | LookupRequest
  | ReaddirRequest
  | StatRequest
  | SetattrRequest
  | RenameRequest
  | RemoveRequest
  | DigestRequest
  | SnapshotRequest
  | RestoreRequest
  | ResetRequest;

/** The name of an operation. */
export type Op = Request['op'];

/** The result type of each operation. */
export interface ResultOf {
  mkdir: Attributes;
  create: Attributes;
  lookup: LookupResult;
  readdir: { entries: DirEntry[] };
  stat: Attributes;
  setattr: Attributes;
  rename: RenameResult;
  remove: RemoveResult;
  digest: DigestResult;
  snapshot: NamespaceSnapshot;
  restore: DigestResult;
  reset: DigestResult;
}

/** A successful answer. */
export interface OkResponse<T = unknown> {
  readonly ok: true;
  /** The operation's result. */
  readonly result: T;
}

/** A refused request. */
export interface ErrorResponse {
  readonly ok: false;
  /** Why: an errno-style code and a message naming what was wrong. */
  readonly error: { readonly code: MdsErrorCode; readonly message: string };
}

/** One response line, decoded. */
export type Response<T = unknown> = OkResponse<T> | ErrorResponse;

type FieldKind = 'string' | 'uint' | 'object';

const FIELDS: Record<Op, Readonly<Record<string, FieldKind>>> = {
  mkdir: { path: 'string', mode: 'uint' },
  create: { path: 'string', mode: 'uint' },
  lookup: { path: 'string', parent: 'string', name: 'string' },
  readdir: { path: 'string', handle: 'string' },
  stat: { path: 'string', handle: 'string' },
  setattr: { path: 'string', handle: 'string', mode: 'uint', uid: 'uint', gid: 'uint', size: 'uint', mtime: 'uint' },
  rename: { from: 'string', to: 'string' },
  remove: { path: 'string' },
  digest: {},
  snapshot: {},
  restore: { snapshot: 'object' },
  reset: {},
};

const REQUIRED: Partial<Record<Op, readonly string[]>> = {
  mkdir: ['path'],
  create: ['path'],
  rename: ['from', 'to'],
  remove: ['path'],
  restore: ['snapshot'],
};

/** Every operation name, in the order the protocol documents them. */
export const OPS = Object.keys(FIELDS) as Op[];

function badRequest(message: string): MdsError {
  return new MdsError('EBADREQ', message);
}

/**
 * Decodes and validates one request line (without its newline). Throws `MdsError` EBADREQ naming
 * what is wrong: not JSON, not an object, a missing or unknown op, an unknown, missing or
 * mistyped field.
 */
export function parseRequest(line: string): Request {
  if (line.trim() === '') throw badRequest('empty request line; expected a JSON object with an "op"');
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    throw badRequest(`request is not JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw badRequest(`request must be a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
  const obj = value as Record<string, unknown>;
  const op = obj['op'];
  if (op === undefined) throw badRequest(`request has no "op"; expected one of ${OPS.join(', ')}`);
  if (typeof op !== 'string' || !(OPS as string[]).includes(op))
    throw badRequest(`unknown op ${JSON.stringify(op)}; expected one of ${OPS.join(', ')}`);
  const fields = FIELDS[op as Op];
  for (const [key, v] of Object.entries(obj)) {
    if (key === 'op') continue;
    const kind = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (kind === undefined) {
      const known = Object.keys(fields);
      throw badRequest(
        `unknown field "${key}" for op ${op}; ${known.length ? `expected ${known.join(', ')}` : 'it takes no fields'}`,
      );
    }
    if (kind === 'string' && typeof v !== 'string')
      throw badRequest(`field "${key}" of ${op} must be a string, got ${JSON.stringify(v)}`);
    if (kind === 'uint' && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0))
      throw badRequest(`field "${key}" of ${op} must be a non-negative integer, got ${JSON.stringify(v)}`);
    if (kind === 'object' && (v === null || typeof v !== 'object' || Array.isArray(v)))
      throw badRequest(`field "${key}" of ${op} must be a JSON object, got ${JSON.stringify(v)?.slice(0, 40)}`);
  }
  for (const key of REQUIRED[op as Op] ?? [])
    if (obj[key] === undefined) throw badRequest(`${op} needs field "${key}"`);
  if (op === 'readdir' || op === 'stat' || op === 'setattr') {
    const n = (obj['path'] !== undefined ? 1 : 0) + (obj['handle'] !== undefined ? 1 : 0);
    if (n !== 1) throw badRequest(`${op} needs exactly one of "path" or "handle"`);
  }
  if (op === 'setattr' && !['mode', 'uid', 'gid', 'size', 'mtime'].some((k) => obj[k] !== undefined))
    throw badRequest('setattr needs at least one of "mode", "uid", "gid", "size", "mtime"');
  if (op === 'lookup') {
    const byPath = obj['path'] !== undefined;
    const byParent = obj['parent'] !== undefined || obj['name'] !== undefined;
    if (byPath === byParent || (byParent && (obj['parent'] === undefined || obj['name'] === undefined)))
      throw badRequest('lookup needs either "path", or both "parent" (a directory handle) and "name"');
  }
  return obj as unknown as Request;
}

function target(req: { path?: string; handle?: string }): { path: string } | { handle: string } {
  return req.handle !== undefined ? { handle: req.handle } : { path: req.path! };
}

/** Applies one validated request to the namespace and returns its result; throws `MdsError`. */
export function executeRequest(ns: Namespace, req: Request): unknown {
  switch (req.op) {
    case 'mkdir':
      return ns.mkdir(req.path, req.mode);
    case 'create':
      return ns.create(req.path, req.mode);
    case 'lookup':
      return req.path !== undefined ? ns.lookup(req.path) : ns.lookupAt(req.parent!, req.name!);
    case 'readdir':
      return ns.readdir(target(req));
    case 'stat':
      return ns.stat(target(req));
    case 'setattr': {
      const { op: _op, path: _path, handle: _handle, ...changes } = req;
      return ns.setattr(target(req), changes);
    }
    case 'rename':
      return ns.rename(req.from, req.to);
    case 'remove':
      return ns.remove(req.path);
    case 'digest':
      return ns.digest();
    case 'snapshot':
      return ns.snapshot();
    case 'restore':
      ns.load(req.snapshot);
      return ns.digest();
    case 'reset':
      ns.reset();
      return ns.digest();
  }
}

/** Encodes a response as one line (without the newline). */
export function encodeResponse(response: Response): string {
  return JSON.stringify(response);
}

/** The error response for `error`: its own code for an `MdsError`, EBADREQ with its message otherwise. */
export function errorResponse(error: unknown): ErrorResponse {
  if (error instanceof MdsError) return { ok: false, error: { code: error.code, message: error.message } };
  return { ok: false, error: { code: 'EBADREQ', message: (error as Error)?.message ?? String(error) } };
}

/**
 * The whole server-side protocol for one request line: parse, apply, encode. Never throws; a
 * malformed line gets an EBADREQ answer and changes nothing.
 */
export function handleLine(ns: Namespace, line: string): { response: string; op?: Op; error?: MdsErrorCode } {
  let req: Request;
  try {
    req = parseRequest(line);
  } catch (e) {
    const r = errorResponse(e);
    return { response: encodeResponse(r), error: r.error.code };
  }
  try {
    return { response: encodeResponse({ ok: true, result: executeRequest(ns, req) }), op: req.op };
  } catch (e) {
    if (!(e instanceof MdsError)) throw e;
    const r = errorResponse(e);
    return { response: encodeResponse(r), op: req.op, error: r.error.code };
  }
}

/**
 * Decodes one response line. Throws `MdsError` EBADREQ if the line is not a well-formed response
 * (which means the peer does not speak this protocol).
 */
export function parseResponse(line: string): Response {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    throw badRequest(`response is not JSON: ${(e as Error).message}`);
  }
  const obj = value as Record<string, unknown> | null;
  if (obj && typeof obj === 'object' && obj['ok'] === true && 'result' in obj) return obj as unknown as OkResponse;
  if (obj && typeof obj === 'object' && obj['ok'] === false) {
    const err = obj['error'] as Record<string, unknown> | null;
    if (err && typeof err === 'object' && isMdsErrorCode(err['code']) && typeof err['message'] === 'string')
      return obj as unknown as ErrorResponse;
  }
  throw badRequest(`not a metadata server response: ${line.length > 200 ? `${line.slice(0, 197)}...` : line}`);
}

/** A piece of input cut by `LineSplitter`: a complete line, or a line that was too long and dropped. */
export type SplitLine = { readonly line: string } | { readonly tooLong: number };

/** Default longest request line, in bytes, not counting the newline (a `restore` carries the whole namespace). */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * Cuts a byte stream into lines (`\n`, an optional `\r` before it is dropped). A line longer than
 * `maxLineBytes` is not buffered: its bytes are discarded as they come and, once its newline
 * arrives, it is reported as `{ tooLong: bytes }`, so memory stays bounded and the caller can
 * still answer it in order. Lines that are not valid UTF-8 decode with replacement characters,
 * which the JSON parser then refuses.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  private dropping = 0;

  constructor(private readonly maxLineBytes: number = DEFAULT_MAX_LINE_BYTES) {}

  /** Bytes held that do not yet form a complete line. */
  get buffered(): number {
    return this.held;
  }

  /** Feeds bytes; returns every line completed by them, in order. */
  push(chunk: Uint8Array): SplitLine[] {
    const out: SplitLine[] = [];
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (;;) {
      const nl = buf.indexOf(0x0a);
      if (nl < 0) {
        this.hold(buf);
        return out;
      }
      this.hold(buf.subarray(0, nl));
      if (this.dropping > 0) {
        out.push({ tooLong: this.dropping });
      } else {
        let line = Buffer.concat(this.parts, this.held);
        if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
        out.push({ line: line.toString('utf8') });
      }
      this.parts = [];
      this.held = 0;
      this.dropping = 0;
      buf = buf.subarray(nl + 1);
    }
  }

  private hold(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.dropping > 0) {
      this.dropping += bytes.length;
      return;
    }
    if (this.held + bytes.length > this.maxLineBytes) {
      this.dropping = this.held + bytes.length;
      this.parts = [];
      this.held = 0;
      return;
    }
    this.parts.push(Buffer.from(bytes));
    this.held += bytes.length;
  }
}

/** The answer to a line that exceeded the maximum length. */
export function tooLongResponse(bytes: number, maxLineBytes: number): string {
  return encodeResponse({
    ok: false,
    error: { code: 'EBADREQ', message: `request line of ${bytes} bytes is longer than the maximum ${maxLineBytes}` },
  });
}
