import fc from 'fast-check';
import { MdsError, type MdsErrorCode } from './errors';
import { DEFAULT_DIR_MODE, DEFAULT_FILE_MODE, Namespace, parsePath } from './namespace';

function code(fn: () => unknown): MdsErrorCode | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof MdsError) return e.code;
    throw e;
  }
}

function errorOf(fn: () => unknown): MdsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof MdsError) return e;
    throw e;
  }
  throw new Error('expected an MdsError');
}

/** Applies the same history to a namespace and returns it. */
function history(ns: Namespace, variant = 0): Namespace {
  ns.mkdir('/a');
  ns.mkdir('/a/b');
  ns.create('/a/f');
  ns.create('/a/b/g', 0o600);
  ns.setattr({ path: '/a/f' }, { size: 100 + variant });
  ns.rename('/a/f', '/a/b/h');
  ns.mkdir('/c');
  ns.remove('/c');
  return ns;
}

describe('parsePath', () => {
  it('splits absolute paths and accepts the root', () => {
    expect(parsePath('/')).toEqual([]);
    expect(parsePath('/a')).toEqual(['a']);
    expect(parsePath('/a/b c/d')).toEqual(['a', 'b c', 'd']);
  });

  it.each([
    ['a/b', 'EINVAL', 'not absolute'],
    ['', 'EINVAL', 'not absolute'],
    ['/a/', 'EINVAL', 'ends with /'],
    ['/a//b', 'EINVAL', 'empty name'],
    ['/a/./b', 'EINVAL', '"." name'],
    ['/a/../b', 'EINVAL', '".." name'],
    ['/a\0b', 'EINVAL', 'NUL'],
    [`/${'n'.repeat(256)}`, 'ENAMETOOLONG', 'longer than 255'],
    [`/${'abcdefg/'.repeat(600)}x`, 'ENAMETOOLONG', 'longer than 4096'],
  ])('refuses %j with %s naming the problem', (path, expected, words) => {
    const err = errorOf(() => parsePath(path));
    expect(err.code).toBe(expected);
    expect(err.message).toContain(words);
  });

  it('counts name length in UTF-8 bytes', () => {
    expect(parsePath(`/${'é'.repeat(127)}`)).toHaveLength(1);
    expect(code(() => parsePath(`/${'é'.repeat(128)}`))).toBe('ENAMETOOLONG');
  });
});

describe('Namespace', () => {
  describe('a fresh namespace', () => {
    it('holds only the root directory, inode 1, version 0', () => {
      const ns = new Namespace();
      expect(ns.stat({ path: '/' })).toMatchObject({ ino: 1, type: 'dir', size: 0, nlink: 2, mode: DEFAULT_DIR_MODE });
      expect(ns.readdir({ path: '/' }).entries).toEqual([]);
      expect(ns.version).toBe(0);
      expect(ns.size).toBe(1);
    });
  });

  describe('mkdir', () => {
    it('creates a directory with the next inode number and default mode', () => {
      const ns = new Namespace();
      const a = ns.mkdir('/a');
      expect(a).toMatchObject({ ino: 2, type: 'dir', mode: 0o755, size: 0, nlink: 2, mtime: 1, ctime: 1 });
      expect(a.handle).toMatch(/^[0-9a-f]{16}$/);
      expect(ns.mkdir('/a/b', 0o700)).toMatchObject({ ino: 3, mode: 0o700 });
      expect(ns.stat({ path: '/a' })).toMatchObject({ size: 1, nlink: 3, mtime: 2 });
      expect(ns.stat({ path: '/' })).toMatchObject({ size: 1, nlink: 3 });
    });

    it('refuses an existing name, a missing parent, a file parent, the root and a bad mode', () => {
      const ns = new Namespace();
      ns.mkdir('/a');
      ns.create('/f');
      expect(code(() => ns.mkdir('/a'))).toBe('EEXIST');
      expect(code(() => ns.mkdir('/f'))).toBe('EEXIST');
      expect(code(() => ns.mkdir('/x/y'))).toBe('ENOENT');
      expect(code(() => ns.mkdir('/f/y'))).toBe('ENOTDIR');
      expect(code(() => ns.mkdir('/'))).toBe('EEXIST');
      expect(code(() => ns.mkdir('/m', 0o10000))).toBe('EINVAL');
      expect(code(() => ns.mkdir('/m', -1))).toBe('EINVAL');
      expect(code(() => ns.mkdir('/m', 1.5))).toBe('EINVAL');
      expect(code(() => ns.mkdir('relative'))).toBe('EINVAL');
      expect(ns.version).toBe(2);
    });

    it('names the missing or non-directory component', () => {
      const ns = new Namespace();
      ns.create('/f');
      expect(errorOf(() => ns.mkdir('/x/y/z')).message).toContain('"/x"');
      expect(errorOf(() => ns.mkdir('/f/y')).message).toContain('"/f" is not a directory');
    });
  });

  describe('create', () => {
    it('creates an empty file, exclusively', () => {
      const ns = new Namespace();
      ns.mkdir('/d');
      expect(ns.create('/d/f')).toMatchObject({ ino: 3, type: 'file', size: 0, nlink: 1, mode: DEFAULT_FILE_MODE });
      expect(code(() => ns.create('/d/f'))).toBe('EEXIST');
      expect(code(() => ns.create('/d'))).toBe('EEXIST');
      expect(code(() => ns.create('/nope/f'))).toBe('ENOENT');
      expect(code(() => ns.create('/d/f/g'))).toBe('ENOTDIR');
      expect(code(() => ns.create('/'))).toBe('EEXIST');
      expect(ns.stat({ path: '/d' })).toMatchObject({ size: 1, nlink: 2 });
    });
  });

  describe('lookup', () => {
    it('resolves paths and names under a directory handle', () => {
      const ns = new Namespace();
      const d = ns.mkdir('/d');
      const f = ns.create('/d/f');
      expect(ns.lookup('/d/f')).toEqual({ ino: f.ino, handle: f.handle, type: 'file' });
      expect(ns.lookup('/')).toMatchObject({ ino: 1, type: 'dir' });
      expect(ns.lookupAt(d.handle, 'f')).toEqual({ ino: f.ino, handle: f.handle, type: 'file' });
    });

    it('refuses missing names, files in the middle, stale and malformed handles', () => {
      const ns = new Namespace();
      const d = ns.mkdir('/d');
      const f = ns.create('/d/f');
      expect(code(() => ns.lookup('/d/g'))).toBe('ENOENT');
      expect(code(() => ns.lookup('/d/f/g'))).toBe('ENOTDIR');
      expect(code(() => ns.lookupAt(d.handle, 'g'))).toBe('ENOENT');
      expect(code(() => ns.lookupAt(f.handle, 'g'))).toBe('ENOTDIR');
      expect(code(() => ns.lookupAt('0123456789abcdef', 'g'))).toBe('ESTALE');
      expect(code(() => ns.lookupAt('not-a-handle', 'g'))).toBe('EINVAL');
      expect(code(() => ns.lookupAt(d.handle, 'a/b'))).toBe('EINVAL');
      expect(code(() => ns.lookupAt(d.handle, '..'))).toBe('EINVAL');
      expect(code(() => ns.lookupAt(d.handle, 'x'.repeat(256)))).toBe('ENAMETOOLONG');
    });
  });

  describe('readdir', () => {
    it('lists entries sorted by name, by path or by handle', () => {
      const ns = new Namespace();
      const d = ns.mkdir('/d');
      ns.create('/d/b');
      ns.mkdir('/d/a');
      ns.create('/d/c');
      const byPath = ns.readdir({ path: '/d' });
      expect(byPath.entries.map((e) => [e.name, e.type])).toEqual([
        ['a', 'dir'],
        ['b', 'file'],
        ['c', 'file'],
      ]);
      expect(ns.readdir({ handle: d.handle })).toEqual(byPath);
    });

    it('refuses a file, a missing path and a stale handle', () => {
      const ns = new Namespace();
      const f = ns.create('/f');
      expect(code(() => ns.readdir({ path: '/f' }))).toBe('ENOTDIR');
      expect(code(() => ns.readdir({ handle: f.handle }))).toBe('ENOTDIR');
      expect(code(() => ns.readdir({ path: '/g' }))).toBe('ENOENT');
      ns.remove('/f');
      expect(code(() => ns.readdir({ handle: f.handle }))).toBe('ESTALE');
    });
  });

  describe('stat', () => {
    it('answers by path and by handle alike, and refuses both or neither', () => {
      const ns = new Namespace();
      const f = ns.create('/f');
      expect(ns.stat({ handle: f.handle })).toEqual(ns.stat({ path: '/f' }));
      expect(code(() => ns.stat({ path: '/f', handle: f.handle } as never))).toBe('EINVAL');
      expect(code(() => ns.stat({} as never))).toBe('EINVAL');
      expect(code(() => ns.stat({ path: '/g' }))).toBe('ENOENT');
    });
  });

  describe('setattr', () => {
    it('changes mode, owner, size and mtime, and bumps ctime', () => {
      const ns = new Namespace();
      const f = ns.create('/f');
      const a = ns.setattr({ path: '/f' }, { mode: 0o600, uid: 1000, gid: 100 });
      expect(a).toMatchObject({ mode: 0o600, uid: 1000, gid: 100, mtime: f.mtime, ctime: 2 });
      const b = ns.setattr({ handle: f.handle }, { size: 4096 });
      expect(b).toMatchObject({ size: 4096, mtime: 3, ctime: 3 });
      const c = ns.setattr({ path: '/f' }, { mtime: 42 });
      expect(c).toMatchObject({ mtime: 42, ctime: 4 });
      expect(ns.setattr({ path: '/' }, { mode: 0o700 })).toMatchObject({ mode: 0o700 });
    });

    it('refuses an empty change, bad values and the size of a directory, changing nothing', () => {
      const ns = new Namespace();
      ns.create('/f');
      ns.mkdir('/d');
      const before = ns.digest();
      expect(code(() => ns.setattr({ path: '/f' }, {}))).toBe('EINVAL');
      expect(code(() => ns.setattr({ path: '/f' }, { mode: 0o17777 }))).toBe('EINVAL');
      expect(code(() => ns.setattr({ path: '/f' }, { uid: 2 ** 32 }))).toBe('EINVAL');
      expect(code(() => ns.setattr({ path: '/f' }, { gid: -1 }))).toBe('EINVAL');
      expect(code(() => ns.setattr({ path: '/f' }, { size: -5 }))).toBe('EINVAL');
      expect(code(() => ns.setattr({ path: '/f' }, { mtime: 0.5 }))).toBe('EINVAL');
      expect(code(() => ns.setattr({ path: '/f' }, { mode: 0o600, size: -1 }))).toBe('EINVAL');
      expect(code(() => ns.setattr({ path: '/d' }, { size: 10 }))).toBe('EISDIR');
      expect(code(() => ns.setattr({ path: '/g' }, { mode: 0o600 }))).toBe('ENOENT');
      expect(ns.digest()).toEqual(before);
      expect(ns.stat({ path: '/f' }).mode).toBe(DEFAULT_FILE_MODE);
    });
  });

  describe('rename', () => {
    it('moves a file between directories, keeping its inode and handle', () => {
      const ns = new Namespace();
      ns.mkdir('/a');
      ns.mkdir('/b');
      const f = ns.create('/a/f');
      expect(ns.rename('/a/f', '/b/g')).toEqual({ ino: f.ino, replaced: null });
      expect(ns.lookup('/b/g')).toEqual({ ino: f.ino, handle: f.handle, type: 'file' });
      expect(code(() => ns.lookup('/a/f'))).toBe('ENOENT');
      expect(ns.stat({ path: '/a' })).toMatchObject({ size: 0, mtime: 4, ctime: 4 });
      expect(ns.stat({ path: '/b' })).toMatchObject({ size: 1, mtime: 4 });
      expect(ns.stat({ path: '/b/g' }).ctime).toBe(4);
    });

    it('moves a directory with its subtree and keeps link counts right', () => {
      const ns = new Namespace();
      ns.mkdir('/a');
      ns.mkdir('/a/d');
      ns.create('/a/d/f');
      ns.mkdir('/b');
      ns.rename('/a/d', '/b/d2');
      expect(ns.lookup('/b/d2/f').type).toBe('file');
      expect(ns.stat({ path: '/a' }).nlink).toBe(2);
      expect(ns.stat({ path: '/b' }).nlink).toBe(3);
    });

    it('replaces an existing file and an existing empty directory', () => {
      const ns = new Namespace();
      const f = ns.create('/f');
      const g = ns.create('/g');
      expect(ns.rename('/f', '/g')).toEqual({ ino: f.ino, replaced: g.ino });
      expect(code(() => ns.stat({ handle: g.handle }))).toBe('ESTALE');
      ns.mkdir('/d');
      const e = ns.mkdir('/e');
      expect(ns.rename('/d', '/e')).toMatchObject({ replaced: e.ino });
      expect(ns.readdir({ path: '/' }).entries.map((x) => x.name)).toEqual(['e', 'g']);
      expect(ns.stat({ path: '/' }).nlink).toBe(3);
      expect(ns.size).toBe(3);
    });

    it('treats a rename onto itself as a no-op', () => {
      const ns = new Namespace();
      const f = ns.create('/f');
      const before = ns.digest();
      expect(ns.rename('/f', '/f')).toEqual({ ino: f.ino, replaced: null });
      expect(ns.digest()).toEqual(before);
    });

    it('refuses every bad case with its own code, changing nothing', () => {
      const ns = new Namespace();
      ns.mkdir('/a');
      ns.mkdir('/a/sub');
      ns.mkdir('/full');
      ns.create('/full/x');
      ns.mkdir('/empty');
      ns.create('/f');
      const before = ns.digest();
      expect(code(() => ns.rename('/nope', '/z'))).toBe('ENOENT');
      expect(code(() => ns.rename('/f', '/nope/z'))).toBe('ENOENT');
      expect(code(() => ns.rename('/f', '/f/z'))).toBe('ENOTDIR');
      expect(code(() => ns.rename('/f', '/empty'))).toBe('EISDIR');
      expect(code(() => ns.rename('/empty', '/f'))).toBe('ENOTDIR');
      expect(code(() => ns.rename('/empty', '/full'))).toBe('ENOTEMPTY');
      expect(code(() => ns.rename('/a', '/a/sub/x'))).toBe('EINVAL');
      expect(code(() => ns.rename('/a', '/a/x'))).toBe('EINVAL');
      expect(code(() => ns.rename('/', '/x'))).toBe('EINVAL');
      expect(code(() => ns.rename('/f', '/'))).toBe('EINVAL');
      expect(code(() => ns.rename('f', '/x'))).toBe('EINVAL');
      expect(ns.digest()).toEqual(before);
    });
  });

  describe('remove', () => {
    it('removes files and empty directories, freeing their handles', () => {
      const ns = new Namespace();
      const d = ns.mkdir('/d');
      const f = ns.create('/d/f');
      expect(ns.remove('/d/f')).toEqual({ ino: f.ino, type: 'file' });
      expect(ns.remove('/d')).toEqual({ ino: d.ino, type: 'dir' });
      expect(code(() => ns.stat({ handle: f.handle }))).toBe('ESTALE');
      expect(ns.readdir({ path: '/' }).entries).toEqual([]);
      expect(ns.stat({ path: '/' })).toMatchObject({ nlink: 2, size: 0 });
      expect(ns.size).toBe(1);
    });

    it('refuses a missing path, a non-empty directory and the root', () => {
      const ns = new Namespace();
      ns.mkdir('/d');
      ns.create('/d/f');
      ns.create('/g');
      expect(code(() => ns.remove('/x'))).toBe('ENOENT');
      expect(code(() => ns.remove('/x/y'))).toBe('ENOENT');
      expect(code(() => ns.remove('/g/y'))).toBe('ENOTDIR');
      expect(errorOf(() => ns.remove('/d')).message).toContain('not empty (1 entries)');
      expect(code(() => ns.remove('/'))).toBe('EINVAL');
    });
  });

  describe('inode numbers and handles', () => {
    it('are allocated in order and never reused', () => {
      const ns = new Namespace();
      expect(ns.create('/a').ino).toBe(2);
      ns.remove('/a');
      expect(ns.create('/a').ino).toBe(3);
      expect(ns.mkdir('/b').ino).toBe(4);
      expect(code(() => ns.create('/a'))).toBe('EEXIST');
      expect(ns.create('/c').ino).toBe(5);
    });

    it('are the same in every namespace given the same history', () => {
      const x = history(new Namespace());
      const y = history(new Namespace());
      expect(x.readdir({ path: '/a/b' })).toEqual(y.readdir({ path: '/a/b' }));
      const handles = new Set(x.snapshot().inodes.map((i) => i.handle));
      expect(handles.size).toBe(x.size);
    });
  });

  describe('digest', () => {
    it('is equal for identical histories', () => {
      const x = history(new Namespace()).digest();
      const y = history(new Namespace()).digest();
      expect(x).toEqual(y);
      expect(x.digest).toMatch(/^[0-9a-f]{64}$/);
      expect(x).toMatchObject({ inodes: 5, version: 8 });
    });

    it('differs for different histories, even with the same names', () => {
      const base = history(new Namespace()).digest().digest;
      expect(history(new Namespace(), 1).digest().digest).not.toBe(base);
      const other = history(new Namespace());
      other.setattr({ path: '/a' }, { mode: 0o700 });
      expect(other.digest().digest).not.toBe(base);
      // Same final names, different inode numbers: create/remove/create.
      const p = new Namespace();
      p.create('/f');
      const q = new Namespace();
      q.create('/f');
      q.remove('/f');
      q.create('/f');
      expect(p.readdir({ path: '/' }).entries.map((e) => e.name)).toEqual(['f']);
      expect(p.digest().digest).not.toBe(q.digest().digest);
    });

    it('does not change on reads or refused requests', () => {
      const ns = history(new Namespace());
      const before = ns.digest();
      ns.readdir({ path: '/a' });
      ns.stat({ path: '/a/b/h' });
      ns.lookup('/a/b');
      expect(code(() => ns.remove('/a'))).toBe('ENOTEMPTY');
      expect(ns.digest()).toEqual(before);
    });
  });

  describe('snapshot and restore', () => {
    it('round-trips to an identical namespace that then evolves identically', () => {
      const ns = history(new Namespace());
      const copy = Namespace.restore(JSON.parse(JSON.stringify(ns.snapshot())));
      expect(copy.digest()).toEqual(ns.digest());
      for (const n of [ns, copy]) {
        n.create('/a/new');
        n.rename('/a/b', '/z');
      }
      expect(copy.digest()).toEqual(ns.digest());
      expect(copy.stat({ path: '/z' })).toEqual(ns.stat({ path: '/z' }));
      expect(copy.stat({ path: '/' })).toEqual(ns.stat({ path: '/' }));
    });

    it('loads a snapshot in place, or changes nothing when it is inconsistent, and resets', () => {
      const source = history(new Namespace());
      const ns = new Namespace();
      ns.create('/other');
      const before = ns.digest();
      expect(code(() => ns.load({ ...source.snapshot(), nextIno: 1 }))).toBe('EINVAL');
      expect(ns.digest()).toEqual(before);
      ns.load(source.snapshot());
      expect(ns.digest()).toEqual(source.digest());
      expect(ns.create('/a/next').ino).toBe(source.create('/a/next').ino);
      ns.reset();
      expect(ns.digest()).toEqual(new Namespace().digest());
      expect(ns.mkdir('/x').ino).toBe(2);
    });

    it('answers any corruption of a snapshot with EINVAL or a consistent namespace, never another error (fuzzed)', () => {
      const snap = history(new Namespace()).snapshot();
      const fields = ['path', 'ino', 'handle', 'type', 'mode', 'uid', 'gid', 'size', 'mtime', 'ctime'];
      fc.assert(
        fc.property(
          fc.nat({ max: snap.inodes.length - 1 }),
          fc.constantFrom(...fields, 'version', 'nextIno', 'inodes', 'format', '(entry)'),
          fc.anything(),
          (i, field, value) => {
            const s = JSON.parse(JSON.stringify(snap));
            if (field === '(entry)') s.inodes[i] = value;
            else if (fields.includes(field)) s.inodes[i][field] = value;
            else s[field] = value;
            try {
              const ns = Namespace.restore(s);
              expect(Namespace.restore(ns.snapshot()).digest()).toEqual(ns.digest());
            } catch (e) {
              expect(e).toBeInstanceOf(MdsError);
              expect((e as MdsError).code).toBe('EINVAL');
            }
          },
        ),
        { numRuns: 2000, seed: 7 },
      );
    });

    it('refuses inconsistent snapshots with EINVAL naming the problem', () => {
      const snap = history(new Namespace()).snapshot();
      const broken = (change: (s: { inodes: Record<string, unknown>[]; [k: string]: unknown }) => void): string => {
        const s = JSON.parse(JSON.stringify(snap));
        change(s);
        const err = errorOf(() => Namespace.restore(s));
        expect(err.code).toBe('EINVAL');
        return err.message;
      };
      expect(broken((s) => (s['format'] = 'x'))).toContain('format');
      expect(broken((s) => (s['nextIno'] = 3))).toContain('below nextIno');
      expect(broken((s) => (s.inodes[2]!['ino'] = s.inodes[1]!['ino']))).toContain('unique inode');
      expect(broken((s) => (s.inodes[2]!['handle'] = 'zz'))).toContain('handle');
      expect(broken((s) => s.inodes.reverse())).toContain('root');
      expect(broken((s) => (s.inodes[1]!['path'] = '/nope/x'))).toContain('no directory parent');
      expect(broken((s) => (s.inodes[1]!['mode'] = -1))).toContain('mode');
    });
  });
});
