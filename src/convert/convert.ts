// `llama-ts convert`: read a model in any format we know, write it in another.
//
//   in:  GGUF file, llama2.c .bin (v0/v1), or a Hugging Face folder (config.json + safetensors)
//   out: GGUF v3 (F32/F16/Q8_0/Q4_0, vocabulary inside), llama2.c .bin (F32, v0 or v1), or a
//        Hugging Face folder (F32/F16/BF16)
//
// The vocabulary is the one that comes with the input (src/tokenizer/model-vocabulary.ts:
// --tokenizer when given, else a GGUF's metadata, a HF folder's tokenizer.model / .json). A
// SentencePiece tokenizer.model is kept as bytes so that a HF folder can be written with it
// unchanged.
import { existsSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic-file.js';
import { extname } from 'node:path';
import type { DType } from '../../reference/tensor.js';
import type { LlamaModel } from '../../reference/weights.js';
import { writeLlama2c } from '../formats/llama2c.js';
import { readModelPath } from '../formats/load-file.js';
import { byteLevelGGUFMetadata } from '../tokenizer/byte-level-writers.js';
import { vocabularyNotes } from '../tokenizer/gguf-vocabulary.js';
import { readTokenizerFile } from '../tokenizer/load.js';
import { modelVocabulary, type ModelFiles, type ModelVocabulary } from '../tokenizer/model-vocabulary.js';
import { isMixture } from './mixtures.js';
import { modelToGGUF } from './to-gguf.js';
import { modelToHuggingFace, writeFolder, type HuggingFaceDType } from './to-huggingface.js';

export type OutputFormat = 'gguf' | 'llama2c' | 'hf';
export type OutputType =
  | 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'iq4_nl'
  | 'q2_k' | 'q3_k' | 'q4_k' | 'q5_k' | 'q6_k'
  | 'q3_k_s' | 'q3_k_m' | 'q3_k_l' | 'q4_k_s' | 'q4_k_m' | 'q5_k_s' | 'q5_k_m'; // llama.cpp's mixtures, as quantize

// What each output format can store.
export const OUTPUT_TYPES: Record<OutputFormat, OutputType[]> = {
  gguf: [
    'f32', 'f16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k',
    'q3_k_s', 'q3_k_m', 'q3_k_l', 'q4_k_s', 'q4_k_m', 'q5_k_s', 'q5_k_m',
  ],
  llama2c: ['f32'],
  hf: ['f32', 'f16', 'bf16'],
};

export interface ConvertOptions {
  to?: OutputFormat; // default: from the output path (.gguf, .bin, else a folder)
  type?: OutputType; // default f32
  tokenizer?: string; // .model, tokenizer.json, tokenizer.bin or GGUF
  llama2cVersion?: 0 | 1; // default 0, what llama2.c's run.c reads
}

export interface ConvertResult {
  format: OutputFormat;
  type: OutputType;
  files: string[]; // paths written
  notes: string[]; // what the output could not keep, for the user to read
}

// A model with the vocabulary that comes with it.
export interface ConvertInput {
  model: LlamaModel;
  vocab?: ModelVocabulary;
}

export function convertModel(input: string, output: string, options: ConvertOptions = {}): ConvertResult {
  const format = options.to ?? outputFormatOf(output);
  const type = options.type ?? 'f32';
  if (!OUTPUT_TYPES[format].includes(type)) {
    throw new Error(`--type ${type} cannot be written as ${format} (${format} takes ${OUTPUT_TYPES[format].join(', ')})`);
  }
  const source = readSource(input, options.tokenizer);
  const written = writeSource(source, output, format, type, options.llama2cVersion ?? 0);
  return { format, type, ...written };
}

// .gguf → GGUF, .bin → llama2.c, an existing folder or a path without extension → HF.
export function outputFormatOf(path: string): OutputFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.gguf') return 'gguf';
  if (ext === '.bin') return 'llama2c';
  if (ext === '' || (existsSync(path) && statSync(path).isDirectory())) return 'hf';
  throw new Error(`${path}: cannot tell the output format from "${ext}" (.gguf, .bin, or a folder for Hugging Face); use --to`);
}

export function readSource(input: string, tokenizerPath?: string): ConvertInput {
  const { model, gguf, huggingFace } = readModelPath(input);
  const files: ModelFiles = { name: input, gguf: gguf?.metadata, huggingFace };
  const given = tokenizerPath ? readTokenizerFile(tokenizerPath) : undefined;
  return { model, vocab: modelVocabulary(files, given, model.config.vocabSize) };
}

export function writeSource(
  source: ConvertInput, output: string, format: OutputFormat, type: OutputType, llama2cVersion: 0 | 1,
): { files: string[]; notes: string[] } {
  const notes: string[] = [];
  const { model } = source;
  const vocab = source.vocab;
  const vocabulary = vocab?.kind === 'sentencepiece' ? vocab.vocabulary : undefined;
  const byteLevel = vocab?.kind === 'byte-level' ? vocab.vocabulary : undefined;
  const tokenizerModel = vocab?.kind === 'sentencepiece' ? vocab.sentencePieceModel : undefined;
  if (format === 'gguf') {
    if (vocabulary) notes.push(...vocabularyNotes(vocabulary));
    else if (!byteLevel) notes.push('no vocabulary: the GGUF has no tokenizer.ggml.* keys, so llama.cpp cannot run it (pass --tokenizer)');
    const tokenizerMetadata = byteLevel && byteLevelGGUFMetadata(byteLevel);
    // q2_k, q6_k and the _s/_m/_l names are llama.cpp's mixtures, as in `quantize`.
    const storage = isMixture(type) ? { mixture: type } : { dtype: type as DType };
    writeFileAtomic(output, modelToGGUF(model, { ...storage, vocabulary, tokenizerMetadata, notes }));
    return { files: [output], notes };
  }
  if (format === 'llama2c') {
    writeFileAtomic(output, writeLlama2c(model, llama2cVersion));
    notes.push(byteLevel
      ? 'llama2.c files hold no vocabulary, and run.c reads no byte-level BPE one: the vocabulary was not written'
      : 'llama2.c files hold no vocabulary: use a tokenizer.bin with run.c');
    return { files: [output], notes };
  }
  if (!tokenizerModel && !byteLevel) {
    notes.push(vocabulary
      ? 'no tokenizer.model written (the original SentencePiece file is not at hand; pass --tokenizer tokenizer.model): wrote tokenizer.json instead'
      : 'no tokenizer written: the input holds no vocabulary (pass --tokenizer)');
  }
  const files = modelToHuggingFace(model, { dtype: type as HuggingFaceDType, vocabulary, tokenizerModel, byteLevel });
  return { files: writeFolder(output, files), notes };
}
