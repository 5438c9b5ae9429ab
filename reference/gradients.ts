// Gradients of a LLaMA's parameters, shaped like its weights, and the list of trainable
// parameters (value, gradient, Meta name) that the optimizer and checkpoints walk.
import type { LlamaConfig } from './config.js';
import type { WeightTensor } from './tensor.js';
import {
  assembleWeights, atSlot, parameterSlots,
  type LayerOf, type LlamaModel, type LlamaWeights, type ParameterSlot, type WeightsOf,
} from './weights.js';

// Gradients shaped like LlamaWeights (the same fields and shapes), every tensor a
// Float32Array; output is the same array as tokenEmbedding when the classifier is shared.
export type LayerGradients = LayerOf<Float32Array, Float32Array>;
export type LlamaGradients = WeightsOf<Float32Array, Float32Array>;

export function createGradients(config: LlamaConfig): LlamaGradients {
  return assembleWeights(config, (_, rows, cols) => new Float32Array(rows * cols), (_, length) => new Float32Array(length));
}

// Every gradient array once (a shared classifier's is the embedding's).
export function gradientArrays(grads: LlamaGradients): Float32Array[] {
  const all = [grads.tokenEmbedding, ...grads.layers.flatMap((g) => Object.values(g)), grads.norm];
  if (grads.output !== grads.tokenEmbedding) all.push(grads.output);
  return all;
}

export function zeroGradients(grads: LlamaGradients): void {
  for (const g of gradientArrays(grads)) g.fill(0);
}

// One trainable tensor: its Meta name, values, gradient, and whether weight decay applies
// (matrices and embeddings yes, 1-D norm gains no).
export interface NamedParameter {
  name: string;
  value: Float32Array;
  grad: Float32Array;
  decay: boolean;
}

// The parameters in Meta's order (parameterSlots); a shared classifier is the embedding,
// listed once. Throws, naming the tensor, when a weight is not f32.
export function namedParameters(model: LlamaModel, grads: LlamaGradients): NamedParameter[] {
  return parameterSlots(model.config).map((slot) => ({
    name: slot.name,
    value: trainableValues(model.weights, slot),
    grad: atSlot<Float32Array>(grads, slot),
    decay: !(atSlot<WeightTensor | Float32Array>(model.weights, slot) instanceof Float32Array),
  }));
}

// The values of one parameter as training updates them (float32); throws, naming the
// parameter, when it is stored as anything else.
export function trainableValues(weights: LlamaWeights, slot: ParameterSlot): Float32Array {
  const param = atSlot<WeightTensor | Float32Array>(weights, slot);
  if (param instanceof Float32Array) return param;
  if (param.dtype !== 'f32') throw new Error(`training needs f32 weights, but ${slot.name} is ${param.dtype}`);
  return param.data as Float32Array;
}
