import { ConfigError } from '@vcl/core';
import { SEQUENCER_DEFAULTS, resolveSequencerOptions } from './options';

describe('sequencer options', () => {
  it('fills in the documented defaults', () => {
    expect(resolveSequencerOptions(undefined)).toEqual(SEQUENCER_DEFAULTS);
    expect(resolveSequencerOptions({ heartbeatMs: 20 })).toEqual({ ...SEQUENCER_DEFAULTS, heartbeatMs: 20 });
    expect(SEQUENCER_DEFAULTS.suspectTimeoutMs + SEQUENCER_DEFAULTS.confirmTimeoutMs).toBeLessThan(1000);
  });

  it('lists every bad field in one ConfigError', () => {
    let err: unknown;
    try {
      resolveSequencerOptions({ heartbeatMs: 'fast', maxPending: 0, windowBytes: 1.5, bogus: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    expect(issues).toEqual([
      'heartbeatMs: expected an integer, got the string "fast"',
      'maxPending: must be between 1 and 1000000, got 0',
      'windowBytes: expected an integer, got 1.5',
      'bogus: unknown option',
    ]);
  });

  it('checks fields against each other', () => {
    expect(() => resolveSequencerOptions({ windowBytes: 1000, maxMessageBytes: 2000 })).toThrow(
      'maxMessageBytes: must not exceed windowBytes (1000), got 2000',
    );
    expect(() => resolveSequencerOptions({ heartbeatMs: 300 })).toThrow(
      'suspectTimeoutMs: must be at least twice heartbeatMs',
    );
  });

  it('rejects a non-object', () => {
    expect(() => resolveSequencerOptions([1], 'stack.yaml ordering')).toThrow('stack.yaml ordering: 1 problem');
    expect(() => resolveSequencerOptions(5)).toThrow('(root): expected an object, got 5');
  });
});
