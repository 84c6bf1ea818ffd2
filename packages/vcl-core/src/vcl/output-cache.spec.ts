import fc from 'fast-check';
import { OutputCache } from './output-cache';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (c: { bytes: Uint8Array }[]): string => c.map((x) => new TextDecoder().decode(x.bytes)).join('');

describe('OutputCache', () => {
  it('numbers messages by index and trims at acks', () => {
    const c = new OutputCache('message', 1024);
    expect(c.append(b('a\n'))).toMatchObject({ from: 0, to: 1 });
    expect(c.append(b('b\n'))).toMatchObject({ from: 1, to: 2 });
    c.append(b('c\n'));
    expect(c.after(1).map((x) => x.from)).toEqual([1, 2]);
    expect(c.trim(2)).toBe(true);
    expect(c.size).toBe(1);
    expect(c.bytes).toBe(2);
    expect(c.trim(1)).toBe(false); // acks only move forward
    expect(c.acked).toBe(2);
    expect(text(c.after(0))).toBe('c\n');
  });

  it('numbers streams by byte offset and cuts partial chunks', () => {
    const c = new OutputCache('byte', 1024);
    c.append(b('hello '));
    c.append(b('world'));
    expect(c.produced).toBe(11);
    expect(text(c.after(3))).toBe('lo world');
    c.trim(8);
    expect(c.bytes).toBe(3);
    expect(c.first).toBe(8);
    expect(text(c.after(0))).toBe('rld');
  });

  it('keeps only what is past an ack that ran ahead of this member', () => {
    const c = new OutputCache('byte', 1024);
    c.trim(4); // the client got 4 bytes from a faster member
    expect(c.append(b('ab'))).toMatchObject({ from: 0, to: 2 });
    expect(c.bytes).toBe(0);
    c.append(b('cdef'));
    expect(text(c.after(0))).toBe('ef');
  });

  it('turns full at its bound and never drops unacknowledged output', () => {
    const c = new OutputCache('message', 10);
    for (let i = 0; i < 5; i++) c.append(b(`${i}${i}${i}\n`));
    expect(c.full).toBe(true);
    expect(c.after(0)).toHaveLength(5);
    c.trim(3);
    expect(c.full).toBe(false);
    expect(text(c.after(0))).toBe('333\n444\n');
  });

  it('holds exactly the unacknowledged suffix for any appends and acks (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.record({ data: fc.uint8Array({ maxLength: 20 }) }), fc.record({ ack: fc.nat({ max: 400 }) })),
          { maxLength: 60 },
        ),
        (ops) => {
          const c = new OutputCache('byte', 1 << 20);
          const all: number[] = [];
          let acked = 0;
          for (const op of ops) {
            if ('data' in op) {
              c.append(op.data);
              all.push(...op.data);
            } else {
              acked = Math.max(acked, op.ack);
              c.trim(op.ack);
            }
          }
          const held = c.after(0).flatMap((x) => [...x.bytes]);
          expect(held).toEqual(all.slice(acked));
          expect(c.bytes).toBe(held.length);
        },
      ),
    );
  });
});
