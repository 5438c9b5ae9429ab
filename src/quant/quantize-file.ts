// `llama-ts quantize`: a GGUF or llama2.c model rewritten as a GGUF with its matrices in
// one type (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K..Q6_K or F16), the way llama.cpp's
// quantize does for these types (without an importance matrix).
//
// What gets quantized: every weight matrix whose rows are whole blocks of the type (32
// values, 256 for the K-quants), or every matrix (F16). A matrix with another row length
// falls back as llama.cpp's does (src/convert/storage.ts, the one place that decides): a
// K-quant to a 32-value type, and rows not whole blocks of 32 (e.g. stories260K's w2, rows
// of 172) to F16; norm gains always stay F32.
//
// The vocabulary travels along: from a GGUF input, its tokenizer.* metadata is copied as
// stored; from a llama2.c input (which holds none), from --tokenizer (any tokenizer file we
// read: .model, tokenizer.bin, tokenizer.json, GGUF) through src/convert's
// Vocabulary → tokenizer.ggml.* writer. A --tokenizer also overrides a GGUF's own.
import { writeFileAtomic } from '../formats/atomic-file.js';
import { BLOCK_VALUES, QK } from '../../reference/tensor.js';
import type { LlamaModel } from '../../reference/weights.js';
import { readTokenizerFile } from '../convert/convert.js';
import { convertMatrices, namedMatrices, storedType } from '../convert/storage.js';
import { GGUF_FILE_TYPE } from '../convert/to-gguf.js';
import { ggufTokenizerMetadata } from '../convert/tokenizer-metadata.js';
import { ggufFromModel } from '../formats/gguf-model.js';
import { metadataEntries, type GGUFMetadataEntry } from '../formats/gguf.js';
import { loadModel } from '../formats/load.js';

export type QuantizeType = 'q8_0' | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'iq4_nl' | 'q2_k' | 'q3_k' | 'q4_k' | 'q5_k' | 'q6_k' | 'f16';
export const QUANTIZE_TYPES: readonly QuantizeType[] = ['q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'f16'];

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

// The model with its matrices stored as `type` (convertMatrices), and which went where; a
// shared classifier stays one tensor, listed once (as tok_embeddings.weight).
export function quantizeMatrices(model: LlamaModel, type: QuantizeType, notes: string[] = []): { model: LlamaModel; quantized: string[]; fallback: string[]; f16: string[] } {
  const quantized: string[] = [];
  const fallback: string[] = [];
  const f16: string[] = [];
  for (const [name, t] of namedMatrices(model)) {
    const stored = storedType(t, type);
    if (stored === type) quantized.push(name);
    else if (stored === 'f16') f16.push(`${name} (rows of ${t.cols} values are not whole blocks of ${QK})`);
    else fallback.push(`${name} as ${stored} (rows of ${t.cols} values are not whole blocks of ${BLOCK_VALUES[type]})`);
  }
  return { model: convertMatrices(model, type, notes), quantized, fallback, f16 };
}

// The GGUF metadata beside the llama.* keys: name, file type, and the vocabulary.
function extraMetadata(input: string, gguf: ReturnType<typeof loadModel>['gguf'], options: QuantizeOptions, vocabSize: number, notes: string[]): GGUFMetadataEntry[] {
  const entries: GGUFMetadataEntry[] = [];
  const original = gguf ? metadataEntries(gguf) : [];
  const name = original.find(([k]) => k === 'general.name');
  if (name) entries.push(name);
  entries.push(['general.file_type', GGUF_FILE_TYPE[options.type]!, 'u32']);
  if (options.type !== 'f16') entries.push(['general.quantization_version', 2, 'u32']);
  if (options.tokenizer) {
    const { vocabulary } = readTokenizerFile(options.tokenizer);
    if (vocabulary.pieces.length !== vocabSize) {
      throw new Error(`${options.tokenizer}: the tokenizer has ${vocabulary.pieces.length} tokens but the model's vocabulary has ${vocabSize}`);
    }
    entries.push(...ggufTokenizerMetadata(vocabulary));
  } else {
    const vocab = original.filter(([k]) => k.startsWith('tokenizer.'));
    if (vocab.length) entries.push(...vocab);
    else notes.push(`${input} holds no vocabulary and no --tokenizer was given: the GGUF has no tokenizer.* keys (generate will need --tokenizer)`);
  }
  return entries;
}

// Reads `input` (GGUF or llama2.c), writes `output` (GGUF).
export function quantizeFile(input: string, output: string, options: QuantizeOptions): QuantizeResult {
  if (!QUANTIZE_TYPES.includes(options.type)) {
    throw new Error(`quantize: --type must be one of ${QUANTIZE_TYPES.join(', ')}, got "${String(options.type)}"`);
  }
  const loaded = loadModel(input);
  const notes: string[] = [];
  const meta = extraMetadata(input, loaded.gguf, options, loaded.model.config.vocabSize, notes);
  const { model, quantized, fallback, f16 } = quantizeMatrices(loaded.model, options.type, notes);
  const bytes = ggufFromModel(model, meta);
  writeFileAtomic(output, bytes);
  return { model, quantized, fallback, f16, notes, bytes: bytes.length };
}
