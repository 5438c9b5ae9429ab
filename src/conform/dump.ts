// `llama-ts dump`: every intermediate tensor of one forward pass, under golden/ names, so that
// `conform` can compare it with a golden case (see golden/FORMAT.md). Any port can write the
// same file to check itself.
import { crossEntropy } from '../../reference/cross-entropy.js';
import { createGradients, namedParameters } from '../../reference/gradients.js';
import type { Kernels, TrainingKernels } from '../../reference/kernels.js';
import { createKVCache, forward } from '../../reference/model.js';
import { lossAndGradients } from '../../reference/train-model.js';
import { tsTrainingKernels } from '../../reference/ts-kernels.js';
import { parameterShape, parameterSlots, type LlamaModel } from '../../reference/weights.js';
import type { TensorToWrite } from '../formats/safetensors.js';
import { createTrainer, trainStep } from '../train/step.js';

export interface DumpOptions {
  targets?: number[]; // next-token targets (-1 = ignored): adds `loss` and `grad.<param>` (f32 weights)
  decode?: boolean; // also decode one token at a time with the KV cache: adds `decode_logits` (default true)
  gradients?: boolean; // with targets: also `grad.<param>` (default true; needs f32 weights)
}

// Returns [name, tensor] pairs in data-flow order.
export function dumpForward(model: LlamaModel, kernels: Kernels, tokens: number[], options: DumpOptions = {}): Array<[string, TensorToWrite]> {
  const { vocabSize: V, maxSeqLen } = model.config;
  const T = tokens.length;
  if (T > maxSeqLen) throw new Error(`dump: ${T} tokens are more than the model's context of ${maxSeqLen}`);
  const out: Array<[string, TensorToWrite]> = [];
  out.push(['tokens', { dtype: 'I32', shape: [T], data: Int32Array.from(tokens) }]);
  if (options.targets) {
    if (options.targets.length !== T) throw new Error(`dump: ${options.targets.length} targets for ${T} tokens`);
    out.push(['targets', { dtype: 'I32', shape: [T], data: Int32Array.from(options.targets) }]);
  }

  const logits = forward(model, kernels, createKVCache(model.config, T, kernels), tokens, 0, {
    allLogits: true,
    trace: (name, data, shape) => out.push([name, { dtype: 'F32', shape, data: data.slice() }]),
  });
  if (options.targets) {
    const loss = crossEntropy(logits, options.targets, T, V);
    out.push(['loss', { dtype: 'F64', shape: [], data: Float64Array.of(loss) }]);
  }
  if (options.decode ?? true) {
    const cache = createKVCache(model.config, T, kernels);
    const decoded = new Float32Array(T * V); // [T, V]
    for (let t = 0; t < T; t++) decoded.set(forward(model, kernels, cache, [tokens[t]], t), t * V);
    out.push(['decode_logits', { dtype: 'F32', shape: [T, V], data: decoded }]);
  }
  if (options.targets && (options.gradients ?? true)) out.push(...dumpGradients(model, kernels, tokens, options.targets));
  return out;
}

// grad.<param> for every parameter, in Meta's order: the backward of the mean loss. Backends
// without training kernels use the readable TypeScript ones.
function dumpGradients(model: LlamaModel, kernels: Kernels, tokens: number[], targets: number[]): Array<[string, TensorToWrite]> {
  const grads = createGradients(model.config);
  lossAndGradients(model, trainingKernels(kernels), { tokens, targets, B: 1, T: tokens.length }, grads);
  const shapes = parameterShapes(model);
  return namedParameters(model, grads).map(({ name, grad }) => [`grad.${name}`, { dtype: 'F32', shape: shapes.get(name)!, data: grad.slice() }]);
}

export interface AdamWDumpOptions {
  lr: number; // constant learning rate
  steps: number; // AdamW steps on the same batch
  savedSteps: number[]; // after which steps to write weights and moments
}

// adamw.<step>.<param>, adamw.<step>.m.<param>, adamw.<step>.v.<param> after the saved steps,
// adamw.losses and adamw.grad_norms: AdamW with clipping on one batch (golden/FORMAT.md).
// Updates the model's weights in place.
export function dumpAdamW(model: LlamaModel, kernels: Kernels, tokens: number[], targets: number[], o: AdamWDumpOptions): Array<[string, TensorToWrite]> {
  const trainer = createTrainer(model, trainingKernels(kernels));
  const batch = { tokens, targets, B: 1, T: tokens.length };
  const shapes = parameterShapes(model);
  const out: Array<[string, TensorToWrite]> = [];
  const losses = new Float64Array(o.steps);
  const norms = new Float64Array(o.steps);
  for (let step = 1; step <= o.steps; step++) {
    const r = trainStep(trainer, batch, o.lr);
    losses[step - 1] = r.loss;
    norms[step - 1] = r.gradNorm;
    if (!o.savedSteps.includes(step)) continue;
    const state = (prefix: string, arrays: Float32Array[]) =>
      trainer.params.forEach((p, j) => out.push([`adamw.${step}.${prefix}${p.name}`, { dtype: 'F32', shape: shapes.get(p.name)!, data: arrays[j].slice() }]));
    state('', trainer.params.map((p) => p.value));
    state('m.', trainer.optimizer.m);
    state('v.', trainer.optimizer.v);
  }
  out.push(['adamw.losses', { dtype: 'F64', shape: [o.steps], data: losses }]);
  out.push(['adamw.grad_norms', { dtype: 'F64', shape: [o.steps], data: norms }]);
  return out;
}

function trainingKernels(kernels: Kernels): TrainingKernels {
  return 'matmulBackward' in kernels ? (kernels as TrainingKernels) : tsTrainingKernels;
}

// Shape of every parameter by Meta's name.
function parameterShapes(model: LlamaModel): Map<string, number[]> {
  return new Map(parameterSlots(model.config).map((slot) => [slot.name, parameterShape(model.config, slot.field)]));
}

// "1,2,3" → [1, 2, 3], naming the flag on bad input.
export function parseIdList(text: string, flag: string): number[] {
  const ids = text.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (ids.length === 0 || ids.some((n) => !Number.isInteger(n))) throw new Error(`${flag} expects comma-separated integers, got "${text}"`);
  return ids;
}
