// A vocabulary as GGUF metadata, read and written (llama.cpp's keys):
//
//   tokenizer.ggml.model                      which tokenizer: "llama" = SentencePiece BPE
//   tokenizer.ggml.tokens                     string[V]  pieces, ▁ for space, <0xHH> bytes
//   tokenizer.ggml.scores                     f32[V]     merge priority
//   tokenizer.ggml.token_type                 i32[V]     SentencePiece piece types (1..6)
//   tokenizer.ggml.{bos,eos,unknown}_token_id u32;  padding_token_id only when there is one
//   tokenizer.ggml.add_bos_token / add_eos_token        written true / false, as LLaMA prompts
//   tokenizer.ggml.add_space_prefix           bool, default true: the dummy prefix
//   tokenizer.ggml.remove_extra_whitespaces   bool, default false: SentencePiece's collapsing
//
// Reading: a missing token_type array is inferred as for llama2.c files; missing special ids
// take LLaMA's 0/1/2 (unk/bos/eos) and no padding. Byte fallback is on when the vocabulary
// has byte pieces, as llama.cpp assumes. Writing: what GGUF cannot say (an NFKC normalizer,
// escape_whitespaces off) is reported by vocabularyNotes so that the caller can warn.
import type { GGUFMetadataEntry, GGUFValue } from '../formats/gguf.js';
import { PieceType, inferPieceType, validateVocabulary, type Vocabulary } from './vocabulary.js';

const KEY = 'tokenizer.ggml.';

// One reader per tokenizer.ggml.model: the place to add another tokenizer family.
const READERS: Record<string, (metadata: Record<string, GGUFValue>, fileName: string) => Vocabulary> = {
  llama: sentencePieceFromGGUF,
};

export function vocabularyFromGGUF(metadata: Record<string, GGUFValue>, fileName: string): Vocabulary {
  const model = metadata[KEY + 'model'];
  if (model === undefined) throw new Error(`${fileName}: metadata has no ${KEY}model: no vocabulary in this file`);
  const read = typeof model === 'string' && Object.hasOwn(READERS, model) ? READERS[model] : undefined;
  if (!read) {
    throw new Error(`${fileName}: ${KEY}model is ${JSON.stringify(model)}; llama-ts reads "llama" (SentencePiece BPE) and "gpt2" (byte-level BPE)`);
  }
  return read(metadata, fileName);
}

// tokenizer.ggml.model "llama": SentencePiece BPE.
function sentencePieceFromGGUF(metadata: Record<string, GGUFValue>, fileName: string): Vocabulary {
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

// The vocabulary as tokenizer.ggml.* metadata, so that llama.cpp (and vocabularyFromGGUF)
// needs no tokenizer file beside the model.
export function ggufTokenizerMetadata(vocab: Vocabulary): GGUFMetadataEntry[] {
  const entries: GGUFMetadataEntry[] = [
    [KEY + 'model', 'llama', 'string'],
    [KEY + 'tokens', vocab.pieces, 'array:string'],
    [KEY + 'scores', Array.from(vocab.scores), 'array:f32'],
    [KEY + 'token_type', Array.from(vocab.types), 'array:i32'],
    [KEY + 'bos_token_id', vocab.bosId, 'u32'],
    [KEY + 'eos_token_id', vocab.eosId, 'u32'],
    [KEY + 'unknown_token_id', vocab.unkId, 'u32'],
  ];
  if (vocab.padId >= 0) entries.push([KEY + 'padding_token_id', vocab.padId, 'u32']);
  entries.push(
    [KEY + 'add_bos_token', true, 'bool'],
    [KEY + 'add_eos_token', false, 'bool'],
    [KEY + 'add_space_prefix', vocab.addDummyPrefix, 'bool'],
    [KEY + 'remove_extra_whitespaces', vocab.removeExtraWhitespaces, 'bool'],
  );
  return entries.filter(([key, value]) => !(key.endsWith('_token_id') && value === -1));
}

// What a GGUF vocabulary loses from this one, as sentences for the user.
export function vocabularyNotes(vocab: Vocabulary): string[] {
  const notes: string[] = [];
  if (vocab.nfkc) notes.push('the tokenizer normalizes text with NFKC, which GGUF cannot record: llama.cpp will not normalize');
  if (!vocab.escapeWhitespaces) notes.push('the tokenizer does not escape spaces as ▁, which GGUF cannot record');
  if (vocab.bosId < 0 || vocab.eosId < 0) notes.push('the tokenizer has no BOS or EOS token');
  return notes;
}
