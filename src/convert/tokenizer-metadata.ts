// A Vocabulary as GGUF `tokenizer.ggml.*` metadata, so that llama.cpp (and our own
// vocabularyFromGGUF) needs no tokenizer file beside the model:
//
//   tokenizer.ggml.model                      "llama" (SentencePiece BPE in llama.cpp)
//   tokenizer.ggml.tokens                     string[V]  pieces, ▁ for space, <0xHH> bytes
//   tokenizer.ggml.scores                     f32[V]     merge priority
//   tokenizer.ggml.token_type                 i32[V]     SentencePiece piece types 1..6
//   tokenizer.ggml.{bos,eos,unknown}_token_id u32;  padding_token_id only when there is one
//   tokenizer.ggml.add_bos_token / add_eos_token        true / false, as LLaMA prompts
//   tokenizer.ggml.add_space_prefix           the dummy prefix
//   tokenizer.ggml.remove_extra_whitespaces   SentencePiece's whitespace collapsing
//
// What GGUF cannot say: an NFKC normalizer and escape_whitespaces off (vocabularyNotes
// reports them so the caller can warn).
import type { GGUFMetadataEntry } from '../formats/gguf.js';
import type { Vocabulary } from '../tokenizer/vocabulary.js';

export function ggufTokenizerMetadata(vocab: Vocabulary): GGUFMetadataEntry[] {
  const k = 'tokenizer.ggml.';
  const entries: GGUFMetadataEntry[] = [
    [k + 'model', 'llama', 'string'],
    [k + 'tokens', vocab.pieces, 'array:string'],
    [k + 'scores', Array.from(vocab.scores), 'array:f32'],
    [k + 'token_type', Array.from(vocab.types), 'array:i32'],
    [k + 'bos_token_id', vocab.bosId, 'u32'],
    [k + 'eos_token_id', vocab.eosId, 'u32'],
    [k + 'unknown_token_id', vocab.unkId, 'u32'],
  ];
  if (vocab.padId >= 0) entries.push([k + 'padding_token_id', vocab.padId, 'u32']);
  entries.push(
    [k + 'add_bos_token', true, 'bool'],
    [k + 'add_eos_token', false, 'bool'],
    [k + 'add_space_prefix', vocab.addDummyPrefix, 'bool'],
    [k + 'remove_extra_whitespaces', vocab.removeExtraWhitespaces, 'bool'],
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

// llama2.c's tokenizer.bin: int32 max_token_length, then per piece float32 score, int32
// byte length, UTF-8 bytes with ▁ written as a space (what run.c reads). As llama2.c's
// tokenizer.py does, BOS and EOS are spelled "\n<s>\n" and "\n</s>\n".
export function llama2cTokenizerBytes(vocab: Vocabulary): Uint8Array {
  const utf8 = new TextEncoder();
  const spelling = (p: string, id: number) => (id === vocab.bosId ? '\n<s>\n' : id === vocab.eosId ? '\n</s>\n' : p.replaceAll('\u2581', ' '));
  const encoded = vocab.pieces.map((p, id) => utf8.encode(spelling(p, id)));
  const size = 4 + encoded.reduce((n, b) => n + 8 + b.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setInt32(0, encoded.reduce((m, b) => Math.max(m, b.length), 0), true);
  let at = 4;
  encoded.forEach((b, id) => {
    view.setFloat32(at, vocab.scores[id], true);
    view.setInt32(at + 4, b.length, true);
    out.set(b, at + 8);
    at += 8 + b.length;
  });
  return out;
}
