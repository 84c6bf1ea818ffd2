import type { AuditEvent } from '../contracts/aaa';
import { parseStack } from '../config/load-stack';
import { ConfigError, RecoveryCommandError } from '../errors';
import { RecordingLogger } from '../testing/vcl/recording-logger';
import { DivergenceDetector, DivergenceMonitor, outputHash, STATE_DIGEST_SESSION } from './divergence';
import type { SessionEvent } from './session-events';
import { DEFAULT_STATE_DIGEST_EVERY, stateDigestFor } from './state-digest';
import { Simulator } from '../testing/sim/simulator';
import { CounterService } from '../testing/vcl/counter-service';
import { FakeTotalOrder } from '../testing/vcl/fake-total-order';
import { lineSubstrate } from '../testing/vcl/line-substrate';
import { MemoryLinkTransport } from '../testing/vcl/memory-link';
import { VclError } from '../errors';
import { decodeMemberFrame, encodeClientFrame, type MemberFrame } from './link-frames';
import { ServiceInterceptor, type ServiceInterceptorOptions } from './service-interceptor';

type Digest = Extract<SessionEvent, { type: 'digest' }>;

describe('DivergenceDetector: comparisons opened at a point of the order (state digests)', () => {
  it('a comparison opened by expect awaits the view of that moment; a hash for one never opened is ignored', () => {
    const d = new DivergenceDetector(['n1', 'n2']);
    d.expect(STATE_DIGEST_SESSION, 100);
    d.installView(['n1', 'n2', 'n3'], 5);
    // n3 joined after the point: not awaited, and its detector would not have opened it.
    d.record('n1', STATE_DIGEST_SESSION, 100, 'a', 6, false);
    expect(d.record('n2', STATE_DIGEST_SESSION, 100, 'a', 7, false)).toEqual([]);
    expect(d.pending).toBe(0);
    expect(d.record('n3', STATE_DIGEST_SESSION, 100, 'z', 8, false)).toEqual([]);
    expect(d.record('n1', STATE_DIGEST_SESSION, 200, 'a', 9, false)).toEqual([]);
    expect(d.pending).toBe(0);
    expect(d.counters).toMatchObject({ compared: 1, divergentOutputs: 0 });
  });

  it('a member that left the view is not awaited again when it rejoins (a new incarnation never saw the unit)', () => {
    const d = new DivergenceDetector(['n1', 'n2', 'n3']);
    d.expect(STATE_DIGEST_SESSION, 10);
    d.installView(['n1', 'n2'], 3);
    d.installView(['n1', 'n2', 'n3'], 4);
    d.record('n1', STATE_DIGEST_SESSION, 10, 'a', 5, false);
    d.record('n2', STATE_DIGEST_SESSION, 10, 'a', 6, false);
    expect(d.pending).toBe(0);
    expect(d.pendingOf(STATE_DIGEST_SESSION)).toBe(0);
  });

  it('names a member whose state digest differs from the majority', () => {
    const d = new DivergenceDetector(['n1', 'n2', 'n3']);
    d.expect(STATE_DIGEST_SESSION, 30);
    d.record('n2', STATE_DIGEST_SESSION, 30, 'b', 1, false);
    d.record('n1', STATE_DIGEST_SESSION, 30, 'a', 2, false);
    expect(d.record('n3', STATE_DIGEST_SESSION, 30, 'a', 3, false)).toEqual([
      expect.objectContaining({ kind: 'diverged', member: 'n2', session: STATE_DIGEST_SESSION, inSeq: 30 }),
    ]);
  });
});

describe('DivergenceMonitor: state digests', () => {
  function monitor(self: string) {
    const logger = new RecordingLogger();
    const audits: AuditEvent[] = [];
    const sent: Digest[] = [];
    const m = new DivergenceMonitor({
      self,
      policy: 'evict',
      unit: 'request',
      members: ['n1', 'n2', 'n3'],
      broadcast: async (e) => void sent.push(e),
      logger,
      auditor: { audit: (e) => audits.push(e) },
      appliedIn: (s) => (s === STATE_DIGEST_SESSION ? 1002 : 1),
    });
    return { m, logger, audits, sent };
  }
  const state = (requests: number, digest: string): Digest => ({
    type: 'digest',
    session: STATE_DIGEST_SESSION,
    first: requests,
    hashes: [outputHash(new TextEncoder().encode(digest))],
  });

  it('shares the hash of the digest under the reserved session, numbered by the request count', () => {
    const { m, sent } = monitor('n1');
    m.stateDigest(1000, new TextEncoder().encode('state'));
    expect(sent).toEqual([state(1000, 'state')]);
    expect(m.status().counters).toMatchObject({ stateDigests: 1, hashesSent: 1 });
  });

  it('reports a state difference as "state digest after request N" (log, audit, status) and evicts under evict', async () => {
    const { m, logger, audits } = monitor('n2');
    m.expectState(1000);
    expect(m.openStateComparisons).toBe(1);
    m.deliver('n1', state(1000, 'a'), 10);
    m.deliver('n2', state(1000, 'b'), 11);
    m.deliver('n3', state(1000, 'a'), 12);
    const [line] = logger.find('error', 'diverged from the majority');
    expect(line!.msg).toBe('replica n2 diverged from the majority at state digest after request 1000');
    expect(line!.fields).toMatchObject({
      diverged: 'n2',
      session: STATE_DIGEST_SESSION,
      unit: 'state',
      inSeq: 1000,
      appliedInSession: 1002,
    });
    expect(audits[0]).toMatchObject({
      type: 'divergence',
      reason: 'member n2 diverged at state digest after request 1000',
    });
    expect(m.status().diverged).toEqual([
      expect.objectContaining({ member: 'n2', session: STATE_DIGEST_SESSION, unit: 'state', inSeq: 1000 }),
    ]);
    await expect(m.evicted).resolves.toMatchObject({ unit: 'state', inSeq: 1000 });
  });

  it('ignores state hashes for a point it did not deliver (a joiner installed past it)', () => {
    const { m, logger } = monitor('n3');
    m.deliver('n1', state(1000, 'a'), 10);
    m.deliver('n2', state(1000, 'b'), 11);
    expect(logger.find('error', 'diverged')).toEqual([]);
    expect(m.status().open).toBe(0);
  });

  it('a failed digest is logged and counted; nothing is sent', () => {
    const { m, logger, sent } = monitor('n1');
    m.stateDigestFailed(2000, new Error('exit 1'));
    expect(sent).toEqual([]);
    expect(m.status().counters.stateDigestErrors).toBe(1);
    expect(logger.find('error', 'state digest failed')[0]!.fields).toMatchObject({ requests: 2000, err: 'exit 1' });
  });
});

describe('stateDigestFor (startServiceMember)', () => {
  const BASE = `group: { name: g, members: [{ id: n1, host: 127.0.0.1, port: 7001, clientPort: 7101 }] }
substrate: { plugin: tcp }
client: { listen: { port: 9100 } }
`;
  const stack = (service: string, extra = ''): ReturnType<typeof parseStack> =>
    parseStack(`${BASE}service:\n  endpoint: { host: 127.0.0.1, port: 9000 }\n${service}${extra}`, 'stack.yaml');
  const base = { member: 'n1', source: 'stack.yaml', requestResponse: true, timeoutMs: 5000 } as const;
  const issues = (f: () => unknown): string[] => {
    try {
      f();
    } catch (e) {
      if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
      throw e;
    }
    throw new Error('expected a ConfigError');
  };

  it('none without the stack section or a callback', () => {
    expect(stateDigestFor({ ...base, stack: stack(''), internal: false })).toBeUndefined();
  });

  it('external mode runs the command without a shell, with the member and service endpoint in its environment', async () => {
    const sd = stateDigestFor({
      ...base,
      stack: stack(
        "  dataDir: /tmp/vcl-x\n  stateDigest:\n    command: [node, -e, \"process.stdout.write(process.env.VCL_MEMBER + ' ' + process.env.VCL_SERVICE_HOST + ':' + process.env.VCL_SERVICE_PORT + ' ' + process.env.VCL_DATA_DIR)\"]\n    every: 25\n",
      ),
      internal: false,
      endpoint: { host: '127.0.0.1', port: 9555 },
    })!;
    expect(sd.every).toBe(25);
    expect(new TextDecoder().decode(await sd.digest())).toBe('n1 127.0.0.1:9555 /tmp/vcl-x/n1');
  });

  it('a failing command is a RecoveryCommandError naming service.stateDigest.command', async () => {
    const sd = stateDigestFor({
      ...base,
      stack: stack('  stateDigest: { command: [node, -e, "process.exit(4)"] }\n'),
      internal: false,
    })!;
    expect(sd.every).toBe(DEFAULT_STATE_DIGEST_EVERY);
    await expect(sd.digest()).rejects.toThrow(RecoveryCommandError);
    await expect(sd.digest()).rejects.toThrow(/service\.stateDigest\.command: .* exited with 4/);
  });

  it('internal mode: the callback, with every from the option, else the stack, else 1000', async () => {
    const digest = async (): Promise<Uint8Array> => Uint8Array.of(1);
    expect(stateDigestFor({ ...base, stack: stack(''), internal: true, digest })!.every).toBe(1000);
    expect(
      stateDigestFor({ ...base, stack: stack('  stateDigest: { every: 9 }\n'), internal: true, digest })!.every,
    ).toBe(9);
    const sd = stateDigestFor({
      ...base,
      stack: stack('  stateDigest: { every: 9 }\n'),
      internal: true,
      digest,
      every: 3,
    })!;
    expect(sd.every).toBe(3);
    expect(await sd.digest()).toEqual(Uint8Array.of(1));
  });

  it('ConfigErrors naming the field: no command (external), no callback (internal), a stream substrate, divergence off, a bad every', () => {
    expect(
      issues(() => stateDigestFor({ ...base, stack: stack('  stateDigest: { every: 5 }\n'), internal: false })),
    ).toEqual([
      'service.stateDigest.command: missing; external mode runs this command to read the service state digest from its standard output',
    ]);
    expect(
      issues(() => stateDigestFor({ ...base, stack: stack('  stateDigest: { every: 5 }\n'), internal: true })),
    ).toEqual([
      'service.stateDigest: a state digest in internal mode needs the program to pass a stateDigest callback to startServiceMember',
    ]);
    expect(
      issues(() =>
        stateDigestFor({
          ...base,
          stack: stack('  stateDigest: { command: [x] }\n'),
          internal: false,
          requestResponse: false,
        }),
      ),
    ).toEqual([
      'service.stateDigest: a state digest needs request-response substrates (a stream has no point where the service is known to be quiet)',
    ]);
    const digest = async (): Promise<Uint8Array> => Uint8Array.of(1);
    expect(
      issues(() => stateDigestFor({ ...base, stack: stack('', 'onDivergence: off\n'), internal: true, digest })),
    ).toEqual([
      'onDivergence: stateDigest (startServiceMember option) is compared by divergence detection, which onDivergence: off turns off',
    ]);
    expect(issues(() => stateDigestFor({ ...base, stack: stack(''), internal: true, digest, every: 0 }))).toEqual([
      'stateDigestEvery (startServiceMember option): expected a positive integer, got 0',
    ]);
  });
});

describe('ServiceInterceptor with a state digest', () => {
  function interceptor(over: Partial<ServiceInterceptorOptions>) {
    const sim = new Simulator({ seed: 1, members: ['n1'] });
    const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
    const order = new FakeTotalOrder({ clock: sim.clock, members: ['n1'] });
    const substrate = lineSubstrate('request-response');
    const service = new ServiceInterceptor({
      self: 'n1',
      ordering: order.member('n1'),
      substrate,
      backend: new CounterService().backend(substrate),
      transport: links,
      listen: { host: 'n1', port: 7000 },
      members: [{ id: 'n1', host: 'n1', port: 7000 }],
      clock: sim.clock,
      logger: new RecordingLogger(),
      divergence: {},
      stateDigest: { every: 10, digest: async () => Uint8Array.of(1) },
      ...over,
    });
    return { sim, links, order, service };
  }

  it('refuses a client session that names the reserved session id', async () => {
    const { sim, links, order, service } = interceptor({});
    await order.member('n1').start();
    await service.start();
    const link = await links.connect({ id: 'n1', host: 'n1', port: 7000 });
    const frames: MemberFrame[] = [];
    link.onFrame((b) => frames.push(decodeMemberFrame(b)));
    link.send(
      encodeClientFrame({
        type: 'open',
        session: STATE_DIGEST_SESSION,
        credentials: new Uint8Array(),
        lastInSeq: 0,
        lastOutSeq: 0,
      }),
    );
    await sim.runFor(20);
    expect(frames).toEqual([expect.objectContaining({ type: 'error', code: 'VCL_MALFORMED_FRAME', fatal: true })]);
    expect((frames[0] as { message: string }).message).toMatch(/vcl:state is reserved/);
    expect(service.status().sessions).toEqual([]);
    await service.stop();
  });

  it('refuses to be built without divergence detection, with a stream substrate or a bad every', () => {
    expect(() => interceptor({ divergence: undefined })).toThrow(/needs divergence detection/);
    expect(() => interceptor({ substrate: lineSubstrate('stream') })).toThrow(/"test-line" is a stream/);
    expect(() => interceptor({ stateDigest: { every: 1.5, digest: async () => Uint8Array.of(1) } })).toThrow(VclError);
  });
});
