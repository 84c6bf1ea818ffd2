import * as assert from 'node:assert/strict';
import type { Framer, Substrate } from '../../contracts/substrate';
import { FramingError, MessageTooLargeError } from '../../errors';
import { SeededRandom } from '../sim/prng';
import { concatBytes } from './tcp-client';

// Framing checks as plain functions: each throws an AssertionError naming what went wrong, so they
// run under any test runner. `describeSubstrateConformance` wraps them as Jest tests.

/** How a framer under test is made: a fresh, unused framer per call. */
export type FramerFactory = () => Framer;

/** Checks that apply to one direction (requests or responses). */
export interface FramingSample {
  /** Which direction, for messages (`request`, `response`). */
  readonly direction: string;
  /** Fresh framers of that direction. */
  readonly framer: FramerFactory;
  /** Whether messages must come out exactly as given (false for raw byte streams). */
  readonly exact: boolean;
}

const show = (b: Uint8Array, max = 80): string => {
  const text = Buffer.from(b.subarray(0, max)).toString('latin1');
  return JSON.stringify(text) + (b.length > max ? `... (${b.length} bytes)` : '');
};

/**
 * Pushes `chunks` into `framer` and returns the messages it yields, checking after every push that
 * nothing was lost or invented: bytes pushed = bytes returned + `buffered`, and the returned
 * messages are the input's bytes in order.
 */
export function frameAll(framer: Framer, chunks: readonly Uint8Array[], what: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pushed = 0;
  let returned = 0;
  for (const chunk of chunks) {
    const messages = framer.push(chunk);
    pushed += chunk.length;
    for (const m of messages) {
      assert.ok(m instanceof Uint8Array, `${what}: push returned a ${typeof m}, expected Uint8Array messages`);
      out.push(m);
      returned += m.length;
    }
    assert.equal(
      framer.buffered,
      pushed - returned,
      `${what}: after ${pushed} bytes pushed and ${returned} returned, buffered is ${framer.buffered}, expected ${pushed - returned}`,
    );
  }
  return out;
}

function assertSameMessages(
  got: readonly Uint8Array[],
  want: readonly Uint8Array[],
  exact: boolean,
  what: string,
): void {
  const gotAll = Buffer.from(concatBytes(got));
  const wantAll = Buffer.from(concatBytes(want));
  assert.ok(
    gotAll.equals(wantAll),
    `${what}: the messages do not concatenate to the input (${gotAll.length} vs ${wantAll.length} bytes)`,
  );
  if (!exact) return;
  assert.equal(got.length, want.length, `${what}: ${got.length} messages, expected ${want.length}`);
  got.forEach((m, i) =>
    assert.ok(
      Buffer.from(m).equals(Buffer.from(want[i] as Uint8Array)),
      `${what}: message ${i} is ${show(m)}, expected ${show(want[i] as Uint8Array)}`,
    ),
  );
}

/** Splits `bytes` at the given offsets (sorted, inside the array). */
export function splitAt(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const at of offsets) {
    parts.push(bytes.subarray(from, at));
    from = at;
  }
  parts.push(bytes.subarray(from));
  return parts;
}

/** Cuts `bytes` into chunks of random sizes in [1, maxChunk], reproducibly from `seed`. */
export function randomChunks(bytes: Uint8Array, seed: number, maxChunk = 64): Uint8Array[] {
  const random = new SeededRandom(seed);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = random.int(1, maxChunk);
    chunks.push(bytes.subarray(at, at + n));
    at += n;
  }
  return chunks;
}

/** The messages, pushed back to back in one chunk, come out as the same messages. */
export function checkRoundTrip(sample: FramingSample, messages: readonly Uint8Array[]): void {
  assert.ok(messages.length > 0, `${sample.direction}: no sample messages`);
  const input = concatBytes(messages);
  const got = frameAll(sample.framer(), [input], `${sample.direction} round trip`);
  assertSameMessages(got, messages, sample.exact, `${sample.direction} round trip`);
  assert.equal(
    sample.framer().buffered,
    0,
    `${sample.direction}: a fresh framer buffers ${sample.framer().buffered} bytes`,
  );
  for (const m of messages) {
    const one = frameAll(sample.framer(), [m], `${sample.direction} single message`);
    assertSameMessages(one, [m], sample.exact, `${sample.direction} single message ${show(m)}`);
  }
  if (!sample.exact) return;
  const empty = sample.framer();
  assert.deepEqual(frameAll(empty, [new Uint8Array(0)], `${sample.direction} empty chunk`), []);
}

/**
 * Partial reads: the messages, cut in two at every byte offset, byte by byte, and in random chunks
 * (`seeds` runs), come out identically. This is what makes every replica cut alike whatever the
 * network does to the chunks.
 */
export function checkEverySplitPoint(sample: FramingSample, messages: readonly Uint8Array[], seeds = 20): void {
  const input = concatBytes(messages);
  for (let at = 0; at <= input.length; at++) {
    const got = frameAll(sample.framer(), splitAt(input, [at]), `${sample.direction} split at ${at}`);
    assertSameMessages(got, messages, sample.exact, `${sample.direction} split at byte ${at} of ${input.length}`);
  }
  const bytes = Array.from({ length: input.length }, (_, i) => input.subarray(i, i + 1));
  assertSameMessages(
    frameAll(sample.framer(), bytes, `${sample.direction} byte by byte`),
    messages,
    sample.exact,
    `${sample.direction} byte by byte`,
  );
  for (let seed = 1; seed <= seeds; seed++) {
    const got = frameAll(sample.framer(), randomChunks(input, seed), `${sample.direction} random chunks`);
    assertSameMessages(got, messages, sample.exact, `${sample.direction} random chunks, seed ${seed}`);
  }
}

/** Whether `e` is a `FramingError` (by class or, across module copies, by code). */
export function isFramingError(e: unknown): e is FramingError {
  const code = (e as { code?: unknown } | null)?.code;
  return (
    e instanceof FramingError ||
    (typeof code === 'string' && (code === 'VCL_FRAMING' || code === 'VCL_MESSAGE_TOO_LARGE'))
  );
}

/** Whether `e` is a `MessageTooLargeError` (by class or by code). */
export function isTooLarge(e: unknown): e is MessageTooLargeError {
  return e instanceof MessageTooLargeError || (e as { code?: unknown } | null)?.code === 'VCL_MESSAGE_TOO_LARGE';
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/**
 * Maximum sizes: `largest` frames as one message (whole and in random chunks); `oversize` throws
 * `MessageTooLargeError` whole, and in 512-byte chunks it throws before the framer holds more than
 * `maxBuffered` bytes. After the error the framer stays failed.
 */
export function checkMaximumSize(
  sample: FramingSample,
  largest: Uint8Array,
  oversize: Uint8Array,
  maxBuffered: number,
): void {
  const d = sample.direction;
  assertSameMessages(frameAll(sample.framer(), [largest], `${d} largest`), [largest], sample.exact, `${d} largest`);
  assertSameMessages(
    frameAll(sample.framer(), randomChunks(largest, 7, 4096), `${d} largest in chunks`),
    [largest],
    sample.exact,
    `${d} largest in chunks`,
  );
  const whole = thrown(() => sample.framer().push(oversize));
  assert.ok(
    isTooLarge(whole),
    `${d}: an oversize message (${oversize.length} bytes) gave ${String(whole)}, expected MessageTooLargeError`,
  );
  assert.ok((whole as Error).message.length > 0, `${d}: MessageTooLargeError without a message`);

  const framer = sample.framer();
  let error: unknown;
  let pushed = 0;
  for (const chunk of splitAt(
    oversize,
    Array.from({ length: Math.floor((oversize.length - 1) / 512) }, (_, i) => (i + 1) * 512),
  )) {
    try {
      const out = framer.push(chunk);
      assert.equal(out.length, 0, `${d}: the oversize message yielded a message after ${pushed} bytes`);
    } catch (e) {
      error = e;
      break;
    }
    pushed += chunk.length;
    assert.ok(
      framer.buffered <= maxBuffered,
      `${d}: the framer buffers ${framer.buffered} bytes of an oversize message, more than the allowed ${maxBuffered}: it must reject early`,
    );
  }
  assert.ok(
    isTooLarge(error),
    `${d}: the oversize message in chunks gave ${String(error)}, expected MessageTooLargeError`,
  );
  const again = thrown(() => framer.push(new Uint8Array([0x0a])));
  assert.ok(
    isFramingError(again),
    `${d}: a failed framer accepted more input (got ${String(again)}); it must stay failed`,
  );
}

/**
 * Malformed input: every sample throws `FramingError` (not `MessageTooLargeError`) with a message,
 * whole and cut at every byte offset; and a fresh framer still frames good messages afterwards.
 */
export function checkMalformed(
  sample: FramingSample,
  malformed: readonly Uint8Array[],
  good: readonly Uint8Array[],
): void {
  const d = sample.direction;
  for (const input of malformed) {
    const what = `${d} malformed ${show(input)}`;
    const whole = thrown(() => sample.framer().push(input));
    assert.ok(isFramingError(whole), `${what}: gave ${String(whole)}, expected FramingError`);
    assert.ok(!isTooLarge(whole), `${what}: gave MessageTooLargeError, expected a plain FramingError`);
    assert.ok((whole as Error).message.length > 0, `${what}: FramingError without a message`);
    for (let at = 0; at <= input.length; at++) {
      const framer = sample.framer();
      const e = thrown(() => splitAt(input, [at]).forEach((c) => framer.push(c)));
      assert.ok(isFramingError(e), `${what}, split at ${at}: gave ${String(e)}, expected FramingError`);
    }
  }
  if (good.length)
    assertSameMessages(
      frameAll(sample.framer(), good, `${d} after malformed`),
      good,
      sample.exact,
      `${d} after malformed`,
    );
}

/**
 * The protocol's own error replies: for each error (and the ones the malformed samples raise),
 * `errorResponse` returns undefined or exactly one complete response message.
 */
export function checkErrorResponses(substrate: Substrate, errors: readonly Error[]): void {
  if (!substrate.errorResponse) return;
  for (const error of errors) {
    const reply = substrate.errorResponse(error);
    if (reply === undefined) continue;
    const what = `errorResponse(${error.name}: ${error.message})`;
    assert.ok(reply instanceof Uint8Array && reply.length > 0, `${what} returned ${String(reply)}`);
    const framed = frameAll(substrate.responseFramer(), [reply], what);
    assert.equal(framed.length, 1, `${what} is ${framed.length} response messages, expected exactly one`);
    assert.ok(Buffer.from(framed[0] as Uint8Array).equals(Buffer.from(reply)), `${what} is not one complete message`);
  }
}

/** The error a fresh framer throws for `input` (or undefined if it takes it). */
export function framingErrorOf(framer: Framer, input: Uint8Array): Error | undefined {
  const e = thrown(() => framer.push(input));
  return e as Error | undefined;
}
