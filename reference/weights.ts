// All parameters of a LLaMA, named after Meta's model.py. Matrices are [out, in] (nn.Linear's
// layout): y = W x. LLaMA has no biases. Norm gains are always float32.
import { headDim, kvDim, type LlamaConfig } from './config.js';
import type { WeightTensor } from './tensor.js';

export interface LayerWeights {
  attentionNorm: Float32Array; // [C]
  wq: WeightTensor; // [nHeads*hd, C]
  wk: WeightTensor; // [nKvHeads*hd, C]
  wv: WeightTensor; // [nKvHeads*hd, C]
  wo: WeightTensor; // [C, nHeads*hd]
  ffnNorm: Float32Array; // [C]
  w1: WeightTensor; // [H, C]  gate
  w2: WeightTensor; // [C, H]  down
  w3: WeightTensor; // [H, C]  up
}

// The matrices of a layer, in Meta's order.
export type LayerMatrix = 'wq' | 'wk' | 'wv' | 'wo' | 'w1' | 'w2' | 'w3';
export const LAYER_MATRICES: readonly LayerMatrix[] = ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'];

export interface LlamaWeights {
  tokenEmbedding: WeightTensor; // [V, C]
  layers: LayerWeights[]; // L
  norm: Float32Array; // [C]
  output: WeightTensor; // [V, C]; the same object as tokenEmbedding when the classifier is shared
}

export interface LlamaModel {
  config: LlamaConfig;
  weights: LlamaWeights;
}

// --- Meta's parameter names -------------------------------------------------------------
//
// The one table of model.py's state_dict names, used wherever a parameter is named: golden/,
// dump and conform, training and its checkpoints, conversion and messages to users. Other
// formats' names (GGUF, Hugging Face) are keyed by the same fields in src/formats/.

export type LayerField = keyof LayerWeights;
export type GlobalField = 'tokenEmbedding' | 'norm' | 'output';

// Per layer, in Meta's order; the full name is `layers.<l>.<name>`.
export const META_LAYER_NAMES: Readonly<Record<LayerField, string>> = {
  attentionNorm: 'attention_norm.weight',
  wq: 'attention.wq.weight',
  wk: 'attention.wk.weight',
  wv: 'attention.wv.weight',
  wo: 'attention.wo.weight',
  ffnNorm: 'ffn_norm.weight',
  w1: 'feed_forward.w1.weight',
  w2: 'feed_forward.w2.weight',
  w3: 'feed_forward.w3.weight',
};
export const META_GLOBAL_NAMES: Readonly<Record<GlobalField, string>> = {
  tokenEmbedding: 'tok_embeddings.weight',
  norm: 'norm.weight',
  output: 'output.weight',
};
export const LAYER_FIELDS = Object.keys(META_LAYER_NAMES) as readonly LayerField[]; // Meta's order

// Where one parameter sits in LlamaWeights (or anything shaped like it), and its Meta name.
export type ParameterSlot =
  | { name: string; field: GlobalField; layer: null }
  | { name: string; field: LayerField; layer: number };

export function metaLayerName(layer: number, field: LayerField): string {
  return `layers.${layer}.${META_LAYER_NAMES[field]}`;
}

export function layerSlot(layer: number, field: LayerField): ParameterSlot {
  return { name: metaLayerName(layer, field), field, layer };
}

export function globalSlot(field: GlobalField): ParameterSlot {
  return { name: META_GLOBAL_NAMES[field], field, layer: null };
}

// Every parameter in Meta's order: the embedding, each layer's in the table's order, the final
// norm, and the classifier unless it is the (shared) embedding. One at a time, so that a
// reader checking a file's tensors stops at the first bad one whatever nLayers claims.
export function* eachParameterSlot(config: LlamaConfig): Generator<ParameterSlot> {
  yield globalSlot('tokenEmbedding');
  for (let l = 0; l < config.nLayers; l++) for (const field of LAYER_FIELDS) yield layerSlot(l, field);
  yield globalSlot('norm');
  if (!config.sharedClassifier) yield globalSlot('output');
}

export function parameterSlots(config: LlamaConfig): ParameterSlot[] {
  return [...eachParameterSlot(config)];
}

// Meta's parameter names (model.py's state_dict) in order, as golden/ lists them.
export function parameterNames(config: LlamaConfig): string[] {
  return parameterSlots(config).map((s) => s.name);
}

// The tensor in `slot`, of weights or of anything shaped like them (gradients).
export function atSlot<T>(tree: { tokenEmbedding: T; norm: T; output: T; layers: Record<LayerField, T>[] }, slot: ParameterSlot): T {
  return slot.layer === null ? tree[slot.field] : tree.layers[slot.layer][slot.field];
}

// A parameter's shape: [rows, cols] for a matrix, [C] for a norm gain.
export function parameterShape(config: LlamaConfig, field: LayerField | GlobalField): number[] {
  const { dim: C, hiddenDim: H, vocabSize: V } = config;
  const qDim = config.nHeads * headDim(config);
  const kvD = kvDim(config);
  const shapes: Record<LayerField | GlobalField, number[]> = {
    tokenEmbedding: [V, C], norm: [C], output: [V, C],
    attentionNorm: [C], wq: [qDim, C], wk: [kvD, C], wv: [kvD, C], wo: [C, qDim],
    ffnNorm: [C], w1: [H, C], w2: [C, H], w3: [H, C],
  };
  return shapes[field];
}

// The number of values in all parameters (a shared classifier counted once), computed
// without listing them.
export function parameterCount(config: LlamaConfig): number {
  const size = (field: LayerField | GlobalField) => parameterShape(config, field).reduce((a, b) => a * b, 1);
  const perLayer = LAYER_FIELDS.reduce((n, field) => n + size(field), 0);
  return size('tokenEmbedding') + config.nLayers * perLayer + size('norm') + (config.sharedClassifier ? 0 : size('output'));
}

// LlamaWeights' tree with any matrix type M and gain type G (LlamaWeights itself is
// WeightsOf<WeightTensor, Float32Array>; a file's layout is WeightsOf<MatrixSpec, GainSpec>).
export type LayerOf<M, G> = { [K in LayerField]: LayerWeights[K] extends WeightTensor ? M : G };
export interface WeightsOf<M, G> {
  tokenEmbedding: M; // [V, C]
  layers: LayerOf<M, G>[]; // L
  norm: G; // [C]
  output: M; // [V, C]; the same object as tokenEmbedding when the classifier is shared
}

// Weights made parameter by parameter in Meta's order (so seeded initialization draws in that
// order): `matrix` makes each matrix, `gain` each norm gain; a shared classifier is the embedding.
export function assembleWeights<M, G>(
  config: LlamaConfig,
  matrix: (slot: ParameterSlot, rows: number, cols: number) => M,
  gain: (slot: ParameterSlot, length: number) => G,
): WeightsOf<M, G> {
  const global: Partial<Record<GlobalField, M | G>> = {};
  const layers: Record<LayerField, M | G>[] = [];
  for (const slot of eachParameterSlot(config)) {
    const shape = parameterShape(config, slot.field);
    const value = shape.length === 1 ? gain(slot, shape[0]) : matrix(slot, shape[0], shape[1]);
    if (slot.layer === null) global[slot.field] = value;
    else (layers[slot.layer] ??= {} as Record<LayerField, M | G>)[slot.field] = value;
  }
  const tokenEmbedding = global.tokenEmbedding as M;
  return {
    tokenEmbedding,
    layers: layers as LayerOf<M, G>[],
    norm: global.norm as G,
    output: config.sharedClassifier ? tokenEmbedding : (global.output as M),
  };
}
