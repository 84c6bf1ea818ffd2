// Fuzzing one target with fast-check: inputs are mutated seeds (bit flips, interesting bytes, big
// length fields, inserted, deleted, duplicated and spliced ranges, truncation) or plain random
// bytes. A counterexample is shrunk to a small input before it is reported.
import { VclError } from '@vcl/core';
import fc from 'fast-check';
import type { FuzzTarget } from './targets';

/** What went wrong with one input. */
export interface FuzzFailure {
  /** The target. */
  readonly target: string;
  /** The (shrunk) input. */
  readonly input: Uint8Array;
  /** `crash`: threw something other than a `VclError`; `allocation`: held far more memory than the input warrants. */
  readonly kind: 'crash' | 'allocation';
  /** What was thrown or measured. */
  readonly message: string;
}

/** What running one input did. */
export type Outcome =
  | { readonly kind: 'accepted' }
  | { readonly kind: 'refused'; readonly code: string }
  | { readonly kind: 'crash' | 'allocation'; readonly message: string };

/** External memory (array buffers) one input may leave allocated before it counts as a defect. */
export const ALLOCATION_LIMIT = 64 * 1024 * 1024;

/**
 * Runs one input: accepted, refused with a typed error, or a defect. Memory is measured after the
 * run, so a decoder that sizes a buffer from an untrusted length field shows even when it throws.
 */
export function runOne(target: FuzzTarget, input: Uint8Array): Outcome {
  const before = process.memoryUsage().arrayBuffers;
  let outcome: Outcome;
  try {
    target.run(input);
    outcome = { kind: 'accepted' };
  } catch (error) {
    outcome =
      error instanceof VclError
        ? { kind: 'refused', code: error.code }
        : { kind: 'crash', message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
  const grown = process.memoryUsage().arrayBuffers - before;
  if (grown > ALLOCATION_LIMIT + 8 * input.length)
    return { kind: 'allocation', message: `${Math.round(grown / 1048576)} MiB allocated for ${input.length} bytes` };
  return outcome;
}

type Mutation =
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'set'; readonly at: number; readonly value: number }
  | { readonly op: 'big'; readonly at: number; readonly width: number }
  | { readonly op: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: 'delete'; readonly at: number; readonly length: number }
  | { readonly op: 'repeat'; readonly at: number; readonly length: number; readonly times: number }
  | { readonly op: 'splice'; readonly at: number; readonly other: number; readonly from: number }
  | { readonly op: 'truncate'; readonly at: number };

// Bytes that delimit or size things in the formats fuzzed here: NUL, CR, LF, space, colon, the
// ends of a signed byte, and the high bits of a varint.
const INTERESTING = [0x00, 0x0d, 0x0a, 0x20, 0x3a, 0x7f, 0x80, 0xff, 0x30, 0x39, 0x2d];

const mutation = (seeds: number): fc.Arbitrary<Mutation> => {
  const at = fc.nat({ max: 1 << 16 });
  return fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at, bit: fc.nat({ max: 7 }) }),
    fc.record({
      op: fc.constant('set' as const),
      at,
      value: fc.oneof(fc.constantFrom(...INTERESTING), fc.nat({ max: 255 })),
    }),
    fc.record({ op: fc.constant('big' as const), at, width: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ op: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }) }),
    fc.record({ op: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 32 }) }),
    fc.record({
      op: fc.constant('repeat' as const),
      at,
      length: fc.integer({ min: 1, max: 64 }),
      times: fc.integer({ min: 2, max: 64 }),
    }),
    fc.record({ op: fc.constant('splice' as const), at, other: fc.nat({ max: seeds - 1 }), from: at }),
    fc.record({ op: fc.constant('truncate' as const), at }),
  );
};

function apply(seed: Uint8Array, mutations: readonly Mutation[], seeds: readonly Uint8Array[]): Uint8Array {
  let b = seed;
  for (const m of mutations) {
    const at = b.length ? m.at % (b.length + 1) : 0;
    switch (m.op) {
      case 'flip':
        if (at < b.length) (b = b.slice())[at]! ^= 1 << m.bit;
        break;
      case 'set':
        if (at < b.length) (b = b.slice())[at] = m.value;
        break;
      case 'big':
        b = b.slice();
        b.fill(0xff, at, Math.min(b.length, at + m.width));
        break;
      case 'insert':
        b = concat(b.subarray(0, at), m.bytes, b.subarray(at));
        break;
      case 'delete':
        b = concat(b.subarray(0, at), b.subarray(at + m.length));
        break;
      case 'repeat': {
        const piece = b.subarray(at, at + m.length);
        b = concat(b.subarray(0, at), ...Array.from({ length: m.times }, () => piece), b.subarray(at));
        break;
      }
      case 'splice': {
        const other = seeds[m.other % seeds.length]!;
        b = concat(b.subarray(0, at), other.subarray(other.length ? m.from % other.length : 0));
        break;
      }
      case 'truncate':
        b = b.subarray(0, at);
        break;
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The inputs the fuzzer draws for `seeds`: mostly mutated seeds, some plain random bytes. */
export function inputs(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const random = fc.uint8Array({ maxLength: 512 });
  if (seeds.length === 0) return random;
  const mutated = fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.array(mutation(seeds.length), { maxLength: 6 }))
    .map(([i, ms]) => apply(seeds[i]!, ms, seeds));
  return fc.oneof({ weight: 1, arbitrary: random }, { weight: 6, arbitrary: mutated });
}

/** Options of `fuzz`. */
export interface FuzzOptions {
  /** Inputs to try. */
  readonly runs: number;
  /** The fast-check seed (the same seed draws the same inputs). */
  readonly seed: number;
  /** Told every `progressEvery` inputs with the count so far. */
  readonly onProgress?: (done: number) => void;
  /** How often `onProgress` is told. Default 10,000. */
  readonly progressEvery?: number;
  /** Told of each input just before it runs (the harness keeps it, to report a hang). */
  readonly onInput?: (input: Uint8Array) => void;
}

/** Fuzzes `target`; returns the first failure found (shrunk), or undefined after `runs` clean inputs. */
export function fuzz(target: FuzzTarget, options: FuzzOptions): FuzzFailure | undefined {
  const every = options.progressEvery ?? 10_000;
  let done = 0;
  let lastReport = Date.now();
  let failure: FuzzFailure | undefined;
  const result = fc.check(
    fc.property(inputs(target.seeds()), (input) => {
      options.onInput?.(input);
      const outcome = runOne(target, input);
      // Also at least once a second, so the harness never mistakes a slow target for a hang.
      if (++done % every === 0 || Date.now() - lastReport > 1000) {
        lastReport = Date.now();
        options.onProgress?.(done);
      }
      if (outcome.kind === 'crash' || outcome.kind === 'allocation') {
        failure = { target: target.name, input, kind: outcome.kind, message: outcome.message };
        return false;
      }
      return true;
    }),
    { numRuns: options.runs, seed: options.seed },
  );
  // fast-check shrinks the mutations; the bytes they start from are then cut down by removing
  // ranges while the input still fails the same way.
  if (!result.failed) return undefined;
  const input = minimize(target, result.counterexample?.[0] ?? failure?.input ?? new Uint8Array(0));
  const outcome = runOne(target, input);
  return {
    target: target.name,
    input,
    kind: outcome.kind === 'allocation' ? 'allocation' : 'crash',
    message: 'message' in outcome ? outcome.message : (failure?.message ?? 'unknown'),
  };
}

const isDefect = (o: Outcome): boolean => o.kind === 'crash' || o.kind === 'allocation';

/** Removes ranges of `input`, halving their size down to one byte, as long as it stays a defect. */
export function minimize(target: FuzzTarget, input: Uint8Array, budget = 5000): Uint8Array {
  const kind = runOne(target, input).kind;
  if (kind !== 'crash' && kind !== 'allocation') return input;
  let best = input;
  for (let size = best.length >> 1 || 1; size >= 1 && budget > 0; size = size === 1 ? 0 : size >> 1) {
    for (let at = 0; at < best.length && budget > 0;) {
      const candidate = concat(best.subarray(0, at), best.subarray(at + size));
      budget--;
      const o = runOne(target, candidate);
      if (isDefect(o) && o.kind === kind) best = candidate;
      else at += size;
    }
  }
  return best;
}
