import { ConfigError, OptionsError } from '../errors';
import { defineOptions, parseOptions, z } from './options';

const heartbeat = defineOptions({
  /** Heartbeat period. */
  heartbeatMs: z.number().int().positive().default(100),
  mode: z.enum(['fast', 'safe']).default('safe'),
});

function caught(fn: () => unknown): OptionsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof OptionsError) return e;
    throw e;
  }
  throw new Error('expected an OptionsError');
}

describe('parseOptions / defineOptions', () => {
  it('fills in defaults, also when no options were given', () => {
    expect(heartbeat.parse(undefined, 'ordering.options')).toEqual({ heartbeatMs: 100, mode: 'safe' });
    expect(heartbeat.parse({ heartbeatMs: 20 }, 'ordering.options')).toEqual({ heartbeatMs: 20, mode: 'safe' });
  });

  it('names the dotted path and what was expected for a wrong type', () => {
    const e = caught(() => heartbeat.parse({ heartbeatMs: 'fast' }, 'ordering.options'));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.code).toBe('VCL_CONFIG');
    expect(e.issues).toEqual([{ path: 'ordering.options.heartbeatMs', message: 'expected a number, got "fast"' }]);
    expect(e.relativeIssues[0]!.path).toBe('heartbeatMs');
    expect(e.optionsSource).toBe('ordering.options');
    expect(e.message).toBe(
      'ordering.options: 1 problem\n  - ordering.options.heartbeatMs: expected a number, got "fast"',
    );
  });

  it('reports an unknown option with a did-you-mean hint', () => {
    const e = caught(() => heartbeat.parse({ hartbeatMs: 5 }, 'ordering.options'));
    expect(e.issues).toEqual([
      { path: 'ordering.options.hartbeatMs', message: 'unknown key "hartbeatMs"', hint: 'did you mean "heartbeatMs"?' },
    ]);
  });

  it('lists the known options for an unknown option that resembles none', () => {
    const e = caught(() => heartbeat.parse({ zzz: 5 }, 'opts'));
    expect(e.issues[0]!.hint).toBe('known keys: heartbeatMs, mode');
  });

  it('reports every problem at once: range, enum and non-object input', () => {
    const e = caught(() => heartbeat.parse({ heartbeatMs: -1, mode: 'safer' }, 'ordering.options'));
    expect(e.issues).toEqual([
      { path: 'ordering.options.heartbeatMs', message: 'expected a number more than 0, got -1' },
      {
        path: 'ordering.options.mode',
        message: 'expected one of fast | safe, got "safer"',
        hint: 'did you mean "safe"?',
      },
    ]);
    expect(caught(() => heartbeat.parse(7, 'x')).issues).toEqual([
      { path: 'x', message: 'expected an object (key: value mapping), got 7' },
    ]);
  });

  it('works with any schema through parseOptions, including nested paths', () => {
    const schema = z.object({ peers: z.array(z.object({ port: z.number().int().max(65535) })) });
    expect(parseOptions(schema, { peers: [{ port: 1 }] }, 'x')).toEqual({ peers: [{ port: 1 }] });
    const e = caught(() => parseOptions(schema, { peers: [{ port: 1 }, { port: 70000 }] }, 'substrates[0].options'));
    expect(e.issues).toEqual([
      { path: 'substrates[0].options.peers[1].port', message: 'expected a number at most 65535, got 70000' },
    ]);
  });
});
