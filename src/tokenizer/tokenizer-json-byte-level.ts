// A byte-level BPE Hugging Face `tokenizer.json` (LLaMA 3, GPT-2, Qwen2) as a
// ByteLevelVocabulary:
//
//   model          { type: "BPE", vocab: {token: id}, merges: ["a b"] or [["a", "b"]] }
//   added_tokens   [{ id, content, special }]: special → CONTROL, else USER_DEFINED; LLaMA 3's
//                  256 <|...|> tokens live only here, after the model's vocabulary
//   pre_tokenizer  Sequence[Split(Regex, "Isolated"), ByteLevel(use_regex false)]  (LLaMA 3, Qwen2)
//                  or ByteLevel(use_regex true)                                  (GPT-2)
//   decoder        ByteLevel
//   post_processor TemplateProcessing whose `single` starts with a special token: that is
//                  BOS, added to prompts
//
// The Split's regular expression must be one pretokenize.ts implements; any other is an
// Error naming the known ones. BOS and EOS live in tokenizer_config.json, so the caller
// may name them (`specials`); otherwise BOS is the post-processor's first token and EOS
// the first of <|end_of_text|>, <|endoftext|> that the vocabulary has.
import { END_OF_TURN_TOKENS, findToken, validateByteLevelVocabulary, type ByteLevelVocabulary } from './byte-level-vocabulary.js';
import { KNOWN_PRE_TOKENIZERS, preTokenizerOfPattern, type PreTokenizer } from './pretokenize.js';
import { PieceType } from './vocabulary.js';

export interface ByteLevelJsonSpecials {
  bosToken?: string; // tokenizer_config.json's bos_token
  eosToken?: string;
  padToken?: string;
  addBosToken?: boolean; // tokenizer_config.json's add_bos_token, over the post-processor's
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

// Whether a parsed tokenizer.json is byte-level BPE (its pre-tokenizer or decoder is ByteLevel).
export function isByteLevelTokenizerJson(root: unknown): boolean {
  if (!isObject(root)) return false;
  return components(root.pre_tokenizer, 'pretokenizers').some((c) => c.type === 'ByteLevel') || components(root.decoder, 'decoders').some((c) => c.type === 'ByteLevel');
}

export function byteLevelVocabularyFromTokenizerJson(root: unknown, fileName: string, specials: ByteLevelJsonSpecials = {}): ByteLevelVocabulary {
  if (!isObject(root)) throw new Error(`${fileName}: not a JSON object`);
  const model = root.model;
  if (!isObject(model)) throw new Error(`${fileName}: "model" is ${model === undefined ? 'missing' : 'not an object'}`);
  if (model.type !== 'BPE') throw new Error(`${fileName}: model.type is ${JSON.stringify(model.type)}, not "BPE"`);
  if (root.normalizer !== null && root.normalizer !== undefined) {
    throw new Error(`${fileName}: normalizer ${JSON.stringify((root.normalizer as Json).type)} is not supported for byte-level BPE (only none)`);
  }
  if (!components(root.decoder, 'decoders').some((c) => c.type === 'ByteLevel')) throw new Error(`${fileName}: decoder is not ByteLevel`);
  const pre = preTokenizerOf(root.pre_tokenizer, fileName);
  const { tokens, types } = readTokens(model, root.added_tokens, fileName);
  const idOf = (name: string | undefined, field: string): number => {
    if (name === undefined) return -1;
    const id = tokens.indexOf(name);
    if (id < 0) throw new Error(`${fileName}: ${field} ${JSON.stringify(name)} is not in the vocabulary`);
    return id;
  };
  const templateBos = templateFirstToken(root.post_processor);
  const vocab: ByteLevelVocabulary = {
    tokens,
    types,
    merges: readMerges(model, fileName),
    pre: pre.name,
    bosId: idOf(specials.bosToken ?? templateBos ?? (tokens.includes('<|begin_of_text|>') ? '<|begin_of_text|>' : undefined), 'bos_token'),
    eosId: specials.eosToken !== undefined ? idOf(specials.eosToken, 'eos_token') : findToken(tokens, ['<|end_of_text|>', '<|endoftext|>']),
    eotId: findToken(tokens, END_OF_TURN_TOKENS.filter((t) => t !== '<|eom_id|>' && t !== '<|end_of_text|>' && t !== '<|endoftext|>')),
    eomId: findToken(tokens, ['<|eom_id|>']),
    padId: idOf(specials.padToken, 'pad_token'),
    unkId: typeof model.unk_token === 'string' ? idOf(model.unk_token, 'model.unk_token') : -1,
    addBos: specials.addBosToken ?? templateBos !== undefined,
    addEos: false,
  };
  validateByteLevelVocabulary(vocab, fileName);
  return vocab;
}

// Components of a pre-tokenizer/decoder/post-processor: itself, or the members of a Sequence.
function components(c: unknown, listField: string): Json[] {
  if (!isObject(c)) return [];
  if (c.type === 'Sequence' && Array.isArray(c[listField])) return (c[listField] as unknown[]).filter(isObject);
  return [c];
}

// LLaMA 3 and Qwen2: a Split by one of our expressions, then ByteLevel without its own
// expression; GPT-2: ByteLevel with its built-in expression.
function preTokenizerOf(preTokenizer: unknown, fileName: string): PreTokenizer {
  const parts = components(preTokenizer, 'pretokenizers');
  const byteLevel = parts.find((c) => c.type === 'ByteLevel');
  if (!byteLevel) throw new Error(`${fileName}: pre_tokenizer has no ByteLevel step: not byte-level BPE`);
  if (byteLevel.add_prefix_space === true) throw new Error(`${fileName}: pre_tokenizer ByteLevel.add_prefix_space is not supported`);
  const splits = parts.filter((c) => c !== byteLevel);
  if (splits.length === 0 && byteLevel.use_regex !== false) return preTokenizerOfPattern(GPT2_BUILTIN)!;
  if (byteLevel.use_regex !== false) throw new Error(`${fileName}: pre_tokenizer ByteLevel.use_regex is not false after a Split: GPT-2's expression inside the Split's words is not supported`);
  const split = splits[0];
  const regex = isObject(split?.pattern) ? split.pattern.Regex : undefined;
  const known = splits.length === 1 && split.type === 'Split' && split.behavior === 'Isolated' && split.invert !== true && typeof regex === 'string' ? preTokenizerOfPattern(regex) : undefined;
  if (!known) {
    const what = typeof regex === 'string' ? `Split pattern ${JSON.stringify(regex)}` : `pre_tokenizer ${JSON.stringify(splits.map((s) => s.type))}`;
    throw new Error(`${fileName}: ${what} is not a pre-tokenizer llama-ts implements (known: ${KNOWN_PRE_TOKENIZERS.join(', ')})`);
  }
  return known;
}

// The expression a ByteLevel pre-tokenizer with use_regex applies (GPT-2's).
const GPT2_BUILTIN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// Tokens by id from model.vocab and added_tokens, with their types.
function readTokens(model: Json, added: unknown, fileName: string): { tokens: string[]; types: Uint8Array } {
  if (!isObject(model.vocab)) throw new Error(`${fileName}: model.vocab is not an object`);
  const byId = new Map<number, [string, number]>();
  const put = (token: string, id: unknown, type: number, where: string): void => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= 1 << 24) throw new Error(`${fileName}: ${where} has id ${JSON.stringify(id)}, not a token id`);
    const had = byId.get(id);
    if (had && had[0] !== token) throw new Error(`${fileName}: id ${id} is both ${JSON.stringify(had[0])} and ${JSON.stringify(token)}`);
    byId.set(id, [token, type]);
  };
  for (const [token, id] of Object.entries(model.vocab)) put(token, id, PieceType.NORMAL, `model.vocab[${JSON.stringify(token)}]`);
  if (added !== undefined && !Array.isArray(added)) throw new Error(`${fileName}: added_tokens is not an array`);
  (added ?? []).forEach((a: unknown, i: number) => {
    if (!isObject(a) || typeof a.content !== 'string') throw new Error(`${fileName}: added_tokens[${i}] has no content`);
    put(a.content, a.id, a.special === true ? PieceType.CONTROL : PieceType.USER_DEFINED, `added_tokens[${i}]`);
  });
  let n = 0;
  for (const id of byId.keys()) n = Math.max(n, id + 1);
  const tokens: string[] = [];
  const types = new Uint8Array(n);
  for (let id = 0; id < n; id++) {
    const entry = byId.get(id);
    if (!entry) throw new Error(`${fileName}: no token has id ${id} (ids must run 0..${n - 1})`);
    tokens.push(entry[0]);
    types[id] = entry[1];
  }
  return { tokens, types };
}

// "a b" strings, from either spelling tokenizers writes.
function readMerges(model: Json, fileName: string): string[] {
  const merges = model.merges;
  if (!Array.isArray(merges)) throw new Error(`${fileName}: model.merges is ${merges === undefined ? 'missing' : 'not an array'}`);
  return merges.map((m: unknown, i: number) => {
    if (typeof m === 'string') return m;
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return `${m[0]} ${m[1]}`;
    throw new Error(`${fileName}: model.merges[${i}] is neither "a b" nor ["a", "b"]`);
  });
}

// The special token a TemplateProcessing post-processor puts before a single text, if any.
function templateFirstToken(postProcessor: unknown): string | undefined {
  for (const c of components(postProcessor, 'processors')) {
    if (c.type !== 'TemplateProcessing' || !Array.isArray(c.single)) continue;
    const first = c.single[0] as unknown;
    if (isObject(first) && isObject(first.SpecialToken) && typeof first.SpecialToken.id === 'string') return first.SpecialToken.id;
  }
  return undefined;
}
