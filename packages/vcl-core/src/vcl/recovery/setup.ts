import type { Clock } from '../../contracts/clock';
import type { Logger } from '../../contracts/logger';
import type { Endpoint } from '../../contracts/substrate';
import type { Stack } from '../../config/stack';
import { ConfigError, type VclError } from '../../errors';
import { EventLog } from './event-log';
import { Recovery } from './recovery';
import {
  commandEnv,
  expandMember,
  commandStateAccess,
  memberDataDir,
  type ServiceStateAccess,
  type SnapshotCallbacks,
} from './service-state';

/** Options of `recoveryFor`. */
export interface RecoverySetup {
  /** The validated stack. */
  readonly stack: Stack;
  /** This member's id. */
  readonly member: string;
  /** Names the stack in errors. */
  readonly source: string;
  /** Internal mode (the program applies requests itself). */
  readonly internal: boolean;
  /** Internal mode: the program's snapshot callbacks. */
  readonly snapshot?: SnapshotCallbacks;
  /** External mode: the endpoint this member dials (told to the commands in their environment). */
  readonly endpoint?: Endpoint;
  /** Whether the substrate is request-response (a snapshot at a cut needs requests answered one at a time). */
  readonly requestResponse: boolean;
  /** Time. */
  readonly clock: Clock;
  /** Where it logs. */
  readonly logger: Logger;
  /** Called once when the member cannot join. */
  readonly onFatal: (error: VclError) => void;
}

/**
 * Builds a member's `Recovery` from `service.recovery` and its companions: the event log lives in
 * `<service.dataDir>/<member>/` (several members may share a host and a stack file); commands get
 * `VCL_MEMBER`, `VCL_SERVICE_HOST`, `VCL_SERVICE_PORT` and `VCL_DATA_DIR` in their environment.
 */
export function recoveryFor(setup: RecoverySetup): Recovery {
  const { stack } = setup;
  const svc = stack.service;
  const issues: { path: string; message: string; hint?: string }[] = [];
  if (svc.recovery === 'replay' && !svc.dataDir)
    issues.push({
      path: 'service.dataDir',
      message: 'recovery replay keeps the ordered event log in service.dataDir, which is not set',
      hint: 'add service.dataDir: /var/lib/vcl/<service>',
    });
  if (svc.recovery === 'snapshot' && !setup.requestResponse)
    issues.push({
      path: 'service.recovery',
      message:
        'recovery snapshot needs a request-response substrate (a stream has no point where the service is quiet)',
      hint: 'use recovery: replay',
    });
  const canSave = setup.internal ? !!setup.snapshot : !!svc.snapshot;
  if (svc.recovery === 'replay' && canSave && !setup.requestResponse)
    issues.push({
      path: 'service.snapshot',
      message:
        'with recovery replay, the snapshot commands compact the replay log, which needs a request-response substrate (a stream has no point where the service is quiet)',
      hint: 'remove service.snapshot (the log then grows without bound), or use a request-response substrate',
    });
  if (svc.recovery === 'replay' && svc.replayLog && !canSave)
    issues.push({
      path: 'service.replayLog',
      message: setup.internal
        ? 'the replay log is compacted with a snapshot of the service: pass snapshot { save, load } callbacks'
        : 'the replay log is compacted with a snapshot of the service, and service.snapshot is not set',
      hint: 'add service.snapshot { save, load }, or remove service.replayLog',
    });
  if (svc.recovery === 'snapshot' && setup.internal && !setup.snapshot)
    issues.push({
      path: 'service.recovery',
      message: 'recovery snapshot in internal mode needs the program to pass snapshot { save, load } callbacks',
    });
  if (issues.length) throw new ConfigError(setup.source, issues);
  const dir = memberDataDir(stack, setup.member);
  const env = commandEnv(stack, setup.member, setup.endpoint);
  const service: ServiceStateAccess = setup.snapshot
    ? {
        save: () => setup.snapshot!.save(),
        load: (state) => setup.snapshot!.load(state),
        ...(setup.snapshot.reset ? { reset: () => setup.snapshot!.reset!() } : {}),
      }
    : commandStateAccess({
        ...(svc.snapshot ? { save: svc.snapshot.save, load: svc.snapshot.load } : {}),
        ...(svc.resetCommand ? { reset: svc.resetCommand } : {}),
        env,
        ...(svc.cwd ? { cwd: expandMember(svc.cwd, setup.member) } : {}),
      });
  // Compaction keeps the log under its bound; without snapshot access the bound is only a warning.
  const compactAtBytes =
    svc.recovery === 'replay' && canSave ? (svc.replayLog?.maxBytes ?? 64 * 1024 * 1024) : undefined;
  if (svc.recovery === 'replay' && compactAtBytes === undefined)
    setup.logger.warn(
      { member: setup.member },
      'the replay log is not compacted (no service.snapshot save and load): it keeps every event since the group started',
    );
  return new Recovery({
    self: setup.member,
    mode: svc.recovery,
    ...(svc.recovery === 'replay' && dir
      ? {
          log: new EventLog({
            dir,
            logger: setup.logger,
            ...(compactAtBytes !== undefined ? { maxBytes: 2 * compactAtBytes } : {}),
          }),
        }
      : {}),
    ...(compactAtBytes !== undefined ? { compactAtBytes } : {}),
    ...(stack.dependencies?.length && svc.recovery !== 'none'
      ? {
          joinRefusal:
            `member ${setup.member} cannot join a running group: the stack has dependencies ` +
            `(${stack.dependencies.map((d) => d.name).join(', ')}), whose outbound state (connection numbers, ` +
            'calls in flight) is not part of the state transfer; restart the whole group, see docs/dependent-services.md',
        }
      : {}),
    service,
    clock: setup.clock,
    logger: setup.logger,
    onFatal: setup.onFatal,
  });
}
