import { BodyReader, BodyWriter, MalformedFrameError } from '@vcl/core';
import { SenderTable } from './sender-table';

describe('SenderTable', () => {
  it('remembers where recent messages went and which were delivered', () => {
    const t = new SenderTable(3);
    for (let f = 1; f <= 5; f++) t.record(1, 7, f, { view: 2, seq: 10 + f });
    expect(t.lookup(1, 7, 5)).toEqual({ view: 2, seq: 15 });
    expect(t.lookup(1, 7, 3)).toEqual({ view: 2, seq: 13 });
    expect(t.lookup(1, 7, 2)).toBe('unknown');
    expect(t.lookup(1, 7, 6)).toBeUndefined();
    expect(t.lookup(0, 7, 1)).toBeUndefined();
  });

  it('forgets a sender incarnation once a later one delivers', () => {
    const t = new SenderTable(3);
    t.record(1, 7, 1, { view: 2, seq: 11 });
    t.record(1, 8, 1, { view: 3, seq: 12 });
    expect(t.lookup(1, 7, 1)).toBeUndefined();
    expect(t.lookup(1, 8, 1)).toEqual({ view: 3, seq: 12 });
  });

  it('travels in a state transfer', () => {
    const t = new SenderTable(4);
    t.record(0, 1, 1, { view: 1, seq: 1 });
    t.record(2, 5, 9, { view: 4, seq: 40 });
    const w = new BodyWriter();
    t.write(w);
    const copy = new SenderTable(4);
    const r = new BodyReader(w.finish());
    copy.read(r, 3);
    r.end();
    expect(copy.lookup(2, 5, 9)).toEqual({ view: 4, seq: 40 });
    expect(copy.lookup(0, 1, 1)).toEqual({ view: 1, seq: 1 });
    expect(() => new SenderTable(4).read(new BodyReader(w.finish()), 2)).toThrow(MalformedFrameError);
  });
});
