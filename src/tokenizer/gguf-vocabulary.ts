// The vocabulary stored in a GGUF file's metadata (llama.cpp's "llama" = SentencePiece
// tokenizer):
//
//   tokenizer.ggml.model                     "llama"
//   tokenizer.ggml.tokens                    string[V]  pieces, ▁ for space
//   tokenizer.ggml.scores                    f32[V]
//   tokenizer.ggml.token_type                i32[V]     SentencePiece piece types (1..6)
//   tokenizer.ggml.{bos,eos,unknown,padding}_token_id   u32
//   tokenizer.ggml.add_space_prefix          bool, default true
//   tokenizer.ggml.remove_extra_whitespaces  bool, default false
//
// A missing token_type array is inferred as for llama2.c files; missing special ids take
// LLaMA's 0/1/2 (unk/bos/eos) and no padding. Byte fallback is on when the vocabulary
// has byte pieces, as llama.cpp assumes.
import type { GGUFValue } from '../formats/gguf.js';
import { PieceType, inferPieceType, validateVocabulary, type Vocabulary } from './vocabulary.js';

const KEY = 'tokenizer.ggml.';

export function vocabularyFromGGUF(metadata: Record<string, GGUFValue>, fileName: string): Vocabulary {
  const model = metadata[KEY + 'model'];
  if (model === undefined) throw new Error(`${fileName}: metadata has no ${KEY}model: no vocabulary in this file`);
  if (model !== 'llama') {
    throw new Error(`${fileName}: ${KEY}model is ${JSON.stringify(model)}; only "llama" (SentencePiece BPE) is supported`);
  }
  const pieces = stringArray(metadata, 'tokens', fileName);
  const n = pieces.length;
  const scores = numberArray(metadata, 'scores', n, fileName);
  const types = metadata[KEY + 'token_type'] === undefined
    ? pieces.map((p, id) => inferPieceType(p, id))
    : numberArray(metadata, 'token_type', n, fileName);
  const vocab: Vocabulary = {
    pieces,
    scores: Float32Array.from(scores),
    types: Uint8Array.from(types, (t, id) => checkType(t, id, fileName)),
    unkId: tokenId(metadata, 'unknown_token_id', 0, fileName),
    bosId: tokenId(metadata, 'bos_token_id', 1, fileName),
    eosId: tokenId(metadata, 'eos_token_id', 2, fileName),
    padId: tokenId(metadata, 'padding_token_id', -1, fileName),
    addDummyPrefix: flag(metadata, 'add_space_prefix', true, fileName),
    removeExtraWhitespaces: flag(metadata, 'remove_extra_whitespaces', false, fileName),
    byteFallback: false,
    escapeWhitespaces: true,
  };
  vocab.byteFallback = vocab.types.includes(PieceType.BYTE);
  validateVocabulary(vocab, fileName);
  return vocab;
}

function stringArray(metadata: Record<string, GGUFValue>, name: string, fileName: string): string[] {
  const v = metadata[KEY + name];
  if (!Array.isArray(v)) throw new Error(`${fileName}: ${KEY}${name} is ${v === undefined ? 'missing' : 'not an array'}`);
  v.forEach((s, i) => {
    if (typeof s !== 'string') throw new Error(`${fileName}: ${KEY}${name}[${i}] is not a string`);
  });
  return v as string[];
}

function numberArray(metadata: Record<string, GGUFValue>, name: string, length: number, fileName: string): number[] {
  const v = metadata[KEY + name];
  if (!Array.isArray(v)) throw new Error(`${fileName}: ${KEY}${name} is ${v === undefined ? 'missing' : 'not an array'}`);
  if (v.length !== length) throw new Error(`${fileName}: ${KEY}${name} has ${v.length} entries for ${length} tokens`);
  return v.map((x, i) => {
    if (typeof x === 'number') return x;
    if (typeof x === 'bigint') return Number(x);
    throw new Error(`${fileName}: ${KEY}${name}[${i}] is not a number`);
  });
}

function checkType(t: number, id: number, fileName: string): number {
  if (!Number.isInteger(t) || t < PieceType.NORMAL || t > PieceType.BYTE) {
    throw new Error(`${fileName}: ${KEY}token_type[${id}] is ${t}, not a SentencePiece piece type (1..6)`);
  }
  return t;
}

function tokenId(metadata: Record<string, GGUFValue>, name: string, fallback: number, fileName: string): number {
  const v = metadata[KEY + name];
  if (v === undefined) return fallback;
  const id = typeof v === 'bigint' ? Number(v) : v;
  if (typeof id !== 'number' || !Number.isInteger(id)) throw new Error(`${fileName}: ${KEY}${name} is not an integer`);
  return id === 0xffffffff ? -1 : id; // -1 ("none") stored as a u32
}

function flag(metadata: Record<string, GGUFValue>, name: string, fallback: boolean, fileName: string): boolean {
  const v = metadata[KEY + name];
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new Error(`${fileName}: ${KEY}${name} is not a boolean`);
  return v;
}
