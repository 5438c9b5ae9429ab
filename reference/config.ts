// The shape of a LLaMA model: every number the forward pass needs and nothing else.
//
//   dim          C, the width of the residual stream
//   nLayers      L, transformer blocks
//   nHeads       query heads; headDim = dim / nHeads
//   nKvHeads     key/value heads (grouped-query attention); nHeads % nKvHeads == 0
//   hiddenDim    H, the SwiGLU feed-forward width
//   vocabSize    V
//   maxSeqLen    the longest context the KV cache holds
//   normEps      RMSNorm epsilon (1e-5 unless the model file says otherwise)
//   ropeTheta    RoPE base frequency (10000 in the paper)
//   ropeFreqFactors  optional [hd/2]: pair i's frequency θ^(-2i/hd) is divided by factor i
//                (RoPE scaling: linear or Llama 3.1's, see rope.ts); absent means all 1
//   sharedClassifier  the output matrix is the token embedding (llama2.c's small models)

export interface LlamaConfig {
  dim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  hiddenDim: number;
  vocabSize: number;
  maxSeqLen: number;
  normEps: number;
  ropeTheta: number;
  ropeFreqFactors?: number[];
  sharedClassifier: boolean;
}

export const DEFAULT_NORM_EPS = 1e-5;
export const DEFAULT_ROPE_THETA = 10000;

export function headDim(c: LlamaConfig): number {
  return c.dim / c.nHeads;
}

export function kvDim(c: LlamaConfig): number {
  return headDim(c) * c.nKvHeads;
}

// The paper's feed-forward width: 2/3 · 4d, rounded up to a multiple of `multipleOf`
// (Meta's model.py; 256 for the released models).
export function swigluHiddenDim(dim: number, multipleOf: number, ffnDimMultiplier = 1): number {
  let hidden = Math.floor((2 * 4 * dim) / 3);
  hidden = Math.floor(ffnDimMultiplier * hidden);
  return multipleOf * Math.ceil(hidden / multipleOf);
}

// Throws a message naming the field when a config cannot describe a LLaMA.
export function validateConfig(c: LlamaConfig, where = 'config'): void {
  const positive: (keyof LlamaConfig)[] = ['dim', 'nLayers', 'nHeads', 'nKvHeads', 'hiddenDim', 'vocabSize', 'maxSeqLen'];
  for (const k of positive) {
    const v = c[k] as number;
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${where}: ${k} must be a positive integer, got ${v}`);
  }
  if (c.dim % c.nHeads !== 0) throw new Error(`${where}: dim ${c.dim} is not divisible by nHeads ${c.nHeads}`);
  if (c.nHeads % c.nKvHeads !== 0) throw new Error(`${where}: nHeads ${c.nHeads} is not divisible by nKvHeads ${c.nKvHeads}`);
  if ((c.dim / c.nHeads) % 2 !== 0) throw new Error(`${where}: head dimension ${c.dim / c.nHeads} must be even for RoPE`);
  if (!(c.normEps > 0) || !Number.isFinite(c.normEps)) throw new Error(`${where}: normEps must be positive, got ${c.normEps}`);
  if (!(c.ropeTheta > 0) || !Number.isFinite(c.ropeTheta)) throw new Error(`${where}: ropeTheta must be positive, got ${c.ropeTheta}`);
  if (c.ropeFreqFactors !== undefined) {
    const pairs = c.dim / c.nHeads / 2;
    if (c.ropeFreqFactors.length !== pairs) {
      throw new Error(`${where}: ropeFreqFactors has ${c.ropeFreqFactors.length} values, the head dimension needs ${pairs}`);
    }
    const bad = c.ropeFreqFactors.findIndex((f) => !(f > 0) || !Number.isFinite(f));
    if (bad >= 0) throw new Error(`${where}: ropeFreqFactors[${bad}] must be positive, got ${c.ropeFreqFactors[bad]}`);
  }
}
