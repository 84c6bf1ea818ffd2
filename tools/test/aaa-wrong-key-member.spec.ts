// Issue #7: "a member with a wrong key cannot join and delivers nothing" — at the level of the
// group, not just of one link: both ordering plugins over the real TcpNetwork with hmac link
// security, in one process on 127.0.0.1.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { hmacLinkSecurity } from '@vcl/aaa';
import {
  createOrderingMember,
  realClock,
  realRandom,
  tcpNetwork,
  type Delivery,
  type Logger,
  type OrderingProtocol,
  type Plugin,
  type View,
} from '@vcl/core';
import { freePorts } from '@vcl/core/testing';
import { sequencer } from '@vcl/gcs-sequencer';
import { tokenRing } from '@vcl/gcs-tokenring';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

async function until(what: string, done: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const orderings: [string, () => Plugin][] = [
  ['sequencer', () => sequencer()],
  ['tokenring', () => tokenRing()],
];

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

// A brand-new group needs every configured member (the token ring always; the sequencer unless
// bootstrapQuorum is majority), so the group first forms with the right key everywhere; then n3
// is restarted with the wrong key, as an operator who copied the wrong file would.
describe('a member with the wrong group key (hmac, real TCP)', () => {
  it.each(orderings)(
    '%s: restarted with the wrong key, n3 never joins a view again and delivers nothing; n1 and n2 go on',
    async (_, plugin) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-wrong-key-'));
      const key = (name: string): string => {
        const f = path.join(dir, name);
        fs.writeFileSync(f, randomBytes(48).toString('base64'), { mode: 0o600 });
        return f;
      };
      const groupKey = key('group.key');
      const wrongKey = key('wrong.key');
      const ids = ['n1', 'n2', 'n3'];
      const ports = await freePorts(3);
      const members = ids.map((id, i) => ({ id, host: '127.0.0.1', port: ports[i]! }));
      const delivered = new Map<string, string[]>();
      const views = new Map<string, View[]>();
      const start = (id: string, keyFile: string, incarnation: number) => {
        const network = tcpNetwork({
          self: id,
          members,
          logger: silent,
          incarnation,
          security: hmacLinkSecurity({ keyFile }),
          reconnect: { initialMs: 20, maxMs: 200 },
        });
        const m: OrderingProtocol = createOrderingMember(plugin(), {
          group: { self: id, members: ids, partition: 'primary-component' },
          network,
          clock: realClock(),
          random: realRandom(),
          logger: silent,
        });
        const name = `${id}#${incarnation}`;
        delivered.set(name, []);
        views.set(name, []);
        m.onDeliver((d: Delivery) => delivered.get(name)!.push(new TextDecoder().decode(d.payload)));
        m.onView((v) => views.get(name)!.push(v));
        return { id, network, m };
      };
      const nodes = ids.map((id) => start(id, groupKey, 1));
      const all = [...nodes];
      try {
        await Promise.all(nodes.map((n) => n.network.start()));
        await Promise.all(nodes.map((n) => n.m.start()));
        await until('the three to install a view of all three', () =>
          ids.every((id) => views.get(`${id}#1`)!.some((v) => v.primary && v.members.length === 3)),
        );
        await nodes[0]!.m.broadcast(text('before'));
        await until('everybody to deliver it', () => ids.every((id) => delivered.get(`${id}#1`)!.includes('before')));

        await nodes[2]!.m.stop();
        await nodes[2]!.network.stop();
        const impostor = start('n3', wrongKey, 2);
        all.push(impostor);
        await impostor.network.start();
        await impostor.m.start();
        await until('n1 and n2 to install a primary view of the two of them', () =>
          ['n1#1', 'n2#1'].every((id) => views.get(id)!.some((v) => v.primary && v.members.join() === 'n1,n2')),
        );
        await Promise.all(['a', 'b', 'c'].map((s, i) => nodes[i % 2]!.m.broadcast(text(s))));
        // n3 tries too: its broadcast must never reach anybody's total order.
        void impostor.m.broadcast(text('from the impostor')).catch(() => undefined);
        await until('n1 and n2 to deliver all three', () =>
          ['n1#1', 'n2#1'].every((id) => delivered.get(id)!.length >= 4),
        );
        await new Promise((r) => setTimeout(r, 1000));
        expect([...delivered.get('n1#1')!].sort()).toEqual(['a', 'b', 'before', 'c']);
        expect(delivered.get('n2#1')).toEqual(delivered.get('n1#1'));
        expect(delivered.get('n3#2')).toEqual([]);
        expect(views.get('n3#2')!.every((v) => !v.members.includes('n1') && !v.members.includes('n2'))).toBe(true);
        const after = (id: string) => views.get(id)!.slice(views.get(id)!.findIndex((v) => v.members.length === 2));
        for (const id of ['n1#1', 'n2#1']) expect(after(id).every((v) => !v.members.includes('n3'))).toBe(true);
        expect(nodes[0]!.network.status().find((p) => p.id === 'n3')!.link).not.toBe('open');
      } finally {
        for (const n of all) await n.m.stop().catch(() => undefined);
        for (const n of all) await n.network.stop().catch(() => undefined);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    40_000,
  );
});
