import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { loadStack, type Stack } from '@vcl/core';
import type { OrderingName } from './args';

/** The directory of the committed stack files (the same relative place from src/ and dist/). */
export const STACKS_DIR = join(__dirname, '..', '..', 'stacks');

/** The committed stack file of an ordering plugin. */
export function stackFileFor(ordering: OrderingName): string {
  return join(STACKS_DIR, `mds-${ordering}.yaml`);
}

/** The ports one demo run uses. */
export interface DemoPorts {
  /** Per member (in the stack's order): link, client, admin and its metadata server's port. */
  readonly members: ReadonlyArray<{ port: number; clientPort: number; adminPort: number; mdsPort: number }>;
  /** Where the client-side interceptor listens. */
  readonly clientPort: number;
}

/** `n` TCP ports on 127.0.0.1 that nobody listens on right now. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Free ports for a stack of `members` members. */
export async function demoPorts(members: number): Promise<DemoPorts> {
  const p = await freePorts(4 * members + 1);
  return {
    members: Array.from({ length: members }, (_, i) => ({
      port: p[4 * i]!,
      clientPort: p[4 * i + 1]!,
      adminPort: p[4 * i + 2]!,
      mdsPort: p[4 * i + 3]!,
    })),
    clientPort: p[4 * members]!,
  };
}

/** The repository root (the stack files' commands are written relative to it). */
const REPO_ROOT = join(__dirname, '..', '..', '..', '..');

/** A command of the stack file with `node` made this Node and repository-relative scripts absolute. */
function absoluteArgv(argv: readonly string[]): string[] {
  return argv.map((a, i) =>
    i === 0 && a === 'node'
      ? process.execPath
      : !isAbsolute(a) && existsSync(join(REPO_ROOT, a))
        ? join(REPO_ROOT, a)
        : a,
  );
}

/** The recovery commands and data directory of a stack, made independent of the working directory. */
function recoveryPaths(stack: Stack, runDir: string): Partial<Stack['service']> {
  const s = stack.service;
  return {
    ...(s.resetCommand ? { resetCommand: absoluteArgv(s.resetCommand) } : {}),
    ...(s.snapshot ? { snapshot: { save: absoluteArgv(s.snapshot.save), load: absoluteArgv(s.snapshot.load) } } : {}),
    ...(s.dataDir ? { dataDir: join(runDir, 'data') } : {}),
  };
}

/**
 * Loads a committed stack file (validating it with VCL's own loader), moves every port to the
 * given ones and writes the result to `out` (as JSON, which is YAML too). Resolves with the
 * stack as written.
 */
export async function prepareStack(template: string, ports: DemoPorts, out: string): Promise<Stack> {
  const stack = await loadStack(template);
  if (stack.group.members.length !== ports.members.length)
    throw new Error(`${template} has ${stack.group.members.length} members, the demo expects ${ports.members.length}`);
  const moved: Stack = {
    ...stack,
    group: {
      ...stack.group,
      members: stack.group.members.map((m, i) => ({
        ...m,
        host: '127.0.0.1',
        port: ports.members[i]!.port,
        clientPort: ports.members[i]!.clientPort,
        adminPort: ports.members[i]!.adminPort,
      })),
    },
    substrates: stack.substrates.map((s) => (s.listen ? { ...s, listen: { ...s.listen, port: ports.clientPort } } : s)),
    service: {
      ...stack.service,
      endpoint: { host: '127.0.0.1', port: ports.members[0]!.mdsPort },
      ...recoveryPaths(stack, dirname(out)),
    },
    client: { ...stack.client, listen: { host: '127.0.0.1', port: ports.clientPort } },
  } as Stack;
  writeFileSync(out, `${JSON.stringify(moved, null, 2)}\n`);
  return moved;
}
