import type { LinkConnection } from '../../vcl/link';
import { Simulator } from '../sim/simulator';
import { MemoryLinkTransport } from './memory-link';

describe('MemoryLinkTransport', () => {
  it('gives a frozen process the frames and then the close that reached it, only once it thaws', async () => {
    const sim = new Simulator({ seed: 1, members: ['a'] });
    const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
    const seen: string[] = [];
    let server: LinkConnection | undefined;
    await links.listen('m', 7000, (l) => {
      server = l;
      l.onFrame((f) => seen.push(`frame ${f.body[0]} at ${sim.now}`));
      l.onClose((e) => seen.push(`closed${e ? ` (${e.message})` : ''} at ${sim.now}`));
    });
    const client = await links.connect({ id: 'm', host: 'm', port: 7000 });
    expect(server).toBeDefined();
    links.freeze('m', 7000, true);
    client.send({ type: 1, flags: 0, body: new Uint8Array([7]) });
    client.destroy();
    await sim.runFor(10);
    expect(seen).toEqual([]);
    links.freeze('m', 7000, false);
    expect(seen).toEqual(['frame 7 at 10', 'closed (connection reset) at 10']);
  });
});
