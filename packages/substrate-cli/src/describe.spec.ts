import { VclError } from '@vcl/core';
import { CliSubstrate } from './cli-substrate';
import { encodeRequest } from './codec';
import { resolveCliOptions } from './options';

describe('CliSubstrate.describeRequest (what an access policy sees of a request)', () => {
  const substrate = new CliSubstrate(resolveCliOptions(undefined));

  it('gives the argv the client asked for', () => {
    const message = encodeRequest({ argv: ['rm', '-rf', 'x'], stdin: new Uint8Array(0) });
    expect(substrate.describeRequest(message)).toEqual({ command: ['rm', '-rf', 'x'] });
  });

  it('throws a VclError for a message that is not a command request', () => {
    expect(() => substrate.describeRequest(new Uint8Array([1, 2, 3]))).toThrow(VclError);
  });
});
