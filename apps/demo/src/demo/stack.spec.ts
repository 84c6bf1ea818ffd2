import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStack } from '@vcl/core';
import { ORDERINGS } from './args';
import { demoPorts, freePorts, prepareStack, stackFileFor } from './stack';

describe('the committed stack files', () => {
  it.each(ORDERINGS)(
    'mds-%s.yaml is a valid 3-member loopback stack with that ordering and line framing',
    async (ordering) => {
      const stack = await loadStack(stackFileFor(ordering));
      expect(stack.ordering.plugin).toBe(ordering);
      expect(stack.group.members.map((m) => m.id)).toEqual(['n1', 'n2', 'n3']);
      expect(stack.group.members.every((m) => m.host === '127.0.0.1' && m.adminPort !== undefined)).toBe(true);
      expect(stack.substrates).toEqual([{ plugin: 'tcp', options: { framing: 'line' } }]);
      expect(stack.service.endpoint).toEqual({ host: '127.0.0.1', port: 7401 });
    },
  );
});

describe('prepareStack', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vcl-demo-stack-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('moves every port and keeps everything else', async () => {
    const ports = await demoPorts(3);
    const out = join(dir, 'stack.json');
    const written = await prepareStack(stackFileFor('sequencer'), ports, out);
    const reloaded = await loadStack(out);
    expect(reloaded).toEqual(written);
    const original = await loadStack(stackFileFor('sequencer'));
    expect(reloaded.group.members.map((m) => [m.port, m.clientPort, m.adminPort])).toEqual(
      ports.members.map((m) => [m.port, m.clientPort, m.adminPort]),
    );
    expect(reloaded.client.listen).toEqual({ host: '127.0.0.1', port: ports.clientPort });
    expect(reloaded.service.endpoint).toEqual({ host: '127.0.0.1', port: ports.members[0]!.mdsPort });
    expect(reloaded.ordering).toEqual(original.ordering);
    expect(reloaded.timeouts).toEqual(original.timeouts);
  });

  it('gives distinct free ports', async () => {
    const ports = await freePorts(13);
    expect(new Set(ports).size).toBe(13);
  });
});
