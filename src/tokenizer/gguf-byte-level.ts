// The byte-level BPE vocabulary in a GGUF file's metadata (llama.cpp's "gpt2" tokenizer,
// which LLaMA 3 files carry):
//
//   tokenizer.ggml.model                  "gpt2"
//   tokenizer.ggml.pre                    the pre-tokenizer: "llama-bpe", "qwen2", "gpt-2"...
//   tokenizer.ggml.tokens                 string[V]  byte-level token text
//   tokenizer.ggml.token_type             i32[V]     SentencePiece piece types (1..6); default all NORMAL
//   tokenizer.ggml.merges                 string[M]  "left right", by rank
//   tokenizer.ggml.{bos,eos,eot,eom,unknown,padding}_token_id   u32, optional
//   tokenizer.ggml.add_bos_token          bool; default: what the pre-tokenizer's models do
//   tokenizer.ggml.add_eos_token          bool, default false
//
// As llama.cpp: a missing BOS or EOS id is 11 ("gpt2"'s default), a missing pre is an
// error (llama.cpp falls back to a "default" split with a warning that quality degrades),
// and a missing EOT is found by its name (<|eot_id|> and the like).
import type { GGUFValue } from '../formats/gguf.js';
import { findToken, validateByteLevelVocabulary, type ByteLevelVocabulary } from './byte-level-vocabulary.js';
import { KNOWN_PRE_TOKENIZERS, preTokenizer } from './pretokenize.js';
import { PieceType } from './vocabulary.js';

const KEY = 'tokenizer.ggml.';
type Metadata = Record<string, GGUFValue>;

export function byteLevelVocabularyFromGGUF(metadata: Metadata, fileName: string): ByteLevelVocabulary {
  const model = metadata[KEY + 'model'];
  if (model !== 'gpt2') throw new Error(`${fileName}: ${KEY}model is ${JSON.stringify(model)}, not "gpt2" (byte-level BPE)`);
  const preName = metadata[KEY + 'pre'];
  if (preName === undefined) throw new Error(`${fileName}: ${KEY}pre is missing: which pre-tokenizer splits the text is unknown (known: ${KNOWN_PRE_TOKENIZERS.join(', ')})`);
  if (typeof preName !== 'string') throw new Error(`${fileName}: ${KEY}pre is not a string`);
  const pre = preTokenizer(preName, `${fileName}: ${KEY}pre`);
  const tokens = stringArray(metadata, 'tokens', fileName);
  const n = tokens.length;
  const types = metadata[KEY + 'token_type'] === undefined ? new Array<number>(n).fill(PieceType.NORMAL) : integerArray(metadata, 'token_type', n, fileName);
  const eot = tokenId(metadata, 'eot_token_id', -1, fileName);
  const eom = tokenId(metadata, 'eom_token_id', -1, fileName);
  const gpt2Default = n > 11 ? 11 : -1; // llama.cpp's BOS and EOS when the file names none
  const vocab: ByteLevelVocabulary = {
    tokens,
    types: Uint8Array.from(types, (t, id) => checkType(t, id, fileName)),
    merges: stringArray(metadata, 'merges', fileName),
    pre: preName,
    bosId: tokenId(metadata, 'bos_token_id', gpt2Default, fileName),
    eosId: tokenId(metadata, 'eos_token_id', gpt2Default, fileName),
    eotId: eot >= 0 ? eot : findToken(tokens, ['<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>']),
    eomId: eom >= 0 ? eom : findToken(tokens, ['<|eom_id|>']),
    padId: tokenId(metadata, 'padding_token_id', -1, fileName),
    unkId: tokenId(metadata, 'unknown_token_id', -1, fileName),
    addBos: flag(metadata, 'add_bos_token', pre.addBos, fileName),
    addEos: flag(metadata, 'add_eos_token', false, fileName),
  };
  validateByteLevelVocabulary(vocab, fileName);
  return vocab;
}

function stringArray(metadata: Metadata, name: string, fileName: string): string[] {
  const v = metadata[KEY + name];
  if (!Array.isArray(v)) throw new Error(`${fileName}: ${KEY}${name} is ${v === undefined ? 'missing' : 'not an array'}`);
  v.forEach((s, i) => {
    if (typeof s !== 'string') throw new Error(`${fileName}: ${KEY}${name}[${i}] is not a string`);
  });
  return v as string[];
}

function integerArray(metadata: Metadata, name: string, length: number, fileName: string): number[] {
  const v = metadata[KEY + name];
  if (!Array.isArray(v)) throw new Error(`${fileName}: ${KEY}${name} is not an array`);
  if (v.length !== length) throw new Error(`${fileName}: ${KEY}${name} has ${v.length} entries for ${length} tokens`);
  return v.map((x, i) => {
    const k = typeof x === 'bigint' ? Number(x) : x;
    if (typeof k !== 'number' || !Number.isInteger(k)) throw new Error(`${fileName}: ${KEY}${name}[${i}] is not an integer`);
    return k;
  });
}

function checkType(t: number, id: number, fileName: string): number {
  if (t < PieceType.NORMAL || t > PieceType.BYTE) throw new Error(`${fileName}: ${KEY}token_type[${id}] is ${t}, not a piece type (1..6)`);
  return t;
}

function tokenId(metadata: Metadata, name: string, fallback: number, fileName: string): number {
  const v = metadata[KEY + name];
  if (v === undefined) return fallback;
  const id = typeof v === 'bigint' ? Number(v) : v;
  if (typeof id !== 'number' || !Number.isInteger(id)) throw new Error(`${fileName}: ${KEY}${name} is not an integer`);
  return id === 0xffffffff || id === -1 ? -1 : id; // "none" stored as a u32 or i32
}

function flag(metadata: Metadata, name: string, fallback: boolean, fileName: string): boolean {
  const v = metadata[KEY + name];
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new Error(`${fileName}: ${KEY}${name} is not a boolean`);
  return v;
}
