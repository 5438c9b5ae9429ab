// A ByteLevelVocabulary written back: as GGUF `tokenizer.ggml.*` metadata (what
// gguf-byte-level.ts and llama.cpp read) and as a Hugging Face tokenizer.json plus the
// tokenizer_config.json fields that name its specials (what tokenizer-json-byte-level.ts
// and transformers read). Both read back to the same vocabulary.
import type { GGUFMetadataEntry } from '../formats/gguf.js';
import type { ByteLevelVocabulary } from './byte-level-vocabulary.js';
import { originalPattern, preTokenizer } from './pretokenize.js';
import { PieceType } from './vocabulary.js';

const KEY = 'tokenizer.ggml.';

export function byteLevelGGUFMetadata(vocab: ByteLevelVocabulary): GGUFMetadataEntry[] {
  const entries: GGUFMetadataEntry[] = [
    [KEY + 'model', 'gpt2', 'string'],
    [KEY + 'pre', vocab.pre, 'string'],
    [KEY + 'tokens', vocab.tokens, 'array:string'],
    [KEY + 'token_type', Array.from(vocab.types), 'array:i32'],
    [KEY + 'merges', vocab.merges, 'array:string'],
  ];
  const ids: [string, number][] = [
    ['bos_token_id', vocab.bosId], ['eos_token_id', vocab.eosId], ['eot_token_id', vocab.eotId],
    ['eom_token_id', vocab.eomId], ['unknown_token_id', vocab.unkId], ['padding_token_id', vocab.padId],
  ];
  for (const [name, id] of ids) if (id >= 0) entries.push([KEY + name, id, 'u32']);
  entries.push([KEY + 'add_bos_token', vocab.addBos, 'bool'], [KEY + 'add_eos_token', vocab.addEos, 'bool']);
  return entries;
}

// tokenizer.json: normal tokens in model.vocab; control, unknown and unused tokens as
// special added tokens, user-defined ones as plain added tokens.
export function byteLevelTokenizerJson(vocab: ByteLevelVocabulary): Record<string, unknown> {
  const pre = preTokenizer(vocab.pre, 'vocabulary pre');
  const modelVocab: Record<string, number> = {};
  const added: Record<string, unknown>[] = [];
  vocab.tokens.forEach((content, id) => {
    const type = vocab.types[id];
    if (type === PieceType.NORMAL || type === PieceType.BYTE) modelVocab[content] = id;
    else added.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: type !== PieceType.USER_DEFINED });
  });
  const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
  const preTokenizerJson = pre.name === 'gpt-2'
    ? byteLevel(true)
    : { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: originalPattern(pre) }, behavior: 'Isolated', invert: false }, byteLevel(false)] };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: preTokenizerJson,
    post_processor: postProcessor(vocab),
    decoder: byteLevel(true),
    model: {
      type: 'BPE', dropout: null, unk_token: vocab.unkId >= 0 ? vocab.tokens[vocab.unkId] : null,
      continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false,
      ignore_merges: pre.ignoreMerges, vocab: modelVocab, merges: vocab.merges,
    },
  };
}

// BOS before every text when the vocabulary adds it; else ByteLevel's (which changes nothing).
function postProcessor(vocab: ByteLevelVocabulary): Record<string, unknown> {
  if (!vocab.addBos || vocab.bosId < 0) return { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true };
  const bos = vocab.tokens[vocab.bosId];
  const special = (typeId: number) => ({ SpecialToken: { id: bos, type_id: typeId } });
  const sequence = (id: string, typeId: number) => ({ Sequence: { id, type_id: typeId } });
  return {
    type: 'TemplateProcessing',
    single: [special(0), sequence('A', 0)],
    pair: [special(0), sequence('A', 0), special(1), sequence('B', 1)],
    special_tokens: { [bos]: { id: bos, ids: [vocab.bosId], tokens: [bos] } },
  };
}

// The tokenizer_config.json fields that name the specials (transformers reads BOS and EOS
// from here, not from tokenizer.json).
export function byteLevelTokenizerConfig(vocab: ByteLevelVocabulary): Record<string, unknown> {
  const token = (id: number) => (id >= 0 ? vocab.tokens[id] : null);
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: token(vocab.bosId),
    eos_token: token(vocab.eosId),
    pad_token: token(vocab.padId),
    add_bos_token: vocab.addBos,
    add_eos_token: vocab.addEos,
    clean_up_tokenization_spaces: false,
  };
}
