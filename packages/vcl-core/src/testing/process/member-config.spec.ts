import { OptionsError } from '../../errors';
import { parseMemberProcessConfig, parseWorkload } from './member-config';

const valid = {
  id: 'n1',
  members: [
    { id: 'n1', host: '127.0.0.1', port: 4001 },
    { id: 'n2', host: '127.0.0.1', port: 4002 },
  ],
  plugin: { name: 'sequencer', options: { heartbeatMs: 50 } },
  incarnation: 1,
  workload: { mode: 'rate', perSecond: 20 },
  logFile: '/tmp/n1.events.jsonl',
};

describe('member process config', () => {
  it('accepts a valid config unchanged', () => {
    expect(parseMemberProcessConfig(valid)).toEqual(valid);
  });

  it('lists every bad field with its path', () => {
    const bad = {
      ...valid,
      id: 'n9',
      members: [...valid.members, { id: 'n2', host: '127.0.0.1', port: 70000 }],
      incarnation: 0,
      workload: { mode: 'rate', perSecond: -1 },
      colour: 'blue',
    };
    let error: unknown;
    try {
      parseMemberProcessConfig(bad, 'n9.config.json');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OptionsError);
    const message = (error as Error).message;
    expect(message).toContain('n9.config.json');
    expect(message).toContain('members[2].port');
    expect(message).toContain('incarnation');
    expect(message).toContain('workload.perSecond');
    expect(message).toContain('colour');
  });

  it('checks that the member is one of the members and ids are unique', () => {
    expect(() => parseMemberProcessConfig({ ...valid, id: 'n3' })).toThrow(
      'must be one of the members (n1, n2), got n3',
    );
    expect(() =>
      parseMemberProcessConfig({ ...valid, members: [valid.members[0], { ...valid.members[1], id: 'n1' }] }),
    ).toThrow('duplicate member id n1');
  });

  it('validates workloads sent to a running member', () => {
    expect(parseWorkload({ mode: 'saturate', maxPending: 32, payloadBytes: 1024 })).toEqual({
      mode: 'saturate',
      maxPending: 32,
      payloadBytes: 1024,
    });
    expect(() => parseWorkload({ mode: 'burst' })).toThrow(OptionsError);
    expect(() => parseWorkload({ mode: 'idle', perSecond: 3 })).toThrow('perSecond');
  });
});
