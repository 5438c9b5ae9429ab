// The three loaders on good, hand-made and damaged files: every damaged file gives an
// Error naming the file (and the field or byte offset), never a RangeError, a hang or an
// allocation sized by a corrupt length.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseGGUF } from '../src/formats/gguf.js';
import { vocabularyFromGGUF } from '../src/tokenizer/gguf-vocabulary.js';
import { parseLlama2cTokenizer, vocabularyFromLlama2c } from '../src/tokenizer/llama2c-tokenizer.js';
import { parseSentencePieceModel, vocabularyFromSentencePieceModel } from '../src/tokenizer/sentencepiece-model.js';
import { tokenizerFromBytes } from '../src/tokenizer/tokenizer.js';
import { LLAMA_GGUF, STORIES_GGUF, TOK512_BIN, TOK512_MODEL, dataBytes } from './tokenizer-data.js';

// --- a tiny protobuf writer, to make .model files ---------------------------------------
function varint(n: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(n)); // negative int32s are written as 10-byte varints
  const out: number[] = [];
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? b | 0x80 : b);
  } while (v > 0n);
  return out;
}
const intField = (field: number, n: number | bigint) => [...varint(field * 8), ...varint(n)];
const lenField = (field: number, body: number[]) => [...varint(field * 8 + 2), ...varint(body.length), ...body];
const strField = (field: number, s: string) => lenField(field, [...new TextEncoder().encode(s)]);
const floatField = (field: number, x: number) => [field * 8 + 5, ...new Uint8Array(Float32Array.of(x).buffer)];

function piece(text: string, score: number, type?: number): number[] {
  return lenField(1, [...strField(1, text), ...floatField(2, score), ...(type === undefined ? [] : intField(3, type))]);
}

// <unk> <s> </s> ▁ a b ab, with the given trainer and normalizer fields.
function model(trainer: number[] = intField(3, 2), normalizer: number[] = []): Uint8Array {
  return Uint8Array.from([
    ...piece('<unk>', 0, 2), ...piece('<s>', 0, 3), ...piece('</s>', 0, 3),
    ...piece('▁', -1), ...piece('a', -2), ...piece('b', -3), ...piece('ab', -0.5),
    ...lenField(2, trainer), ...lenField(3, normalizer),
  ]);
}

// Runs `load` and returns its error, failing unless it is a plain Error naming the file.
function loadError(load: () => unknown, fileName: string): Error {
  try {
    load();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).constructor).toBe(Error); // not RangeError / TypeError
    expect((e as Error).message).toContain(fileName);
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('SentencePiece .model', () => {
  test('a hand-made model: fields, defaults and 10-byte negative varints', () => {
    const m = parseSentencePieceModel(model([...intField(3, 2), ...intField(43, -1), ...intField(41, 1), ...intField(35, 1), ...intField(25, 1), ...intField(999, 7)]), 'x.model');
    expect(m.pieces).toEqual(['<unk>', '<s>', '</s>', '▁', 'a', 'b', 'ab']);
    expect(m.scores).toEqual([0, 0, 0, -1, -2, -3, -0.5]);
    expect(m.types).toEqual([2, 3, 3, 1, 1, 1, 1]); // absent type = NORMAL
    expect(m.trainer).toMatchObject({ modelType: 2, padId: -1, bosId: 1, eosId: 2, unkId: 0, byteFallback: true, splitDigits: true });
    expect(m.normalizer).toEqual({ name: 'identity', addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true });
    const t = tokenizerFromBytes(model(), 'x.model');
    expect(t.encode('ab ab', { bos: true })).toEqual([1, 3, 6, 3, 6]);
    expect(t.decode([1, 3, 6, 3, 6])).toBe('ab ab');
  });

  test('normalizer fields are read', () => {
    const v = vocabularyFromSentencePieceModel(model(undefined, [...strField(1, 'nmt_nfkc'), ...intField(3, 0), ...intField(4, 0)]), 'x.model');
    expect(v).toMatchObject({ nfkc: true, addDummyPrefix: false, removeExtraWhitespaces: false, escapeWhitespaces: true });
  });

  test('the real files', () => {
    const v = vocabularyFromSentencePieceModel(dataBytes(TOK512_MODEL), TOK512_MODEL);
    expect(v.pieces.length).toBe(512);
    expect(v).toMatchObject({ unkId: 0, bosId: 1, eosId: 2, padId: -1, byteFallback: true, removeExtraWhitespaces: true, addDummyPrefix: true });
  });

  test('non-BPE models and unknown normalizers are refused by name', () => {
    expect(loadError(() => vocabularyFromSentencePieceModel(model(intField(3, 1)), 'uni.model'), 'uni.model').message)
      .toMatch(/model_type UNIGRAM is not supported; only BPE/);
    expect(loadError(() => vocabularyFromSentencePieceModel(model([]), 'none.model'), 'none.model').message).toMatch(/UNIGRAM/);
    expect(loadError(() => vocabularyFromSentencePieceModel(model(undefined, strField(1, 'nfkc_cf')), 'cf.model'), 'cf.model').message)
      .toMatch(/normalizer_spec.name "nfkc_cf" is not supported/);
  });

  test('corrupt fields name the field and byte offset', () => {
    const huge = Uint8Array.from([0x0a, ...varint(2 ** 31), 0x0a, 0x01, 0x61]);
    expect(loadError(() => parseSentencePieceModel(huge, 'huge.model'), 'huge.model').message).toMatch(/length 2147483648 runs past the end .* at byte offset 1/);
    const longVarint = Uint8Array.from([0x0a, ...new Array(11).fill(0xff)]);
    expect(loadError(() => parseSentencePieceModel(longVarint, 'v.model'), 'v.model').message).toMatch(/varint longer than 10 bytes/);
    const badType = Uint8Array.from(lenField(1, [...strField(1, 'a'), ...intField(3, 9)]));
    expect(loadError(() => parseSentencePieceModel(badType, 't.model'), 't.model').message).toMatch(/pieces\[0\]: type 9 is not/);
    const wrongWire = Uint8Array.from(lenField(1, [...strField(1, 'a'), ...intField(2, 1)]));
    expect(loadError(() => parseSentencePieceModel(wrongWire, 'w.model'), 'w.model').message).toMatch(/field score \(2\) has wire type 0, expected 5/);
    const badUtf8 = Uint8Array.from(lenField(1, lenField(1, [0xff])));
    expect(loadError(() => parseSentencePieceModel(badUtf8, 'u.model'), 'u.model').message).toMatch(/not valid UTF-8/);
    expect(loadError(() => parseSentencePieceModel(new Uint8Array(0), 'e.model'), 'e.model').message).toMatch(/empty file/);
  });

  test('every truncation of tok512.model fails cleanly (or is a shorter valid model)', () => {
    const bytes = dataBytes(TOK512_MODEL);
    let errors = 0;
    for (let n = 1; n < bytes.length; n++) {
      try {
        vocabularyFromSentencePieceModel(bytes.subarray(0, n), 'cut.model');
      } catch (e) {
        expect((e as Error).constructor).toBe(Error);
        expect((e as Error).message).toContain('cut.model');
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(bytes.length - 10);
  });

  test('random byte damage never crashes the parser', () => {
    const bytes = dataBytes(TOK512_MODEL);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const damaged = bytes.slice();
        for (const [at, b] of edits) damaged[at] = b;
        try {
          tokenizerFromBytes(damaged, 'damaged.model').encode('Once upon a time');
        } catch (e) {
          expect((e as Error).constructor).toBe(Error);
          expect((e as Error).message).toContain('damaged.model');
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('llama2.c tokenizer.bin', () => {
  // max_token_length, then (score, length, bytes) records
  function bin(maxLen: number, records: [number, number, number[]][]): Uint8Array {
    const out: number[] = [...new Uint8Array(Int32Array.of(maxLen).buffer)];
    for (const [score, length, bytes] of records) {
      out.push(...new Uint8Array(Float32Array.of(score).buffer), ...new Uint8Array(Int32Array.of(length).buffer), ...bytes);
    }
    return Uint8Array.from(out);
  }
  const ascii = (s: string) => [...new TextEncoder().encode(s)];

  test('records are read to the end of the file; spaces become ▁; types follow LLaMA', () => {
    const t = parseLlama2cTokenizer(bin(6, [[0, 5, ascii('<unk>')], [0, 3, ascii('<s>')], [0, 4, ascii('</s>')], [0, 6, ascii('<0x41>')], [-1.5, 2, ascii(' a')]]), 'x.bin');
    expect(t.maxTokenLength).toBe(6);
    expect(t.pieces).toEqual(['<unk>', '<s>', '</s>', '<0x41>', '▁a']);
    expect(t.scores).toEqual([0, 0, 0, 0, -1.5]);
    const v = vocabularyFromLlama2c(bin(6, [[0, 5, ascii('<unk>')], [0, 3, ascii('<s>')], [0, 4, ascii('</s>')], [0, 6, ascii('<0x41>')], [-1.5, 2, ascii(' a')]]), 'x.bin');
    expect(Array.from(v.types)).toEqual([2, 3, 3, 6, 1]);
  });

  test('the real files: counts and the expected-count check', () => {
    expect(parseLlama2cTokenizer(dataBytes(TOK512_BIN), TOK512_BIN).pieces.length).toBe(512);
    expect(parseLlama2cTokenizer(dataBytes(TOK512_BIN), TOK512_BIN, 512).pieces.length).toBe(512);
    expect(parseLlama2cTokenizer(dataBytes(TOK512_BIN), TOK512_BIN, 100).pieces.length).toBe(100);
    expect(loadError(() => parseLlama2cTokenizer(dataBytes(TOK512_BIN), 'tok.bin', 600), 'tok.bin').message).toMatch(/has 512 tokens, expected 600/);
  });

  test('a piece length of 2^31 or 2^31-1 is an error, not an allocation', () => {
    const neg = bin(10, [[0, 5, ascii('<unk>')]]);
    const withLength = (length: number) => Uint8Array.from([...neg, ...new Uint8Array(Float32Array.of(0).buffer), ...new Uint8Array(Uint32Array.of(length).buffer), 0x61]);
    expect(loadError(() => parseLlama2cTokenizer(withLength(2 ** 31), 'big.bin'), 'big.bin').message)
      .toMatch(/token 1: length -2147483648 at byte offset 21 does not fit/);
    expect(loadError(() => parseLlama2cTokenizer(withLength(2 ** 31 - 1), 'big.bin'), 'big.bin').message)
      .toMatch(/token 1: length 2147483647 .* does not fit in the 1 bytes left/);
  });

  test('short, truncated and undecodable files', () => {
    expect(loadError(() => parseLlama2cTokenizer(new Uint8Array(2), 'short.bin'), 'short.bin').message).toMatch(/too short/);
    expect(loadError(() => parseLlama2cTokenizer(bin(-1, []), 'neg.bin'), 'neg.bin').message).toMatch(/max_token_length -1/);
    expect(loadError(() => parseLlama2cTokenizer(bin(4, [[0, 1, [0xff]]]), 'utf.bin'), 'utf.bin').message).toMatch(/token 0: piece at byte offset 12 is not valid UTF-8/);
    expect(loadError(() => vocabularyFromLlama2c(bin(4, [[0, 1, ascii('a')]]), 'few.bin'), 'few.bin').message).toMatch(/1 tokens; <unk>, <s>, <\/s> need at least 3/);
    const bytes = dataBytes(TOK512_BIN);
    for (let n = 4; n < bytes.length; n += 7) {
      try {
        vocabularyFromLlama2c(bytes.subarray(0, n), 'cut.bin');
      } catch (e) {
        expect((e as Error).constructor).toBe(Error);
        expect((e as Error).message).toContain('cut.bin');
      }
    }
    expect(loadError(() => vocabularyFromLlama2c(bytes.subarray(0, 14), 'cut.bin'), 'cut.bin').message).toMatch(/token 0: length 5 at byte offset 8 does not fit in the 2 bytes left/);
  });
});

describe('GGUF vocabulary', () => {
  const meta = () => parseGGUF(dataBytes(LLAMA_GGUF), LLAMA_GGUF).metadata;

  test('the LLaMA and stories260K files', () => {
    const v = vocabularyFromGGUF(meta(), LLAMA_GGUF);
    expect(v).toMatchObject({ unkId: 0, bosId: 1, eosId: 2, addDummyPrefix: true, removeExtraWhitespaces: false, byteFallback: true });
    expect(v.pieces.length).toBe(32000);
    expect(tokenizerFromBytes(dataBytes(STORIES_GGUF), STORIES_GGUF).vocabSize).toBe(512);
  });

  test('missing or malformed keys are named', () => {
    const bad = (edit: Record<string, unknown>) => loadError(() => vocabularyFromGGUF({ ...meta(), ...edit } as never, 'v.gguf'), 'v.gguf').message;
    expect(bad({ 'tokenizer.ggml.model': 'bert' })).toMatch(/tokenizer.ggml.model is "bert"; llama-ts reads "llama" \(SentencePiece BPE\) and "gpt2"/);
    expect(bad({ 'tokenizer.ggml.tokens': undefined })).toMatch(/tokenizer.ggml.tokens is missing/);
    expect(bad({ 'tokenizer.ggml.scores': [1, 2] })).toMatch(/tokenizer.ggml.scores has 2 entries for 32000 tokens/);
    expect(bad({ 'tokenizer.ggml.token_type': new Array(32000).fill(9) })).toMatch(/tokenizer.ggml.token_type\[0\] is 9/);
    expect(bad({ 'tokenizer.ggml.bos_token_id': 40000n })).toMatch(/bosId 40000 is outside the vocabulary/);
    expect(bad({ 'tokenizer.ggml.add_space_prefix': 1 })).toMatch(/add_space_prefix is not a boolean/);
    const noModel = { ...meta() };
    delete noModel['tokenizer.ggml.model'];
    expect(loadError(() => vocabularyFromGGUF(noModel, 'v.gguf'), 'v.gguf').message).toMatch(/no tokenizer.ggml.model/);
  });

  test('optional keys take their defaults', () => {
    const m = meta();
    for (const k of ['token_type', 'add_space_prefix', 'remove_extra_whitespaces', 'padding_token_id']) delete m[`tokenizer.ggml.${k}`];
    const v = vocabularyFromGGUF(m, 'v.gguf');
    expect(v).toMatchObject({ addDummyPrefix: true, removeExtraWhitespaces: false, padId: -1 });
    expect(Array.from(v.types)).toEqual(Array.from(vocabularyFromGGUF(meta(), 'v.gguf').types));
  });
});

test('tokenizerFromBytes recognises the format by content, not by name', () => {
  for (const f of [TOK512_MODEL, TOK512_BIN, STORIES_GGUF]) {
    expect(tokenizerFromBytes(dataBytes(f), 'no-extension').encode('Once upon a time', { bos: true })).toEqual([1, 403, 407, 261, 378]);
  }
});
