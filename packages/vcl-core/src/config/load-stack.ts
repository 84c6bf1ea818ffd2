import { readFile } from 'node:fs/promises';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { ConfigIssue } from '../errors';
import { ConfigError } from '../errors';
import { closest, formatPath, fromZodError, type PathSegment, type RawIssue } from './issues';
import type { MemberConfig, Stack } from './stack';
import { stackSchema } from './stack-schema';

interface Ranged {
  range?: [number, number, number] | null;
}

/** The offset in the text where the node at `path` starts (its key for `atKey`), or the nearest ancestor. */
function offsetOf(doc: Document, path: readonly PathSegment[], atKey: boolean): number | undefined {
  let node: unknown = doc.contents;
  let offset = (node as Ranged | null)?.range?.[0];
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? p.key.value : p.key) === seg);
      if (!pair) return offset;
      const keyStart = (pair.key as Ranged | null)?.range?.[0];
      const valueStart = (pair.value as Ranged | null)?.range?.[0];
      if (last && atKey) return keyStart ?? offset;
      offset = valueStart ?? keyStart ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (!item) return offset;
      offset = (item as Ranged).range?.[0] ?? offset;
      node = item;
    } else return offset;
  }
  return offset;
}

function located(issue: RawIssue, doc: Document, lines: LineCounter): ConfigIssue {
  const offset = offsetOf(doc, issue.path, issue.atKey === true);
  const base = { path: formatPath(issue.path), message: issue.message, ...(issue.hint ? { hint: issue.hint } : {}) };
  if (offset === undefined) return base;
  const { line, col } = lines.linePos(offset);
  return { ...base, message: `${issue.message} (line ${line}:${col})`, line, column: col };
}

/**
 * Parses and validates a stack file's text. Throws one `ConfigError` listing every problem found,
 * each with its path in the file (`group.members[1].port`), what was expected, and its line:column;
 * YAML syntax errors are reported the same way. `source` names the file in the error.
 */
export function parseStack(text: string, source: string): Stack {
  if (text.length > MAX_STACK_BYTES)
    throw new ConfigError(source, [
      {
        path: '(root)',
        message: `the stack file has ${text.length} characters, more than the ${MAX_STACK_BYTES} allowed`,
      },
    ]);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length)
    throw new ConfigError(
      source,
      doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        return { path: '(root)', message: `YAML syntax error: ${what} (line ${line}:${col})`, line, column: col };
      }),
    );
  let input: unknown;
  try {
    input = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    // The yaml library throws plain errors here: past the alias limit that stops a document whose
    // aliases expand exponentially ("billion laughs"), or for an alias before its anchor. Both are
    // problems of the file, not crashes.
    const what = (e as Error).message.split('\n')[0]!.trim();
    const bomb = /alias count/i.test(what);
    throw new ConfigError(
      source,
      [
        bomb
          ? {
              path: '(root)',
              message: `YAML resource limit: ${what} (at most ${MAX_ALIAS_COUNT} alias expansions)`,
              hint: 'write the values out instead of nesting aliases',
            }
          : { path: '(root)', message: `YAML error: ${what}` },
      ],
      { cause: e },
    );
  }
  if (input === null || input === undefined)
    throw new ConfigError(source, [
      { path: '(root)', message: 'the stack file is empty; expected group, service, client, substrates' },
    ]);
  const result = stackSchema.safeParse(input);
  if (result.success) {
    const insecure = insecureNetwork(result.data, input);
    if (insecure) throw new ConfigError(source, [located(insecure, doc, lines)]);
    return result.data;
  }
  // In file order, so the list reads top to bottom like the file.
  const issues = fromZodError(result.error, stackSchema, input)
    .map((i) => located(i, doc, lines))
    .map((issue, index) => ({ issue, index }))
    .sort(
      (a, b) =>
        (a.issue.line ?? Infinity) - (b.issue.line ?? Infinity) ||
        (a.issue.column ?? 0) - (b.issue.column ?? 0) ||
        a.index - b.index,
    )
    .map((x) => x.issue);
  throw new ConfigError(source, issues, { cause: result.error });
}

/** Largest stack file read, in characters: a stack is a page of YAML, not a data set. */
const MAX_STACK_BYTES = 1024 * 1024;
/** Alias expansions allowed when reading a stack file (the yaml library's guard against alias bombs). */
const MAX_ALIAS_COUNT = 100;

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost|\[::1\])$/i;

/** Whether `host` is a loopback address (only this machine can reach it). */
export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/**
 * Secure by default: a stack whose members or client listen off loopback must protect its links,
 * or say explicitly, twice, that it does not (`aaa.link.mode: none` and `aaa.allowInsecureNetwork:
 * true`). Without link security anyone on the network can join as a member and order requests.
 */
function insecureNetwork(stack: Stack, input: unknown): RawIssue | undefined {
  const exposed = [
    ...stack.group.members.filter((m) => !isLoopback(m.host)).map((m) => `member ${m.id} at ${m.host}`),
    ...(isLoopback(stack.client.listen.host) ? [] : [`client.listen at ${stack.client.listen.host}`]),
  ];
  if (exposed.length === 0 || (stack.aaa?.link.mode ?? 'none') !== 'none') return undefined;
  const raw = (input as { aaa?: { link?: { mode?: unknown } } }).aaa;
  if (stack.aaa?.allowInsecureNetwork === true && raw?.link?.mode === 'none') return undefined;
  return {
    path: stack.aaa ? ['aaa', 'link'] : ['group', 'members'],
    message: `links without integrity or authentication on a network (${exposed.join(', ')}): anyone who can reach a member port can join the group as a member`,
    hint: 'set aaa.link.mode: hmac (or tls); or, on a network you fully trust, say aaa.link.mode: none and aaa.allowInsecureNetwork: true',
  };
}

/**
 * Adds the line and column of each issue's path in the stack file's `text` (for problems found
 * after the schema: plugin options, AAA files, substrate targets); issues with a line keep theirs.
 */
export function locateIssues(error: ConfigError, text: string, source: string): ConfigError {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const issues = error.issues.map((issue) => {
    if (issue.line !== undefined || issue.path === '(root)') return issue;
    const raw: RawIssue = {
      path: inFile(parseConfigPath(issue.path), doc),
      message: issue.message,
      ...(issue.hint ? { hint: issue.hint } : {}),
    };
    return { ...located(raw, doc, lines), path: issue.path };
  });
  return new ConfigError(source, issues, { cause: error });
}

/** A single `substrate:` is `substrates[0]` once loaded: point back at what the file says. */
function inFile(path: PathSegment[], doc: Document): PathSegment[] {
  if (path[0] === 'substrates' && path[1] === 0 && !doc.has('substrates') && doc.has('substrate'))
    return ['substrate', ...path.slice(2)];
  return path;
}

/** `aaa.policy[1].cli` → `['aaa', 'policy', 1, 'cli']`. */
function parseConfigPath(path: string): PathSegment[] {
  const segments: PathSegment[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) segments.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return segments;
}

/** Reads and validates a stack file; every problem (including an unreadable file) is a `ConfigError`. */
export async function loadStack(path: string): Promise<Stack> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const reason =
      (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot read: ${(e as Error).message}`;
    throw new ConfigError(path, [{ path: '(root)', message: reason }], { cause: e });
  }
  return parseStack(text, path);
}

/** The member `id` of `stack`; a `ConfigError` listing the known ids if there is none. */
export function memberOf(stack: Stack, id: string): MemberConfig {
  const found = stack.group.members.find((m) => m.id === id);
  if (found) return found;
  const ids = stack.group.members.map((m) => m.id);
  const guess = closest(id, ids);
  throw new ConfigError(`group ${stack.group.name}`, [
    {
      path: 'group.members',
      message: `no member with id "${id}"; known member ids: ${ids.join(', ')}`,
      ...(guess ? { hint: `did you mean "${guess}"?` } : {}),
    },
  ]);
}
