// One optimizer step over several micro-batches (gradient accumulation): the same update as
// one batch holding them all, in a fraction of the activation memory.
//
//   loss(big batch) = mean over its rows = (1/A) Σ_a loss(micro-batch a)   (equal-sized a)
//   so  grad = (1/A) Σ_a grad_a,  accumulated in float32, then clipped and stepped once.
import type { Batch } from '../../reference/train-model.js';
import { backward, trainForward, zeroGradients } from '../../reference/train-model.js';
import { adamwStep } from './adamw.js';
import { clipGradNorm } from './clip.js';
import type { StepResult, Trainer } from './step.js';

// Gradients of the mean loss over `batches` (all the same B and T) into trainer.grads;
// returns that mean loss.
export function accumulateGradients(trainer: Trainer, batches: readonly Batch[]): number {
  if (batches.length === 0) throw new Error('accumulateGradients: no micro-batches');
  const { model, kernels, grads, params } = trainer;
  zeroGradients(grads);
  let lossSum = 0;
  for (const batch of batches) {
    const acts = trainForward(model, kernels, batch, trainer.forward);
    backward(model, kernels, acts, grads); // adds into grads
    lossSum += acts.loss;
  }
  const scale = 1 / batches.length;
  if (batches.length > 1) for (const p of params) for (let i = 0; i < p.grad.length; i++) p.grad[i] *= scale;
  return lossSum * scale;
}

// Accumulate, clip the global norm, one AdamW step at learning rate `lr`.
export function accumulatedStep(trainer: Trainer, batches: readonly Batch[], lr: number): StepResult {
  const loss = accumulateGradients(trainer, batches);
  const gradNorm = clipGradNorm(trainer.params.map((p) => p.grad), trainer.maxGradNorm);
  adamwStep(trainer.optimizer, trainer.params, lr, trainer.adamw);
  return { loss, gradNorm };
}

// The mean loss over batches, forward only (evaluation).
export function meanLoss(trainer: Trainer, batches: readonly Batch[]): number {
  let sum = 0;
  for (const batch of batches) sum += trainForward(trainer.model, trainer.kernels, batch, { recompute: true }).loss;
  return sum / batches.length;
}
