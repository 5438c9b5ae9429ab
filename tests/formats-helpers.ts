// Shared by the formats-*.test.ts files: small random models and paths to the real data.
import { fileURLToPath } from 'node:url';
import { DEFAULT_NORM_EPS, DEFAULT_ROPE_THETA, kvDim, type LlamaConfig } from '../reference/config.js';
import { f32Tensor, type WeightTensor } from '../reference/tensor.js';
import type { LlamaModel } from '../reference/weights.js';
import { seededUniform } from '../reference/random.js';

export const dataPath = (rel: string): string => fileURLToPath(new URL(`../../shared/data/${rel}`, import.meta.url));

// A seeded uniform generator in [0, 1) (reference/random.ts's mulberry32), so failures reproduce.
export const rng = seededUniform;

export function tinyConfig(over: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    dim: 8, nLayers: 2, nHeads: 2, nKvHeads: 1, hiddenDim: 12, vocabSize: 16, maxSeqLen: 4,
    normEps: DEFAULT_NORM_EPS, ropeTheta: DEFAULT_ROPE_THETA, sharedClassifier: true, ...over,
  };
}

// A model with every weight drawn uniformly from [-1, 1) (f32).
export function randomModel(config: LlamaConfig, seed = 1): LlamaModel {
  const next = rng(seed);
  const values = (n: number) => Float32Array.from({ length: n }, () => next() * 2 - 1);
  const matrix = (rows: number, cols: number): WeightTensor => f32Tensor(values(rows * cols), rows, cols);
  const C = config.dim, H = config.hiddenDim, KV = kvDim(config);
  const tokenEmbedding = matrix(config.vocabSize, C);
  const layers = Array.from({ length: config.nLayers }, () => ({
    attentionNorm: values(C), wq: matrix(C, C), wk: matrix(KV, C), wv: matrix(KV, C), wo: matrix(C, C),
    ffnNorm: values(C), w1: matrix(H, C), w2: matrix(C, H), w3: matrix(H, C),
  }));
  const output = config.sharedClassifier ? tokenEmbedding : matrix(config.vocabSize, C);
  return { config, weights: { tokenEmbedding, layers, norm: values(C), output } };
}

// Every parameter of a model by Meta's name, as raw bytes (for bit-exact comparisons).
export function parameterBytes(m: LlamaModel): Map<string, { dtype: string; rows: number; cols: number; bytes: Uint8Array }> {
  const out = new Map<string, { dtype: string; rows: number; cols: number; bytes: Uint8Array }>();
  const raw = (a: Float32Array | Uint16Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const put = (name: string, t: WeightTensor | Float32Array) => {
    if (t instanceof Float32Array) out.set(name, { dtype: 'f32', rows: 1, cols: t.length, bytes: raw(t) });
    else out.set(name, { dtype: t.dtype, rows: t.rows, cols: t.cols, bytes: raw(t.data) });
  };
  const w = m.weights;
  put('tok_embeddings.weight', w.tokenEmbedding);
  w.layers.forEach((l, i) => {
    const p = `layers.${i}.`;
    put(p + 'attention_norm.weight', l.attentionNorm);
    put(p + 'attention.wq.weight', l.wq);
    put(p + 'attention.wk.weight', l.wk);
    put(p + 'attention.wv.weight', l.wv);
    put(p + 'attention.wo.weight', l.wo);
    put(p + 'ffn_norm.weight', l.ffnNorm);
    put(p + 'feed_forward.w1.weight', l.w1);
    put(p + 'feed_forward.w2.weight', l.w2);
    put(p + 'feed_forward.w3.weight', l.w3);
  });
  put('norm.weight', w.norm);
  put('output.weight', w.output);
  return out;
}

// Asserts two models hold the same parameters bit for bit; returns how many were compared.
export function sameParameters(a: LlamaModel, b: LlamaModel): { compared: number; differing: string[] } {
  const pa = parameterBytes(a), pb = parameterBytes(b);
  const differing: string[] = [];
  for (const [name, x] of pa) {
    const y = pb.get(name);
    if (!y || x.dtype !== y.dtype || x.rows !== y.rows || x.cols !== y.cols || Buffer.compare(x.bytes, y.bytes) !== 0) differing.push(name);
  }
  return { compared: pa.size, differing };
}
