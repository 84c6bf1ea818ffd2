import * as fs from 'node:fs';
import { ConfigError, tcpNetwork, type TcpNetwork } from '@vcl/core';
import { tlsLinkSecurity, type TlsLinkOptions } from '../src';
import { testCa, type CertFiles } from './certs';
import { freePorts, RecordingLogger, sleep, str, tempDir, text, waitFor } from './helpers';

describe('tls link security on TcpNetwork (127.0.0.1, certificates from openssl at test time)', () => {
  let dir: string;
  let logger: RecordingLogger;
  let networks: TcpNetwork[];
  let group: ReturnType<typeof testCa>;
  let rogue: ReturnType<typeof testCa>;
  beforeAll(() => {
    dir = tempDir();
    group = testCa(dir, 'group');
    rogue = testCa(dir, 'rogue');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    logger = new RecordingLogger();
    networks = [];
  });
  afterEach(async () => {
    await Promise.all(networks.map((n) => n.stop()));
  });

  async function start(certs: Record<string, CertFiles>): Promise<{ nets: Map<string, TcpNetwork>; got: string[] }> {
    const ids = Object.keys(certs);
    const ports = await freePorts(ids.length);
    const members = ids.map((id, i) => ({ id, host: '127.0.0.1', port: ports[i]! }));
    const got: string[] = [];
    const nets = new Map<string, TcpNetwork>();
    for (const id of ids) {
      const options: TlsLinkOptions = certs[id]!;
      const n = tcpNetwork({
        self: id,
        members,
        logger,
        security: tlsLinkSecurity(options),
        reconnect: { initialMs: 10, maxMs: 50 },
      });
      n.onMessage((from, b) => got.push(`${id}<-${from}:${str(b)}`));
      networks.push(n);
      nets.set(id, n);
    }
    await Promise.all([...nets.values()].map((n) => n.start()));
    for (const from of ids) for (const to of ids) if (from !== to) nets.get(from)!.send(to, text(`hi from ${from}`));
    return { nets, got };
  }

  it('members with certificates of the group CA talk; a certificate from another CA is refused', async () => {
    const { nets, got } = await start({ n1: group.issue('n1'), n2: group.issue('n2'), n3: rogue.issue('n3') });
    await waitFor('n1 <-> n2', () => got.includes('n1<-n2:hi from n2') && got.includes('n2<-n1:hi from n1'));
    await waitFor('n3 refused', () =>
      logger.warnings().some((w) => w.fields['peer'] === 'n3' && w.fields['code'] === 'VCL_AUTHENTICATION'),
    );
    await sleep(200);
    expect(got.filter((m) => m.includes('n3')).sort()).toEqual([]);
    expect(
      nets
        .get('n3')!
        .status()
        .every((p) => p.link !== 'open'),
    ).toBe(true);
  });

  it('refuses a group certificate that names another member', async () => {
    // n3 holds a valid group certificate, but for n2.
    const { got } = await start({ n1: group.issue('n1'), n3: group.issue('n2', 'stolen-n2') });
    await waitFor('n3 refused', () =>
      logger
        .warnings('n1')
        .some(
          (w) => w.msg === 'link authentication failed' && /proves n2, not member n3/.test(String(w.fields['err'])),
        ),
    );
    await sleep(100);
    expect(got).toEqual([]);
  });

  it('refuses a private key file readable by others', () => {
    const c = group.issue('n9');
    fs.chmodSync(c.key, 0o644);
    expect(() => tlsLinkSecurity(c)).toThrow(ConfigError);
    expect(() => tlsLinkSecurity(c)).toThrow(/readable by group or others \(mode 0644\)/);
  });
});
