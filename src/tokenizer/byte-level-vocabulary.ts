// The data a byte-level BPE tokenizer (GPT-2 style, as LLaMA 3 uses) needs, whatever file
// it came from (GGUF metadata with tokenizer.ggml.model = "gpt2", a Hugging Face
// tokenizer.json with a ByteLevel pre-tokenizer).
//
// Tokens are spelled in GPT-2's byte-level alphabet (byte-to-unicode.ts: a space is 'Ġ'),
// except added tokens (<|begin_of_text|> and the like), which are spelled as the text
// they match. Token types are SentencePiece's (vocabulary.ts PieceType), as GGUF stores
// them: NORMAL tokens come from merges, CONTROL tokens are special (matched in text only
// when asked, invisible when decoded), USER_DEFINED tokens are added tokens matched in
// any text and decoded as written.
import { PieceType } from './vocabulary.js';

export interface ByteLevelVocabulary {
  tokens: string[]; // [V] token text, id = index
  types: Uint8Array; // [V] PieceType values
  merges: string[]; // [M] "left right" in byte-level spelling, rank = index (0 merges first)
  pre: string; // the pre-tokenizer's name (pretokenize.ts), GGUF's tokenizer.ggml.pre
  bosId: number; // -1 if none
  eosId: number;
  eotId: number; // end of turn (<|eot_id|>), -1 if none
  eomId: number; // end of message (<|eom_id|>), -1 if none
  padId: number;
  unkId: number;
  addBos: boolean; // prompts begin with BOS (tokenizer.ggml.add_bos_token)
  addEos: boolean; // (tokenizer.ggml.add_eos_token; recorded, not applied by encode)
}

// Tokens that end a turn or a message in the chat templates of the models that use them
// (LLaMA 3's <|eot_id|> and <|eom_id|>, ChatML's <|im_end|>, ...). Generation stops at any
// of them that the vocabulary has, besides EOS, EOT and EOM.
export const END_OF_TURN_TOKENS: readonly string[] = [
  '<|eot_id|>', '<|eom_id|>', '<|end_of_text|>', '<|endoftext|>', '<|im_end|>', '<|end|>', '<end_of_turn>',
];

// The id of the first of `names` in the vocabulary, or -1.
export function findToken(tokens: readonly string[], names: readonly string[]): number {
  for (const name of names) {
    const id = tokens.indexOf(name);
    if (id >= 0) return id;
  }
  return -1;
}

// Throws, naming `fileName` and the field, when a vocabulary is inconsistent.
export function validateByteLevelVocabulary(v: ByteLevelVocabulary, fileName: string): void {
  const n = v.tokens.length;
  if (n === 0) throw new Error(`${fileName}: vocabulary is empty`);
  if (v.types.length !== n) throw new Error(`${fileName}: ${v.types.length} token types for ${n} tokens`);
  v.tokens.forEach((t, id) => {
    if (typeof t !== 'string' || t.length === 0) throw new Error(`${fileName}: token ${id} is ${typeof t === 'string' ? 'empty' : 'not a string'}`);
  });
  v.merges.forEach((m, i) => {
    const space = typeof m === 'string' ? m.indexOf(' ', 1) : -1;
    if (space < 0 || space === m.length - 1) throw new Error(`${fileName}: merges[${i}] ${JSON.stringify(m)} is not two symbols separated by a space`);
  });
  for (let id = 0; id < n; id++) {
    const t = v.types[id];
    if (t < PieceType.NORMAL || t > PieceType.BYTE) throw new Error(`${fileName}: token ${id} has unknown type ${t}`);
  }
  const ids: [string, number][] = [
    ['bosId', v.bosId], ['eosId', v.eosId], ['eotId', v.eotId], ['eomId', v.eomId], ['padId', v.padId], ['unkId', v.unkId],
  ];
  for (const [field, id] of ids) {
    if (!Number.isInteger(id) || id < -1 || id >= n) throw new Error(`${fileName}: ${field} ${id} is outside the vocabulary of ${n} tokens`);
  }
  if (v.addBos && v.bosId < 0) throw new Error(`${fileName}: add_bos_token is true but there is no BOS token`);
}
