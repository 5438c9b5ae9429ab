// AdamW with global-norm clipping against the golden cases: 10 steps on the case's own tokens
// at its constant learning rate; weights, m and v after steps 1 and 10, every loss and norm.
import { describe, expect, test } from 'vitest';
import { tsTrainingKernels } from '../reference/ts-kernels.js';
import { caseModel, readExpected, readManifest } from '../src/conform/golden.js';
import { LLAMA_ADAMW } from '../reference/adamw.js';
import { createTrainer, trainStep } from '../src/train/step.js';
import { caseAdamW, expectGolden } from './train-golden-helpers.js';

const manifest = readManifest();
const withAdamW = manifest.cases.filter((c) => caseAdamW(c) !== null);

test('the golden AdamW settings are the LLaMA ones this optimizer uses', () => {
  expect(withAdamW.map((c) => c.name)).toEqual(['mha-shared', 'gqa1-full-context', 'gqa-half-ignore', 'one-token', 'llama3-rope-tied']);
  for (const c of withAdamW) {
    const a = caseAdamW(c)!;
    expect([a.beta1, a.beta2, a.eps, a.weight_decay['2-D'], a.weight_decay['1-D']]).toEqual([
      LLAMA_ADAMW.beta1, LLAMA_ADAMW.beta2, LLAMA_ADAMW.eps, LLAMA_ADAMW.weightDecay, 0,
    ]);
    expect([a.clip_grad_norm, a.schedule, a.steps, a.saved_steps]).toEqual([1, 'constant', 10, [1, 10]]);
  }
});

describe.each(withAdamW.map((c) => [c.name, c] as const))('golden case %s', (_name, c) => {
  test('10 AdamW steps: weights, m, v after steps 1 and 10, losses and gradient norms', () => {
    const expected = readExpected(manifest, c);
    const settings = caseAdamW(c)!;
    const trainer = createTrainer(caseModel(manifest, c), tsTrainingKernels);
    const batch = { tokens: c.tokens, targets: c.targets, B: 1, T: c.tokens.length };
    const losses: number[] = [];
    const norms: number[] = [];
    for (let step = 1; step <= settings.steps; step++) {
      const { loss, gradNorm } = trainStep(trainer, batch, settings.lr);
      losses.push(loss);
      norms.push(gradNorm);
      if (!settings.saved_steps.includes(step)) continue;
      trainer.params.forEach((p, j) => {
        expectGolden(manifest, expected, `adamw.${step}.${p.name}`, p.value);
        expectGolden(manifest, expected, `adamw.${step}.m.${p.name}`, trainer.optimizer.m[j]);
        expectGolden(manifest, expected, `adamw.${step}.v.${p.name}`, trainer.optimizer.v[j]);
      });
    }
    expectGolden(manifest, expected, 'adamw.losses', losses);
    expectGolden(manifest, expected, 'adamw.grad_norms', norms);
    expect(losses[9]).toBeLessThan(losses[0]); // training on one batch lowers its loss
  });
});
