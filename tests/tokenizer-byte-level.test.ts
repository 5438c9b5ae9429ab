// Byte-level BPE (LLaMA 3): llama.cpp's own conformance vectors, every case exact, for the
// llama-bpe vocabulary (and gpt-2 and qwen2, which share the code); round trips, streaming,
// special tokens, BOS, end of generation, unknown pre-tokenizers, and the writers.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseGGUF, type GGUFValue } from '../src/formats/gguf.js';
import { tokenizerFromGGUF, anyTokenizerFromBytes } from '../src/tokenizer/any-tokenizer.js';
import { ByteLevelBpeTokenizer } from '../src/tokenizer/byte-level-bpe.js';
import { byteLevelVocabularyFromGGUF } from '../src/tokenizer/gguf-byte-level.js';
import { loadAnyTokenizer } from '../src/tokenizer/load.js';
import { Tokenizer } from '../src/tokenizer/tokenizer.js';
import { llamaCppFile, llamaCppVocabCases, removeLlamaCppClone } from './llamacpp-source.js';

const vocabSets = Object.fromEntries(['llama-bpe', 'gpt-2', 'qwen2'].map((name) => [name, llamaCppVocabCases(name)]));
const metadataOf = (name: string) => parseGGUF(vocabSets[name].gguf, `ggml-vocab-${name}.gguf`).metadata;
const tokenizers = new Map<string, ByteLevelBpeTokenizer>();
function tokenizer(name: string): ByteLevelBpeTokenizer {
  let t = tokenizers.get(name);
  if (!t) tokenizers.set(name, (t = new ByteLevelBpeTokenizer(byteLevelVocabularyFromGGUF(metadataOf(name), name), name)));
  return t;
}
const llama3 = () => tokenizer('llama-bpe');

test('the llama-bpe conformance files hold 46 cases, parsed as llama.cpp does', () => {
  const { cases } = vocabSets['llama-bpe'];
  expect(cases.length).toBe(46);
  expect(cases[0]).toEqual({ input: 'ied 4 ½ months', ids: [1142, 220, 19, 220, 27154, 4038] });
  expect(cases[2]).toEqual({ input: '', ids: [] });
});

describe.each(['llama-bpe', 'gpt-2', 'qwen2'])('llama.cpp conformance cases of ggml-vocab-%s.gguf', (name) => {
  test.each(vocabSets[name].cases.map((c, i) => [i, JSON.stringify(c.input).slice(0, 60), c] as const))('case %i: %s', (_i, _name, c) => {
    const t = tokenizer(name);
    expect(t.encode(c.input)).toEqual(c.ids);
    expect(t.decode(c.ids)).toBe(c.input);
  });
});

describe('the llama-bpe vocabulary', () => {
  test('loads through the GGUF tokenizer dispatch, as byte-level BPE', () => {
    const t = anyTokenizerFromBytes(vocabSets['llama-bpe'].gguf, 'llama-bpe.gguf');
    expect(t).toBeInstanceOf(ByteLevelBpeTokenizer);
    expect(t.vocabSize).toBe(128256);
    expect(t.encode('Hello world')).toEqual([9906, 1917]);
    expect(tokenizerFromGGUF(metadataOf('llama-bpe'), 'x')).toBeInstanceOf(ByteLevelBpeTokenizer);
  });

  test('the SentencePiece GGUF still loads through the same dispatch', () => {
    const meta: Record<string, GGUFValue> = {
      'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': ['<unk>', '<s>', '</s>', '\u2581a'], 'tokenizer.ggml.scores': [0, 0, 0, -1],
    };
    const t = tokenizerFromGGUF(meta, 'spm.gguf');
    expect(t).toBeInstanceOf(Tokenizer);
    expect(t.encode('a')).toEqual([3]);
    expect(t.isEndOfGeneration(2)).toBe(true);
  });

  test('an unknown tokenizer.ggml.model is an error naming it', () => {
    expect(() => tokenizerFromGGUF({ ...metadataOf('llama-bpe'), 'tokenizer.ggml.model': 't5' }, 'x.gguf')).toThrow(/x\.gguf: tokenizer\.ggml\.model is "t5".*"llama".*"gpt2"/);
  });

  test('BOS comes as add_bos_token says: llama-bpe adds it by default, a file may say no, gpt-2 has none', () => {
    expect(llama3().encode('Hello world', { bos: true })).toEqual([128000, 9906, 1917]);
    expect(llama3().encode('Hello world')).toEqual([9906, 1917]);
    const noBos = new ByteLevelBpeTokenizer(byteLevelVocabularyFromGGUF({ ...metadataOf('llama-bpe'), 'tokenizer.ggml.add_bos_token': false }, 'x'));
    expect(noBos.encode('Hello world', { bos: true })).toEqual([9906, 1917]);
    const yesBos = new ByteLevelBpeTokenizer(byteLevelVocabularyFromGGUF({ ...metadataOf('gpt-2'), 'tokenizer.ggml.add_bos_token': true }, 'x'));
    expect(tokenizer('gpt-2').encode('Hello', { bos: true })).toEqual(tokenizer('gpt-2').encode('Hello'));
    expect(yesBos.encode('Hello', { bos: true })[0]).toBe(yesBos.vocab.bosId);
    expect(llama3().encode('Hi', { eos: true }).at(-1)).toBe(128001);
  });

  test('special tokens are recognized in text only when asked', () => {
    const t = llama3();
    const text = '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>';
    expect(t.encode(text, { special: true })).toEqual([128000, 128006, 882, 128007, 271, 13347, 128009]);
    const plain = t.encode(text); // as llama.cpp (through node-llama-cpp) encodes it without parse_special
    expect(plain).toEqual([27, 91, 7413, 3659, 4424, 91, 1822, 91, 2527, 8932, 851, 91, 29, 882, 27, 91, 408, 8932, 851, 91, 1363, 13347, 27, 91, 68, 354, 851, 91, 29]);
    expect(t.decode(plain)).toBe(text);
    // Control tokens decode to nothing, as llama.cpp prints them without `special`.
    expect(t.decode([128000, 13347, 128009])).toBe('Hi');
    expect(t.encode('a<|eot_id|><|eot_id|>b', { special: true })).toEqual([64, 128009, 128009, 65]);
  });

  test('generation stops at EOS, end of turn and end of message, not at other control tokens', () => {
    const t = llama3();
    expect(t.endOfGenerationIds).toEqual([128001, 128009]);
    expect(t.isEndOfGeneration(128001)).toBe(true); // <|end_of_text|>
    expect(t.isEndOfGeneration(128009)).toBe(true); // <|eot_id|>
    expect(t.isEndOfGeneration(128000)).toBe(false);
    expect(t.isEndOfGeneration(128008)).toBe(false); // reserved here (LLaMA 3.1 spells it <|eom_id|>)
    const tokens = [...(metadataOf('llama-bpe')['tokenizer.ggml.tokens'] as string[])];
    tokens[128008] = '<|eom_id|>';
    const v31 = new ByteLevelBpeTokenizer(byteLevelVocabularyFromGGUF({ ...metadataOf('llama-bpe'), 'tokenizer.ggml.tokens': tokens }, 'x'));
    expect(v31.endOfGenerationIds).toEqual([128001, 128008, 128009]);
  });

  test('a 1 MB prompt tokenizes in reasonable time and round-trips', () => {
    const t = llama3();
    const big = 'In the beginning God created the heaven and the earth. 1234567 ½ 🦙\n'.repeat(13000) + 'x'.repeat(100_000) + '!'.repeat(50_000);
    expect(big.length).toBeGreaterThan(1_000_000);
    const start = performance.now();
    const ids = t.encode(big);
    expect(performance.now() - start).toBeLessThan(30_000);
    expect(t.decode(ids)).toBe(big);
  });
});

describe('round trips and streaming (llama-bpe)', () => {
  const unit = fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    { weight: 2, arbitrary: fc.constantFrom(' ', '  ', '\n', '\r\n', '\t', "'s", "'LL", ' world', '123456', '😶‍🌫️', '中文', 'ä', '\u0085', '\u00a0', '<|eot_id|>') },
  );
  const text = fc.string({ unit, maxLength: 40 });

  test('decode(encode(s)) === s for arbitrary Unicode text', () => {
    const t = llama3();
    fc.assert(fc.property(text, (s) => {
      expect(t.decode(t.encode(s))).toBe(s);
      expect(t.decode(t.encode(s, { bos: true, special: true }))).toBe(s.replaceAll('<|eot_id|>', ''));
    }), { numRuns: 300 });
  });

  test('the stream decoder emits whole characters only, and all of them', () => {
    const t = llama3();
    fc.assert(fc.property(text, (s) => {
      const stream = t.createStreamDecoder();
      const chunks = t.encode(s).map((id) => stream.push(id));
      chunks.push(stream.flush());
      for (const chunk of chunks) {
        expect(chunk.includes('\uFFFD') && !s.includes('\uFFFD')).toBe(false);
        expect(/\p{Cs}/u.test(chunk)).toBe(false); // no half of a surrogate pair
      }
      expect(chunks.join('')).toBe(s);
    }), { numRuns: 300 });
  });

  test('a character split over byte tokens comes out once its last byte arrives', () => {
    const t = llama3();
    const ids = t.encode('🦙'); // no token for the llama: its four bytes F0 9F A6 99 are three tokens
    expect(ids).toEqual([9468, 99, 247]);
    const stream = t.createStreamDecoder();
    const out = ids.map((id) => stream.push(id));
    expect(out.slice(0, -1).every((s) => s === '')).toBe(true);
    expect(out.at(-1)).toBe('🦙');
    expect(stream.flush()).toBe('');
  });

  test('a token id outside the vocabulary is an error naming it', () => {
    expect(() => llama3().decode([128256])).toThrow(/token id 128256 is outside the vocabulary \(0\.\.128255\)/);
  });
});

// llama.cpp's code point classes (src/unicode-data.cpp: ranges of [start, flags]; flags
// 0x1 undefined, 0x2 \p{N}, 0x4 \p{L}; its White_Space set follows).
function llamaCppFlags(): (cp: number) => number {
  const source = llamaCppFile('src/unicode-data.cpp').toString('utf8');
  const table = source.slice(source.indexOf('unicode_ranges_flags'), source.indexOf('unicode_set_whitespace'));
  const ranges = [...table.matchAll(/\{0x([0-9A-F]+), 0x([0-9A-F]+)\}/g)].map((m) => [parseInt(m[1], 16), parseInt(m[2], 16)]);
  expect(ranges.length).toBeGreaterThan(1000);
  expect(ranges.at(-1)![0]).toBe(0x110000);
  const flags = new Uint16Array(0x110000);
  for (let i = 0; i + 1 < ranges.length; i++) flags.fill(ranges[i][1], ranges[i][0], ranges[i + 1][0]);
  const whitespace = [...source.slice(source.indexOf('unicode_set_whitespace')).split('};')[0].matchAll(/0x([0-9A-F]+)/g)].map((m) => parseInt(m[1], 16));
  expect(whitespace).toContain(0x85);
  for (const cp of whitespace) flags[cp] |= 0x100;
  return (cp) => flags[cp];
}

const UNDEFINED = 0x1, NUMBER = 0x2, LETTER = 0x4, WHITESPACE = 0x100;
const flagsOf = llamaCppFlags();
const unassignedHere = (cp: number) => /\p{Cn}/u.test(String.fromCodePoint(cp));
// Both Unicode versions agree whether `cp` is assigned (a code point newer than one of them is not compared).
const sameVersion = (cp: number) => ((flagsOf(cp) & UNDEFINED) !== 0) === unassignedHere(cp);

test("pretokenize.ts's classes (\\p{L}, \\p{N}, White_Space) are llama.cpp's on every code point both assign", () => {
  const differ: string[] = [];
  let compared = 0;
  for (let cp = 0; cp < 0x110000; cp++) {
    const c = String.fromCodePoint(cp);
    const f = flagsOf(cp);
    if (/\p{White_Space}/u.test(c) !== ((f & WHITESPACE) !== 0)) differ.push(`U+${cp.toString(16)} whitespace`);
    if ((f & UNDEFINED) || unassignedHere(cp)) continue;
    compared++;
    if (/\p{L}/u.test(c) !== ((f & LETTER) !== 0) || /\p{N}/u.test(c) !== ((f & NUMBER) !== 0)) differ.push(`U+${cp.toString(16)}`);
  }
  expect(compared).toBeGreaterThan(280_000);
  expect(differ).toEqual([]);
});

describe('against llama.cpp itself (node-llama-cpp), on random text', () => {
  let llama: Llama;
  let model: LlamaModel;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'byte-level-'));
    file = join(dir, 'ggml-vocab-llama-bpe.gguf');
    writeFileSync(file, vocabSets['llama-bpe'].gguf);
    llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.disabled });
    model = await llama.loadModel({ modelPath: file, vocabOnly: true });
  });

  afterAll(async () => {
    await model?.dispose();
    await llama?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
    removeLlamaCppClone();
  });

  // Characters of every kind the split treats differently, and contractions, digit runs,
  // whitespace runs with and without newlines, special tokens.
  const unit = fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 3 }) },
    { weight: 3, arbitrary: fc.constantFrom(' ', '   ', '\n', '\r\n', ' \n ', '\t', "'s", "'RE", "'Ll", 'Hello', ' world', '1234567', '½', '😀', '中文', 'é', 'Việt', '\u00a0', '\u0085', '\u3000', '<|eot_id|>', '<|begin_of_text|>', '<|') },
  );
  const comparable = (s: string) => [...s].every((c) => sameVersion(c.codePointAt(0)!) && !/\p{Cs}/u.test(c));
  const text = fc.string({ unit, maxLength: 30 }).filter(comparable);

  test('loadAnyTokenizer reads the file (the path of --tokenizer and llama-ts tokenize)', () => {
    const t = loadAnyTokenizer(file);
    expect(t).toBeInstanceOf(ByteLevelBpeTokenizer);
    expect(t.encode(' Hello World!')).toEqual(Array.from(model.tokenize(' Hello World!', false)));
  });

  test('encode gives llama.cpp\'s ids, with and without special tokens', () => {
    const t = llama3();
    fc.assert(fc.property(text, (s) => {
      expect(t.encode(s)).toEqual(Array.from(model.tokenize(s, false)));
      expect(t.encode(s, { special: true })).toEqual(Array.from(model.tokenize(s, true)));
    }), { numRuns: 1000 });
  });
});
