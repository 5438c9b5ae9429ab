// `llama-ts convert`: read a model in any format we know, write it in another.
//
//   in:  GGUF file, llama2.c .bin (v0/v1), or a Hugging Face folder (config.json + safetensors)
//   out: GGUF v3 (F32/F16/Q8_0/Q4_0, vocabulary inside), llama2.c .bin (F32, v0 or v1), or a
//        Hugging Face folder (F32/F16/BF16)
//
// The vocabulary comes from --tokenizer when given, else from the input (a GGUF's metadata,
// a HF folder's tokenizer.model / tokenizer.json). A SentencePiece tokenizer.model is kept
// as bytes so that a HF folder can be written with it unchanged.
import { existsSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../formats/atomic-file.js';
import { extname } from 'node:path';
import type { DType } from '../../reference/tensor.js';
import type { LlamaModel } from '../../reference/weights.js';
import { readHuggingFaceFolder } from '../formats/huggingface-folder.js';
import { vocabularyFromTokenizerJson } from '../formats/huggingface-tokenizer.js';
import { writeLlama2c } from '../formats/llama2c.js';
import { loadModelFromBytes, readFileBytes } from '../formats/load.js';
import { vocabularyFromGGUF } from '../tokenizer/gguf-vocabulary.js';
import { tokenizerFromBytes } from '../tokenizer/tokenizer.js';
import type { Vocabulary } from '../tokenizer/vocabulary.js';
import { modelToGGUF } from './to-gguf.js';
import { modelToHuggingFace, writeFolder, type HuggingFaceDType } from './to-huggingface.js';
import { vocabularyNotes } from './tokenizer-metadata.js';

export type OutputFormat = 'gguf' | 'llama2c' | 'hf';
export type OutputType =
  | 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'iq4_nl'
  | 'q2_k' | 'q3_k' | 'q4_k' | 'q5_k' | 'q6_k';

// What each output format can store.
export const OUTPUT_TYPES: Record<OutputFormat, OutputType[]> = {
  gguf: ['f32', 'f16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k'],
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

// A model with what travels with it.
export interface ModelSource {
  model: LlamaModel;
  vocabulary?: Vocabulary;
  tokenizerModel?: Uint8Array; // SentencePiece bytes, when known
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

export function readSource(input: string, tokenizerPath?: string): ModelSource {
  let source: ModelSource;
  if (existsSync(input) && statSync(input).isDirectory()) {
    const hf = readHuggingFaceFolder(input);
    source = { model: hf.model, vocabulary: hf.vocabulary, tokenizerModel: hf.tokenizerModel };
  } else {
    const loaded = loadModelFromBytes(readFileBytes(input), input);
    const hasVocab = loaded.gguf && 'tokenizer.ggml.tokens' in loaded.gguf.metadata;
    source = { model: loaded.model, vocabulary: hasVocab ? vocabularyFromGGUF(loaded.gguf!.metadata, input) : undefined };
  }
  if (tokenizerPath) source = { ...source, ...readTokenizerFile(tokenizerPath) };
  const v = source.vocabulary;
  if (v && v.pieces.length !== source.model.config.vocabSize) {
    throw new Error(`${tokenizerPath ?? input}: the tokenizer has ${v.pieces.length} tokens but the model's vocabulary has ${source.model.config.vocabSize}`);
  }
  return source;
}

// Any tokenizer file; a SentencePiece .model keeps its bytes.
export function readTokenizerFile(path: string): { vocabulary: Vocabulary; tokenizerModel?: Uint8Array } {
  const bytes = readFileBytes(path);
  if (extname(path).toLowerCase() === '.json') {
    return { vocabulary: vocabularyFromTokenizerJson(new TextDecoder().decode(bytes), path) };
  }
  const vocabulary = tokenizerFromBytes(bytes, path).vocab;
  const isSentencePiece = bytes.length >= 2 && bytes[0] === 0x0a && bytes[1] !== 0; // as tokenizerFromBytes decides
  return isSentencePiece ? { vocabulary, tokenizerModel: bytes } : { vocabulary, tokenizerModel: undefined };
}

export function writeSource(
  source: ModelSource, output: string, format: OutputFormat, type: OutputType, llama2cVersion: 0 | 1,
): { files: string[]; notes: string[] } {
  const notes: string[] = [];
  const { model, vocabulary } = source;
  if (format === 'gguf') {
    if (vocabulary) notes.push(...vocabularyNotes(vocabulary));
    else notes.push('no vocabulary: the GGUF has no tokenizer.ggml.* keys, so llama.cpp cannot run it (pass --tokenizer)');
    writeFileAtomic(output, modelToGGUF(model, { dtype: type as DType, vocabulary, notes }));
    return { files: [output], notes };
  }
  if (format === 'llama2c') {
    writeFileAtomic(output, writeLlama2c(model, llama2cVersion));
    notes.push('llama2.c files hold no vocabulary: use a tokenizer.bin with run.c');
    return { files: [output], notes };
  }
  if (!source.tokenizerModel) {
    notes.push(vocabulary
      ? 'no tokenizer.model written (the original SentencePiece file is not at hand; pass --tokenizer tokenizer.model): wrote tokenizer.json instead'
      : 'no tokenizer written: the input holds no vocabulary (pass --tokenizer)');
  }
  const files = modelToHuggingFace(model, { dtype: type as HuggingFaceDType, vocabulary, tokenizerModel: source.tokenizerModel });
  return { files: writeFolder(output, files), notes };
}
