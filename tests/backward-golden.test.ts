// The hand-written backward pass against the float64 golden gradients of every case.
import { describe, expect, test } from 'vitest';
import { createGradients, namedParameters } from '../reference/gradients.js';
import { lossAndGradients, trainForward } from '../reference/train-model.js';
import { tsTrainingKernels } from '../reference/ts-kernels.js';
import { caseModel, readExpected, readManifest } from '../src/conform/golden.js';
import { tensorToFloat64 } from '../src/formats/safetensors.js';
import { expectGolden } from './train-golden-helpers.js';

const manifest = readManifest();

// the cases with gradients: not the models stored as blocks (not trained) nor long-positions
const withGradients = manifest.cases.filter((c) => c.tensors.some((n) => n.startsWith('grad.')));

describe.each(withGradients.map((c) => [c.name, c] as const))('golden case %s', (_name, c) => {
  const expected = readExpected(manifest, c);
  const batch = { tokens: c.tokens, targets: c.targets, B: 1, T: c.tokens.length };

  test('training forward: logits and loss', () => {
    const acts = trainForward(caseModel(manifest, c), tsTrainingKernels, batch);
    expectGolden(manifest, expected, 'logits', acts.logits);
    expectGolden(manifest, expected, 'loss', [acts.loss]);
    expect(acts.loss).toBeGreaterThan(0);
  });

  test('every grad.* within tolerance, in Meta parameter order', () => {
    const model = caseModel(manifest, c);
    const grads = createGradients(model.config);
    const loss = lossAndGradients(model, tsTrainingKernels, batch, grads);
    expectGolden(manifest, expected, 'loss', [loss]);
    const params = namedParameters(model, grads);
    const goldenGrads = c.tensors.filter((n) => n.startsWith('grad.'));
    expect(params.map((p) => 'grad.' + p.name)).toEqual(goldenGrads);
    for (const p of params) expectGolden(manifest, expected, 'grad.' + p.name, p.grad);
    // Not a vacuous pass: the gradients are not all tiny.
    const largest = Math.max(...goldenGrads.map((n) => Math.max(...tensorToFloat64(expected.tensors.get(n)!).map(Math.abs))));
    expect(largest).toBeGreaterThan(1e-3);
  });

  test('activation recomputation gives the same gradients bit for bit', () => {
    const model = caseModel(manifest, c);
    const kept = createGradients(model.config);
    const recomputed = createGradients(model.config);
    const a = lossAndGradients(model, tsTrainingKernels, batch, kept);
    const b = lossAndGradients(model, tsTrainingKernels, batch, recomputed, { recompute: true });
    expect(b).toBe(a);
    const pk = namedParameters(model, kept);
    const pr = namedParameters(model, recomputed);
    pk.forEach((p, i) => expect(pr[i].grad).toEqual(p.grad));
  });
});
