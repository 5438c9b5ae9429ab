// Shared by the tokenizer tests: the real tokenizer files in ../shared/data (read-only).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadTokenizer } from '../src/tokenizer/load.js';
import type { Tokenizer } from '../src/tokenizer/tokenizer.js';

export function dataPath(relative: string): string {
  return fileURLToPath(new URL(`../../shared/data/${relative}`, import.meta.url));
}

export function dataBytes(relative: string): Uint8Array {
  return new Uint8Array(readFileSync(dataPath(relative)));
}

const cache = new Map<string, Tokenizer>();

// Loading the 32000-piece vocabularies takes a moment: load each file once per test file.
export function tokenizer(relative: string): Tokenizer {
  let t = cache.get(relative);
  if (!t) {
    t = loadTokenizer(dataPath(relative));
    cache.set(relative, t);
  }
  return t;
}

export const LLAMA_MODEL = 'llama-tokenizer/tokenizer.model';
export const LLAMA_BIN = 'llama-tokenizer/tokenizer.bin';
export const LLAMA_GGUF = 'llamacpp-vocab/ggml-vocab-llama-spm.gguf';
export const TOK512_BIN = 'stories260K/tok512.bin';
export const TOK512_MODEL = 'stories260K/tok512.model';
export const STORIES_GGUF = 'stories260K/stories260K.gguf';
