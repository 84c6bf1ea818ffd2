import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tcpNetwork, type LinkFrame, type LinkSecurity, type SecuredLink, type TcpNetwork } from '@vcl/core';
import { hmacLinkSecurity } from '../src';
import { freePorts, RecordingLogger, sleep, str, tempDir, text, waitFor, writeFile } from './helpers';

/** Rewrites one link's outgoing frames: gets each frame and the real `seal`, returns what goes on the wire. */
type Attack = (frame: LinkFrame, seal: (f: LinkFrame) => LinkFrame) => LinkFrame;

/**
 * An on-path attacker: wraps a real hook and, after the handshake, rewrites what the sender's
 * `seal` emits (flip a bit, resend an old frame, send a later frame first) before it reaches the wire.
 */
function onPath(inner: LinkSecurity, makeAttack: () => Attack): LinkSecurity {
  return {
    name: inner.name,
    async handshake(link): Promise<SecuredLink> {
      const s = await inner.handshake(link);
      const attack = makeAttack();
      return { peerId: s.peerId, open: (f) => s.open(f), seal: (f) => attack(f, (g) => s.seal(g)) };
    },
  };
}

describe('hmac link security on TcpNetwork (127.0.0.1)', () => {
  let dir: string;
  let logger: RecordingLogger;
  let networks: TcpNetwork[];
  beforeEach(() => {
    dir = tempDir();
    logger = new RecordingLogger();
    networks = [];
  });
  afterEach(async () => {
    await Promise.all(networks.map((n) => n.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function start(
    ids: string[],
    security: (id: string) => LinkSecurity,
  ): Promise<{ nets: Map<string, TcpNetwork>; got: string[] }> {
    const ports = await freePorts(ids.length);
    const members = ids.map((id, i) => ({ id, host: '127.0.0.1', port: ports[i]! }));
    const got: string[] = [];
    const nets = new Map<string, TcpNetwork>();
    for (const id of ids) {
      const n = tcpNetwork({
        self: id,
        members,
        logger,
        security: security(id),
        reconnect: { initialMs: 10, maxMs: 50 },
      });
      n.onMessage((from, b) => got.push(`${id}<-${from}:${str(b)}`));
      networks.push(n);
      nets.set(id, n);
    }
    await Promise.all([...nets.values()].map((n) => n.start()));
    return { nets, got };
  }

  it('a member with the wrong group key never delivers a message and both others log its refusal', async () => {
    const groupKey = writeFile(dir, 'group.key', randomBytes(48).toString('base64'));
    const wrongKey = writeFile(dir, 'wrong.key', randomBytes(48).toString('base64'));
    const { nets, got } = await start(['n1', 'n2', 'n3'], (id) =>
      hmacLinkSecurity({ keyFile: id === 'n3' ? wrongKey : groupKey }),
    );
    for (const from of ['n1', 'n2', 'n3'])
      for (const to of ['n1', 'n2', 'n3']) if (from !== to) nets.get(from)!.send(to, text(`hello from ${from}`));
    await waitFor(
      'n1 and n2 exchange messages',
      () => got.includes('n1<-n2:hello from n2') && got.includes('n2<-n1:hello from n1'),
    );
    // Whichever end checks the proof first refuses: n1 and n2 either fail n3's proof themselves or
    // are told by n3 that theirs failed (n3 cannot verify a key it does not hold). Either way the
    // link is refused and logged, naming n3.
    for (const m of ['n1', 'n2'])
      await waitFor(`${m} logs the refusal of n3`, () =>
        logger
          .warnings(m)
          .some(
            (w) =>
              w.fields['peer'] === 'n3' &&
              (w.msg === 'link authentication failed' ||
                (w.msg === 'peer closed the link' && w.fields['code'] === 'VCL_AUTHENTICATION')),
          ),
      );
    await sleep(300);
    expect(got.filter((m) => m.includes('n3'))).toEqual([]);
    expect(
      nets
        .get('n1')!
        .status()
        .find((p) => p.id === 'n3')!.link,
    ).not.toBe('open');
    expect(
      nets
        .get('n3')!
        .status()
        .every((p) => p.link !== 'open'),
    ).toBe(true);
    expect(
      logger
        .warnings('n3')
        .filter((w) => w.msg === 'link authentication failed')
        .map((w) => w.fields['err']),
    ).toContain('hmac handshake: n1 did not prove the group key');
  });

  const key = randomBytes(32);
  const cases: [string, () => Attack][] = [
    [
      'a flipped bit',
      () => {
        let n = 0;
        return (f, seal) => {
          const sealed = seal(f);
          if (n++ !== 1) return sealed;
          const body = sealed.body.slice();
          body[0]! ^= 0x04;
          return { ...sealed, body };
        };
      },
    ],
    [
      'a replayed frame',
      () => {
        const sent: LinkFrame[] = [];
        return (f, seal) => {
          sent.push(seal(f));
          return sent.length === 3 ? sent[0]! : sent[sent.length - 1]!;
        };
      },
    ],
    [
      'reordered frames',
      () => {
        let n = 0;
        return (f, seal) => {
          if (n++ !== 1) return seal(f);
          // The second frame goes out with the third frame's sequence number, as if 2 and 3 swapped.
          seal(f);
          return seal(f);
        };
      },
    ],
  ];
  it.each(cases)('rejects %s: the frame is not delivered, the link is closed and logged', async (_name, attack) => {
    const { nets, got } = await start(['n1', 'n2'], (id) =>
      id === 'n1' ? onPath(hmacLinkSecurity({ key }), attack) : hmacLinkSecurity({ key }),
    );
    const n1 = nets.get('n1')!;
    n1.send('n2', text('m0'));
    await waitFor('first message', () => got.length === 1);
    n1.send('n2', text('m1'));
    n1.send('n2', text('m2'));
    await waitFor('integrity failure logged', () =>
      logger.warnings('n2').some((w) => w.msg === 'closing link' && w.fields['code'] === 'VCL_INTEGRITY'),
    );
    await sleep(100);
    expect(got[0]).toBe('n2<-n1:m0');
    // Nothing after the bad frame on that link is delivered.
    const bad = got.findIndex((m) => m !== 'n2<-n1:m0' && m !== 'n2<-n1:m1');
    expect(bad).toBe(-1);
    expect(got.filter((m) => m === 'n2<-n1:m0')).toHaveLength(1);
  });
});
