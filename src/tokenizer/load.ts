// Node: a tokenizer from a file (.model, tokenizer.bin, tokenizer GGUF). Apart from
// tokenizer.ts so that the browser bundle, which has bytes and no file system, never
// imports node:fs.
import { readFileSync } from 'node:fs';
import { tokenizerFromBytes, type Tokenizer } from './tokenizer.js';

export function loadTokenizer(path: string): Tokenizer {
  return tokenizerFromBytes(new Uint8Array(readFileSync(path)), path);
}
