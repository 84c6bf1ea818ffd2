import type { DependencyContainer } from 'tsyringe';
import { resolveAll, tokenName, type Token } from '../contracts/token';
import { SlotError } from '../errors';

function candidateName(candidate: unknown): string {
  if (typeof candidate === 'object' && candidate !== null) {
    const named = candidate as { name?: unknown; constructor?: { name?: string } };
    if (typeof named.name === 'string') return named.name;
    if (named.constructor?.name && named.constructor.name !== 'Object') return named.constructor.name;
  }
  return typeof candidate;
}

/**
 * Resolves a single-choice slot: exactly one registration of `t` (in `container` or its parents),
 * else a `SlotError` naming the slot and the candidates. tsyringe's plain `resolve` would silently
 * take the last of several.
 */
export function resolveSingle<T>(container: DependencyContainer, t: Token<T>, slotName: string): T {
  const candidates = resolveAll(container, t);
  if (candidates.length === 1) return candidates[0]!;
  throw new SlotError(
    `slot ${slotName} (${tokenName(t)}) needs exactly one registration, found ${candidates.length}` +
      (candidates.length ? `: ${candidates.map(candidateName).join(', ')}` : ''),
  );
}
