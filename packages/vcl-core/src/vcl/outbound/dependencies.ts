import * as path from 'node:path';
import type { Endpoint } from '../../contracts/substrate';
import type { DependencySection, Stack } from '../../config/stack';
import { loadStack } from '../../config/load-stack';
import type { DependencySpec } from './outbound-interceptor';

/**
 * The outbound engine's view of a stack's `dependencies:` for member `member`: its own listen
 * address per dependency, and each replicated dependency's member addresses (read from the
 * dependency's stack file, relative to `source`, when one is named).
 */
export async function resolveDependencies(stack: Stack, member: string, source?: string): Promise<DependencySpec[]> {
  const base = source ? path.dirname(source) : process.cwd();
  return Promise.all((stack.dependencies ?? []).map((d) => resolveOne(d, member, base)));
}

async function resolveOne(d: DependencySection, member: string, base: string): Promise<DependencySpec> {
  const listen: Endpoint | undefined = d.memberListen?.[member] ?? d.listen;
  if (d.mode === 'exclusive')
    return {
      name: d.name,
      mode: 'exclusive',
      target: d.target!,
      idempotent: d.idempotent,
      ...(d.failureResponse !== undefined ? { failureResponse: new TextEncoder().encode(d.failureResponse) } : {}),
      ...(listen ? { listen } : {}),
    };
  const members = d.members
    ? d.members.map((m) => ({ id: m.id, host: m.host, port: m.port }))
    : (await loadStack(path.resolve(base, d.stack!))).group.members.map((m) => ({
        id: m.id,
        host: m.host,
        port: m.clientPort,
      }));
  return { name: d.name, mode: 'replicated', members, ...(listen ? { listen } : {}) };
}
