// `llama-ts quantize`: a GGUF or llama2.c model rewritten as a GGUF with its matrices in
// one type (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q3_K..Q5_K or F16), or in one of llama.cpp's
// K-quant mixtures (Q2_K, Q3_K_S/M/L, Q4_K_S/M, Q5_K_S/M, Q6_K: mixtures.ts), the way
// llama.cpp's quantize does for these types (without an importance matrix). Unlike llama.cpp,
// q4_0/q8_0 etc. keep output.weight in their own type (llama.cpp's Q4_0 puts it in Q6_K):
// every matrix in one type, as llama.cpp's --pure does.
//
// What gets quantized is quantizeModel's rule (storage.ts, the one place that decides):
// every weight matrix whose rows are whole blocks of the type (32 values, 256 for the
// K-quants), or every matrix (F16). A matrix with another row length falls back as
// llama.cpp's does: a K-quant to a 32-value type, and rows not whole blocks of 32 (e.g.
// stories260K's w2, rows of 172) to F16; norm gains always stay F32. The file is written by the GGUF writer that
// `convert` uses (to-gguf.ts), keeping the input's general.name.
//
// The vocabulary travels along: from a GGUF input, its tokenizer.* metadata is copied as
// stored (even a vocabulary llama-ts cannot read); a --tokenizer (any tokenizer file:
// .model, tokenizer.bin, tokenizer.json, GGUF) replaces it, and is what a llama2.c input,
// which holds none, needs.
import { BLOCK_VALUES, QK, type DType } from '../../reference/tensor.js';
import type { LlamaModel } from '../../reference/weights.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { metadataEntries, type GGUFFile, type GGUFMetadataEntry } from '../formats/gguf.js';
import { loadModel } from '../formats/load-file.js';
import { byteLevelGGUFMetadata } from '../tokenizer/byte-level-writers.js';
import { readTokenizerFile } from '../tokenizer/load.js';
import { findVocabulary, readVocabulary } from '../tokenizer/model-vocabulary.js';
import type { Vocabulary } from '../tokenizer/vocabulary.js';
import { isMixture, MIXTURE_BASE, MIXTURE_FILE_TYPE } from './mixtures.js';
import { mixturePlan, namedMatrices, quantizeModel, quantizeModelMixture } from './storage.js';
import { storedModelToGGUF } from './to-gguf.js';

// q2_k and q6_k are llama.cpp's mixtures of those names (mixtures.ts; Q6_K's is every matrix
// in q6_k anyway); q3_k, q4_k and q5_k are every matrix in that type (what llama.cpp's
// --pure makes), and the _s/_m/_l names are llama.cpp's mixtures.
export type QuantizeType =
  | 'q8_0' | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'iq4_nl' | 'q2_k' | 'q3_k' | 'q4_k' | 'q5_k' | 'q6_k' | 'f16'
  | 'q3_k_s' | 'q3_k_m' | 'q3_k_l' | 'q4_k_s' | 'q4_k_m' | 'q5_k_s' | 'q5_k_m';
export const QUANTIZE_TYPES: readonly QuantizeType[] = [
  'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'f16',
  'q3_k_s', 'q3_k_m', 'q3_k_l', 'q4_k_s', 'q4_k_m', 'q5_k_s', 'q5_k_m',
];

export interface QuantizeOptions {
  type: QuantizeType;
  tokenizer?: string; // vocabulary file; needed for llama2.c inputs
}

export interface QuantizeResult {
  model: LlamaModel; // the model as written
  quantized: string[]; // Meta names of the matrices now stored as `type`
  fallback: string[]; // matrices stored in a K-quant's 32-value fallback type instead, with why
  f16: string[]; // matrices stored as F16 instead, with why
  notes: string[]; // for the user
  bytes: number; // size of the file written
}

// Reads `input` (GGUF or llama2.c), writes `output` (GGUF).
export function quantizeFile(input: string, output: string, options: QuantizeOptions): QuantizeResult {
  const { type } = options;
  if (!QUANTIZE_TYPES.includes(type)) {
    throw new Error(`quantize: --type must be one of ${QUANTIZE_TYPES.join(', ')}, got "${String(type)}"`);
  }
  const loaded = loadModel(input);
  const notes: string[] = [];
  const vocab = vocabularyOf(input, loaded.gguf, options.tokenizer, loaded.model.config.vocabSize, notes);
  const mixture = isMixture(type) ? type : undefined;
  const model = mixture ? quantizeModelMixture(loaded.model, mixture, notes) : quantizeModel(loaded.model, type as DType, notes);
  const name = loaded.gguf?.metadata['general.name'];
  const bytes = storedModelToGGUF(model, {
    dtype: mixture ? MIXTURE_BASE[mixture] : (type as DType),
    fileType: mixture && MIXTURE_FILE_TYPE[mixture],
    name: typeof name === 'string' ? name : undefined,
    ...vocab,
  });
  writeFileAtomic(output, bytes);
  const asked = mixture
    ? new Map(mixturePlan(loaded.model, mixture).map((p) => [p.name, p.asked]))
    : new Map(namedMatrices(model).map(([n]) => [n, type as DType]));
  return { model, ...whereMatricesWent(model, asked), notes, bytes: bytes.length };
}

// The vocabulary to write: --tokenizer's, else a GGUF input's tokenizer.* metadata as stored.
function vocabularyOf(
  input: string, gguf: GGUFFile | undefined, tokenizer: string | undefined, vocabSize: number, notes: string[],
): { vocabulary?: Vocabulary; tokenizerMetadata?: GGUFMetadataEntry[] } {
  const origin = findVocabulary({ name: input, gguf: gguf?.metadata }, tokenizer ? readTokenizerFile(tokenizer) : undefined);
  if (origin && origin.kind !== 'gguf') {
    const read = readVocabulary(origin, vocabSize);
    return read.kind === 'sentencepiece' ? { vocabulary: read.vocabulary } : { tokenizerMetadata: byteLevelGGUFMetadata(read.vocabulary) };
  }
  const own = gguf ? metadataEntries(gguf).filter(([k]) => k.startsWith('tokenizer.')) : [];
  if (!own.length) notes.push(`${input} holds no vocabulary and no --tokenizer was given: the GGUF has no tokenizer.* keys (generate will need --tokenizer)`);
  return { tokenizerMetadata: own };
}

// Which matrices are stored as the type asked for them, which fell back to a 32-value type,
// which to F16; a shared classifier is one tensor, listed once (as tok_embeddings.weight).
function whereMatricesWent(stored: LlamaModel, asked: Map<string, DType>): { quantized: string[]; fallback: string[]; f16: string[] } {
  const quantized: string[] = [];
  const fallback: string[] = [];
  const f16: string[] = [];
  for (const [name, t] of namedMatrices(stored)) {
    const type = asked.get(name) ?? t.dtype;
    if (t.dtype === type) quantized.push(name);
    else if (t.dtype === 'f16') f16.push(`${name} (rows of ${t.cols} values are not whole blocks of ${QK})`);
    else fallback.push(`${name} as ${t.dtype} (rows of ${t.cols} values are not whole blocks of ${BLOCK_VALUES[type]})`);
  }
  return { quantized, fallback, f16 };
}
