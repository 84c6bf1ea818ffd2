import { FramingError, MessageTooLargeError } from '@vcl/core';
import { CommandFramer, decodeRequest, decodeResponse, encodeRequest, encodeResponse, MAX_ARGS } from './codec';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('command-line wire format', () => {
  it('round-trips requests and responses', () => {
    const request = { argv: ['a', 'ü ß', ''], stdin: new Uint8Array([0, 1, 2]) };
    expect(decodeRequest(encodeRequest(request))).toEqual(request);
    const result = { exitCode: 3, stdout: bytes('out'), stderr: bytes('err'), timedOut: true as const };
    expect(decodeResponse(encodeResponse(result))).toEqual(result);
  });

  it('rejects an oversize frame from its length prefix alone', () => {
    const framer = new CommandFramer('request', 100, decodeRequest);
    expect(() => framer.push(new Uint8Array([0, 0, 0, 101]))).toThrow(MessageTooLargeError);
    expect(() => framer.push(new Uint8Array([0, 0, 0, 101]))).toThrow(
      'request of 101 bytes exceeds the maximum of 100 bytes',
    );
  });

  it('cuts a large frame pushed in small chunks without losing a byte', () => {
    const frame = encodeRequest({ argv: ['x'], stdin: new Uint8Array(50_000).fill(7) });
    const framer = new CommandFramer('request', 1 << 20, decodeRequest);
    const out: Uint8Array[] = [];
    for (let at = 0; at < frame.length; at += 333) out.push(...framer.push(frame.subarray(at, at + 333)));
    expect(out).toHaveLength(1);
    expect(Buffer.from(out[0]!).equals(Buffer.from(frame))).toBe(true);
    expect(framer.buffered).toBe(0);
  });

  it('names what is wrong in a malformed frame', () => {
    const framer = (): CommandFramer => new CommandFramer('request', 1000, decodeRequest);
    expect(() => framer().push(new Uint8Array([0, 0, 0, 2, 0x51, 9]))).toThrow(
      'request frame of version 9, expected 1',
    );
    expect(() => framer().push(new Uint8Array([0, 0, 0, 4, 0x51, 1, 0, 1]))).toThrow(
      'request frame ends inside its argument 0 length',
    );
    expect(() => encodeRequest({ argv: Array(MAX_ARGS + 1).fill('a'), stdin: new Uint8Array(0) })).toThrow(
      FramingError,
    );
  });
});
