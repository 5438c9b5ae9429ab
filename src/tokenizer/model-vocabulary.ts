// The vocabulary that comes with a model, decided here once for generate, convert, quantize
// and the browser entry. All on bytes, so that browsers can use it; reading files from disk
// is load.ts's (Node) and formats/huggingface-folder.ts's.
//
//   1. a tokenizer file the caller gave (--tokenizer) wins; else
//   2. the model's own: a GGUF's tokenizer.ggml.* metadata, or beside a Hugging Face
//      checkpoint its tokenizer.model, else its tokenizer.json (with the special tokens that
//      tokenizer_config.json names); else
//   3. none: a llama2.c checkpoint holds no vocabulary.
//
// A vocabulary is one of two kinds: SentencePiece BPE (LLaMA 1 and 2; vocabulary.ts) or
// byte-level BPE (LLaMA 3, GPT-2 style; byte-level-vocabulary.ts). A GGUF says which by
// tokenizer.ggml.model ("llama" or "gpt2"), a tokenizer.json by its ByteLevel pre-tokenizer.
//
// A tokenizer file is recognised by its content, except tokenizer.json by its name:
//   name ends in .json                → Hugging Face tokenizer.json
//   "GGUF" magic                      → the vocabulary in its metadata
//   0x0a, then a non-zero byte        → SentencePiece .model (field 1, a piece message)
//   anything else                     → llama2.c tokenizer.bin
// (A tokenizer.bin starts with int32 max_token_length; if that were 10 its first bytes
// would be 0a 00 00 00, which no SentencePiece model starts with.)
import { GGUF_MAGIC, parseGGUF, type GGUFValue } from '../formats/gguf.js';
import type { ByteLevelVocabulary } from './byte-level-vocabulary.js';
import { byteLevelVocabularyFromGGUF } from './gguf-byte-level.js';
import { vocabularyFromGGUF } from './gguf-vocabulary.js';
import { vocabularyFromLlama2c } from './llama2c-tokenizer.js';
import { vocabularyFromSentencePieceModel } from './sentencepiece-model.js';
import { byteLevelVocabularyFromTokenizerJson, isByteLevelTokenizerJson } from './tokenizer-json-byte-level.js';
import { tokenizerJsonSpecials, vocabularyFromTokenizerJson, type TokenizerJsonSpecials } from './tokenizer-json.js';
import type { Vocabulary } from './vocabulary.js';

const utf8 = new TextDecoder();

export interface NamedBytes {
  name: string; // the file, named in errors
  bytes: Uint8Array;
}

// The tokenizer files of a Hugging Face folder (formats/huggingface-folder.ts reads them).
export interface HuggingFaceTokenizerFiles {
  dir: string;
  tokenizerModel?: Uint8Array; // tokenizer.model, if present
  tokenizerJson?: Uint8Array; // tokenizer.json, if present
  tokenizerConfig?: Uint8Array; // tokenizer_config.json, if present
}

// What came with a model that may hold its vocabulary.
export interface ModelFiles {
  name: string; // the model file or folder: blamed for a vocabulary of its own
  gguf?: Record<string, GGUFValue>; // a GGUF model's metadata
  huggingFace?: HuggingFaceTokenizerFiles; // a Hugging Face checkpoint's tokenizer files
}

// Where the vocabulary is, before it is read: a tokenizer file, or a GGUF model's metadata.
// `from` is blamed when it does not fit the model: the tokenizer file given, else the model.
export type VocabularyOrigin = { from: string } & (
  | { kind: 'file'; file: NamedBytes; specials?: NamedBytes } // specials: tokenizer_config.json
  | { kind: 'gguf'; metadata: Record<string, GGUFValue> }
);

// A vocabulary of either kind, read.
export type AnyVocabulary =
  | {
      kind: 'sentencepiece';
      vocabulary: Vocabulary;
      sentencePieceModel?: Uint8Array; // the bytes of the SentencePiece .model it was read from, if it was
    }
  | { kind: 'byte-level'; vocabulary: ByteLevelVocabulary };

// The vocabulary that comes with a model, read; `from` as in VocabularyOrigin.
export type ModelVocabulary = AnyVocabulary & { from: string };

// Tokens in a vocabulary of either kind.
export function vocabularySize(v: AnyVocabulary): number {
  return v.kind === 'sentencepiece' ? v.vocabulary.pieces.length : v.vocabulary.tokens.length;
}

// The decision (see the header); nothing is parsed yet.
export function findVocabulary(model: ModelFiles, tokenizer?: NamedBytes): VocabularyOrigin | undefined {
  if (tokenizer) return { kind: 'file', file: tokenizer, from: tokenizer.name };
  const from = model.name;
  if (model.gguf && 'tokenizer.ggml.tokens' in model.gguf) return { kind: 'gguf', metadata: model.gguf, from };
  const hf = model.huggingFace;
  if (hf?.tokenizerModel) return { kind: 'file', file: { name: inFolder(hf.dir, 'tokenizer.model'), bytes: hf.tokenizerModel }, from };
  if (hf?.tokenizerJson) {
    const specials = hf.tokenizerConfig && { name: inFolder(hf.dir, 'tokenizer_config.json'), bytes: hf.tokenizerConfig };
    return { kind: 'file', file: { name: inFolder(hf.dir, 'tokenizer.json'), bytes: hf.tokenizerJson }, specials, from };
  }
  return undefined;
}

// Reads the vocabulary where findVocabulary found it; with `vocabSize`, it must be the
// model's size.
export function readVocabulary(origin: VocabularyOrigin, vocabSize?: number): ModelVocabulary {
  let read: AnyVocabulary;
  if (origin.kind === 'gguf') {
    read = vocabularyFromGGUFMetadata(origin.metadata, origin.from);
  } else {
    const specials = origin.specials && tokenizerJsonSpecials(utf8.decode(origin.specials.bytes), origin.specials.name);
    read = vocabularyFromFile(origin.file, specials);
  }
  const n = vocabularySize(read);
  if (vocabSize !== undefined && n !== vocabSize) {
    throw new Error(`${origin.from}: the tokenizer has ${n} tokens but the model's vocabulary has ${vocabSize}`);
  }
  return { ...read, from: origin.from };
}

// findVocabulary and readVocabulary in one: the model's vocabulary, or undefined if it has none.
export function modelVocabulary(model: ModelFiles, tokenizer?: NamedBytes, vocabSize?: number): ModelVocabulary | undefined {
  const origin = findVocabulary(model, tokenizer);
  return origin && readVocabulary(origin, vocabSize);
}

// Any tokenizer file, recognised as the header says; a SentencePiece .model keeps its bytes.
export function vocabularyFromFile(file: NamedBytes, specials?: TokenizerJsonSpecials): AnyVocabulary {
  const { name, bytes } = file;
  if (name.toLowerCase().endsWith('.json')) return vocabularyFromTokenizerJsonText(utf8.decode(bytes), name, specials);
  if (bytes.length >= 4) {
    const magic = bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24);
    if (magic >>> 0 === GGUF_MAGIC) return vocabularyFromGGUFMetadata(parseGGUF(bytes, name).metadata, name);
  }
  if (bytes.length >= 2 && bytes[0] === 0x0a && bytes[1] !== 0) {
    return { kind: 'sentencepiece', vocabulary: vocabularyFromSentencePieceModel(bytes, name), sentencePieceModel: bytes };
  }
  return { kind: 'sentencepiece', vocabulary: vocabularyFromLlama2c(bytes, name) };
}

// A GGUF's tokenizer.ggml.*: "gpt2" is byte-level BPE, anything else SentencePiece's reader
// takes (or refuses, naming the models it knows).
export function vocabularyFromGGUFMetadata(metadata: Record<string, GGUFValue>, name: string): AnyVocabulary {
  if (metadata['tokenizer.ggml.model'] === 'gpt2') return { kind: 'byte-level', vocabulary: byteLevelVocabularyFromGGUF(metadata, name) };
  return { kind: 'sentencepiece', vocabulary: vocabularyFromGGUF(metadata, name) };
}

// A tokenizer.json: byte-level when its pre-tokenizer or decoder is ByteLevel, else
// SentencePiece-style (Metaspace); `specials` from tokenizer_config.json.
function vocabularyFromTokenizerJsonText(text: string, name: string, specials?: TokenizerJsonSpecials): AnyVocabulary {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    root = undefined; // the SentencePiece reader gives the parse error, naming the file
  }
  if (isByteLevelTokenizerJson(root)) return { kind: 'byte-level', vocabulary: byteLevelVocabularyFromTokenizerJson(root, name, specials) };
  return { kind: 'sentencepiece', vocabulary: vocabularyFromTokenizerJson(text, name, specials) };
}

// A file in a folder, named as node:path's join names it for a plain folder path (this
// module reaches no Node API).
function inFolder(dir: string, file: string): string {
  return `${dir.replace(/\/+$/, '')}/${file}`;
}
