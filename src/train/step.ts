// One optimizer step of LLaMA training over one or more micro-batches: the mean loss and its
// gradients (reference/train-model.ts), global-norm clipping, AdamW (reference/).
import { adamwStep, createAdamW, LLAMA_ADAMW, type AdamWConfig, type AdamWState } from '../../reference/adamw.js';
import { clipGradNorm } from '../../reference/clip.js';
import { createGradients, namedParameters, type LlamaGradients, type NamedParameter } from '../../reference/gradients.js';
import type { TrainingKernels } from '../../reference/kernels.js';
import { createKVCache } from '../../reference/model.js';
import { lossAndGradients, type Batch, type TrainForwardOptions } from '../../reference/train-model.js';
import type { LlamaModel } from '../../reference/weights.js';
import { sequenceLoss } from '../eval/sequence-loss.js';

export interface TrainerOptions {
  adamw?: AdamWConfig; // default LLAMA_ADAMW
  maxGradNorm?: number; // default 1.0
  forward?: TrainForwardOptions; // e.g. { recompute: true } for activation checkpointing
}

export interface Trainer {
  model: LlamaModel; // updated in place
  kernels: TrainingKernels;
  grads: LlamaGradients;
  params: NamedParameter[]; // Meta's order
  optimizer: AdamWState;
  adamw: AdamWConfig;
  maxGradNorm: number;
  forward: TrainForwardOptions;
}

export function createTrainer(model: LlamaModel, kernels: TrainingKernels, options: TrainerOptions = {}): Trainer {
  const grads = createGradients(model.config);
  const params = namedParameters(model, grads); // throws for weights that are not f32
  return {
    model, kernels, grads, params, optimizer: createAdamW(params),
    adamw: options.adamw ?? LLAMA_ADAMW, maxGradNorm: options.maxGradNorm ?? 1.0, forward: options.forward ?? {},
  };
}

export interface StepResult {
  loss: number; // at the weights before this step
  gradNorm: number; // global gradient norm before clipping
}

// The gradient of the mean loss over `batches` (one batch, or the micro-batches of gradient
// accumulation, all the same B and T), clipped to the global norm, then one AdamW step at
// learning rate `lr`.
export function trainStep(trainer: Trainer, batches: Batch | readonly Batch[], lr: number): StepResult {
  const loss = lossAndGradients(trainer.model, trainer.kernels, batches, trainer.grads, trainer.forward);
  const gradNorm = clipGradNorm(trainer.params.map((p) => p.grad), trainer.maxGradNorm);
  adamwStep(trainer.optimizer, trainer.params, lr, trainer.adamw);
  return { loss, gradNorm };
}

// The mean loss over batches, forward only: the validation loss, computed by the evaluator
// (src/eval/sequence-loss.ts, the same log-probabilities as `llama-ts perplexity`) through the
// prompt path with one KV cache for every sequence.
export function meanLoss(trainer: Trainer, batches: readonly Batch[]): number {
  if (batches.length === 0) throw new Error('meanLoss: no batches');
  const cache = createKVCache(trainer.model.config, batches[0].T, trainer.kernels);
  let sum = 0;
  for (const batch of batches) sum += sequenceLoss(trainer.model, trainer.kernels, batch, cache);
  return sum / batches.length;
}
