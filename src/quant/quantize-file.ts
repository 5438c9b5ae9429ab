// `llama-ts quantize`: a GGUF or llama2.c model rewritten as a GGUF with its matrices in
// Q8_0, Q4_0 or F16, the way llama.cpp's quantize does for these types.
//
// What gets quantized: every weight matrix whose rows are whole blocks of 32 values (Q8_0,
// Q4_0), or every matrix (F16). A matrix with another row length (e.g. stories260K's w2,
// rows of 172) keeps its storage type, F32 or F16; norm gains always stay F32.
//
// The vocabulary travels along: from a GGUF input, its tokenizer.* metadata is copied as
// stored; from a llama2.c input (which holds none), from --tokenizer (any tokenizer file we
// read: .model, tokenizer.bin, tokenizer.json, GGUF) through src/convert's
// Vocabulary → tokenizer.ggml.* writer. A --tokenizer also overrides a GGUF's own.
import { writeFileAtomic } from '../formats/atomic-file.js';
import { QK, type DType, type WeightTensor } from '../../reference/tensor.js';
import type { LlamaModel } from '../../reference/weights.js';
import { readTokenizerFile } from '../convert/convert.js';
import { namedMatrices } from '../convert/storage.js';
import { GGUF_FILE_TYPE } from '../convert/to-gguf.js';
import { ggufTokenizerMetadata } from '../convert/tokenizer-metadata.js';
import { ggufFromModel } from '../formats/gguf-model.js';
import { metadataEntries, type GGUFMetadataEntry } from '../formats/gguf.js';
import { loadModel } from '../formats/load.js';
import { quantize } from './quantize.js';
import { toF32 } from '../../reference/tensor.js';

export type QuantizeType = 'q8_0' | 'q4_0' | 'f16';
export const QUANTIZE_TYPES: readonly QuantizeType[] = ['q8_0', 'q4_0', 'f16'];

export interface QuantizeOptions {
  type: QuantizeType;
  tokenizer?: string; // vocabulary file; needed for llama2.c inputs
}

export interface QuantizeResult {
  model: LlamaModel; // the model as written
  quantized: string[]; // Meta names of the matrices now stored as `type`
  kept: string[]; // matrices left in their storage type, with why
  notes: string[]; // for the user
  bytes: number; // size of the file written
}

// Whether a matrix can be stored as `type`.
function storable(t: WeightTensor, type: QuantizeType): boolean {
  return type === 'f16' || t.cols % QK === 0;
}

// The model with every matrix that can be stored as `type` converted (already-`type`
// matrices as they are); a shared classifier stays one tensor.
export function quantizeMatrices(model: LlamaModel, type: QuantizeType): { model: LlamaModel; quantized: string[]; kept: string[] } {
  const quantized: string[] = [];
  const kept: string[] = [];
  const converted = new Map<WeightTensor, WeightTensor>();
  for (const [name, t] of namedMatrices(model)) {
    if (converted.has(t)) continue;
    if (!storable(t, type)) {
      kept.push(`${name} (${t.dtype}: rows of ${t.cols} values are not whole blocks of ${QK})`);
      converted.set(t, t);
      continue;
    }
    converted.set(t, t.dtype === type ? t : quantize(toF32(t), t.rows, t.cols, type as DType));
    quantized.push(name);
  }
  const c = (t: WeightTensor): WeightTensor => converted.get(t) ?? t;
  const w = model.weights;
  return {
    model: {
      config: model.config,
      weights: {
        tokenEmbedding: c(w.tokenEmbedding),
        layers: w.layers.map((l) => ({ ...l, wq: c(l.wq), wk: c(l.wk), wv: c(l.wv), wo: c(l.wo), w1: c(l.w1), w2: c(l.w2), w3: c(l.w3) })),
        norm: w.norm,
        output: c(w.output),
      },
    },
    quantized,
    kept,
  };
}

// The GGUF metadata beside the llama.* keys: name, file type, and the vocabulary.
function extraMetadata(input: string, gguf: ReturnType<typeof loadModel>['gguf'], options: QuantizeOptions, vocabSize: number, notes: string[]): GGUFMetadataEntry[] {
  const entries: GGUFMetadataEntry[] = [];
  const original = gguf ? metadataEntries(gguf) : [];
  const name = original.find(([k]) => k === 'general.name');
  if (name) entries.push(name);
  entries.push(['general.file_type', GGUF_FILE_TYPE[options.type], 'u32']);
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
  const { model, quantized, kept } = quantizeMatrices(loaded.model, options.type);
  if (kept.length) notes.push(`kept in their storage type: ${kept.join(', ')}`);
  const bytes = ggufFromModel(model, meta);
  writeFileAtomic(output, bytes);
  return { model, quantized, kept, notes, bytes: bytes.length };
}
