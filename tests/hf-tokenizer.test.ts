// Hugging Face tokenizer.json ↔ our SentencePiece Vocabulary. The LLaMA tokenizer.model,
// written as tokenizer.json the way transformers' LlamaConverter does and read back,
// passes llama.cpp's 46 conformance cases (made by HF's fast Llama-2 tokenizer).
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { mergesOf, vocabularyFromTokenizerJson, vocabularyToTokenizerJson } from '../src/tokenizer/tokenizer-json.js';
import { vocabularyFromSentencePieceModel } from '../src/tokenizer/sentencepiece-model.js';
import { Tokenizer } from '../src/tokenizer/tokenizer.js';
import { PieceType } from '../src/tokenizer/vocabulary.js';
import { dataBytes, dataPath } from './tokenizer-data.js';

const llamaVocab = vocabularyFromSentencePieceModel(dataBytes('llama-tokenizer/tokenizer.model'), 'tokenizer.model');
const llamaJson = vocabularyToTokenizerJson(llamaVocab);
const fromJson = vocabularyFromTokenizerJson(llamaJson, 'tokenizer.json');

function conformanceCases(): { input: string; ids: number[] }[] {
  const base = 'llamacpp-vocab/ggml-vocab-llama-spm.gguf';
  const inputs = readFileSync(dataPath(`${base}.inp`), 'utf8').split('\n__ggml_vocab_test__\n');
  inputs.pop();
  const lines = readFileSync(dataPath(`${base}.out`), 'utf8').split('\n');
  return inputs.map((input, i) => ({ input, ids: lines[i].trim() === '' ? [] : lines[i].trim().split(/ +/).map(Number) }));
}

describe('LLaMA tokenizer.model → tokenizer.json → Vocabulary', () => {
  test('pieces, types, special ids and flags survive', () => {
    expect(fromJson.pieces).toEqual(llamaVocab.pieces);
    expect(Array.from(fromJson.types)).toEqual(Array.from(llamaVocab.types));
    expect([fromJson.unkId, fromJson.bosId, fromJson.eosId, fromJson.padId]).toEqual([0, 1, 2, -1]);
    expect(fromJson).toMatchObject({ addDummyPrefix: true, removeExtraWhitespaces: false, byteFallback: true, escapeWhitespaces: true });
    const json = JSON.parse(llamaJson);
    expect(json.model.merges[0]).toBe('▁ t'); // the first merge of the real Llama-2 tokenizer.json
    expect(json.added_tokens.map((t: { content: string }) => t.content)).toEqual(['<unk>', '<s>', '</s>']);
  });

  test('scores keep the order of every pair of merge results that the .model orders strictly', () => {
    const merged = new Set<string>();
    for (const m of mergesOf(llamaVocab)) merged.add(m.replace(' ', ''));
    const ids = llamaVocab.pieces.flatMap((p, id) => (merged.has(p) ? [id] : []));
    expect(ids.length).toBe(29612); // every piece above "▁" (score −29612) is a merge result
    let checked = 0;
    for (let k = 1; k < ids.length; k++) {
      const [a, b] = [ids[k - 1], ids[k]];
      if (llamaVocab.scores[a] === llamaVocab.scores[b]) continue;
      expect(Math.sign(fromJson.scores[a] - fromJson.scores[b])).toBe(Math.sign(llamaVocab.scores[a] - llamaVocab.scores[b]));
      checked++;
    }
    expect(checked).toBeGreaterThan(29500);
  });

  const cases = conformanceCases();
  test('the 46 llama.cpp conformance cases encode to the expected ids', () => {
    expect(cases.length).toBe(46);
    const t = new Tokenizer(fromJson);
    for (const c of cases) expect(t.encode(c.input)).toEqual(c.ids);
  });
});

test('tok512: scores come back exactly, encodings agree', () => {
  const tok512 = vocabularyFromSentencePieceModel(dataBytes('stories260K/tok512.model'), 'tok512.model');
  const back = vocabularyFromTokenizerJson(vocabularyToTokenizerJson(tok512), 'tok512.json');
  expect(back.pieces).toEqual(tok512.pieces);
  expect(Array.from(back.scores)).toEqual(Array.from(tok512.scores));
  const text = 'Once upon a time, Lily saw a big red ball. "Wow!" she said 123 times.';
  expect(new Tokenizer(back).encode(text, { bos: true })).toEqual(new Tokenizer({ ...tok512, removeExtraWhitespaces: false }).encode(text, { bos: true }));
});

test('a hand-written newer-style tokenizer.json: Metaspace, [left, right] merges, added tokens', () => {
  const json = {
    added_tokens: [
      { id: 0, content: '<unk>', special: true }, { id: 1, content: '<s>', special: true },
      { id: 2, content: '</s>', special: true }, { id: 12, content: '<|user|>', special: false },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
    model: {
      type: 'BPE', unk_token: '<unk>', byte_fallback: true,
      vocab: { '<unk>': 0, '<s>': 1, '</s>': 2, '<0x21>': 3, '▁': 4, a: 5, b: 6, '▁a': 7, ab: 8, '▁ab': 9, '▁b': 10, ba: 11 },
      merges: [['▁', 'a'], ['a', 'b'], ['▁a', 'b'], ['▁', 'b'], ['b', 'a']],
    },
  };
  const v = vocabularyFromTokenizerJson(JSON.stringify(json), 'tiny.json');
  expect(Array.from(v.types)).toEqual([2, 3, 3, 6, 1, 1, 1, 1, 1, 1, 1, 1, 4]);
  // merge results by rank: ▁a 0, ab −1, ▁ab −2, ▁b −3, ba −4; then ▁, a, b continue below
  expect(Array.from(v.scores)).toEqual([0, 0, 0, 0, -5, -6, -7, -0, -1, -2, -3, -4, 0]);
  expect(v.addDummyPrefix).toBe(true);
  const t = new Tokenizer(v);
  expect(t.encode('ab ba!')).toEqual([9, 10, 5, 3]); // ▁ab ▁b a <0x21>: "▁ba" is not a piece
  expect(t.encode('ab<|user|>')).toEqual([9, 12]);
});

describe('tokenizer.json errors name the file and field', () => {
  const base = () => JSON.parse(vocabularyToTokenizerJson(vocabularyFromSentencePieceModel(dataBytes('stories260K/tok512.model'), 't')));
  test.each([
    ['byte-level BPE', (j: any) => { j.pre_tokenizer = { type: 'ByteLevel' }; }, /t\.json: pre_tokenizer ByteLevel .* not supported/],
    ['another model type', (j: any) => { j.model.type = 'Unigram'; }, /t\.json: model\.type is "Unigram"; only "BPE"/],
    ['no ▁ handling', (j: any) => { j.normalizer = null; }, /neither a Replace/],
    ['ids with a hole', (j: any) => { j.model.vocab['zzz'] = 900; }, /token ids are not contiguous: id 900/],
    ['an id used twice', (j: any) => { j.model.vocab['zzz'] = 5; }, /id 5 is both/],
    ['a bad merge', (j: any) => { j.model.merges[3] = 'nospace'; }, /model\.merges\[3\] "nospace" is not "left right"/],
    ['no model', (j: any) => { delete j.model; }, /missing field "model"/],
  ])('%s', (_name, edit, message) => {
    const j = base();
    edit(j);
    expect(() => vocabularyFromTokenizerJson(JSON.stringify(j), 't.json')).toThrow(message);
  });
  test('not JSON', () => {
    expect(() => vocabularyFromTokenizerJson('{', 't.json')).toThrow(/t\.json: not valid JSON/);
  });
  test('specials from tokenizer_config.json must exist', () => {
    expect(() => vocabularyFromTokenizerJson(JSON.stringify(base()), 't.json', { bosToken: '<|begin|>' })).toThrow(/bos_token "<\|begin\|>" is not in the vocabulary/);
    expect(PieceType.CONTROL).toBe(3);
  });
});
