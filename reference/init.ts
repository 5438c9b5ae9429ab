// Random initialization of a LLaMA: normal(0, std) matrices, unit norm gains, as in the
// common GPT/LLaMA training recipes. Seeded, so a seed names a model exactly.
import type { LlamaConfig } from './config.js';
import { seededNormal, seededUniform } from './random.js';
import { f32Tensor, type WeightTensor } from './tensor.js';
import { assembleWeights, type LlamaModel, type ParameterSlot } from './weights.js';

export interface InitOptions {
  std?: number; // matrix entries ~ N(0, std²); default 0.02
  gainJitter?: number; // norm gains ~ 1 + U(−j, j); default 0 (all ones)
}

export function randomModel(config: LlamaConfig, seed: number, options: InitOptions = {}): LlamaModel {
  const normal = seededNormal(seed);
  const uniform = seededUniform(seed ^ 0x5bd1e995);
  const std = options.std ?? 0.02;
  const jitter = options.gainJitter ?? 0;
  const matrix = (_slot: ParameterSlot, rows: number, cols: number): WeightTensor => {
    const data = new Float32Array(rows * cols); // [rows, cols]
    for (let i = 0; i < data.length; i++) data[i] = normal() * std;
    return f32Tensor(data, rows, cols);
  };
  const gain = (_slot: ParameterSlot, n: number): Float32Array => {
    const g = new Float32Array(n); // [n]
    for (let i = 0; i < n; i++) g[i] = 1 + jitter * (2 * uniform() - 1);
    return g;
  };
  // Matrices draw from `normal` and gains from `uniform`, each in Meta's parameter order.
  return { config, weights: assembleWeights(config, matrix, gain) };
}
