// Node: tokenizer files from disk (.model, tokenizer.bin, tokenizer.json, tokenizer GGUF).
// Apart from tokenizer.ts and model-vocabulary.ts so that the browser bundle, which has
// bytes and no file system, never imports node:fs.
import { readFileSync } from 'node:fs';
import type { NamedBytes } from './model-vocabulary.js';
import { anyTokenizerFromBytes, type AnyTokenizer } from './any-tokenizer.js';
import { tokenizerFromBytes, type Tokenizer } from './tokenizer.js';

// SentencePiece only (training writes its vocabulary into checkpoints).
export function loadTokenizer(path: string): Tokenizer {
  return tokenizerFromBytes(new Uint8Array(readFileSync(path)), path);
}

// A tokenizer file's bytes, named by its path, as modelVocabulary takes them.
export function readTokenizerFile(path: string): NamedBytes {
  return { name: path, bytes: new Uint8Array(readFileSync(path)) };
}

// SentencePiece or byte-level BPE (a GGUF with tokenizer.ggml.model "gpt2").
export function loadAnyTokenizer(path: string): AnyTokenizer {
  return anyTokenizerFromBytes(new Uint8Array(readFileSync(path)), path);
}
