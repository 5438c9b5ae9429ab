// Every backward against central finite differences of its forward, on random tiny shapes.
//
// The finite differences are taken in float64: each forward runs on Float64Array copies of the
// (float32-rounded) inputs, so with step 1e-5 the difference quotient is exact to ~1e-9. The
// backward under test runs in float32 as the model uses it. Tolerance: |analytic − numeric| ≤
// 1e-4 · (1 + max|numeric|) per tensor. Why: float32 storage rounds each value by 6e-8 relative,
// and after the accumulations here (≤ ~100 terms) the error stays below ~1e-6 of the tensor's
// scale, so 1e-4 leaves a wide margin; a wrong derivative (missing term, sign, wrong kv head)
// is off by O(1) of that scale.
//
// The backward is called on gradient buffers prefilled with random values and the prefill is
// subtracted afterwards: that checks it ACCUMULATES (+=) rather than overwrites.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { attentionBackward, softmax } from '../reference/attention.js';
import { crossEntropy, crossEntropyBackward, IGNORE_INDEX } from '../reference/cross-entropy.js';
import { embedding, embeddingBackward } from '../reference/embedding.js';
import { seededNormal, seededUniform } from '../reference/random.js';
import { matmul, matmulBackward } from '../reference/matmul.js';
import { rmsnorm, rmsnormBackward } from '../reference/rmsnorm.js';
import { rope, ropeBackward, ropeFrequencies } from '../reference/rope.js';
import { swiglu, swigluBackward } from '../reference/swiglu.js';
import { f32Tensor, type WeightTensor } from '../reference/tensor.js';

const RUNS = { numRuns: 25 };
const STEP = 1e-5;

// n normal values of a given scale, rounded to float32 (the exact inputs both sides use).
function randomF32(seed: number, n: number, scale = 1): Float32Array {
  const normal = seededNormal(seed);
  return Float32Array.from({ length: n }, () => normal() * scale);
}

// The forward evaluated in float64: the reference kernels index plain arrays, so a
// Float64Array passed where they expect a Float32Array keeps every value in double.
const as32 = (x: Float64Array) => x as unknown as Float32Array;
const w64 = (data: Float64Array, rows: number, cols: number): WeightTensor => ({ dtype: 'f32', rows, cols, data: as32(data) }); // matmul's f32 path

// d scalar / d inputs[which][j] for every j, by central differences in float64.
function numericGradient(scalar: (inputs: Float64Array[]) => number, inputs: Float32Array[], which: number): Float64Array {
  const xs = inputs.map((x) => Float64Array.from(x));
  const x = xs[which];
  const grad = new Float64Array(x.length);
  for (let j = 0; j < x.length; j++) {
    const keep = x[j];
    x[j] = keep + STEP;
    const plus = scalar(xs);
    x[j] = keep - STEP;
    const minus = scalar(xs);
    x[j] = keep;
    grad[j] = (plus - minus) / (2 * STEP);
  }
  return grad;
}

// Σ dout · f(inputs): the scalar whose gradient is the backward of f applied to dout.
const weighted = (f: (inputs: Float64Array[]) => Float64Array, dout: Float32Array) => (inputs: Float64Array[]) => {
  const out = f(inputs);
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i] * dout[i];
  return s;
};

function expectGradient(analytic: Float32Array, numeric: Float64Array, what: string): void {
  let scale = 0;
  for (const v of numeric) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < numeric.length; i++) worst = Math.max(worst, Math.abs(analytic[i] - numeric[i]));
  expect(worst, `${what}: max error ${worst} against scale ${scale}`).toBeLessThanOrEqual(1e-4 * (1 + scale));
}

// A gradient buffer prefilled with noise, and the gradient the backward added to it.
function prefilled(seed: number, n: number): { buf: Float32Array; added: () => Float32Array } {
  const base = randomF32(seed, n);
  const buf = base.slice();
  return { buf, added: () => buf.map((v, i) => v - base[i]) };
}

const shape = fc.record({ T: fc.integer({ min: 1, max: 4 }), K: fc.integer({ min: 1, max: 6 }), N: fc.integer({ min: 1, max: 6 }), seed: fc.nat() });

describe('finite differences of every backward', () => {
  test('matmul: dx = dout·W, dW = doutᵀ·x', () => {
    fc.assert(fc.property(shape, ({ T, K, N, seed }) => {
      const x = randomF32(seed, T * K);
      const w = randomF32(seed + 1, N * K);
      const dout = randomF32(seed + 2, T * N);
      const f = ([x, w]: Float64Array[]) => { const out = new Float64Array(T * N); matmul(as32(out), as32(x), w64(w, N, K), T); return out; };
      const dx = prefilled(seed + 3, T * K);
      const dw = prefilled(seed + 4, N * K);
      matmulBackward(dx.buf, dw.buf, dout, x, f32Tensor(w, N, K), T);
      expectGradient(dx.added(), numericGradient(weighted(f, dout), [x, w], 0), 'dx');
      expectGradient(dw.added(), numericGradient(weighted(f, dout), [x, w], 1), 'dW');
    }), RUNS);
  });

  test('rmsnorm: dx and dgain, eps large enough to matter', () => {
    fc.assert(fc.property(shape, fc.constantFrom(1e-5, 1e-2), fc.constantFrom(1, 0.05), ({ T, K: C, seed }, eps, xScale) => {
      const x = randomF32(seed, T * C, xScale);
      const gain = randomF32(seed + 1, C).map((g) => 1 + 0.3 * g);
      const dout = randomF32(seed + 2, T * C);
      const f = ([x, g]: Float64Array[]) => { const out = new Float64Array(T * C); rmsnorm(as32(out), as32(x), as32(g), T, C, eps); return out; };
      const dx = prefilled(seed + 3, T * C);
      const dg = prefilled(seed + 4, C);
      rmsnormBackward(dx.buf, dg.buf, dout, x, gain, T, C, eps);
      expectGradient(dx.added(), numericGradient(weighted(f, dout), [x, gain], 0), 'dx');
      expectGradient(dg.added(), numericGradient(weighted(f, dout), [x, gain], 1), 'dgain');
    }), RUNS);
  });

  test('rope: rotation by −angle, at any start position', () => {
    const ropeShape = fc.record({ T: fc.integer({ min: 1, max: 4 }), nHeads: fc.integer({ min: 1, max: 3 }), half: fc.integer({ min: 1, max: 4 }), pos0: fc.integer({ min: 0, max: 300 }), seed: fc.nat() });
    fc.assert(fc.property(ropeShape, fc.constantFrom(10000, 500000), ({ T, nHeads, half, pos0, seed }, theta) => {
      const hd = 2 * half;
      const x = randomF32(seed, T * nHeads * hd);
      const dout = randomF32(seed + 1, x.length);
      const f = ([x]: Float64Array[]) => { const y = x.slice(); rope(as32(y), T, nHeads, hd, pos0, ropeFrequencies(hd, theta)); return y; };
      const dx = dout.slice();
      ropeBackward(dx, T, nHeads, hd, pos0, ropeFrequencies(hd, theta));
      expectGradient(dx, numericGradient(weighted(f, dout), [x], 0), 'dx');
    }), RUNS);
  });

  test('swiglu: dgate and dup', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 20 }), fc.nat(), (n, seed) => {
      const gate = randomF32(seed, n, 3);
      const up = randomF32(seed + 1, n);
      const dout = randomF32(seed + 2, n);
      const f = ([g, u]: Float64Array[]) => { const out = new Float64Array(n); swiglu(as32(out), as32(g), as32(u), n); return out; };
      const dg = prefilled(seed + 3, n);
      const du = prefilled(seed + 4, n);
      swigluBackward(dg.buf, du.buf, dout, gate, up, n);
      expectGradient(dg.added(), numericGradient(weighted(f, dout), [gate, up], 0), 'dgate');
      expectGradient(du.added(), numericGradient(weighted(f, dout), [gate, up], 1), 'dup');
    }), RUNS);
  });

  test('causal attention with grouped kv heads: dq, dk, dv', () => {
    const attShape = fc.record({ T: fc.integer({ min: 1, max: 5 }), nKvHeads: fc.integer({ min: 1, max: 3 }), group: fc.integer({ min: 1, max: 3 }), half: fc.integer({ min: 1, max: 3 }), seed: fc.nat() });
    fc.assert(fc.property(attShape, ({ T, nKvHeads, group, half, seed }) => {
      const hd = 2 * half;
      const nHeads = nKvHeads * group;
      const q = randomF32(seed, T * nHeads * hd, 1.5);
      const k = randomF32(seed + 1, T * nKvHeads * hd, 1.5);
      const v = randomF32(seed + 2, T * nKvHeads * hd);
      const dout = randomF32(seed + 3, q.length);
      const f = ([q, k, v]: Float64Array[]) => attention64(q, k, v, T, nHeads, nKvHeads, hd);
      const dq = prefilled(seed + 4, q.length);
      const dk = prefilled(seed + 5, k.length);
      const dv = prefilled(seed + 6, v.length);
      attentionBackward(dq.buf, dk.buf, dv.buf, dout, q, k, v, T, nHeads, nKvHeads, hd);
      expectGradient(dq.added(), numericGradient(weighted(f, dout), [q, k, v], 0), 'dq');
      expectGradient(dk.added(), numericGradient(weighted(f, dout), [q, k, v], 1), 'dk');
      expectGradient(dv.added(), numericGradient(weighted(f, dout), [q, k, v], 2), 'dv');
    }), RUNS);
  });

  test('mean cross-entropy with ignored targets', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 2, max: 9 }), fc.nat(), (T, V, seed) => {
      const logits = randomF32(seed, T * V, 3);
      const uniform = seededUniform(seed + 1);
      const targets = Array.from({ length: T }, () => (uniform() < 0.3 ? IGNORE_INDEX : Math.floor(uniform() * V)));
      const dl = prefilled(seed + 2, T * V);
      crossEntropyBackward(dl.buf, logits, targets, T, V);
      expectGradient(dl.added(), numericGradient(([l]) => crossEntropy(as32(l), targets, T, V), [logits], 0), 'dlogits');
    }), RUNS);
  });

  test('embedding: scatter-add, repeated tokens sum', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.nat(), (T, V, C, seed) => {
      const table = randomF32(seed, V * C);
      const uniform = seededUniform(seed + 1);
      const tokens = Array.from({ length: T }, () => Math.floor(uniform() * V));
      const dout = randomF32(seed + 2, T * C);
      // embedding() copies rows through a float32 scratch row, so the float64 lookup is written out here.
      const f = ([e]: Float64Array[]) => { const out = new Float64Array(T * C); tokens.forEach((tok, t) => out.set(e.subarray(tok * C, tok * C + C), t * C)); return out; };
      const out32 = new Float32Array(T * C);
      embedding(out32, f32Tensor(table, V, C), tokens, T);
      expect(Array.from(out32)).toEqual(Array.from(f([Float64Array.from(table)])));
      const de = prefilled(seed + 3, V * C);
      embeddingBackward(de.buf, dout, tokens, T, C);
      expectGradient(de.added(), numericGradient(weighted(f, dout), [table], 0), 'dE');
    }), RUNS);
  });
});

// An independent float64 causal attention for the finite differences (the reference forward
// keeps its scores in float32, too coarse to difference). q: [T, nHeads*hd]; k, v: [T, nKvHeads*hd].
function attention64(q: Float64Array, k: Float64Array, v: Float64Array, T: number, nHeads: number, nKvHeads: number, hd: number): Float64Array {
  const out = new Float64Array(T * nHeads * hd);
  const group = nHeads / nKvHeads;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) {
      const g = Math.floor(h / group);
      const scores = Array.from({ length: t + 1 }, (_, s) => {
        let dot = 0;
        for (let i = 0; i < hd; i++) dot += q[(t * nHeads + h) * hd + i] * k[(s * nKvHeads + g) * hd + i];
        return dot / Math.sqrt(hd);
      });
      const max = Math.max(...scores);
      const e = scores.map((x) => Math.exp(x - max));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let s = 0; s <= t; s++) for (let i = 0; i < hd; i++) out[(t * nHeads + h) * hd + i] += (e[s] / sum) * v[(s * nKvHeads + g) * hd + i];
    }
  }
  return out;
}

describe('known values', () => {
  test('softmax backward of attention: a single position passes dout straight to dv, nothing to dq and dk', () => {
    const q = Float32Array.of(0.3, -1), k = Float32Array.of(2, 0.5), v = Float32Array.of(4, 5);
    const dq = new Float32Array(2), dk = new Float32Array(2), dv = new Float32Array(2);
    attentionBackward(dq, dk, dv, Float32Array.of(1, -2), q, k, v, 1, 1, 1, 2);
    expect(Array.from(dv)).toEqual([1, -2]);
    expect(Array.from(dq)).toEqual([0, 0]);
    expect(Array.from(dk)).toEqual([0, 0]);
    const p = Float32Array.of(0, 0);
    softmax(p, 2);
    expect(Array.from(p)).toEqual([0.5, 0.5]);
  });

  test('cross-entropy backward: uniform logits give (1/V − onehot)/N; all ignored gives nothing', () => {
    const d = new Float32Array(8);
    crossEntropyBackward(d, new Float32Array(8), [IGNORE_INDEX, 3], 2, 4);
    expect(Array.from(d)).toEqual([0, 0, 0, 0, 0.25, 0.25, 0.25, -0.75]);
    const none = new Float32Array(4);
    crossEntropyBackward(none, Float32Array.of(1, 2, 3, 4), [IGNORE_INDEX], 1, 4);
    expect(Array.from(none)).toEqual([0, 0, 0, 0]);
    expect(() => crossEntropyBackward(new Float32Array(4), new Float32Array(4), [4], 1, 4)).toThrow(/target 4 at 0 is outside the vocabulary of 4/);
  });

  test('matmulBackward refuses quantized weights with a clear error', () => {
    const w: WeightTensor = { dtype: 'f16', rows: 1, cols: 2, data: new Uint16Array(2) };
    expect(() => matmulBackward(new Float32Array(2), new Float32Array(2), new Float32Array(1), new Float32Array(2), w, 1)).toThrow(/training needs f32 weights, got f16 \[1, 2\]/);
  });
});
