import { FramingError, type Framer } from '@vcl/core';
import { join } from 'node:path';
import { readCorpus } from './corpus';
import { fuzz, runOne } from './fuzz';
import { chunksOf, fuzzTargets, type FuzzTarget } from './targets';

const root = join(__dirname, '..', '..', '..');
const targets = fuzzTargets(root);

describe('fuzz corpus replay (tools/fuzz/corpus)', () => {
  it.each(targets.map((t) => [t.name, t] as const))(
    '%s: every kept input is accepted or refused with a typed error',
    (_, target) => {
      const corpus = readCorpus(root, target.name);
      // Each target keeps at least its seeds, so a new target cannot be added without a corpus.
      expect(corpus.length).toBeGreaterThan(0);
      const defects = corpus
        .map(({ file, input }) => ({ file, outcome: runOne(target, input) }))
        .filter(({ outcome }) => outcome.kind === 'crash' || outcome.kind === 'allocation');
      expect(defects).toEqual([]);
    },
  );
});

describe('fuzz targets, a short run each (npm run fuzz runs 1,000,000 inputs per target)', () => {
  it.each(targets.map((t) => [t.name, t] as const))('%s: 1,500 inputs, no defect', (_, target) => {
    expect(fuzz(target, { runs: 1500, seed: 20261207 })).toBeUndefined();
  });
});

describe('the fuzzer finds and shrinks defects', () => {
  const bomb: FuzzTarget = {
    name: 'bomb',
    description: 'throws a TypeError when a 0x3a byte follows a 0x0a byte',
    seeds: () => [new TextEncoder().encode('key\nvalue')],
    run: (input) => {
      for (let i = 1; i < input.length; i++)
        if (input[i - 1] === 0x0a && input[i] === 0x3a) throw new TypeError('boom');
      if (input.length > 4096) throw new FramingError('too long');
    },
  };

  it('reports an untyped throw as a crash, with a shrunk input', () => {
    const failure = fuzz(bomb, { runs: 20000, seed: 7 });
    expect(failure).toMatchObject({ target: 'bomb', kind: 'crash', message: 'TypeError: boom' });
    expect([...failure!.input]).toEqual([0x0a, 0x3a]);
  });

  it('counts a typed refusal as no defect', () => {
    expect(runOne(bomb, new Uint8Array(5000))).toEqual({ kind: 'refused', code: 'VCL_FRAMING' });
  });

  it('reports an input that makes the target hold a huge buffer', () => {
    const held: Uint8Array[] = [];
    const hog: FuzzTarget = {
      name: 'hog',
      description: 'allocates what the first byte says, in MiB',
      seeds: () => [new Uint8Array([1])],
      run: (input) => void held.push(new Uint8Array((input[0] ?? 0) * 1024 * 1024)),
    };
    expect(runOne(hog, new Uint8Array([200]))).toMatchObject({ kind: 'allocation' });
    held.length = 0;
  });

  it('reports a framer that cuts a stream differently depending on how it arrives', () => {
    // Cuts a message at every chunk end: correct only when the input comes in one piece.
    const chunkCutter = (): Framer => ({ buffered: 0, push: (c) => (c.length ? [c] : []) });
    const target: FuzzTarget = {
      ...targets.find((t) => t.name === 'tcp-line-request')!,
      name: 'chunk-cutter',
      run: (input) => {
        const whole = chunkCutter().push(input);
        const f = chunkCutter();
        const parts = chunksOf(input).flatMap((c) => f.push(c));
        if (whole.length !== parts.length) throw new Error('framer cut differently');
      },
    };
    expect(fuzz(target, { runs: 2000, seed: 3 })).toMatchObject({ kind: 'crash' });
  });
});
