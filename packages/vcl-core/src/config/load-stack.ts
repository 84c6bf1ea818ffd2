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
    // The yaml library throws plain errors here (an alias before its anchor, or past the alias
    // limit that stops a "billion laughs" document): they are problems of the file, not crashes.
    input = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new ConfigError(source, [
      { path: '(root)', message: `YAML error: ${(error as Error).message.split('\n')[0]!.trim()}` },
    ]);
  }
  if (input === null || input === undefined)
    throw new ConfigError(source, [
      { path: '(root)', message: 'the stack file is empty; expected group, service, client, substrates' },
    ]);
  const result = stackSchema.safeParse(input);
  if (result.success) return result.data;
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
