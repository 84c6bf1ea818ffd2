import type { MemberId } from '../../contracts/network';
import { decodeWorkloadPayload, encodeWorkloadPayload } from '../conformance/history';

/**
 * Encodes a workload message for the process harness: the simulator's workload text
 * (`vcl-sim n1 2 17`, sender, incarnation, counter) padded with zero bytes to `size` bytes, so
 * benchmarks can order 100 B or 1 KiB messages that still name their origin.
 */
export function encodeProcessPayload(sender: MemberId, incarnation: number, counter: number, size = 0): Uint8Array {
  const text = encodeWorkloadPayload(sender, incarnation, counter);
  if (size <= text.length) return text;
  const padded = new Uint8Array(size);
  padded.set(text);
  return padded;
}

/** Decodes a payload made by `encodeProcessPayload` (padded or not); `undefined` when it is not one. */
export function decodeProcessPayload(payload: Uint8Array): ReturnType<typeof decodeWorkloadPayload> {
  const end = payload.indexOf(0);
  return decodeWorkloadPayload(end < 0 ? payload : payload.subarray(0, end));
}
