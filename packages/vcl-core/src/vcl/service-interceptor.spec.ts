import type { AuditEvent, Authorizer } from '../contracts/aaa';
import { AuthenticationError } from '../errors';
import { LineClient, VclHarness } from '../testing/vcl/engine-harness';
import type { LinkConnection } from './link';
import { decodeMemberFrame, encodeClientFrame, type ClientFrame, type MemberFrame } from './link-frames';

/** A hand-driven client link, to send what a correct client-side interceptor never would. */
async function rawLink(
  h: VclHarness,
  member = 0,
): Promise<{ link: LinkConnection; frames: MemberFrame[]; closed: () => boolean }> {
  const link = await h.links.connect(h.addresses[member]!);
  const frames: MemberFrame[] = [];
  let closed = false;
  link.onFrame((b) => frames.push(decodeMemberFrame(b)));
  link.onClose(() => (closed = true));
  return { link, frames, closed: () => closed };
}

const send = (link: LinkConnection, f: ClientFrame): boolean => link.send(encodeClientFrame(f));
const hello = (session: string): ClientFrame => ({
  type: 'hello',
  session,
  credentials: new Uint8Array(),
  lastInSeq: 0,
  lastOutSeq: 0,
});

describe('ServiceInterceptor edges', () => {
  it('answers a bad frame with a typed error frame and a log line, and keeps serving others', async () => {
    const h = new VclHarness({ seed: 21 });
    await h.start();
    const good = new LineClient(h.client.connect());
    good.send('g:1', 1);
    await h.settle();
    await h.sim.runUntil(() => good.responses.length === 1, 5000);
    const bad = await rawLink(h);
    bad.link.send({ type: 0x47, flags: 0, body: new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n') });
    await h.sim.runFor(20);
    expect(bad.frames).toEqual([expect.objectContaining({ type: 'error', code: 'VCL_MALFORMED_FRAME', fatal: true })]);
    expect((bad.frames[0] as { message: string }).message).toMatch(/unknown type 0x47/);
    expect(bad.closed()).toBe(true);
    expect(h.logger.find('warn', 'client link refused').map((l) => l.fields['code'])).toEqual(['VCL_MALFORMED_FRAME']);
    good.send('g:2', 2);
    await h.settle();
    expect(await h.sim.runUntil(() => good.responses.length === 2, 5000)).toBe(true);
    expect(good.responses).toEqual(['g:1 1', 'g:2 3']);
  });

  it('refuses data before a session is open', async () => {
    const h = new VclHarness({ seed: 22 });
    await h.start();
    const raw = await rawLink(h);
    send(raw.link, { type: 'data', inSeq: 1, ackOutSeq: 0, bytes: new Uint8Array([1]) });
    await h.sim.runFor(20);
    expect(raw.frames[0]).toMatchObject({
      type: 'error',
      code: 'VCL_MALFORMED_FRAME',
      message: 'data before the session is open',
    });
  });

  it('answers HELLO for an unknown session with VCL_UNKNOWN_SESSION', async () => {
    const h = new VclHarness({ seed: 23 });
    await h.start();
    const raw = await rawLink(h, 1);
    send(raw.link, hello('no-such-session'));
    await h.sim.runFor(20);
    expect(raw.frames).toEqual([expect.objectContaining({ type: 'error', code: 'VCL_UNKNOWN_SESSION', fatal: true })]);
    expect(h.logger.find('warn', 'client link refused')).toHaveLength(1);
    for (const m of h.members) expect(h.services.get(m)!.status().sessions).toEqual([]);
  });

  it('expires a session whose client vanished, in total order, and answers a late HELLO with VCL_EXPIRED_SESSION', async () => {
    const h = new VclHarness({ seed: 24, service: { sessionTimeoutMs: 500, heartbeatMs: 50, linkTimeoutMs: 200 } });
    await h.start();
    const raw = await rawLink(h, 0);
    send(raw.link, { type: 'open', session: 'gone', credentials: new Uint8Array(), lastInSeq: 0, lastOutSeq: 0 });
    await h.sim.runFor(20);
    expect(raw.frames[0]).toMatchObject({ type: 'welcome', lastInSeq: 0, members: h.addresses });
    for (const m of h.members)
      expect(
        h.services
          .get(m)!
          .status()
          .sessions.map((s) => s.id),
      ).toEqual(['gone']);
    raw.link.destroy();
    await h.sim.runFor(1000);
    for (const m of h.members) expect(h.services.get(m)!.status().sessions).toEqual([]);
    expect(h.logger.find('info', 'session expired')).toHaveLength(1);
    const late = await rawLink(h, 2);
    send(late.link, hello('gone'));
    await h.sim.runFor(20);
    expect(late.frames).toEqual([expect.objectContaining({ type: 'error', code: 'VCL_EXPIRED_SESSION', fatal: true })]);
  });

  it('does not expire a session that failed over in time', async () => {
    const h = new VclHarness({ seed: 25, service: { sessionTimeoutMs: 300, heartbeatMs: 50 } });
    await h.start();
    const c = new LineClient(h.client.connect());
    c.send('a:1', 1);
    await h.settle();
    await h.sim.runUntil(() => c.responses.length === 1, 5000);
    h.crash(h.client.status().sessions[0]!.member!);
    await h.sim.runFor(2000);
    c.send('a:2', 1);
    await h.settle();
    expect(await h.sim.runUntil(() => c.responses.length === 2, 5000)).toBe(true);
    expect(h.logger.find('info', 'session expired')).toHaveLength(0);
  });

  it('tells attached clients the new member list after a view change', async () => {
    const h = new VclHarness({ seed: 26 });
    await h.start();
    const raw = await rawLink(h, 0);
    send(raw.link, { type: 'open', session: 's', credentials: new Uint8Array(), lastInSeq: 0, lastOutSeq: 0 });
    await h.sim.runFor(20);
    h.crash('n3');
    await h.sim.runFor(200);
    expect(raw.frames.filter((f) => f.type === 'members')).toEqual([
      { type: 'members', view: 2, members: h.addresses.filter((a) => a.id !== 'n3') },
    ]);
  });

  it('calls the AAA hooks at session open and before each request enters the total order', async () => {
    const audit: AuditEvent[] = [];
    const seen: string[] = [];
    const authorizer: Authorizer = {
      authorize: (principal, request) => {
        seen.push(`${principal.id}:${request.type}`);
        return request.type === 'request' && seen.filter((s) => s.endsWith('request')).length === 2
          ? { allow: false, reason: 'second request forbidden' }
          : { allow: true };
      },
    };
    const h = new VclHarness({
      seed: 27,
      service: {
        authenticator: {
          authenticate: async (_peer, credentials) => ({ id: new TextDecoder().decode(credentials), kind: 'client' }),
        },
        authorizer,
        auditor: { audit: (e) => audit.push(e) },
      },
      client: { credentials: new TextEncoder().encode('alice') },
    });
    await h.start();
    const c = new LineClient(h.client.connect());
    for (let i = 1; i <= 3; i++) c.send(`a:${i}`, i);
    await h.settle();
    expect(await h.sim.runUntil(() => c.responses.length === 3, 5000)).toBe(true);
    // The denied request is answered in the substrate's own way and never reaches any replica.
    expect(c.responses).toEqual(['a:1 1', 'ERR second request forbidden', 'a:3 4']);
    for (const m of h.members) expect(h.replicas.get(m)!.applied).toEqual(['a:1', 'a:3']);
    expect(seen).toEqual(['alice:connect', 'alice:request', 'alice:request', 'alice:request']);
    expect(audit.map((e) => e.type)).toEqual(expect.arrayContaining(['auth.success', 'session.open', 'authz.denied']));
    expect(audit.find((e) => e.type === 'session.open')?.principal).toBe('alice');
  });

  it('keeps each link in order through an asynchronous authorizer that answers out of order', async () => {
    // Each decision takes a random 0-20 ms, so later requests are often authorized first; they must
    // still enter the total order in the order the client sent them.
    const holder: { h?: VclHarness } = {};
    const authorizer: Authorizer = {
      authorize: () =>
        new Promise((resolve) => {
          const sim = holder.h!.sim;
          sim.schedule(Math.floor(sim.random.next() * 20), () => resolve({ allow: true }));
        }),
    };
    const h = new VclHarness({ seed: 29, service: { authorizer } });
    holder.h = h;
    await h.start();
    const c = new LineClient(h.client.connect());
    for (let i = 1; i <= 30; i++) c.send(`q:${i}`, i);
    await h.settle();
    expect(await h.sim.runUntil(() => c.responses.length === 30, 10_000)).toBe(true);
    expect(c.responses.map((r) => r.split(' ')[0])).toEqual(Array.from({ length: 30 }, (_, i) => `q:${i + 1}`));
    for (const m of h.members) expect(h.services.get(m)!.counters.duplicatesDropped).toBe(0);
  });

  it('refuses a client that fails authentication, with an error frame, and closes its connection', async () => {
    const h = new VclHarness({
      seed: 28,
      service: { authenticator: { authenticate: async () => Promise.reject(new AuthenticationError('bad key')) } },
    });
    await h.start();
    const c = new LineClient(h.client.connect());
    c.send('x:1', 1);
    await h.settle();
    await h.sim.runFor(200);
    expect(c.ended).toBe(true);
    expect(c.error?.message).toMatch(/VCL_AUTHENTICATION: bad key/);
    for (const m of h.members) expect(h.replicas.get(m)!.applied).toEqual([]);
  });
});
