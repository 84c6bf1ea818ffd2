import { createHash } from 'node:crypto';
import { MdsError } from './errors';

/** What an inode is. */
export type NodeType = 'dir' | 'file';

/** The attributes of one inode, as `stat` answers them. */
export interface Attributes {
  /** Inode number: 1 for the root, then 2, 3, ... in creation order; never reused. */
  readonly ino: number;
  /** Opaque handle (16 hex digits) derived from the inode number; names the inode until it is removed. */
  readonly handle: string;
  /** Directory or regular file. */
  readonly type: NodeType;
  /** Permission bits, 0..0o7777. */
  readonly mode: number;
  /** Owner user id. */
  readonly uid: number;
  /** Owner group id. */
  readonly gid: number;
  /** Bytes for a file (set by `setattr`); number of entries for a directory. */
  readonly size: number;
  /** 1 for a file; 2 + number of subdirectories for a directory. */
  readonly nlink: number;
  /** Logical time of the last content change (the namespace version then, or a value set by `setattr`). */
  readonly mtime: number;
  /** Logical time of the last change of the inode itself (the namespace version then). */
  readonly ctime: number;
}

/** One directory entry, as `readdir` answers it. */
export interface DirEntry {
  /** The entry's name in its directory. */
  readonly name: string;
  /** Its inode number. */
  readonly ino: number;
  /** Its handle. */
  readonly handle: string;
  /** Directory or regular file. */
  readonly type: NodeType;
}

/** What `lookup` answers. */
export interface LookupResult {
  /** The inode number found. */
  readonly ino: number;
  /** Its handle. */
  readonly handle: string;
  /** Directory or regular file. */
  readonly type: NodeType;
}

/** What `rename` answers. */
export interface RenameResult {
  /** The inode number that moved (unchanged by the move). */
  readonly ino: number;
  /** The inode number that the move replaced at the destination, or null. */
  readonly replaced: number | null;
}

/** What `remove` answers. */
export interface RemoveResult {
  /** The inode number removed. */
  readonly ino: number;
  /** What it was. */
  readonly type: NodeType;
}

/** What `digest` answers. */
export interface DigestResult {
  /** SHA-256 (hex) of the canonical snapshot: equal digests mean equal namespaces. */
  readonly digest: string;
  /** Number of inodes, root included. */
  readonly inodes: number;
  /** Number of successful changes applied so far. */
  readonly version: number;
}

/** An inode addressed by absolute path or by handle (exactly one of the two). */
export type Target =
  { readonly path: string; readonly handle?: undefined } | { readonly handle: string; readonly path?: undefined };

/** The attributes `setattr` may change; at least one must be given. */
export interface AttributeChanges {
  /** New permission bits, 0..0o7777. */
  readonly mode?: number;
  /** New owner user id, 0..2^32-1. */
  readonly uid?: number;
  /** New owner group id, 0..2^32-1. */
  readonly gid?: number;
  /** New size in bytes (files only). */
  readonly size?: number;
  /** New logical modification time (>= 0). */
  readonly mtime?: number;
}

/** One inode in a snapshot, in depth-first order with names sorted, so parents come first. */
export interface SnapshotInode {
  /** Absolute path. */
  readonly path: string;
  /** Inode number. */
  readonly ino: number;
  /** Handle. */
  readonly handle: string;
  /** Directory or regular file. */
  readonly type: NodeType;
  /** Permission bits. */
  readonly mode: number;
  /** Owner user id. */
  readonly uid: number;
  /** Owner group id. */
  readonly gid: number;
  /** Bytes (files); 0 for directories, whose size is derived. */
  readonly size: number;
  /** Logical modification time. */
  readonly mtime: number;
  /** Logical change time. */
  readonly ctime: number;
}

/** The whole namespace as plain data; `Namespace.restore` rebuilds an identical namespace. */
export interface NamespaceSnapshot {
  /** Format tag, `mds-namespace/1`. */
  readonly format: 'mds-namespace/1';
  /** Number of successful changes applied. */
  readonly version: number;
  /** The inode number the next create or mkdir gets. */
  readonly nextIno: number;
  /** Every inode, root first. */
  readonly inodes: readonly SnapshotInode[];
}

/** Limits on names and values; requests past them are refused with ENAMETOOLONG or EINVAL. */
export const NAMESPACE_LIMITS = {
  /** Longest path in UTF-8 bytes. */
  maxPathBytes: 4096,
  /** Longest name (path component) in UTF-8 bytes. */
  maxNameBytes: 255,
  /** Largest permission bits value. */
  maxMode: 0o7777,
  /** Largest uid or gid. */
  maxId: 0xffffffff,
} as const;

/** Default permission bits of `mkdir`. */
export const DEFAULT_DIR_MODE = 0o755;
/** Default permission bits of `create`. */
export const DEFAULT_FILE_MODE = 0o644;

const SNAPSHOT_FORMAT = 'mds-namespace/1';
const HANDLE_PATTERN = /^[0-9a-f]{16}$/;

interface Inode {
  readonly ino: number;
  readonly handle: string;
  readonly type: NodeType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  ctime: number;
  parent: Inode | undefined;
  name: string;
  readonly children: Map<string, Inode> | undefined;
  subdirs: number;
}

function show(path: string): string {
  return JSON.stringify(path.length > 120 ? `${path.slice(0, 117)}...` : path);
}

/** Splits an absolute path into its names, or throws EINVAL / ENAMETOOLONG naming what is wrong. */
export function parsePath(path: string): string[] {
  const bytes = Buffer.byteLength(path, 'utf8');
  if (bytes > NAMESPACE_LIMITS.maxPathBytes)
    throw new MdsError(
      'ENAMETOOLONG',
      `path ${show(path)} is ${bytes} bytes, longer than ${NAMESPACE_LIMITS.maxPathBytes}`,
    );
  if (!path.startsWith('/')) throw new MdsError('EINVAL', `path ${show(path)} is not absolute (must start with /)`);
  if (path === '/') return [];
  if (path.endsWith('/')) throw new MdsError('EINVAL', `path ${show(path)} ends with /`);
  const names = path.slice(1).split('/');
  for (const name of names) {
    if (name === '') throw new MdsError('EINVAL', `path ${show(path)} has an empty name (//)`);
    if (name === '.' || name === '..')
      throw new MdsError('EINVAL', `path ${show(path)} has a "${name}" name; give a normalized path`);
    if (name.includes('\0')) throw new MdsError('EINVAL', `path ${show(path)} contains a NUL character`);
    const nameBytes = Buffer.byteLength(name, 'utf8');
    if (nameBytes > NAMESPACE_LIMITS.maxNameBytes)
      throw new MdsError(
        'ENAMETOOLONG',
        `name ${show(name)} in path ${show(path)} is ${nameBytes} bytes, longer than ${NAMESPACE_LIMITS.maxNameBytes}`,
      );
  }
  return names;
}

function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0'))
    throw new MdsError('EINVAL', `name ${show(name)} is not a valid directory entry name`);
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > NAMESPACE_LIMITS.maxNameBytes)
    throw new MdsError(
      'ENAMETOOLONG',
      `name ${show(name)} is ${bytes} bytes, longer than ${NAMESPACE_LIMITS.maxNameBytes}`,
    );
}

function checkInteger(field: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max)
    throw new MdsError('EINVAL', `${field} must be an integer 0..${max}, got ${value}`);
}

function handleFor(ino: number, salt: number): string {
  return createHash('sha256').update(`mds-handle:${ino}:${salt}`).digest('hex').slice(0, 16);
}

/**
 * The metadata server's state: a namespace tree of directories and files. Pure and deterministic:
 * the same sequence of calls gives the same answers, inode numbers, handles and digest, so every
 * replica that applies the same requests in the same order ends in the same state. Time is
 * logical (the count of changes), never the wall clock.
 *
 * Every operation either changes nothing and throws an `MdsError`, or succeeds completely.
 */
export class Namespace {
  private root: Inode;
  private byHandle = new Map<string, Inode>();
  private nextIno = 2;
  private changes = 0;
  private inodeCount = 1;

  constructor() {
    this.root = this.allocate(1, 'dir', DEFAULT_DIR_MODE, undefined, '');
  }

  /** Number of successful changes applied so far. */
  get version(): number {
    return this.changes;
  }

  /** Number of inodes, root included. */
  get size(): number {
    return this.inodeCount;
  }

  /** Creates a directory; ENOENT/ENOTDIR for a bad parent, EEXIST if the name is taken. */
  mkdir(path: string, mode: number = DEFAULT_DIR_MODE): Attributes {
    return this.attributes(this.createAt(path, 'dir', mode));
  }

  /** Creates an empty file (exclusively); ENOENT/ENOTDIR for a bad parent, EEXIST if the name is taken. */
  create(path: string, mode: number = DEFAULT_FILE_MODE): Attributes {
    return this.attributes(this.createAt(path, 'file', mode));
  }

  /** Resolves a path to its inode number, handle and type; ENOENT or ENOTDIR on the way. */
  lookup(path: string): LookupResult {
    return this.entry(this.resolve(path));
  }

  /** Resolves one name in the directory with handle `parent`; ESTALE, ENOTDIR or ENOENT. */
  lookupAt(parent: string, name: string): LookupResult {
    checkName(name);
    const dir = this.byHandleOrThrow(parent);
    if (!dir.children) throw new MdsError('ENOTDIR', `handle ${parent} is not a directory`);
    const child = dir.children.get(name);
    if (!child) throw new MdsError('ENOENT', `no entry ${show(name)} in directory ${show(this.pathOf(dir))}`);
    return this.entry(child);
  }

  /** Lists a directory, entries sorted by name; ENOTDIR for a file. */
  readdir(target: Target): { entries: DirEntry[] } {
    const dir = this.target(target);
    if (!dir.children) throw new MdsError('ENOTDIR', `${show(this.pathOf(dir))} is not a directory`);
    const names = [...dir.children.keys()].sort();
    return {
      entries: names.map((name) => {
        const child = dir.children!.get(name)!;
        return { name, ino: child.ino, handle: child.handle, type: child.type };
      }),
    };
  }

  /** The attributes of a path or handle. */
  stat(target: Target): Attributes {
    return this.attributes(this.target(target));
  }

  /** Changes attributes; EINVAL for an empty change or a bad value, EISDIR for the size of a directory. */
  setattr(target: Target, changes: AttributeChanges): Attributes {
    const node = this.target(target);
    const given = (['mode', 'uid', 'gid', 'size', 'mtime'] as const).filter((k) => changes[k] !== undefined);
    if (given.length === 0)
      throw new MdsError('EINVAL', 'setattr changes nothing; give at least one of mode, uid, gid, size, mtime');
    if (changes.mode !== undefined) checkInteger('mode', changes.mode, NAMESPACE_LIMITS.maxMode);
    if (changes.uid !== undefined) checkInteger('uid', changes.uid, NAMESPACE_LIMITS.maxId);
    if (changes.gid !== undefined) checkInteger('gid', changes.gid, NAMESPACE_LIMITS.maxId);
    if (changes.size !== undefined) {
      checkInteger('size', changes.size, Number.MAX_SAFE_INTEGER);
      if (node.type === 'dir')
        throw new MdsError('EISDIR', `cannot set the size of directory ${show(this.pathOf(node))}`);
    }
    if (changes.mtime !== undefined) checkInteger('mtime', changes.mtime, Number.MAX_SAFE_INTEGER);
    const now = this.tick();
    if (changes.mode !== undefined) node.mode = changes.mode;
    if (changes.uid !== undefined) node.uid = changes.uid;
    if (changes.gid !== undefined) node.gid = changes.gid;
    if (changes.size !== undefined) {
      node.size = changes.size;
      node.mtime = now;
    }
    if (changes.mtime !== undefined) node.mtime = changes.mtime;
    node.ctime = now;
    return this.attributes(node);
  }

  /**
   * Moves `from` to `to` with POSIX semantics: an existing destination of the same kind is
   * replaced (a directory only when empty: ENOTEMPTY); file over directory is EISDIR, directory
   * over file ENOTDIR; a directory into its own subtree EINVAL; a rename onto itself changes nothing.
   */
  rename(from: string, to: string): RenameResult {
    const fromNames = parsePath(from);
    const toNames = parsePath(to);
    if (fromNames.length === 0) throw new MdsError('EINVAL', 'cannot rename the root directory');
    if (toNames.length === 0) throw new MdsError('EINVAL', 'cannot rename onto the root directory');
    const srcDir = this.parentOf(fromNames, from);
    const srcName = fromNames[fromNames.length - 1]!;
    const node = srcDir.children!.get(srcName);
    if (!node) throw new MdsError('ENOENT', `no such file or directory: ${show(from)}`);
    const dstDir = this.parentOf(toNames, to);
    const dstName = toNames[toNames.length - 1]!;
    if (node.type === 'dir')
      for (let up: Inode | undefined = dstDir; up; up = up.parent)
        if (up === node) throw new MdsError('EINVAL', `cannot move directory ${show(from)} into itself (${show(to)})`);
    const existing = dstDir.children!.get(dstName);
    if (existing === node) return { ino: node.ino, replaced: null };
    if (existing) {
      if (node.type === 'file' && existing.type === 'dir')
        throw new MdsError('EISDIR', `cannot replace directory ${show(to)} with file ${show(from)}`);
      if (node.type === 'dir' && existing.type === 'file')
        throw new MdsError('ENOTDIR', `cannot replace file ${show(to)} with directory ${show(from)}`);
      if (existing.children && existing.children.size > 0)
        throw new MdsError('ENOTEMPTY', `cannot replace directory ${show(to)}: not empty`);
    }
    const now = this.tick();
    if (existing) this.unlink(existing);
    srcDir.children!.delete(srcName);
    if (node.type === 'dir') {
      srcDir.subdirs--;
      dstDir.subdirs++;
    }
    dstDir.children!.set(dstName, node);
    node.parent = dstDir;
    node.name = dstName;
    node.ctime = now;
    for (const dir of [srcDir, dstDir]) dir.mtime = dir.ctime = now;
    return { ino: node.ino, replaced: existing ? existing.ino : null };
  }

  /** Removes a file or an empty directory; ENOTEMPTY for a non-empty one, EINVAL for the root. */
  remove(path: string): RemoveResult {
    const names = parsePath(path);
    if (names.length === 0) throw new MdsError('EINVAL', 'cannot remove the root directory');
    const dir = this.parentOf(names, path);
    const node = dir.children!.get(names[names.length - 1]!);
    if (!node) throw new MdsError('ENOENT', `no such file or directory: ${show(path)}`);
    if (node.children && node.children.size > 0)
      throw new MdsError('ENOTEMPTY', `directory ${show(path)} is not empty (${node.children.size} entries)`);
    const now = this.tick();
    this.unlink(node);
    dir.mtime = dir.ctime = now;
    return { ino: node.ino, type: node.type };
  }

  /** A hash of the whole namespace: equal for equal namespaces, different otherwise. */
  digest(): DigestResult {
    const digest = createHash('sha256').update(JSON.stringify(this.snapshot())).digest('hex');
    return { digest, inodes: this.inodeCount, version: this.changes };
  }

  /** The whole namespace as plain data (its canonical form: the digest hashes it). */
  snapshot(): NamespaceSnapshot {
    const inodes: SnapshotInode[] = [];
    const visit = (node: Inode, path: string): void => {
      inodes.push({
        path,
        ino: node.ino,
        handle: node.handle,
        type: node.type,
        mode: node.mode,
        uid: node.uid,
        gid: node.gid,
        size: node.type === 'file' ? node.size : 0,
        mtime: node.mtime,
        ctime: node.ctime,
      });
      if (node.children)
        for (const name of [...node.children.keys()].sort())
          visit(node.children.get(name)!, path === '/' ? `/${name}` : `${path}/${name}`);
    };
    visit(this.root, '/');
    return { format: SNAPSHOT_FORMAT, version: this.changes, nextIno: this.nextIno, inodes };
  }

  /** Replaces the whole state with a snapshot's; EINVAL (and nothing changed) if the snapshot is inconsistent. */
  load(snapshot: NamespaceSnapshot): void {
    this.adopt(Namespace.restore(snapshot));
  }

  /** Goes back to the initial state: only the root, version 0, next inode 2. */
  reset(): void {
    this.adopt(new Namespace());
  }

  /** Rebuilds a namespace from `snapshot()`; EINVAL naming the first inconsistency found. */
  static restore(snapshot: NamespaceSnapshot): Namespace {
    const bad = (what: string): MdsError => new MdsError('EINVAL', `bad snapshot: ${what}`);
    if (snapshot === null || typeof snapshot !== 'object' || snapshot.format !== SNAPSHOT_FORMAT)
      throw bad(`format must be "${SNAPSHOT_FORMAT}"`);
    if (!Number.isSafeInteger(snapshot.version) || snapshot.version < 0) throw bad('version must be an integer >= 0');
    if (!Number.isSafeInteger(snapshot.nextIno) || snapshot.nextIno < 2) throw bad('nextIno must be an integer >= 2');
    if (!Array.isArray(snapshot.inodes) || snapshot.inodes.length === 0) throw bad('inodes must start with the root');
    const ns = new Namespace();
    ns.byHandle.clear();
    const byPath = new Map<string, Inode>();
    const inos = new Set<number>();
    snapshot.inodes.forEach((s, i) => {
      const where = `inodes[${i}]`;
      if (s === null || typeof s !== 'object') throw bad(`${where} is not an object`);
      if (s.type !== 'dir' && s.type !== 'file') throw bad(`${where}.type must be dir or file`);
      if (!Number.isSafeInteger(s.ino) || s.ino < 1 || s.ino >= snapshot.nextIno || inos.has(s.ino))
        throw bad(`${where}.ino ${s.ino} is not a unique inode number below nextIno`);
      if (typeof s.handle !== 'string' || !HANDLE_PATTERN.test(s.handle) || ns.byHandle.has(s.handle))
        throw bad(`${where}.handle is not a unique 16-hex-digit handle`);
      try {
        checkInteger('mode', s.mode, NAMESPACE_LIMITS.maxMode);
        checkInteger('uid', s.uid, NAMESPACE_LIMITS.maxId);
        checkInteger('gid', s.gid, NAMESPACE_LIMITS.maxId);
        for (const f of ['size', 'mtime', 'ctime'] as const) checkInteger(f, s[f], Number.MAX_SAFE_INTEGER);
      } catch (e) {
        throw bad(`${where}: ${(e as Error).message}`);
      }
      let node: Inode;
      if (i === 0) {
        if (s.path !== '/' || s.type !== 'dir' || s.ino !== 1) throw bad('inodes[0] must be the root directory, ino 1');
        node = ns.root;
        (node as { handle: string }).handle = s.handle;
      } else {
        let names: string[];
        try {
          names = typeof s.path === 'string' ? parsePath(s.path) : [];
        } catch (e) {
          throw bad(`${where}.path: ${(e as Error).message}`);
        }
        if (names.length === 0) throw bad(`${where}.path must be a non-root absolute path`);
        const parentPath = names.length === 1 ? '/' : `/${names.slice(0, -1).join('/')}`;
        const parent = byPath.get(parentPath);
        if (!parent || !parent.children) throw bad(`${where}.path ${show(s.path)} has no directory parent before it`);
        const name = names[names.length - 1]!;
        if (parent.children.has(name)) throw bad(`${where}.path ${show(s.path)} appears twice`);
        node = {
          ino: s.ino,
          handle: s.handle,
          type: s.type,
          mode: 0,
          uid: 0,
          gid: 0,
          size: 0,
          mtime: 0,
          ctime: 0,
          parent,
          name,
          children: s.type === 'dir' ? new Map() : undefined,
          subdirs: 0,
        };
        parent.children.set(name, node);
        if (s.type === 'dir') parent.subdirs++;
        ns.inodeCount++;
      }
      node.mode = s.mode;
      node.uid = s.uid;
      node.gid = s.gid;
      node.size = s.type === 'file' ? s.size : 0;
      node.mtime = s.mtime;
      node.ctime = s.ctime;
      inos.add(s.ino);
      ns.byHandle.set(s.handle, node);
      byPath.set(s.path, node);
    });
    ns.nextIno = snapshot.nextIno;
    ns.changes = snapshot.version;
    return ns;
  }

  private adopt(other: Namespace): void {
    this.root = other.root;
    this.byHandle = other.byHandle;
    this.nextIno = other.nextIno;
    this.changes = other.changes;
    this.inodeCount = other.inodeCount;
  }

  private tick(): number {
    return ++this.changes;
  }

  private allocate(ino: number, type: NodeType, mode: number, parent: Inode | undefined, name: string): Inode {
    let salt = 0;
    let handle = handleFor(ino, salt);
    // A 64-bit prefix collision is practically impossible; the salt keeps handles unique anyway,
    // and stays deterministic because every replica sees the same collisions.
    while (this.byHandle.has(handle)) handle = handleFor(ino, ++salt);
    const node: Inode = {
      ino,
      handle,
      type,
      mode,
      uid: 0,
      gid: 0,
      size: 0,
      mtime: this.changes,
      ctime: this.changes,
      parent,
      name,
      children: type === 'dir' ? new Map() : undefined,
      subdirs: 0,
    };
    this.byHandle.set(handle, node);
    return node;
  }

  private createAt(path: string, type: NodeType, mode: number): Inode {
    const names = parsePath(path);
    checkInteger('mode', mode, NAMESPACE_LIMITS.maxMode);
    if (names.length === 0) throw new MdsError('EEXIST', 'the root directory "/" already exists');
    const dir = this.parentOf(names, path);
    const name = names[names.length - 1]!;
    if (dir.children!.has(name)) throw new MdsError('EEXIST', `${show(path)} already exists`);
    const now = this.tick();
    const node = this.allocate(this.nextIno++, type, mode, dir, name);
    node.mtime = node.ctime = now;
    dir.children!.set(name, node);
    if (type === 'dir') dir.subdirs++;
    dir.mtime = dir.ctime = now;
    this.inodeCount++;
    return node;
  }

  private unlink(node: Inode): void {
    const dir = node.parent!;
    dir.children!.delete(node.name);
    if (node.type === 'dir') dir.subdirs--;
    this.byHandle.delete(node.handle);
    node.parent = undefined;
    this.inodeCount--;
  }

  private resolve(path: string): Inode {
    const names = parsePath(path);
    let node = this.root;
    for (let i = 0; i < names.length; i++) {
      if (!node.children)
        throw new MdsError('ENOTDIR', `${show(this.pathOf(node))} is not a directory (resolving ${show(path)})`);
      const child = node.children.get(names[i]!);
      if (!child) throw new MdsError('ENOENT', `no such file or directory: ${show(path)}`);
      node = child;
    }
    return node;
  }

  private parentOf(names: readonly string[], path: string): Inode {
    let dir = this.root;
    for (let i = 0; i < names.length - 1; i++) {
      const child = dir.children!.get(names[i]!);
      if (!child)
        throw new MdsError(
          'ENOENT',
          `no such directory: ${show(`/${names.slice(0, i + 1).join('/')}`)} (resolving ${show(path)})`,
        );
      if (!child.children)
        throw new MdsError(
          'ENOTDIR',
          `${show(`/${names.slice(0, i + 1).join('/')}`)} is not a directory (resolving ${show(path)})`,
        );
      dir = child;
    }
    return dir;
  }

  private target(target: Target): Inode {
    if (target.path !== undefined && target.handle !== undefined)
      throw new MdsError('EINVAL', 'give either path or handle, not both');
    if (target.handle !== undefined) return this.byHandleOrThrow(target.handle);
    if (target.path === undefined) throw new MdsError('EINVAL', 'give a path or a handle');
    return this.resolve(target.path);
  }

  private byHandleOrThrow(handle: string): Inode {
    if (!HANDLE_PATTERN.test(handle))
      throw new MdsError('EINVAL', `handle ${show(handle)} is not 16 lower-case hex digits`);
    const node = this.byHandle.get(handle);
    if (!node) throw new MdsError('ESTALE', `handle ${handle} names no inode (never allocated, or removed)`);
    return node;
  }

  private pathOf(node: Inode): string {
    const names: string[] = [];
    for (let n: Inode | undefined = node; n && n.parent; n = n.parent) names.push(n.name);
    return `/${names.reverse().join('/')}`;
  }

  private entry(node: Inode): LookupResult {
    return { ino: node.ino, handle: node.handle, type: node.type };
  }

  private attributes(node: Inode): Attributes {
    return {
      ino: node.ino,
      handle: node.handle,
      type: node.type,
      mode: node.mode,
      uid: node.uid,
      gid: node.gid,
      size: node.children ? node.children.size : node.size,
      nlink: node.children ? 2 + node.subdirs : 1,
      mtime: node.mtime,
      ctime: node.ctime,
    };
  }
}
