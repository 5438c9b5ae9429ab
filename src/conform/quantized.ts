// `conform --self` on quantized storage: a model of a K-quant-fitting shape (every matrix's
// rows whole super-blocks of 256) is quantized to a mixture (default llama.cpp's Q4_K_M:
// Q4_K and Q6_K) and run from its blocks by the kernels under test; the reference runs the
// same model with every matrix dequantized to float32 (reference/quants-k.ts). Every forward
// tensor is compared under the golden manifest's tolerances, which are float32's: with the
// activations 'f32' that `llama-ts conform` asks of a backend, a prompt's matmuls decode the
// blocks to float32 and multiply in float32, so the two differ only by summation order, and
// a misread block is far outside them. (The golden cases' own shapes, dims 16 to 72, hold no
// 256-value rows, so they cannot carry K-quants.)
//
// Only the forward pass of the whole prompt is compared. By default the wasm backend rounds
// the activations of K-quant matmuls to 8 bits (as llama.cpp does): when decoding, and in the
// relaxed build for prompts too (assembly/kgemm.ts), which is not float32 arithmetic;
// tests/wasm-kquants.test.ts checks those kernels against the reference.
import type { LlamaConfig } from '../../reference/config.js';
import { randomModel } from '../../reference/init.js';
import type { Kernels } from '../../reference/kernels.js';
import { f32Tensor, toF32, type WeightTensor } from '../../reference/tensor.js';
import { tsKernels } from '../../reference/ts-kernels.js';
import type { LlamaModel } from '../../reference/weights.js';
import { namedMatrices, quantizeModelMixture } from '../convert/storage.js';
import type { MixtureName } from '../convert/mixtures.js';
import { compareTensor, toleranceFor } from './compare.js';
import type { ConformReport } from './conform.js';
import { dumpForward } from './dump.js';
import type { GoldenManifest } from './golden.js';

// Two layers, grouped-query attention, dims in super-blocks: 256 and 768
export const QUANTIZED_SELF_CONFIG: LlamaConfig = {
  dim: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 768, vocabSize: 320, maxSeqLen: 32,
  normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
};
const TOKENS = [1, 17, 250, 3, 99, 318, 42, 7, 150, 200, 5, 64, 11, 300, 128, 2];

export interface QuantizedSelfOptions {
  mixture?: MixtureName;
  quantized?: LlamaModel; // the stored model to run (default: the random model quantized to the mixture)
}

// The reference's model: every matrix of `model` dequantized to float32.
export function dequantizedModel(model: LlamaModel): LlamaModel {
  const cache = new Map<WeightTensor, WeightTensor>();
  const f32 = (t: WeightTensor): WeightTensor => {
    if (!cache.has(t)) cache.set(t, t.dtype === 'f32' ? t : f32Tensor(toF32(t), t.rows, t.cols));
    return cache.get(t)!;
  };
  const w = model.weights;
  return {
    config: model.config,
    weights: {
      tokenEmbedding: f32(w.tokenEmbedding),
      layers: w.layers.map((l) => ({ ...l, wq: f32(l.wq), wk: f32(l.wk), wv: f32(l.wv), wo: f32(l.wo), w1: f32(l.w1), w2: f32(l.w2), w3: f32(l.w3) })),
      norm: w.norm,
      output: f32(w.output),
    },
  };
}

export function conformQuantizedSelf(manifest: GoldenManifest, kernels: Kernels, options: QuantizedSelfOptions = {}): ConformReport {
  const mixture = options.mixture ?? 'q4_k_m';
  const quantized = options.quantized ?? quantizeModelMixture(randomModel(QUANTIZED_SELF_CONFIG, 12, { std: 0.05, gainJitter: 0.5 }), mixture);
  const types = [...new Set(namedMatrices(quantized).map(([, t]) => t.dtype))].sort();
  const expected = new Map(dumpForward(dequantizedModel(quantized), tsKernels, TOKENS, { decode: false }));
  const ours = dumpForward(quantized, kernels, TOKENS, { decode: false });
  const compared = ours
    .filter(([name]) => name !== 'tokens')
    .map(([name, t]) => {
      const golden = expected.get(name);
      if (!golden) throw new Error(`conform --self (${mixture}): the reference has no tensor "${name}"`);
      return compareTensor(name, Float64Array.from(t.data as ArrayLike<number>), t.shape, Float64Array.from(golden.data as ArrayLike<number>), golden.shape, toleranceFor(name, manifest.tolerances));
    });
  const firstFailure = compared.find((t) => !t.ok)?.name ?? null;
  return {
    case: `${mixture} (${types.join(', ')} blocks against their float32 dequantization)`,
    ok: firstFailure === null && compared.length > 0,
    compared, firstFailure, firstAboveNoise: null,
    checked: ['forward'], notChecked: [], missing: [], unknown: [], unchecked: [],
  };
}
