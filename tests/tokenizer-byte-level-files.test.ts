// Byte-level BPE beyond the conformance vectors: merges by rank, the pre-tokenizer split,
// GGUF and tokenizer.json readers and writers (round trips, clear errors), and generation
// stopping at an end-of-turn token.
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { randomModel } from '../reference/init.js';
import { tsKernels } from '../reference/ts-kernels.js';
import { parseGGUF, writeGGUF, type GGUFValue } from '../src/formats/gguf.js';
import { generateChunks } from '../src/generate/generate.js';
import { ByteLevelBpeTokenizer } from '../src/tokenizer/byte-level-bpe.js';
import { MergeRanks, mergeWord } from '../src/tokenizer/byte-level-merges.js';
import type { ByteLevelVocabulary } from '../src/tokenizer/byte-level-vocabulary.js';
import { byteLevelGGUFMetadata, byteLevelTokenizerConfig, byteLevelTokenizerJson } from '../src/tokenizer/byte-level-writers.js';
import { BYTE_TO_CHAR, bytesToSymbols, symbolsToBytes } from '../src/tokenizer/byte-to-unicode.js';
import { byteLevelVocabularyFromGGUF } from '../src/tokenizer/gguf-byte-level.js';
import { preTokenizer, splitWords } from '../src/tokenizer/pretokenize.js';
import { byteLevelVocabularyFromTokenizerJson, isByteLevelTokenizerJson } from '../src/tokenizer/tokenizer-json-byte-level.js';
import { PieceType } from '../src/tokenizer/vocabulary.js';
import { tinyConfig } from './formats-helpers.js';
import { llamaCppVocabCases, removeLlamaCppClone } from './llamacpp-source.js';

afterAll(removeLlamaCppClone);

// Three control tokens, the 256 bytes, and a few merges: " the" and "aa".
function smallVocab(over: Partial<ByteLevelVocabulary> = {}): ByteLevelVocabulary {
  const tokens = ['<|eot_id|>', '<|end_of_text|>', '<|begin_of_text|>', ...BYTE_TO_CHAR, 'Ġt', 'he', 'Ġthe', 'aa'];
  return {
    tokens,
    types: Uint8Array.from(tokens, (_, id) => (id < 3 ? PieceType.CONTROL : PieceType.NORMAL)),
    merges: ['Ġ t', 'h e', 'Ġt he', 'a a'],
    pre: 'llama-bpe',
    bosId: 2, eosId: 1, eotId: 0, eomId: -1, padId: -1, unkId: -1,
    addBos: true, addEos: false,
    ...over,
  };
}

describe('byte-to-unicode', () => {
  test("GPT-2's table: printable bytes stand for themselves, space is Ġ, newline Ċ, all 256 distinct", () => {
    expect(BYTE_TO_CHAR[0x41]).toBe('A');
    expect(BYTE_TO_CHAR[0x20]).toBe('Ġ');
    expect(BYTE_TO_CHAR[0x0a]).toBe('Ċ');
    expect(BYTE_TO_CHAR[0x00]).toBe('\u0100');
    expect(BYTE_TO_CHAR[0xad]).toBe('\u0143'); // the soft hyphen, the last non-printable byte
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(symbolsToBytes(bytesToSymbols(all))).toEqual(Array.from(all));
  });
});

describe('merges by rank', () => {
  const ranks = (...merges: string[]) => new MergeRanks(merges, 'test merges');

  test('the lowest rank merges first; on a tie, the leftmost pair', () => {
    expect(mergeWord('aaa', ranks('a a'))).toEqual(['aa', 'a']);
    expect(mergeWord('aaaa', ranks('a a', 'aa aa'))).toEqual(['aaaa']);
    expect(mergeWord('abc', ranks('b c', 'a b'))).toEqual(['a', 'bc']);
    expect(mergeWord('abc', ranks('a b', 'b c'))).toEqual(['ab', 'c']);
    expect(mergeWord('abcd', ranks('c d', 'a b', 'ab cd'))).toEqual(['abcd']);
    expect(mergeWord('x', ranks('a b'))).toEqual(['x']);
  });

  test('the symbols always spell the word', () => {
    const r = ranks('a b', 'b a', 'ab a', 'a a', 'ba b', 'aa b');
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom('a', 'b', 'c'), maxLength: 30 }), (w) => {
      expect(mergeWord(w, r).join('')).toBe(w);
    }));
  });

  test('a 200,000-character word is not quadratic', () => {
    const start = performance.now();
    const out = mergeWord('a'.repeat(200_000), ranks('a a', 'aa aa'));
    expect(out.length).toBe(50_000);
    expect(out.every((s) => s === 'aaaa')).toBe(true);
    expect(performance.now() - start).toBeLessThan(10_000);
  });

  test('a merge that is not two symbols is an error naming it', () => {
    expect(() => ranks('a b', 'ab')).toThrow(/test merges\[1\] "ab" is not two symbols separated by a space/);
  });
});

describe('the llama-bpe split', () => {
  const pre = preTokenizer('llama-bpe', 'test');

  test('words as LLaMA 3 cuts them', () => {
    expect(splitWords("Hello, y'all! How're you 😁 ?我想在apple工作1314151天～", pre)).toEqual(
      ['Hello', ',', ' y', "'all", '!', ' How', "'re", ' you', ' 😁', ' ?', '我想在apple工作', '131', '415', '1', '天', '～'],
    );
    expect(splitWords("I'M  \n\n  x\t", pre)).toEqual(['I', "'M", '  \n\n', ' ', ' x', '\t']);
  });

  test('the words always spell the text', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
      expect(splitWords(s, pre).join('')).toBe(s);
    }));
  });

  test('an unknown pre-tokenizer is an error naming it and the known ones', () => {
    expect(() => preTokenizer('deepseek-coder', 'f.gguf: tokenizer.ggml.pre')).toThrow(
      'f.gguf: tokenizer.ggml.pre is "deepseek-coder", a pre-tokenizer llama-ts does not implement (known: llama-bpe, llama3, llama-v3, qwen2, gpt-2)',
    );
  });
});

describe('GGUF metadata', () => {
  const metadata = (v: ByteLevelVocabulary) => parseGGUF(writeGGUF({ metadata: byteLevelGGUFMetadata(v), tensors: [] }), 'small.gguf').metadata;

  test('written and read back, the vocabulary is the same', () => {
    const v = smallVocab();
    expect(byteLevelVocabularyFromGGUF(metadata(v), 'small.gguf')).toEqual(v);
    const t = new ByteLevelBpeTokenizer(v);
    expect(t.encode(' the aaa', { bos: true })).toEqual([2, 261, 3 + 0x20, 262, 3 + 0x61]);
  });

  test('the llama-bpe vocabulary survives GGUF and tokenizer.json', () => {
    const { gguf } = llamaCppVocabCases('llama-bpe');
    const v = byteLevelVocabularyFromGGUF(parseGGUF(gguf, 'llama-bpe.gguf').metadata, 'llama-bpe.gguf');
    expect(byteLevelVocabularyFromGGUF(metadata(v), 'again.gguf')).toEqual(v);
    const json = JSON.parse(JSON.stringify(byteLevelTokenizerJson(v)));
    const config = byteLevelTokenizerConfig(v);
    expect(config).toMatchObject({ bos_token: '<|begin_of_text|>', eos_token: '<|end_of_text|>', add_bos_token: true });
    const specials = { bosToken: config.bos_token as string, eosToken: config.eos_token as string, addBosToken: config.add_bos_token as boolean };
    expect(byteLevelVocabularyFromTokenizerJson(json, 'tokenizer.json', specials)).toEqual(v);
    expect(byteLevelVocabularyFromTokenizerJson(json, 'tokenizer.json')).toEqual(v); // BOS from the post-processor, EOS by name
  });

  const bad = (over: Record<string, GGUFValue | undefined>) => {
    const m: Record<string, GGUFValue> = { ...metadata(smallVocab()) };
    for (const [k, value] of Object.entries(over)) {
      if (value === undefined) delete m[`tokenizer.ggml.${k}`];
      else m[`tokenizer.ggml.${k}`] = value;
    }
    return () => byteLevelVocabularyFromGGUF(m, 'bad.gguf');
  };

  test('bad metadata is an error naming the file and the field', () => {
    expect(bad({ pre: 'tekken' })).toThrow(/bad\.gguf: tokenizer\.ggml\.pre is "tekken".*known: llama-bpe/);
    expect(bad({ pre: undefined })).toThrow(/bad\.gguf: tokenizer\.ggml\.pre is missing.*known: llama-bpe/);
    expect(bad({ merges: undefined })).toThrow('bad.gguf: tokenizer.ggml.merges is missing');
    expect(bad({ merges: ['a a', 'nospace'] })).toThrow(/bad\.gguf: merges\[1\] "nospace"/);
    expect(bad({ token_type: [1, 2, 3] })).toThrow('bad.gguf: tokenizer.ggml.token_type has 3 entries for 263 tokens');
    expect(bad({ token_type: new Array(263).fill(9) })).toThrow('bad.gguf: tokenizer.ggml.token_type[0] is 9');
    expect(bad({ bos_token_id: 5000 })).toThrow('bad.gguf: bosId 5000 is outside the vocabulary of 263 tokens');
    expect(bad({ tokens: ['a', ''] })).toThrow(/bad\.gguf: tokenizer\.ggml\.token_type has 263 entries for 2 tokens/);
  });
});

describe('tokenizer.json', () => {
  const json = () => JSON.parse(JSON.stringify(byteLevelTokenizerJson(smallVocab()))) as Record<string, any>;

  test('LLaMA 3\'s layout reads back, with merges in either spelling and the (?i:) expression', () => {
    const j = json();
    expect(isByteLevelTokenizerJson(j)).toBe(true);
    expect(j.pre_tokenizer.pretokenizers[0].pattern.Regex).toMatch(/^\(\?i:'s\|'t\|'re\|'ve\|'m\|'ll\|'d\)\|/);
    expect(byteLevelVocabularyFromTokenizerJson(j, 'tokenizer.json')).toEqual(smallVocab());
    j.model.merges = j.model.merges.map((m: string) => m.split(' '));
    expect(byteLevelVocabularyFromTokenizerJson(j, 'tokenizer.json').merges).toEqual(smallVocab().merges);
  });

  test("GPT-2's layout (ByteLevel with its own expression) is the gpt-2 pre-tokenizer", () => {
    const v = smallVocab({ pre: 'gpt-2', addBos: false });
    const j = byteLevelTokenizerJson(v);
    expect(j.pre_tokenizer).toEqual({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true });
    expect(byteLevelVocabularyFromTokenizerJson(j, 'tokenizer.json', { bosToken: '<|begin_of_text|>' })).toEqual(v);
  });

  test('an expression llama-ts does not implement is an error naming it and the known ones', () => {
    const j = json();
    j.pre_tokenizer.pretokenizers[0].pattern.Regex = '\\p{N}+';
    expect(() => byteLevelVocabularyFromTokenizerJson(j, 'tokenizer.json')).toThrow(
      'tokenizer.json: Split pattern "\\\\p{N}+" is not a pre-tokenizer llama-ts implements (known: llama-bpe, llama3, llama-v3, qwen2, gpt-2)',
    );
  });

  test('bad files are errors naming the field', () => {
    const j = json();
    delete j.model.vocab['Ġthe'];
    expect(() => byteLevelVocabularyFromTokenizerJson(j, 'tok.json')).toThrow('tok.json: no token has id 261 (ids must run 0..262)');
    expect(() => byteLevelVocabularyFromTokenizerJson({ ...json(), decoder: null }, 'tok.json')).toThrow('tok.json: decoder is not ByteLevel');
    expect(() => byteLevelVocabularyFromTokenizerJson({ ...json(), normalizer: { type: 'NFC' } }, 'tok.json')).toThrow(/normalizer "NFC" is not supported/);
    expect(() => byteLevelVocabularyFromTokenizerJson(json(), 'tok.json', { eosToken: '</s>' })).toThrow('tok.json: eos_token "</s>" is not in the vocabulary');
    expect(() => byteLevelVocabularyFromTokenizerJson([], 'tok.json')).toThrow('tok.json: not a JSON object');
    const k = json();
    delete k.pre_tokenizer.pretokenizers[1].use_regex; // HF's default is true
    expect(() => byteLevelVocabularyFromTokenizerJson(k, 'tok.json')).toThrow(/tok\.json: pre_tokenizer ByteLevel\.use_regex is not false after a Split/);
  });
});

describe('generation', () => {
  // A model whose weights are all zero: every logit is 0, so greedy decoding picks id 0.
  const zeroModel = (vocabSize: number) => randomModel(tinyConfig({ vocabSize, maxSeqLen: 16 }), 1, { std: 0 });

  async function generated(v: ByteLevelVocabulary): Promise<number[]> {
    const tokens: number[] = [];
    const g = { model: zeroModel(v.tokens.length), tokenizer: new ByteLevelBpeTokenizer(v), kernels: tsKernels };
    for await (const c of generateChunks(g, ' the', { maxTokens: 5, temperature: 0 })) if (!c.done) tokens.push(c.token);
    return tokens;
  }

  test('stops at the end-of-turn token, which is not EOS', async () => {
    expect(await generated(smallVocab())).toEqual([]);
    // The same id as another control token does not stop it.
    const tokens = smallVocab().tokens.slice();
    tokens[0] = '<|reserved_special_token_0|>';
    expect(await generated(smallVocab({ tokens, eotId: -1 }))).toEqual([0, 0, 0, 0, 0]);
  });
});
