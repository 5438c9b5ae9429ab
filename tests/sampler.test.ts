import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Rng } from '../reference/random.js';
import { applyRepetitionPenalty, argmax, Sampler } from '../src/generate/sampler.js';
import { StopStringFilter } from '../src/generate/stop-strings.js';

const logits = () => new Float32Array([1, 3, 2, -1, 0.5]); // order by likelihood: 1, 2, 0, 4, 3

describe('Sampler', () => {
  test('temperature 0 is argmax', () => {
    expect(new Sampler({ temperature: 0 }).sample(logits())).toBe(1);
    expect(argmax(new Float32Array([-5, -2, -3]))).toBe(1);
  });

  test('a seed reproduces a run; another seed gives another run', () => {
    const run = (seed: number) => {
      const s = new Sampler({ temperature: 1.5, seed });
      return Array.from({ length: 50 }, () => s.sample(logits()));
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });

  test('top-k 2 only ever draws the two most likely tokens', () => {
    const s = new Sampler({ temperature: 5, topK: 2, seed: 1 });
    const seen = new Set(Array.from({ length: 300 }, () => s.sample(logits())));
    expect([...seen].sort()).toEqual([1, 2]);
  });

  test('top-p keeps the smallest set reaching p', () => {
    // probabilities at T=1: softmax([1,3,2,-1,.5]) ≈ [.086,.636,.234,.012,.052]; p=0.8 keeps {1, 2}
    const s = new Sampler({ temperature: 1, topP: 0.8, seed: 3 });
    const seen = new Set(Array.from({ length: 300 }, () => s.sample(logits())));
    expect([...seen].sort()).toEqual([1, 2]);
  });

  test('min-p drops tokens below minP × the top probability', () => {
    // p(2)/p(1) = e^-1 ≈ 0.37, p(0)/p(1) = e^-2 ≈ 0.135: minP 0.2 keeps {1, 2}
    const s = new Sampler({ temperature: 1, minP: 0.2, seed: 5 });
    const seen = new Set(Array.from({ length: 300 }, () => s.sample(logits())));
    expect([...seen].sort()).toEqual([1, 2]);
  });

  test('draws in proportion to the probabilities', () => {
    const s = new Sampler({ temperature: 1, seed: 9 });
    const counts = [0, 0];
    const two = () => new Float32Array([0, Math.log(3)]); // p = 1/4, 3/4
    for (let i = 0; i < 4000; i++) counts[s.sample(two())]++;
    expect(counts[1] / 4000).toBeGreaterThan(0.72);
    expect(counts[1] / 4000).toBeLessThan(0.78);
  });

  test('rejects nonsense settings with the setting named', () => {
    expect(() => new Sampler({ temperature: -1 })).toThrow(/temperature/);
    expect(() => new Sampler({ topP: 0 })).toThrow(/top-p/);
    expect(() => new Sampler({ topK: 1.5 })).toThrow(/top-k/);
  });
});

test('repetition penalty always makes a seen token less likely, whatever the sign of its logit', () => {
  const x = new Float32Array([2, -2, 1]);
  applyRepetitionPenalty(x, [0, 1], 2, 64);
  expect(Array.from(x)).toEqual([1, -4, 1]);
  fc.assert(fc.property(fc.float({ min: -50, max: 50, noNaN: true }), fc.float({ min: Math.fround(1.01), max: 5, noNaN: true }), (v, p) => {
    const y = new Float32Array([v]);
    applyRepetitionPenalty(y, [0], p, 64);
    expect(y[0]).toBeLessThanOrEqual(v);
  }));
});

test('Rng is deterministic and uniform-looking', () => {
  const a = new Rng(7);
  const b = new Rng(7);
  const xs = Array.from({ length: 1000 }, () => a.nextFloat());
  expect(xs).toEqual(Array.from({ length: 1000 }, () => b.nextFloat()));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  expect(mean).toBeGreaterThan(0.45);
  expect(mean).toBeLessThan(0.55);
  expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
  expect(Math.max(...xs)).toBeLessThan(1);
});

describe('StopStringFilter', () => {
  test('never shows a stop string, even split across pieces', () => {
    const f = new StopStringFilter(['\nUser:']);
    const shown = ['Hello', ' there', '\nUs', 'er', ':', ' more'].map((p) => f.push(p)).join('') + f.flush();
    expect(shown).toBe('Hello there');
    expect(f.stopped).toBe(true);
  });

  test('releases held-back text that turned out not to be a stop string', () => {
    const f = new StopStringFilter(['END']);
    expect(f.push('the EN')).toBe('the ');
    expect(f.push('Dx')).toBe('');
    expect(f.stopped).toBe(true);
    const g = new StopStringFilter(['END']);
    expect(g.push('the EN')).toBe('the ');
    expect(g.push('ough')).toBe('ENough');
    expect(g.stopped).toBe(false);
  });

  test('shown text plus the stop point equals the input up to the first stop string (property)', () => {
    fc.assert(fc.property(fc.array(fc.string({ maxLength: 4 }), { maxLength: 10 }), fc.string({ minLength: 1, maxLength: 3 }), (pieces, stop) => {
      const f = new StopStringFilter([stop]);
      const shown = pieces.map((p) => f.push(p)).join('') + f.flush();
      const all = pieces.join('');
      const i = all.indexOf(stop);
      expect(shown).toBe(i >= 0 ? all.slice(0, i) : all);
    }));
  });
});
