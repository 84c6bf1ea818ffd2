import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  AuthenticationError,
  IntegrityError,
  TcpLinkTransport,
  type LinkConnection,
  type LinkFrame,
  type LinkListener,
  type LinkSecurity,
  type SecuredLink,
  type VclError,
} from '@vcl/core';
import { hmacLinkSecurity, tlsLinkSecurity } from '../src';
import { testCa } from './certs';
import { str, tempDir, text, waitFor, writeFile } from './helpers';

/** What one accepting end saw: the links it was handed, their frames and errors, and refusals. */
interface Acceptor {
  listener: LinkListener;
  links: LinkConnection[];
  frames: string[];
  invalid: VclError[];
  refused: { remote: string; error: Error }[];
}

async function accept(security: LinkSecurity | undefined): Promise<Acceptor> {
  const a: Omit<Acceptor, 'listener'> = { links: [], frames: [], invalid: [], refused: [] };
  const transport = new TcpLinkTransport({
    localId: 'n1',
    connectTimeoutMs: 2000,
    ...(security ? { security } : {}),
    onRefused: (remote, error) => a.refused.push({ remote, error }),
  });
  const listener = await transport.listen('127.0.0.1', 0, (link) => {
    a.links.push(link);
    link.onFrame((f) => {
      a.frames.push(str(f.body));
      link.send({ type: 0x32, flags: 0, body: text(`echo ${str(f.body)}`) });
    });
    link.onInvalid((e) => a.invalid.push(e));
  });
  return { listener, ...a };
}

function dial(acceptor: Acceptor, security: LinkSecurity | undefined, expectedMember = 'n1'): Promise<LinkConnection> {
  const transport = new TcpLinkTransport({ connectTimeoutMs: 2000, ...(security ? { security } : {}) });
  return transport.connect({ id: expectedMember, host: '127.0.0.1', port: acceptor.listener.port });
}

/** Wraps a hook so that, after its handshake, `attack` rewrites what `seal` puts on the wire. */
function onPath(
  inner: LinkSecurity,
  attack: () => (f: LinkFrame, seal: (g: LinkFrame) => LinkFrame) => LinkFrame,
): LinkSecurity {
  return {
    name: inner.name,
    async handshake(link): Promise<SecuredLink> {
      const s = await inner.handshake(link);
      const a = attack();
      return { peerId: s.peerId, open: (f) => s.open(f), seal: (f) => a(f, (g) => s.seal(g)) };
    },
  };
}

// The client-side interceptor <-> member link (TcpLinkTransport) with the AAA hooks, the same ones
// member links use: hello exchange, handshake, then every frame sealed and opened.
describe('interceptor links with link security (127.0.0.1)', () => {
  let dir: string;
  let groupKey: string;
  const open: { close(): unknown }[] = [];
  beforeAll(() => {
    dir = tempDir();
    groupKey = writeFile(dir, 'group.key', randomBytes(48).toString('base64'));
  });
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function echoRound(link: LinkConnection, what: string): Promise<string[]> {
    const got: string[] = [];
    link.onFrame((f) => got.push(str(f.body)));
    link.send({ type: 0x22, flags: 0, body: text(what) });
    await waitFor(`the echo of ${what}`, () => got.length > 0);
    return got;
  }

  it('hmac: a client holding the group key talks to the member; frames are sealed on the wire', async () => {
    const a = await accept(hmacLinkSecurity({ keyFile: groupKey }));
    open.push(a.listener);
    const link = await dial(a, hmacLinkSecurity({ keyFile: groupKey }));
    open.push({ close: () => link.destroy() });
    expect(await echoRound(link, 'hello')).toEqual(['echo hello']);
    expect(a.frames).toEqual(['hello']);
    expect(link.identity?.peerId).toBe('n1');
    expect(a.links[0]!.identity?.peerId).toBe('client');
  });

  it('hmac: a client with the wrong key is refused at connect, logged by the member, and no frame of it arrives', async () => {
    const wrong = writeFile(dir, 'wrong.key', randomBytes(48).toString('base64'));
    const a = await accept(hmacLinkSecurity({ keyFile: groupKey }));
    open.push(a.listener);
    await expect(dial(a, hmacLinkSecurity({ keyFile: wrong }))).rejects.toThrow(AuthenticationError);
    await waitFor('the member to report the refusal', () => a.refused.length === 1);
    expect(a.refused[0]!.error).toBeInstanceOf(AuthenticationError);
    expect(a.links).toEqual([]);
    expect(a.frames).toEqual([]);
  });

  it('a client without link security gets a clear refusal naming the mode; a member without it refuses a secured client', async () => {
    const a = await accept(hmacLinkSecurity({ keyFile: groupKey }));
    open.push(a.listener);
    const plain = await dial(a, undefined);
    const errors: string[] = [];
    plain.onFrame((f) => errors.push(str(f.body)));
    plain.send({ type: 0x20, flags: 0, body: text('open please') });
    await waitFor('the member to refuse the plain client', () => a.refused.length === 1);
    expect(a.refused[0]!.error.message).toMatch(/expected a link security hello \(this end uses 'hmac'/);
    await waitFor('the refusal to reach the client', () => errors.length === 1);
    expect(errors[0]).toMatch(/expected a link security hello/);
    expect(a.links).toEqual([]);

    const b = await accept(undefined);
    open.push(b.listener);
    // The plain member hands the hello to its interceptor as an unknown frame, which answers with
    // a typed error (tested in the interceptor specs); the secured client never gets a proven link.
    await expect(
      new TcpLinkTransport({ connectTimeoutMs: 500, security: hmacLinkSecurity({ keyFile: groupKey }) }).connect({
        id: 'n1',
        host: '127.0.0.1',
        port: b.listener.port,
      }),
    ).rejects.toThrow();
  });

  it('hmac: the member claiming another id is refused by the client', async () => {
    const a = await accept(hmacLinkSecurity({ keyFile: groupKey }));
    open.push(a.listener);
    await expect(dial(a, hmacLinkSecurity({ keyFile: groupKey }), 'n2')).rejects.toThrow(
      /dialled member n2 at .* but the member there says it is n1/,
    );
  });

  const attacks: [string, () => (f: LinkFrame, seal: (g: LinkFrame) => LinkFrame) => LinkFrame][] = [
    [
      'a flipped bit',
      () => {
        let n = 0;
        return (f, seal) => {
          const sealed = seal(f);
          if (n++ !== 1) return sealed;
          const body = sealed.body.slice();
          body[0]! ^= 0x10;
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
          return sent.length === 2 ? sent[0]! : sent[sent.length - 1]!;
        };
      },
    ],
  ];
  it.each(attacks)(
    'hmac: %s from the client is rejected by the member, which reads nothing after it',
    async (_, attack) => {
      const a = await accept(hmacLinkSecurity({ keyFile: groupKey }));
      open.push(a.listener);
      const link = await dial(a, onPath(hmacLinkSecurity({ keyFile: groupKey }), attack));
      open.push({ close: () => link.destroy() });
      for (const m of ['one', 'two', 'three']) link.send({ type: 0x22, flags: 0, body: text(m) });
      await waitFor('the member to reject the frame', () => a.invalid.length === 1);
      expect(a.invalid[0]).toBeInstanceOf(IntegrityError);
      expect(a.frames).toEqual(['one']);
    },
  );

  it('tls: a client certificate of the group CA is proven and its identity reaches the member; another CA is refused', async () => {
    const group = testCa(dir, 'group');
    const rogue = testCa(dir, 'rogue');
    const a = await accept(tlsLinkSecurity(group.issue('n1'), 'clients'));
    open.push(a.listener);
    const link = await dial(a, tlsLinkSecurity(group.issue('alice'), 'client'));
    open.push({ close: () => link.destroy() });
    expect(await echoRound(link, 'hi')).toEqual(['echo hi']);
    expect(a.links[0]!.identity).toEqual({ peerId: 'alice', tlsIdentity: 'alice' });
    expect(link.identity?.peerId).toBe('n1');

    const mallory = rogue.issue('mallory');
    await expect(dial(a, tlsLinkSecurity({ ...mallory, ca: group.ca }, 'client'))).rejects.toThrow(AuthenticationError);
    await waitFor('the member to refuse the rogue certificate', () => a.refused.length === 1);
    expect(a.refused[0]!.error).toBeInstanceOf(AuthenticationError);
    expect(a.links).toHaveLength(1);
  });
});
