import { ConfigError, OptionsError } from '@vcl/core';
import { SEQUENCER_DEFAULTS, resolveSequencerOptions } from './options';

function caught(fn: () => unknown): OptionsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof OptionsError) return e;
    throw e;
  }
  throw new Error('expected an OptionsError');
}

describe('sequencer options', () => {
  it('fills in the documented defaults', () => {
    expect(resolveSequencerOptions(undefined)).toEqual(SEQUENCER_DEFAULTS);
    expect(resolveSequencerOptions({ heartbeatMs: 20 })).toEqual({ ...SEQUENCER_DEFAULTS, heartbeatMs: 20 });
    expect(resolveSequencerOptions({ heartbeatMs: undefined })).toEqual(SEQUENCER_DEFAULTS);
    expect(SEQUENCER_DEFAULTS.suspectTimeoutMs + SEQUENCER_DEFAULTS.confirmTimeoutMs).toBeLessThan(1000);
  });

  it('lists every bad field in one ConfigError, with a did-you-mean hint for a misspelt key', () => {
    const e = caught(() =>
      resolveSequencerOptions(
        { heartbeatMs: 'fast', maxPending: 0, windowBytes: 1.5, hartbeatMs: 1 },
        'ordering.options',
      ),
    );
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.relativeIssues.map((i) => `${i.path}: ${i.message}${i.hint ? ` (${i.hint})` : ''}`)).toEqual([
      'heartbeatMs: expected a number, got "fast"',
      'maxPending: expected a number at least 1, got 0',
      'windowBytes: expected an integer, got 1.5 (not an integer)',
      'hartbeatMs: unknown key "hartbeatMs" (did you mean "heartbeatMs"?)',
    ]);
  });

  it('checks fields against each other', () => {
    expect(() => resolveSequencerOptions({ windowBytes: 1000, maxMessageBytes: 2000 })).toThrow(
      'maxMessageBytes: must not exceed windowBytes (1000), got 2000 (hint: one message must fit in the ordering window)',
    );
    expect(() => resolveSequencerOptions({ heartbeatMs: 300 })).toThrow(
      'suspectTimeoutMs: must be at least twice heartbeatMs (600), got 500',
    );
  });

  it('rejects a non-object', () => {
    expect(() => resolveSequencerOptions([1], 'stack.yaml ordering')).toThrow('stack.yaml ordering: 1 problem');
    expect(() => resolveSequencerOptions(5)).toThrow(OptionsError);
  });
});
