// Gradients of a LLaMA's parameters, shaped like its weights, and the list of trainable
// parameters (value, gradient, Meta name) that the optimizer and checkpoints walk.
import type { LlamaConfig } from './config.js';
import type { WeightTensor } from './tensor.js';
import {
  atSlot, parameterShape, parameterSlots,
  type GlobalField, type LayerField, type LlamaModel, type LlamaWeights, type ParameterSlot,
} from './weights.js';

// Gradients shaped like LlamaWeights, every tensor a Float32Array of the parameter's size.
export interface LayerGradients {
  attentionNorm: Float32Array; // [C]
  wq: Float32Array; // [nHeads*hd, C]
  wk: Float32Array; // [nKvHeads*hd, C]
  wv: Float32Array; // [nKvHeads*hd, C]
  wo: Float32Array; // [C, nHeads*hd]
  ffnNorm: Float32Array; // [C]
  w1: Float32Array; // [H, C]
  w2: Float32Array; // [C, H]
  w3: Float32Array; // [H, C]
}

export interface LlamaGradients {
  tokenEmbedding: Float32Array; // [V, C]
  layers: LayerGradients[]; // L
  norm: Float32Array; // [C]
  output: Float32Array; // [V, C]; the same array as tokenEmbedding when the classifier is shared
}

export function createGradients(config: LlamaConfig): LlamaGradients {
  const zeros = (field: LayerField | GlobalField) =>
    new Float32Array(parameterShape(config, field).reduce((a, b) => a * b, 1));
  const tokenEmbedding = zeros('tokenEmbedding');
  const layers: LayerGradients[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    layers.push({
      attentionNorm: zeros('attentionNorm'), wq: zeros('wq'), wk: zeros('wk'), wv: zeros('wv'), wo: zeros('wo'),
      ffnNorm: zeros('ffnNorm'), w1: zeros('w1'), w2: zeros('w2'), w3: zeros('w3'),
    });
  }
  const output = config.sharedClassifier ? tokenEmbedding : zeros('output');
  return { tokenEmbedding, layers, norm: zeros('norm'), output };
}

// Sets every gradient to zero (the shared classifier's array is zeroed once, harmlessly twice).
export function zeroGradients(grads: LlamaGradients): void {
  grads.tokenEmbedding.fill(0);
  grads.output.fill(0);
  grads.norm.fill(0);
  for (const g of grads.layers) for (const t of Object.values(g)) t.fill(0);
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
