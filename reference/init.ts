// Random initialization of a LLaMA: normal(0, std) matrices, unit norm gains, as in the
// common GPT/LLaMA training recipes. Seeded, so a seed names a model exactly.
import { headDim, type LlamaConfig } from './config.js';
import { seededNormal, seededUniform } from './random.js';
import { f32Tensor, type WeightTensor } from './tensor.js';
import type { LayerWeights, LlamaModel } from './weights.js';

export interface InitOptions {
  std?: number; // matrix entries ~ N(0, std²); default 0.02
  gainJitter?: number; // norm gains ~ 1 + U(−j, j); default 0 (all ones)
}

export function randomModel(config: LlamaConfig, seed: number, options: InitOptions = {}): LlamaModel {
  const normal = seededNormal(seed);
  const uniform = seededUniform(seed ^ 0x5bd1e995);
  const std = options.std ?? 0.02;
  const jitter = options.gainJitter ?? 0;
  const matrix = (rows: number, cols: number): WeightTensor => {
    const data = new Float32Array(rows * cols);
    for (let i = 0; i < data.length; i++) data[i] = normal() * std;
    return f32Tensor(data, rows, cols);
  };
  const gain = (n: number): Float32Array => {
    const g = new Float32Array(n);
    for (let i = 0; i < n; i++) g[i] = 1 + jitter * (2 * uniform() - 1);
    return g;
  };
  const { dim: C, hiddenDim: H, vocabSize: V } = config;
  const qDim = config.nHeads * headDim(config);
  const kvD = config.nKvHeads * headDim(config);
  const tokenEmbedding = matrix(V, C);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    layers.push({
      attentionNorm: gain(C),
      wq: matrix(qDim, C),
      wk: matrix(kvD, C),
      wv: matrix(kvD, C),
      wo: matrix(C, qDim),
      ffnNorm: gain(C),
      w1: matrix(H, C),
      w2: matrix(C, H),
      w3: matrix(H, C),
    });
  }
  const norm = gain(C);
  const output = config.sharedClassifier ? tokenEmbedding : matrix(V, C);
  return { config, weights: { tokenEmbedding, layers, norm, output } };
}
