import { ConfigError, OptionsError } from '@vcl/core';
import { TOKEN_RING_DEFAULTS, parseTokenRingOptions } from './options';

function issues(input: unknown): { path: string; message: string; hint?: string }[] {
  try {
    parseTokenRingOptions(input, 'ordering.options');
  } catch (err) {
    expect(err).toBeInstanceOf(OptionsError);
    expect(err).toBeInstanceOf(ConfigError);
    return (err as OptionsError).issues.map((i) => (i.hint ? { ...i } : { path: i.path, message: i.message }));
  }
  throw new Error('expected an OptionsError');
}

describe('parseTokenRingOptions', () => {
  it('fills in the documented defaults', () => {
    expect(parseTokenRingOptions(undefined)).toEqual(TOKEN_RING_DEFAULTS);
    expect(parseTokenRingOptions({})).toEqual(TOKEN_RING_DEFAULTS);
    expect(parseTokenRingOptions({ window: 10, holdMs: 5 })).toEqual({
      ...TOKEN_RING_DEFAULTS,
      window: 10,
      maxPerVisit: 10,
      holdMs: 5,
    });
    expect(TOKEN_RING_DEFAULTS).toMatchObject({ tokenLossMs: 1000, window: 50, maxPerVisit: 17, holdMs: 100 });
  });

  it('names each bad field with its path', () => {
    expect(issues({ window: 0, tokenLossMs: 'x', maxPerVisit: 1.5 })).toEqual([
      { path: 'ordering.options.tokenLossMs', message: 'expected a number, got "x"' },
      { path: 'ordering.options.window', message: 'expected a number at least 1, got 0' },
      { path: 'ordering.options.maxPerVisit', message: 'expected an integer, got 1.5 (not an integer)' },
    ]);
  });

  it('rejects unknown options with a did-you-mean hint, and non-objects', () => {
    expect(issues({ windw: 5 })).toEqual([
      { path: 'ordering.options.windw', message: 'unknown key "windw"', hint: 'did you mean "window"?' },
    ]);
    expect(issues(7)[0]!.path).toBe('ordering.options');
  });

  it('checks the relations between fields', () => {
    expect(issues({ tokenRetransmitMs: 2000 })[0]).toMatchObject({
      path: 'ordering.options.tokenRetransmitMs',
      message: 'must be less than tokenLossMs (1000), got 2000',
    });
    expect(issues({ joinMs: 400 })[0]!.message).toBe('must be less than consensusMs (300), got 400');
    expect(issues({ window: 10, maxPerVisit: 11 })[0]!.message).toBe('must be at most window (10), got 11');
  });
});
