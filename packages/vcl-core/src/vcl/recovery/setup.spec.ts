import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseStack } from '../../config/load-stack';
import { ConfigError, RecoveryRefusedError, type VclError } from '../../errors';
import { Simulator } from '../../testing/sim/simulator';
import { RecordingLogger } from '../../testing/vcl/recording-logger';
import type { RecoveryHost } from './recovery';
import { encodeRecoveryState } from './recovery-state';
import { recoveryFor, type RecoverySetup } from './setup';

const stackWith = (service: string): string => `group:
  name: g
  members:
    - { id: n1, host: 127.0.0.1, port: 7001, clientPort: 7101 }
substrate: { plugin: tcp }
service:
  endpoint: { host: 127.0.0.1, port: 9000 }
${service}client:
  listen: { port: 9100 }
`;

describe('recoveryFor', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-setup-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const setup = (service: string, over: Partial<RecoverySetup> = {}, logger = new RecordingLogger()) =>
    recoveryFor({
      stack: parseStack(stackWith(service), 'stack.yaml'),
      member: 'n1',
      source: 'stack.yaml',
      internal: false,
      requestResponse: true,
      clock: new Simulator({ seed: 1, members: ['n1'] }).clock,
      logger,
      onFatal: () => undefined,
      ...over,
    });
  const problems = (f: () => unknown): string[] => {
    try {
      f();
    } catch (e) {
      if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
      throw e;
    }
    throw new Error('expected a ConfigError');
  };
  const snapshot = '  snapshot: { save: [save], load: [load] }\n';

  it('replay with snapshot commands compacts at the 64 MiB default, or at replayLog.maxBytes', () => {
    const r = setup(`  recovery: replay\n  dataDir: ${dir}\n${snapshot}`);
    expect(r.status()).toMatchObject({ mode: 'replay', logBytes: 0, logBase: 0, compactions: 0 });
    r.stop();
    const logger = new RecordingLogger();
    const s = setup(`  recovery: replay\n  dataDir: ${dir}\n${snapshot}  replayLog: { maxBytes: 65536 }\n`, {}, logger);
    expect(s.status().compactions).toBe(0);
    expect(logger.find('warn', 'the replay log is not compacted')).toEqual([]);
    s.stop();
  });

  it('replay without snapshot access warns that the log is not bounded', () => {
    const logger = new RecordingLogger();
    const r = setup(`  recovery: replay\n  dataDir: ${dir}\n`, {}, logger);
    expect(r.status().compactions).toBeUndefined();
    expect(logger.find('warn', 'the replay log is not compacted (no service.snapshot save and load)')).toHaveLength(1);
    r.stop();
  });

  it('internal mode compacts with the snapshot callbacks', () => {
    const snapshotCallbacks = { save: async () => new Uint8Array(), load: async () => undefined };
    const r = setup(`  recovery: replay\n  dataDir: ${dir}\n  replayLog: { maxBytes: 8192 }\n`, {
      internal: true,
      snapshot: snapshotCallbacks,
    });
    expect(r.status().compactions).toBe(0);
    r.stop();
    expect(
      problems(() =>
        setup(`  recovery: replay\n  dataDir: ${dir}\n  replayLog: { maxBytes: 8192 }\n`, { internal: true }),
      ),
    ).toEqual([
      'service.replayLog: the replay log is compacted with a snapshot of the service: pass snapshot { save, load } callbacks',
    ]);
  });

  it('names each problem of the recovery settings', () => {
    expect(problems(() => setup('  recovery: replay\n'))).toEqual([
      'service.dataDir: recovery replay keeps the ordered event log in service.dataDir, which is not set',
    ]);
    expect(problems(() => setup(`  recovery: replay\n  dataDir: ${dir}\n  replayLog: { maxBytes: 8192 }\n`))).toEqual([
      'service.replayLog: the replay log is compacted with a snapshot of the service, and service.snapshot is not set',
    ]);
    expect(
      problems(() => setup(`  recovery: replay\n  dataDir: ${dir}\n${snapshot}`, { requestResponse: false })),
    ).toEqual([
      'service.snapshot: with recovery replay, the snapshot commands compact the replay log, which needs a request-response substrate (a stream has no point where the service is quiet)',
    ]);
    expect(problems(() => setup(`  recovery: snapshot\n${snapshot}`, { requestResponse: false }))).toEqual([
      'service.recovery: recovery snapshot needs a request-response substrate (a stream has no point where the service is quiet)',
    ]);
  });

  it('a stack with dependencies refuses to join a running group (the outbound state is not transferred), and starts with the group', async () => {
    const deps = `  recovery: replay\n  dataDir: ${dir}\n${snapshot}dependencies:\n  - { name: db, mode: exclusive, target: { host: 127.0.0.1, port: 5000 } }\n`;
    const fatal: VclError[] = [];
    const host: RecoveryHost = {
      captureTable: () => ({ table: { sessions: [], closed: [] }, caches: () => [] }),
      quiesce: async () => () => undefined,
      restore: () => undefined,
      replay: async () => undefined,
    };
    const state = (cut: number): Uint8Array =>
      encodeRecoveryState({ mode: 'replay', cut, base: 0, table: { sessions: [], closed: [] }, caches: [], log: [] });
    const fresh = setup(deps, { onFatal: (e) => fatal.push(e) });
    fresh.bind(host);
    await fresh.transfer.install(state(0), 0);
    expect(fresh.status().phase).toBe('live');
    fresh.stop();
    const joiner = setup(deps, { onFatal: (e) => fatal.push(e) });
    joiner.bind(host);
    await expect(joiner.transfer.install(state(42), 42)).rejects.toThrow(RecoveryRefusedError);
    expect(fatal.map((e) => e.message)).toEqual([
      'member n1 cannot join a running group: the stack has dependencies (db), whose outbound state (connection numbers, calls in flight) is not part of the state transfer; restart the whole group, see docs/dependent-services.md',
    ]);
    expect(joiner.status()).toMatchObject({ phase: 'refused' });
    joiner.stop();
  });
});
