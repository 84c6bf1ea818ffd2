import { decodeProcessPayload, encodeProcessPayload } from './payload';

describe('process workload payloads', () => {
  it('round-trips sender, incarnation and counter without padding', () => {
    const payload = encodeProcessPayload('n2', 3, 17);
    expect(new TextDecoder().decode(payload)).toBe('vcl-sim n2 3 17');
    expect(decodeProcessPayload(payload)).toEqual({ sender: 'n2', incarnation: 3, counter: 17, id: 'n2#3:17' });
  });

  it('pads to the asked size with zero bytes and still decodes', () => {
    for (const size of [100, 1024]) {
      const payload = encodeProcessPayload('n1', 1, 123456, size);
      expect(payload.length).toBe(size);
      expect(payload[size - 1]).toBe(0);
      expect(decodeProcessPayload(payload)?.id).toBe('n1#1:123456');
    }
  });

  it('never truncates: a size below the text length gives the bare text', () => {
    expect(encodeProcessPayload('n1', 1, 1, 4).length).toBe('vcl-sim n1 1 1'.length);
  });

  it('returns undefined for bytes that are no workload message', () => {
    expect(decodeProcessPayload(new TextEncoder().encode('hello'))).toBeUndefined();
    expect(decodeProcessPayload(new Uint8Array([0, 1, 2]))).toBeUndefined();
    expect(decodeProcessPayload(new TextEncoder().encode('vcl-sim n1 x 1'))).toBeUndefined();
  });
});
