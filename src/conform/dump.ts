// `llama-ts dump`: every intermediate tensor of one forward pass, under golden/ names, so that
// `conform` can compare it with a golden case (see golden/FORMAT.md). Any port can write the
// same file to check itself.
import { crossEntropy } from '../../reference/cross-entropy.js';
import { createGradients, namedParameters } from '../../reference/gradients.js';
import type { Kernels, TrainingKernels } from '../../reference/kernels.js';
import { createKVCache, forward, runForward, type KVCache } from '../../reference/model.js';
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
  const out = dumpInputs(model, tokens, options);
  const logits = forward(model, kernels, createKVCache(model.config, tokens.length, kernels), tokens, 0, {
    allLogits: true,
    trace: (name, data, shape) => out.push([name, { dtype: 'F32', shape, data: data.slice() }]),
  });
  pushLoss(out, model, logits, tokens, options);
  if (options.decode ?? true) {
    const cache = createKVCache(model.config, tokens.length, kernels);
    const decoded = new Float32Array(tokens.length * model.config.vocabSize); // [T, V]
    for (let t = 0; t < tokens.length; t++) decoded.set(forward(model, kernels, cache, [tokens[t]], t), t * model.config.vocabSize);
    out.push(['decode_logits', { dtype: 'F32', shape: [tokens.length, model.config.vocabSize], data: decoded }]);
  }
  if (options.targets && (options.gradients ?? true)) out.push(...dumpGradients(model, kernels, tokens, options.targets));
  return out;
}

// dumpForward for kernels whose forward pass is asynchronous (WebGPU's forwardAsync, through
// runForward): the same tensors, traced on the device. Gradients come from `gradients` when
// given (a backend that trains on its device), else from the readable TypeScript kernels.
export async function dumpForwardAsync(
  model: LlamaModel, kernels: Kernels, tokens: number[], options: DumpOptions = {},
  gradients?: DeviceTraining['gradients'],
): Promise<Array<[string, TensorToWrite]>> {
  const out = dumpInputs(model, tokens, options);
  const V = model.config.vocabSize;
  const T = tokens.length;
  const logits = await runForward(model, kernels, kvCacheFor(model, kernels, T), tokens, 0, {
    allLogits: true,
    trace: (name, data, shape) => out.push([name, { dtype: 'F32', shape, data: data.slice() }]),
  });
  pushLoss(out, model, logits, tokens, options);
  if (options.decode ?? true) {
    const cache = kvCacheFor(model, kernels, T);
    const decoded = new Float32Array(T * V); // [T, V]
    for (let t = 0; t < T; t++) decoded.set(await runForward(model, kernels, cache, [tokens[t]], t), t * V);
    out.push(['decode_logits', { dtype: 'F32', shape: [T, V], data: decoded }]);
  }
  if (options.targets && (options.gradients ?? true)) out.push(...(gradients ? await gradients(tokens, options.targets) : dumpGradients(model, kernels, tokens, options.targets)));
  return out;
}

// A KV cache the kernels can use: their own where they make one (WebGPU's lives on the GPU).
function kvCacheFor(model: LlamaModel, kernels: Kernels, T: number): KVCache {
  const maker = kernels as { createKVCache?: (config: LlamaModel['config'], capacity: number) => KVCache };
  return maker.createKVCache ? maker.createKVCache(model.config, T) : createKVCache(model.config, T, kernels); // a method: keep its `this`
}

function dumpInputs(model: LlamaModel, tokens: number[], options: DumpOptions): Array<[string, TensorToWrite]> {
  const T = tokens.length;
  if (T > model.config.maxSeqLen) throw new Error(`dump: ${T} tokens are more than the model's context of ${model.config.maxSeqLen}`);
  const out: Array<[string, TensorToWrite]> = [];
  out.push(['tokens', { dtype: 'I32', shape: [T], data: Int32Array.from(tokens) }]);
  if (options.targets) {
    if (options.targets.length !== T) throw new Error(`dump: ${options.targets.length} targets for ${T} tokens`);
    out.push(['targets', { dtype: 'I32', shape: [T], data: Int32Array.from(options.targets) }]);
  }
  return out;
}

function pushLoss(out: Array<[string, TensorToWrite]>, model: LlamaModel, logits: Float32Array, tokens: number[], options: DumpOptions): void {
  if (!options.targets) return;
  const loss = crossEntropy(logits, options.targets, tokens.length, model.config.vocabSize);
  out.push(['loss', { dtype: 'F64', shape: [], data: Float64Array.of(loss) }]);
}

// grad.<param> for every parameter, in Meta's order: the backward of the mean loss. Backends
// without training kernels use the readable TypeScript ones.
function dumpGradients(model: LlamaModel, kernels: Kernels, tokens: number[], targets: number[]): Array<[string, TensorToWrite]> {
  const grads = createGradients(model.config);
  lossAndGradients(model, trainingKernels(kernels), { tokens, targets, B: 1, T: tokens.length }, grads);
  const shapes = parameterShapes(model);
  return namedParameters(model, grads).map(({ name, grad }) => [`grad.${name}`, { dtype: 'F32', shape: shapes.get(name)!, data: grad.slice() }]);
}

// A backend that trains on its own device: the `grad.<param>` tensors of one batch, and the
// adamw.* tensors of dumpAdamW, computed there (WebGPU: src/backends/webgpu/train.ts).
export interface DeviceTraining {
  gradients(tokens: number[], targets: number[]): Promise<Array<[string, TensorToWrite]>>;
  adamw(tokens: number[], targets: number[], o: AdamWDumpOptions): Promise<Array<[string, TensorToWrite]>>;
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
