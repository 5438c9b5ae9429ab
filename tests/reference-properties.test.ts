// Properties of the maths that any correct LLaMA has, checked on random inputs.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { createKVCache, forward } from '../reference/model.js';
import { rmsnorm } from '../reference/rmsnorm.js';
import { rope, ropeFrequencies } from '../reference/rope.js';
import { silu, swiglu } from '../reference/swiglu.js';
import { tsKernels } from '../reference/ts-kernels.js';

const f32 = (n: number) => fc.float32Array({ minLength: n, maxLength: n, min: -4, max: 4, noNaN: true, noDefaultInfinity: true });
const norm = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0));
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);

describe('RoPE', () => {
  test('keeps the norm of every head', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }).chain((half) => fc.tuple(f32(2 * half), fc.integer({ min: 0, max: 4096 }))), ([x, pos]) => {
      const y = x.slice();
      rope(y, 1, 1, x.length, pos, ropeFrequencies(x.length, 10000));
      expect(norm(y)).toBeCloseTo(norm(x), 3);
    }));
  });

  test('⟨R(m)q, R(n)k⟩ depends only on m − n', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 8 }).chain((half) => fc.tuple(f32(2 * half), f32(2 * half))),
      fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 500 }),
      ([q, k], m, n, shift) => {
        const rq = (pos: number) => { const y = q.slice(); rope(y, 1, 1, q.length, pos, ropeFrequencies(q.length, 10000)); return y; };
        const rk = (pos: number) => { const y = k.slice(); rope(y, 1, 1, k.length, pos, ropeFrequencies(k.length, 10000)); return y; };
        const a = dot(rq(m), rk(n));
        const b = dot(rq(m + shift), rk(n + shift));
        expect(Math.abs(a - b)).toBeLessThan(1e-3 * (1 + norm(q) * norm(k)));
      },
    ));
  });

  test('rotates adjacent pairs: position 1 turns (1, 0) by θ⁰ = 1 radian in the first pair', () => {
    const x = new Float32Array([1, 0, 1, 0]);
    rope(x, 1, 1, 4, 1, ropeFrequencies(4, 10000));
    expect(x[0]).toBeCloseTo(Math.cos(1), 6);
    expect(x[1]).toBeCloseTo(Math.sin(1), 6);
    expect(x[2]).toBeCloseTo(Math.cos(0.01), 6); // θ^(−2/4) = 10000^(−1/2) = 0.01
    expect(x[3]).toBeCloseTo(Math.sin(0.01), 6);
  });
});

describe('RMSNorm', () => {
  test('is invariant to scaling its input', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 64 }).chain((n) => fc.tuple(f32(n), f32(n))), fc.float({ min: Math.fround(0.1), max: 100, noNaN: true }), ([x, g], s) => {
      fc.pre(norm(x) > 1e-2);
      const a = new Float32Array(x.length);
      const b = new Float32Array(x.length);
      rmsnorm(a, x, g, 1, x.length, 0);
      rmsnorm(b, x.map((v) => v * s), g, 1, x.length, 0);
      for (let i = 0; i < x.length; i++) expect(b[i]).toBeCloseTo(a[i], 3);
    }));
  });

  test('gives RMS 1 with unit gains', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 64 }).chain((n) => f32(n)), (x) => {
      fc.pre(norm(x) > 1e-2);
      const y = new Float32Array(x.length);
      rmsnorm(y, x, new Float32Array(x.length).fill(1), 1, x.length, 0);
      expect(Math.sqrt(dot(y, y) / y.length)).toBeCloseTo(1, 4);
    }));
  });
});

test('SwiGLU equals its closed form a·σ(a)·b', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 32 }).chain((n) => fc.tuple(f32(n), f32(n))), ([a, b]) => {
    const out = new Float32Array(a.length);
    swiglu(out, a, b, a.length);
    for (let i = 0; i < a.length; i++) expect(out[i]).toBeCloseTo((a[i] / (1 + Math.exp(-a[i]))) * b[i], 4);
  }));
  expect(silu(0)).toBe(0);
  expect(silu(20)).toBeCloseTo(20, 5);
});

// Small random models of varied shapes: grouped KV, shared or separate classifier.
const configArb = fc.record({
  nKvHeads: fc.constantFrom(1, 2),
  group: fc.constantFrom(1, 2),
  hdHalf: fc.integer({ min: 1, max: 4 }),
  nLayers: fc.integer({ min: 1, max: 2 }),
  hiddenDim: fc.integer({ min: 3, max: 20 }),
  vocabSize: fc.integer({ min: 5, max: 30 }),
  shared: fc.boolean(),
  seed: fc.integer(),
}).map((r) => {
  const nHeads = r.nKvHeads * r.group;
  const config: LlamaConfig = {
    dim: nHeads * 2 * r.hdHalf, nLayers: r.nLayers, nHeads, nKvHeads: r.nKvHeads, hiddenDim: r.hiddenDim,
    vocabSize: r.vocabSize, maxSeqLen: 12, normEps: 1e-5, ropeTheta: 10000, sharedClassifier: r.shared,
  };
  return { model: randomModel(config, r.seed, { std: 0.5, gainJitter: 0.3 }), seed: r.seed };
});

const tokensArb = (V: number) => fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: 2, maxLength: 12 });

test('attention ignores future tokens: changing token t+1 leaves outputs at ≤ t unchanged', () => {
  fc.assert(fc.property(configArb.chain(({ model }) => fc.tuple(fc.constant(model), tokensArb(model.config.vocabSize), fc.nat())), ([model, tokens, pick]) => {
    const t = pick % (tokens.length - 1);
    const changed = tokens.slice();
    changed[t + 1] = (changed[t + 1] + 1) % model.config.vocabSize;
    const V = model.config.vocabSize;
    const a = forward(model, tsKernels, createKVCache(model.config), tokens, 0, { allLogits: true });
    const b = forward(model, tsKernels, createKVCache(model.config), changed, 0, { allLogits: true });
    expect(Array.from(b.subarray(0, (t + 1) * V))).toEqual(Array.from(a.subarray(0, (t + 1) * V)));
    expect(Array.from(b.subarray((t + 1) * V))).not.toEqual(Array.from(a.subarray((t + 1) * V)));
  }), { numRuns: 40 });
});

test('KV-cached decoding one token at a time equals the full forward', () => {
  fc.assert(fc.property(configArb.chain(({ model }) => fc.tuple(fc.constant(model), tokensArb(model.config.vocabSize))), ([model, tokens]) => {
    const V = model.config.vocabSize;
    const full = forward(model, tsKernels, createKVCache(model.config), tokens, 0, { allLogits: true });
    const cache = createKVCache(model.config);
    for (let t = 0; t < tokens.length; t++) {
      const step = forward(model, tsKernels, cache, [tokens[t]], t);
      for (let v = 0; v < V; v++) expect(Math.abs(step[v] - full[t * V + v])).toBeLessThan(1e-5);
    }
  }), { numRuns: 40 });
});

test('a forward past the end of the cache is an error, not a silent overwrite', () => {
  const config: LlamaConfig = { dim: 8, nLayers: 1, nHeads: 2, nKvHeads: 1, hiddenDim: 8, vocabSize: 10, maxSeqLen: 4, normEps: 1e-5, ropeTheta: 10000, sharedClassifier: true };
  const model = randomModel(config, 1);
  expect(() => forward(model, tsKernels, createKVCache(config), [1, 2, 3, 4, 5], 0)).toThrow(/do not fit the context of 4/);
  expect(() => forward(model, tsKernels, createKVCache(config), [10], 0)).toThrow(/token 10 .* outside the vocabulary/);
});
