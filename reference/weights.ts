// All parameters of a LLaMA, named after Meta's model.py. Matrices are [out, in] (nn.Linear's
// layout): y = W x. LLaMA has no biases. Norm gains are always float32.
import type { LlamaConfig } from './config.js';
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

// Meta's parameter names (model.py's state_dict), used by golden/, dump and conform.
export function parameterNames(config: LlamaConfig): string[] {
  const names = ['tok_embeddings.weight'];
  for (let l = 0; l < config.nLayers; l++) {
    const p = `layers.${l}.`;
    names.push(
      p + 'attention_norm.weight',
      p + 'attention.wq.weight',
      p + 'attention.wk.weight',
      p + 'attention.wv.weight',
      p + 'attention.wo.weight',
      p + 'ffn_norm.weight',
      p + 'feed_forward.w1.weight',
      p + 'feed_forward.w2.weight',
      p + 'feed_forward.w3.weight',
    );
  }
  names.push('norm.weight');
  if (!config.sharedClassifier) names.push('output.weight');
  return names;
}
