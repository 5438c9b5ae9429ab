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
  gradGroups: string[]; // gradient-norm groups (gradNormGroup), in params' order of first use
}

export function createTrainer(model: LlamaModel, kernels: TrainingKernels, options: TrainerOptions = {}): Trainer {
  const grads = createGradients(model.config);
  const params = namedParameters(model, grads); // throws for weights that are not f32
  return {
    model, kernels, grads, params, optimizer: createAdamW(params),
    adamw: options.adamw ?? LLAMA_ADAMW, maxGradNorm: options.maxGradNorm ?? 1.0, forward: options.forward ?? {},
    gradGroups: [...new Set(params.map((p) => gradNormGroup(p.name)))],
  };
}

// Which part of the model a parameter's gradient counts in for the per-part norms: the token
// embedding, one transformer block ("layers.3"), or the head (final norm and classifier).
export function gradNormGroup(name: string): string {
  const layer = /^layers\.(\d+)\./.exec(name);
  if (layer) return `layers.${layer[1]}`;
  return name.startsWith('tok_embeddings.') ? 'tok_embeddings' : 'output';
}

// The 2-norm of each group's gradients (trainer.gradGroups' order), summed in float64; the
// global norm is the root of the sum of their squares.
export function groupGradNorms(trainer: Trainer): number[] {
  const sums = new Map(trainer.gradGroups.map((g) => [g, 0]));
  for (const p of trainer.params) {
    const g = p.grad;
    let ss = 0;
    for (let i = 0; i < g.length; i++) ss += g[i] * g[i];
    const group = gradNormGroup(p.name);
    sums.set(group, sums.get(group)! + ss);
  }
  return trainer.gradGroups.map((g) => Math.sqrt(sums.get(g)!));
}

export interface StepResult {
  loss: number; // at the weights before this step
  gradNorm: number; // global gradient norm before clipping
  groupNorms: number[]; // per group (trainer.gradGroups), before clipping
}

// The gradient of the mean loss over `batches` (one batch, or the micro-batches of gradient
// accumulation, all the same B and T), clipped to the global norm, then one AdamW step at
// learning rate `lr`.
export function trainStep(trainer: Trainer, batches: Batch | readonly Batch[], lr: number): StepResult {
  const loss = lossAndGradients(trainer.model, trainer.kernels, batches, trainer.grads, trainer.forward);
  const groupNorms = groupGradNorms(trainer);
  const gradNorm = clipGradNorm(trainer.params.map((p) => p.grad), trainer.maxGradNorm);
  adamwStep(trainer.optimizer, trainer.params, lr, trainer.adamw);
  return { loss, gradNorm, groupNorms };
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
