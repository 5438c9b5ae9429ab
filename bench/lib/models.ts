// The models the end-to-end bench runs: random weights (seeded, std 0.02) in the shapes of
// karpathy's stories15M and stories110M, stored as F32, Q8_0 or Q4_0 GGUF files, or as
// llama.cpp's K-quant mixtures Q4_K_M, Q5_K_M and Q6_K (src/convert/mixtures.ts), that carry
// the LLaMA 32000-token vocabulary, so that llama.cpp loads exactly the file we load.
// Random weights time the same as trained ones: every kernel does the same work.
// The 15M shape's rows of 288 are not whole blocks of 256: there a mixture stores most
// matrices in its 32-value fallback types (q5_0, q5_1, q8_0), as llama.cpp would.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_NORM_EPS, DEFAULT_ROPE_THETA, validateConfig, type LlamaConfig } from '../../reference/config.js';
import { randomModel } from '../../reference/init.js';
import { rowBytes, type DType } from '../../reference/tensor.js';
import type { LlamaModel } from '../../reference/weights.js';
import { isMixture, MIXTURE_BASE, MIXTURE_FILE_TYPE, type MixtureName } from '../../src/convert/mixtures.js';
import { quantizeModel, quantizeModelMixture } from '../../src/convert/storage.js';
import { storedModelToGGUF } from '../../src/convert/to-gguf.js';
import { vocabularyFromSentencePieceModel } from '../../src/tokenizer/sentencepiece-model.js';
import type { Vocabulary } from '../../src/tokenizer/vocabulary.js';

export type ShapeName = '15M' | '110M';
export const SHAPE_NAMES: readonly ShapeName[] = ['15M', '110M'];
// One storage type for every matrix, or a llama.cpp mixture (q6_k is both: the same file).
export type BenchType = DType | MixtureName;
export const BENCH_DTYPES: readonly BenchType[] = ['f32', 'q8_0', 'q4_0', 'q4_k_m', 'q5_k_m', 'q6_k', 'q3_k_m', 'q2_k'];
export const INIT_STD = 0.02;

// llama2.c's tinyllamas configs; both share the classifier with the token embedding.
export const SHAPES: Record<ShapeName, LlamaConfig> = {
  '15M': {
    dim: 288, nLayers: 6, nHeads: 6, nKvHeads: 6, hiddenDim: 768, vocabSize: 32000, maxSeqLen: 256,
    normEps: DEFAULT_NORM_EPS, ropeTheta: DEFAULT_ROPE_THETA, sharedClassifier: true,
  },
  '110M': {
    dim: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, hiddenDim: 2048, vocabSize: 32000, maxSeqLen: 1024,
    normEps: DEFAULT_NORM_EPS, ropeTheta: DEFAULT_ROPE_THETA, sharedClassifier: true,
  },
};

// The seed of a shape's random model: fixed, so every run times the same weights.
export function shapeSeed(shape: ShapeName): number {
  return shape === '15M' ? 15 : 110;
}

// A seeded random F32 model of `config` (the reference initializer, std 0.02).
export function benchModel(config: LlamaConfig, seed: number): LlamaModel {
  validateConfig(config, 'bench model');
  return randomModel(config, seed, { std: INIT_STD });
}

// Parameters of the model, counting a shared classifier once.
export function parameterCount(c: LlamaConfig): number {
  const hd = c.dim / c.nHeads;
  const perLayer = 2 * c.dim + c.dim * c.dim * 2 + 2 * c.nKvHeads * hd * c.dim + 3 * c.dim * c.hiddenDim;
  return c.vocabSize * c.dim * (c.sharedClassifier ? 1 : 2) + c.nLayers * perLayer + c.dim;
}

// Bytes of weights one decode step reads when matrices are stored as `dtype`: every layer
// matrix, the norm gains (f32), the classifier and one embedding row. The KV cache is not
// counted (at the positions benched it is under 2% of the weights).
export function weightBytesPerToken(c: LlamaConfig, dtype: DType): number {
  const hd = c.dim / c.nHeads;
  const kv = c.nKvHeads * hd;
  const matrix = (rows: number, cols: number) => rows * rowBytes(dtype, cols);
  const layer =
    matrix(c.dim, c.dim) * 2 + matrix(kv, c.dim) * 2 + matrix(c.hiddenDim, c.dim) * 2 + matrix(c.dim, c.hiddenDim) + 2 * 4 * c.dim;
  return c.nLayers * layer + matrix(c.vocabSize, c.dim) + rowBytes(dtype, c.dim) + 4 * c.dim;
}

// FLOPs of the matrix products one token costs (2 per multiply-add; attention excluded):
// every layer matrix and the classifier, whose shapes are those of weightBytesPerToken.
export function matmulFlopsPerToken(c: LlamaConfig): number {
  const kv = c.nKvHeads * (c.dim / c.nHeads);
  const layer = 2 * c.dim * c.dim + 2 * kv * c.dim + 3 * c.hiddenDim * c.dim;
  return 2 * (c.nLayers * layer + c.vocabSize * c.dim);
}

export function loadVocabulary(path: string): Vocabulary {
  return vocabularyFromSentencePieceModel(new Uint8Array(readFileSync(path)), path);
}

// Bytes of weights one decode step reads from a model as stored (any mix of types): every
// layer matrix and norm gain, the classifier, one embedding row and the final norm; what
// weightBytesPerToken counts for a model of one type.
export function storedWeightBytesPerToken(stored: LlamaModel): number {
  const w = stored.weights;
  const bytes = (t: { data: ArrayBufferView }) => t.data.byteLength;
  const layers = w.layers.reduce((sum, l) =>
    sum + bytes(l.wq) + bytes(l.wk) + bytes(l.wv) + bytes(l.wo) + bytes(l.w1) + bytes(l.w2) + bytes(l.w3)
    + 4 * (l.attentionNorm.length + l.ffnNorm.length), 0);
  return layers + bytes(w.output) + bytes(w.tokenEmbedding) / stored.config.vocabSize + 4 * w.norm.length;
}

// Writes `model` with its matrices stored as `type` (one type, or a llama.cpp mixture) and the
// vocabulary to dir/bench-<shape>-<type>.gguf; returns the path and the weight bytes a decode
// step reads from it.
export function writeBenchGGUF(
  model: LlamaModel, type: BenchType, vocabulary: Vocabulary, dir: string, shape: string,
): { path: string; weightBytesPerToken: number } {
  const path = join(dir, `bench-${shape}-${type}.gguf`);
  const stored = isMixture(type) ? quantizeModelMixture(model, type) : quantizeModel(model, type);
  const name = `llama-ts bench ${shape} random ${type}`;
  const storage = isMixture(type) ? { dtype: MIXTURE_BASE[type], fileType: MIXTURE_FILE_TYPE[type] } : { dtype: type };
  writeFileSync(path, storedModelToGGUF(stored, { ...storage, vocabulary, name }));
  return { path, weightBytesPerToken: storedWeightBytesPerToken(stored) };
}
