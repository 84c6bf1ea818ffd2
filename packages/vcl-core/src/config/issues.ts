import { z } from 'zod';

/** One path segment in a config document: an object key or an array index. */
export type PathSegment = string | number;

/** A validation problem before it is given a place in a file. */
export interface RawIssue {
  /** Where, as segments from the document root. */
  readonly path: readonly PathSegment[];
  /** What was wrong and what was expected. */
  readonly message: string;
  /** How to fix it. */
  readonly hint?: string;
  /** True when the problem is the key itself (an unknown key), not its value. */
  readonly atKey?: boolean;
}

/** Formats segments as a dotted path (`group.members[1].port`); the empty path is `(root)`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out || '(root)';
}

/** Edit distance between two strings (insert, delete, substitute, adjacent swap). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate closest to `word` when it is close enough to be a likely typo, else undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestDistance) [best, bestDistance] = [c, dist];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(Math.max(word.length, best.length) / 3))
    ? best
    : undefined;
}

/** A short rendering of a value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list (${value.length} item${value.length === 1 ? '' : 's'})`;
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function valueAt(input: unknown, path: readonly PathSegment[]): unknown {
  let v = input;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PathSegment, unknown>)[seg];
  }
  return v;
}

function unwrap(schema: z.ZodTypeAny): z.ZodTypeAny {
  for (;;) {
    if (schema instanceof z.ZodEffects) schema = schema.innerType();
    else if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) schema = schema.unwrap();
    else if (schema instanceof z.ZodDefault) schema = schema._def.innerType;
    else if (schema instanceof z.ZodPipeline) schema = schema._def.in;
    else if (schema instanceof z.ZodLazy) schema = schema.schema;
    else if (schema instanceof z.ZodBranded) schema = schema.unwrap();
    else if (schema instanceof z.ZodCatch || schema instanceof z.ZodReadonly) schema = schema._def.innerType;
    else return schema;
  }
}

function schemasAt(schema: z.ZodTypeAny, path: readonly PathSegment[]): z.ZodTypeAny[] {
  let current = [schema];
  for (const seg of path) {
    const next: z.ZodTypeAny[] = [];
    const visit = (s: z.ZodTypeAny): void => {
      s = unwrap(s);
      if (s instanceof z.ZodObject) {
        const child = (s.shape as Record<string, z.ZodTypeAny>)[String(seg)];
        if (child) next.push(child);
      } else if (s instanceof z.ZodArray && typeof seg === 'number') next.push(s.element);
      else if (s instanceof z.ZodRecord) next.push(s.valueSchema);
      else if (s instanceof z.ZodUnion || s instanceof z.ZodDiscriminatedUnion)
        (s.options as z.ZodTypeAny[]).forEach(visit);
    };
    current.forEach(visit);
    current = next;
  }
  return current;
}

/** The keys an object schema at `path` accepts (for "did you mean" hints). */
export function knownKeysAt(schema: z.ZodTypeAny, path: readonly PathSegment[]): string[] {
  const keys = new Set<string>();
  const visit = (s: z.ZodTypeAny): void => {
    s = unwrap(s);
    if (s instanceof z.ZodObject) Object.keys(s.shape as object).forEach((k) => keys.add(k));
    else if (s instanceof z.ZodUnion || s instanceof z.ZodDiscriminatedUnion)
      (s.options as z.ZodTypeAny[]).forEach(visit);
  };
  schemasAt(schema, path).forEach(visit);
  return [...keys];
}

const article = (type: string): string =>
  ({
    string: 'a string',
    number: 'a number',
    integer: 'an integer',
    boolean: 'true or false',
    array: 'a list',
    object: 'an object (key: value mapping)',
    null: 'null',
  })[type] ?? type;

function bound(issue: z.ZodTooSmallIssue | z.ZodTooBigIssue, value: unknown): string {
  const small = issue.code === 'too_small';
  const limit = Number(issue.code === 'too_small' ? issue.minimum : issue.maximum);
  const op = issue.exact
    ? 'exactly'
    : small
      ? issue.inclusive
        ? 'at least'
        : 'more than'
      : issue.inclusive
        ? 'at most'
        : 'less than';
  switch (issue.type) {
    case 'array':
      return `expected ${op} ${limit} item${limit === 1 ? '' : 's'}, got ${Array.isArray(value) ? value.length : describeValue(value)}`;
    case 'string':
      return small && limit === 1 && !issue.exact
        ? 'expected a non-empty string'
        : `expected a string of ${op} ${limit} characters, got ${describeValue(value)}`;
    default:
      return `expected a number ${op} ${limit}, got ${describeValue(value)}`;
  }
}

/**
 * Turns zod's issues into readable ones: every unknown key on its own with a "did you mean" hint,
 * missing fields called missing, and each message naming what was expected and what was found.
 */
export function fromZodError(error: z.ZodError, schema: z.ZodTypeAny, input: unknown): RawIssue[] {
  const out: RawIssue[] = [];
  const convert = (issue: z.ZodIssue): void => {
    const path = issue.path;
    const value = valueAt(input, path);
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = knownKeysAt(schema, path);
        for (const key of issue.keys) {
          const guess = closest(key, known);
          out.push({
            path: [...path, key],
            message: `unknown key "${key}"`,
            hint: guess ? `did you mean "${guess}"?` : known.length ? `known keys: ${known.join(', ')}` : undefined,
            atKey: true,
          });
        }
        return;
      }
      case 'invalid_type':
        out.push({
          path,
          message:
            issue.received === 'undefined'
              ? `missing; expected ${article(issue.expected)}`
              : `expected ${article(issue.expected)}, got ${issue.received === 'float' ? `${describeValue(value)} (not an integer)` : describeValue(value)}`,
        });
        return;
      case 'invalid_enum_value': {
        const options = issue.options.map(String);
        const guess = typeof value === 'string' ? closest(value, options) : undefined;
        out.push({
          path,
          message: `expected one of ${options.join(' | ')}, got ${describeValue(value)}`,
          hint: guess ? `did you mean "${guess}"?` : undefined,
        });
        return;
      }
      case 'invalid_literal':
        out.push({ path, message: `expected ${JSON.stringify(issue.expected)}, got ${describeValue(value)}` });
        return;
      case 'too_small':
      case 'too_big':
        out.push({ path, message: bound(issue, value) });
        return;
      case 'invalid_union': {
        const branches = issue.unionErrors.map((e) => e.issues);
        const simple = branches.every(
          (b) => b.length === 1 && b[0]!.code === 'invalid_type' && b[0]!.path.length === path.length,
        );
        if (simple) {
          const expected = branches.map((b) => article((b[0] as z.ZodInvalidTypeIssue).expected));
          out.push({ path, message: `expected ${expected.join(' or ')}, got ${describeValue(value)}` });
          return;
        }
        const best = [...branches].sort((a, b) => a.length - b.length)[0] ?? [];
        best.forEach(convert);
        return;
      }
      case 'custom': {
        const params = (issue.params ?? {}) as { hint?: string; atKey?: boolean };
        out.push({ path, message: issue.message, hint: params.hint, atKey: params.atKey });
        return;
      }
      default:
        out.push({
          path,
          message: `${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}, got ${describeValue(value)}`,
        });
    }
  };
  error.issues.forEach(convert);
  return out;
}
