// The model-level backward on random tiny models: batches, the whole-model finite difference,
// the shared classifier, and the errors training raises for inputs it cannot use.
import { describe, expect, test } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { IGNORE_INDEX } from '../reference/cross-entropy.js';
import { randomModel } from '../reference/init.js';
import { seededNormal } from '../reference/random.js';
import { createKVCache, forward } from '../reference/model.js';
import { createGradients, namedParameters, zeroGradients } from '../reference/gradients.js';
import { backward, lossAndGradients, trainForward, type Batch } from '../reference/train-model.js';
import { f32ToF16 } from '../reference/tensor.js';
import { tsTrainingKernels } from '../reference/ts-kernels.js';
import { parameterNames, type LlamaModel } from '../reference/weights.js';

const config = (shared: boolean): LlamaConfig => ({
  dim: 8, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 12, vocabSize: 11, maxSeqLen: 6,
  normEps: 1e-5, ropeTheta: 10000, sharedClassifier: shared,
});
const model = (shared: boolean, seed = 7) => randomModel(config(shared), seed, { std: 0.3, gainJitter: 0.3 });

// Two sequences of 5 tokens, with ignored targets (3 counted in the first, 4 in the second).
const batch: Batch = {
  tokens: [3, 1, 4, 1, 5, 9, 2, 6, 5, 3],
  targets: [1, IGNORE_INDEX, 1, 5, IGNORE_INDEX, 2, 6, 5, IGNORE_INDEX, 8],
  B: 2, T: 5,
};
const sequence = (b: number): Batch => ({
  tokens: (batch.tokens as number[]).slice(b * 5, b * 5 + 5), targets: (batch.targets as number[]).slice(b * 5, b * 5 + 5), B: 1, T: 5,
});

function gradientsOf(m: LlamaModel, b: Batch): { loss: number; grads: Float32Array[] } {
  const grads = createGradients(m.config);
  const loss = lossAndGradients(m, tsTrainingKernels, b, grads);
  return { loss, grads: namedParameters(m, grads).map((p) => p.grad) };
}

describe.each([['shared classifier', true], ['separate classifier', false]] as const)('%s', (_name, shared) => {
  test('training forward equals the inference forward, sequence by sequence (positions restart at 0)', () => {
    const m = model(shared);
    const acts = trainForward(m, tsTrainingKernels, batch);
    for (let b = 0; b < 2; b++) {
      const logits = forward(m, tsTrainingKernels, createKVCache(m.config, 5), sequence(b).tokens, 0, { allLogits: true });
      const ours = acts.logits.subarray(b * 5 * 11, (b + 1) * 5 * 11);
      for (let i = 0; i < logits.length; i++) expect(ours[i]).toBeCloseTo(logits[i], 5);
    }
  });

  test('a batch gives the count-weighted mean of its sequences’ losses and gradients', () => {
    const m = model(shared);
    const whole = gradientsOf(m, batch);
    const [a, b] = [gradientsOf(m, sequence(0)), gradientsOf(m, sequence(1))];
    expect(whole.loss).toBeCloseTo((3 * a.loss + 4 * b.loss) / 7, 6);
    whole.grads.forEach((g, j) => {
      for (let i = 0; i < g.length; i++) expect(Math.abs(g[i] - (3 * a.grads[j][i] + 4 * b.grads[j][i]) / 7)).toBeLessThan(1e-6);
    });
  });

  test('whole-model directional derivative matches a central finite difference', () => {
    // Float32 forward, so a large step (1e-2 on a unit direction over ~2k weights) and a 2 %
    // tolerance: rounding noise in the loss is ~1e-7/1e-2 = 1e-5, curvature error O(step²).
    const m = model(shared);
    const { grads } = gradientsOf(m, batch);
    const params = namedParameters(m, createGradients(m.config));
    // Half along the gradient, half random: a purely random direction would be nearly orthogonal to it.
    const normal = seededNormal(99);
    const gNorm = Math.sqrt(grads.reduce((s, g) => s + g.reduce((a, x) => a + x * x, 0), 0));
    const count = grads.reduce((s, g) => s + g.length, 0);
    const dirs = grads.map((g) => Float64Array.from(g, (x) => x / gNorm + normal() / Math.sqrt(count)));
    const len = Math.sqrt(dirs.reduce((s, d) => s + d.reduce((a, x) => a + x * x, 0), 0));
    let analytic = 0;
    dirs.forEach((d, j) => d.forEach((x, i) => (analytic += (grads[j][i] * x) / len)));
    const base = params.map((p) => p.value.slice());
    const lossAt = (step: number) => {
      params.forEach((p, j) => p.value.forEach((_, i) => (p.value[i] = base[j][i] + (step * dirs[j][i]) / len)));
      return trainForward(m, tsTrainingKernels, batch).loss;
    };
    const h = 1e-2;
    const numeric = (lossAt(h) - lossAt(-h)) / (2 * h);
    expect(Math.abs(analytic)).toBeGreaterThan(0.1);
    expect(Math.abs(numeric - analytic)).toBeLessThan(0.02 * Math.abs(analytic));
  });
});

test('a shared classifier is one parameter whose gradient sums the lookup and the classifier', () => {
  const m = model(true);
  const grads = createGradients(m.config);
  expect(grads.output).toBe(grads.tokenEmbedding);
  lossAndGradients(m, tsTrainingKernels, batch, grads);
  const params = namedParameters(m, grads);
  expect(params.map((p) => p.name)).toEqual(parameterNames(m.config));
  expect(params.filter((p) => p.grad === grads.tokenEmbedding)).toHaveLength(1);
  // Token 10 is never looked up, so its row holds the classifier's gradient alone, and it is not zero.
  expect(grads.tokenEmbedding.subarray(10 * 8, 11 * 8).some((g) => g !== 0)).toBe(true);
  expect(params.map((p) => p.decay)).toEqual(params.map((p) => !p.name.includes('norm')));
});

test('gradients accumulate across backward calls until zeroed (micro-batches)', () => {
  const m = model(false);
  const once = gradientsOf(m, batch).grads;
  const grads = createGradients(m.config);
  const acts = trainForward(m, tsTrainingKernels, batch);
  backward(m, tsTrainingKernels, acts, grads);
  backward(m, tsTrainingKernels, acts, grads);
  // Twice the gradient, up to float32 rounding of the running sums.
  namedParameters(m, grads).forEach((p, j) => p.grad.forEach((g, i) => expect(Math.abs(g - 2 * once[j][i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(g)))));
  zeroGradients(grads);
  namedParameters(m, grads).forEach((p) => expect(p.grad.every((g) => g === 0)).toBe(true));
});

describe('clear errors', () => {
  test('weights that are not f32', () => {
    const m = model(false);
    const wq = m.weights.layers[1].wq;
    const half = { dtype: 'f16' as const, rows: wq.rows, cols: wq.cols, data: Uint16Array.from(wq.data as Float32Array, f32ToF16) };
    const bad = { ...m, weights: { ...m.weights, layers: [m.weights.layers[0], { ...m.weights.layers[1], wq: half }] } };
    expect(() => trainForward(bad, tsTrainingKernels, batch)).toThrow('training needs f32 weights, but layers.1.attention.wq.weight is f16');
    expect(() => namedParameters(bad, createGradients(bad.config))).toThrow('layers.1.attention.wq.weight is f16');
  });

  test('batches of the wrong shape, too long, or with bad ids', () => {
    const m = model(false);
    expect(() => trainForward(m, tsTrainingKernels, { ...batch, B: 3 })).toThrow('training batch: 10 tokens for B 3 × T 5');
    expect(() => trainForward(m, tsTrainingKernels, { ...batch, targets: [1] })).toThrow('training batch: 1 targets for B 2 × T 5');
    expect(() => trainForward(m, tsTrainingKernels, { tokens: new Array(14).fill(1), targets: new Array(14).fill(1), B: 2, T: 7 })).toThrow('T 7 exceeds the model\'s context of 6');
    expect(() => trainForward(m, tsTrainingKernels, { ...batch, B: 0 })).toThrow('B 0 and T 5 must be positive integers');
    expect(() => trainForward(m, tsTrainingKernels, { ...batch, tokens: [3, 1, 4, 1, 5, 9, 2, 6, 5, 11] })).toThrow('token 11 at index 9 is outside the vocabulary of 11');
    expect(() => trainForward(m, tsTrainingKernels, { ...batch, targets: [1, 1, 1, 1, 1, 1, 1, 1, 1, -2] })).toThrow('target -2 at 9 is outside the vocabulary of 11');
  });
});
