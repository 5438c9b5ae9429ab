// A model (and its vocabulary) as a GGUF v3 file that llama.cpp runs with nothing else:
// the `llama` architecture keys (gguf-model.ts ggufFromModel), general.file_type, and the
// tokenizer.ggml.* vocabulary. Matrices are stored as F32, F16 or any quantized type
// (quantizeModel, storage.ts: as ggml's reference quantizers do, with llama.cpp's fallbacks);
// norm gains stay F32.
import type { DType } from '../../reference/tensor.js';
import type { LlamaModel } from '../../reference/weights.js';
import { ggufFromModel } from '../formats/gguf-model.js';
import type { GGUFMetadataEntry } from '../formats/gguf.js';
import type { Vocabulary } from '../tokenizer/vocabulary.js';
import { ggufTokenizerMetadata } from '../tokenizer/gguf-vocabulary.js';
import { MIXTURE_BASE, MIXTURE_FILE_TYPE, type MixtureName } from './mixtures.js';
import { quantizeModel, quantizeModelMixture } from './storage.js';

// llama.cpp's `enum llama_ftype` for files whose matrices are all of one type (a K-quant:
// its _S variant, the one closest to "every matrix in this type"; Q8_K has none).
export const GGUF_FILE_TYPE: Partial<Record<DType, number>> = {
  f32: 0, f16: 1, q4_0: 2, q4_1: 3, q8_0: 7, q5_0: 8, q5_1: 9,
  q2_k: 10, q3_k: 11, q4_k: 14, q5_k: 16, q6_k: 18, iq4_nl: 25,
};

export interface GGUFExportOptions {
  dtype?: DType; // storage type of the matrices (default: as they are; f32 if mixed)
  mixture?: MixtureName; // instead of dtype: llama.cpp's per-tensor mixture (q4_k_m etc., mixtures.ts)
  fileType?: number; // general.file_type, when not GGUF_FILE_TYPE[dtype] (a mixture's own)
  vocabulary?: Vocabulary; // written as tokenizer.ggml.*; without it llama.cpp cannot run the file
  tokenizerMetadata?: GGUFMetadataEntry[]; // instead: another GGUF's tokenizer.* entries, written as they are
  name?: string; // general.name
  notes?: string[]; // receives what could not be stored as asked (e.g. matrices kept f16)
}

export function modelToGGUF(model: LlamaModel, options: GGUFExportOptions = {}): Uint8Array {
  if (options.mixture) {
    const stored = quantizeModelMixture(model, options.mixture, options.notes);
    return storedModelToGGUF(stored, { ...options, dtype: MIXTURE_BASE[options.mixture], fileType: MIXTURE_FILE_TYPE[options.mixture] });
  }
  const dtype = options.dtype ?? uniformDType(model);
  return storedModelToGGUF(quantizeModel(model, dtype, options.notes), { ...options, dtype });
}

// A model whose matrices are already stored as quantizeModel(model, options.dtype) (or a
// mixture whose base type is options.dtype) stores them, as GGUF bytes.
export function storedModelToGGUF(stored: LlamaModel, options: GGUFExportOptions & { dtype: DType }): Uint8Array {
  const { dtype, vocabulary } = options;
  const meta: GGUFMetadataEntry[] = [];
  if (options.name !== undefined) meta.push(['general.name', options.name, 'string']);
  const fileType = options.fileType ?? GGUF_FILE_TYPE[dtype];
  if (fileType !== undefined) meta.push(['general.file_type', fileType, 'u32']);
  if (dtype !== 'f32' && dtype !== 'f16') meta.push(['general.quantization_version', 2, 'u32']);
  if (vocabulary) {
    if (vocabulary.pieces.length !== stored.config.vocabSize) {
      throw new Error(`modelToGGUF: the vocabulary has ${vocabulary.pieces.length} pieces, the model ${stored.config.vocabSize}`);
    }
    meta.push(...ggufTokenizerMetadata(vocabulary));
  } else if (options.tokenizerMetadata) {
    meta.push(...options.tokenizerMetadata);
  }
  return ggufFromModel(stored, meta);
}

// The storage type shared by every matrix, or f32 when they differ.
function uniformDType(model: LlamaModel): DType {
  const w = model.weights;
  const all = [w.tokenEmbedding, w.output, ...w.layers.flatMap((l) => [l.wq, l.wk, l.wv, l.wo, l.w1, l.w2, l.w3])];
  return all.every((t) => t.dtype === all[0].dtype) ? all[0].dtype : 'f32';
}
