import type { AuditEvent } from '../contracts/aaa';
import { LineClient, VclHarness } from '../testing/vcl/engine-harness';
import type { LinkConnection } from './link';
import { decodeMemberFrame, encodeClientFrame, type ClientFrame, type MemberFrame } from './link-frames';
import { encodeSessionEvent } from './session-events';
import { newSessionId, shortSessionId } from './session-id';
import { SessionTable } from './session-table';

const enc = new TextEncoder();

/** A harness whose authenticator takes the credentials as the principal's name (a valid token each). */
function harness(seed: number, audit: AuditEvent[]): VclHarness {
  return new VclHarness({
    seed,
    service: {
      authenticator: {
        authenticate: async (_peer, credentials) => ({ id: new TextDecoder().decode(credentials), kind: 'client' }),
      },
      // The setting: a policy that allows every principal everything.
      authorizer: { authorize: () => ({ allow: true }) },
      auditor: { audit: (e) => audit.push(e) },
    },
    client: { credentials: enc.encode('alice') },
  });
}

async function rawLink(h: VclHarness, member: number): Promise<{ link: LinkConnection; frames: MemberFrame[] }> {
  const link = await h.links.connect(h.addresses[member]!);
  const frames: MemberFrame[] = [];
  link.onFrame((b) => frames.push(decodeMemberFrame(b)));
  return { link, frames };
}
const send = (link: LinkConnection, f: ClientFrame): boolean => link.send(encodeClientFrame(f));

describe('a session belongs to the principal that opened it', () => {
  it.each([0, 1, 2])(
    'refuses a HELLO with a valid token for another principal’s session (hijacker at member %i)',
    async (member) => {
      const audit: AuditEvent[] = [];
      const h = harness(300 + member, audit);
      await h.start();
      const owner = new LineClient(h.client.connect());
      owner.send('a:1', 1);
      await h.settle();
      expect(await h.sim.runUntil(() => owner.responses.length === 1, 5000)).toBe(true);
      const session = h.client.status().sessions[0]!.id;

      // The attack from issue #19: mallory holds a valid token and knows alice's session id.
      const mallory = await rawLink(h, member);
      send(mallory.link, { type: 'hello', session, credentials: enc.encode('mallory'), lastInSeq: 0, lastOutSeq: 0 });
      await h.sim.runFor(30);
      send(mallory.link, { type: 'data', inSeq: 2, ackOutSeq: 0, bytes: enc.encode('m:1\n') });
      send(mallory.link, { type: 'data', inSeq: 3, ackOutSeq: 0, bytes: enc.encode('m:2\n') });
      await h.sim.runFor(30);

      expect(mallory.frames).toEqual([
        expect.objectContaining({ type: 'error', code: 'VCL_SESSION_HIJACK', fatal: true }),
      ]);
      expect(mallory.frames.some((f) => f.type === 'welcome' || f.type === 'output')).toBe(false);
      const hijacks = audit.filter((e) => e.type === 'session.hijack');
      expect(hijacks).toHaveLength(1);
      expect(hijacks[0]).toMatchObject({ principal: 'mallory', details: { owner: 'alice', ordered: false } });
      // Never the whole id in the audit trail.
      expect(JSON.stringify(audit)).not.toContain(session);

      // The owner's next request is applied and answered with its own output, at every replica.
      owner.send('a:2', 2);
      await h.settle();
      expect(await h.sim.runUntil(() => owner.responses.length === 2, 5000)).toBe(true);
      expect(owner.responses).toEqual(['a:1 1', 'a:2 3']);
      expect(owner.error).toBeUndefined();
      for (const m of h.members) expect(h.replicas.get(m)!.applied).toEqual(['a:1', 'a:2']);
    },
  );

  it('refuses an ordered attach by another principal at every member alike, even if the member that ordered it did not check', async () => {
    const audit: AuditEvent[] = [];
    const h = harness(310, audit);
    await h.start();
    const owner = new LineClient(h.client.connect());
    owner.send('a:1', 1);
    await h.settle();
    await h.sim.runUntil(() => owner.responses.length === 1, 5000);
    const session = h.client.status().sessions[0]!.id;
    const attachedTo = h.client.status().sessions[0]!.member!;
    // What a wrong or old member would order for mallory's HELLO.
    const rogue = h.members.find((m) => m !== attachedTo)!;
    void h.order
      .member(rogue)
      .broadcast(encodeSessionEvent({ type: 'attach', session, origin: rogue, attempt: 99, principal: 'mallory' }));
    await h.sim.runFor(30);
    for (const m of h.members) {
      const s = h.services.get(m)!.status().sessions[0]!;
      expect(s.attached).toBe(attachedTo);
    }
    const hijacks = audit.filter((e) => e.type === 'session.hijack');
    expect(hijacks.map((e) => e.member).sort()).toEqual([...h.members].sort());
    expect(hijacks.every((e) => e.details?.['ordered'] === true)).toBe(true);
    owner.send('a:2', 2);
    await h.settle();
    expect(await h.sim.runUntil(() => owner.responses.length === 2, 5000)).toBe(true);
    expect(owner.responses).toEqual(['a:1 1', 'a:2 3']);
    expect(h.client.counters.failovers).toBe(0);
  });

  it('the session table refuses an open or attach by another principal and leaves the session as it was', () => {
    const t = new SessionTable();
    t.apply({ type: 'open', session: 's', origin: 'n1', attempt: 1, principal: 'alice' }, 1);
    expect(t.apply({ type: 'attach', session: 's', origin: 'n2', attempt: 2, principal: 'bob' }, 2)).toMatchObject({
      kind: 'refused',
      why: 'hijack',
      principal: 'bob',
      owner: 'alice',
    });
    expect(t.apply({ type: 'open', session: 's', origin: 'n2', attempt: 3, principal: 'bob' }, 3)).toMatchObject({
      kind: 'refused',
      why: 'hijack',
    });
    expect(t.get('s')).toMatchObject({ attached: 'n1', lastEventAt: 1 });
    // Same principal, and attaches from older members (no principal): attached as before.
    expect(t.apply({ type: 'attach', session: 's', origin: 'n3', attempt: 4, principal: 'alice' }, 4).kind).toBe(
      'attached',
    );
    expect(t.apply({ type: 'attach', session: 's', origin: 'n2', attempt: 5 }, 5).kind).toBe('attached');
  });

  it('makes 128-bit random session ids and shows only a prefix of them; short ids from older clients still work', async () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newSessionId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    const id = [...ids][0]!;
    expect(shortSessionId(id)).toBe(`${id.slice(0, 8)}…`);
    expect(shortSessionId('0badf00d')).toBe('0badf00d');

    const audit: AuditEvent[] = [];
    const h = harness(311, audit);
    await h.start();
    const owner = new LineClient(h.client.connect());
    owner.send('a:1', 1);
    await h.settle();
    await h.sim.runUntil(() => owner.responses.length === 1, 5000);
    const session = h.client.status().sessions[0]!.id;
    expect(session).toMatch(/^[0-9a-f]{32}$/);
    const infoLines = h.logger.lines.filter((l) => l.level === 'info' || l.level === 'warn');
    expect(infoLines.length).toBeGreaterThan(0);
    expect(JSON.stringify(infoLines)).not.toContain(session);
    expect(JSON.stringify(audit)).not.toContain(session);

    // An older client's 8-hex-digit id.
    const old = await rawLink(h, 1);
    send(old.link, { type: 'open', session: '0badf00d', credentials: enc.encode('bob'), lastInSeq: 0, lastOutSeq: 0 });
    await h.sim.runFor(30);
    expect(old.frames[0]).toMatchObject({ type: 'welcome' });
  });
});
