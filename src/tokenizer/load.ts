// Node: a tokenizer from a file (.model, tokenizer.bin, tokenizer GGUF). Apart from
// tokenizer.ts so that the browser bundle, which has bytes and no file system, never
// imports node:fs.
import { readFileSync } from 'node:fs';
import { anyTokenizerFromBytes, type AnyTokenizer } from './any-tokenizer.js';
import { tokenizerFromBytes, type Tokenizer } from './tokenizer.js';

// SentencePiece only (training writes its vocabulary into checkpoints).
export function loadTokenizer(path: string): Tokenizer {
  return tokenizerFromBytes(new Uint8Array(readFileSync(path)), path);
}

// SentencePiece or byte-level BPE (a GGUF with tokenizer.ggml.model "gpt2").
export function loadAnyTokenizer(path: string): AnyTokenizer {
  return anyTokenizerFromBytes(new Uint8Array(readFileSync(path)), path);
}
