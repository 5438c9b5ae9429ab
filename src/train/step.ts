// One optimizer step of LLaMA training: loss and gradients, global-norm clipping, AdamW.
import type { TrainingKernels } from '../../reference/kernels.js';
import {
  createGradients, lossAndGradients, namedParameters,
  type Batch, type LlamaGradients, type NamedParameter, type TrainForwardOptions,
} from '../../reference/train-model.js';
import type { LlamaModel } from '../../reference/weights.js';
import { adamwStep, createAdamW, LLAMA_ADAMW, type AdamWConfig, type AdamWState } from './adamw.js';
import { clipGradNorm } from './clip.js';

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

export function trainStep(trainer: Trainer, batch: Batch, lr: number): StepResult {
  const loss = lossAndGradients(trainer.model, trainer.kernels, batch, trainer.grads, trainer.forward);
  const gradNorm = clipGradNorm(trainer.params.map((p) => p.grad), trainer.maxGradNorm);
  adamwStep(trainer.optimizer, trainer.params, lr, trainer.adamw);
  return { loss, gradNorm };
}
