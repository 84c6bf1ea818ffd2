import type { Endpoint } from '../contracts/substrate';
import type { Stack } from '../config/stack';
import { ConfigError } from '../errors';
import { commandEnv, expandMember, runCommand } from './recovery/service-state';
import type { StateDigestOptions } from './service-interceptor';

/** Requests between two state digests when neither the stack nor the program says. */
export const DEFAULT_STATE_DIGEST_EVERY = 1000;

/** Options of `stateDigestFor`. */
export interface StateDigestSetup {
  /** The validated stack. */
  readonly stack: Stack;
  /** This member's id. */
  readonly member: string;
  /** Names the stack in errors. */
  readonly source: string;
  /** Internal mode (the program applies requests itself). */
  readonly internal: boolean;
  /** Internal mode: the program's state digest callback. */
  readonly digest?: () => Promise<Uint8Array>;
  /** Internal mode: requests between two digests, instead of the stack's `service.stateDigest.every`. */
  readonly every?: number;
  /** External mode: the endpoint this member dials (told to the command in its environment). */
  readonly endpoint?: Endpoint;
  /** Whether every substrate the member serves is request-response (a digest point needs a quiet service). */
  readonly requestResponse: boolean;
  /** A digest command running longer than this fails. */
  readonly timeoutMs: number;
}

/**
 * Builds a member's state digest from `service.stateDigest` (external mode: its command, run
 * without a shell with `VCL_MEMBER`, `VCL_SERVICE_HOST`, `VCL_SERVICE_PORT` and `VCL_DATA_DIR` in
 * the environment, like the snapshot commands) or the program's callback (internal mode).
 * Undefined when neither is given; a `ConfigError` naming the field when it cannot work.
 */
export function stateDigestFor(setup: StateDigestSetup): StateDigestOptions | undefined {
  const { stack } = setup;
  const section = stack.service.stateDigest;
  if (!section && !setup.digest) return undefined;
  const issues: { path: string; message: string; hint?: string }[] = [];
  const field = section ? 'service.stateDigest' : 'stateDigest (startServiceMember option)';
  if (stack.onDivergence === 'off')
    issues.push({
      path: 'onDivergence',
      message: `${field} is compared by divergence detection, which onDivergence: off turns off`,
      hint: 'set onDivergence: report (or evict)',
    });
  if (!setup.requestResponse)
    issues.push({
      path: field,
      message:
        'a state digest needs request-response substrates (a stream has no point where the service is known to be quiet)',
      hint: 'remove service.stateDigest; output is still compared in stream blocks',
    });
  if (!setup.internal && !section?.command)
    issues.push({
      path: 'service.stateDigest.command',
      message: 'missing; external mode runs this command to read the service state digest from its standard output',
      hint: 'stateDigest: { command: [node, my-service-admin.js, digest], every: 1000 }',
    });
  if (setup.internal && !setup.digest)
    issues.push({
      path: 'service.stateDigest',
      message: 'a state digest in internal mode needs the program to pass a stateDigest callback to startServiceMember',
    });
  const every = setup.every ?? section?.every ?? DEFAULT_STATE_DIGEST_EVERY;
  if (!Number.isSafeInteger(every) || every < 1)
    issues.push({
      path: 'stateDigestEvery (startServiceMember option)',
      message: `expected a positive integer, got ${every}`,
    });
  if (issues.length) throw new ConfigError(setup.source, issues);
  if (setup.digest) return { every, digest: setup.digest };
  const svc = stack.service;
  const env = commandEnv(stack, setup.member, setup.endpoint);
  const argv = section!.command!;
  return {
    every,
    digest: () =>
      runCommand('service.stateDigest.command', argv, {
        env,
        ...(svc.cwd ? { cwd: expandMember(svc.cwd, setup.member) } : {}),
        timeoutMs: setup.timeoutMs,
      }),
  };
}
