// The one decision of "the vocabulary that comes with this model" (src/tokenizer/
// model-vocabulary.ts): what wins over what, which file is blamed, what is never read; and
// `quantize`, which keeps a GGUF's own tokenizer metadata as stored even when llama-ts
// cannot read it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { convertModel } from '../src/convert/convert.js';
import { quantizeFile } from '../src/convert/quantize-file.js';
import { modelToGGUF } from '../src/convert/to-gguf.js';
import { metadataEntries, parseGGUF, type GGUFMetadataEntry, type GGUFValue } from '../src/formats/gguf.js';
import { loadModel } from '../src/formats/load-file.js';
import { vocabularyToTokenizerJson } from '../src/tokenizer/tokenizer-json.js';
import { findVocabulary, modelVocabulary as anyModelVocabulary, readVocabulary, vocabularyFromFile as anyVocabularyFromFile, type AnyVocabulary } from '../src/tokenizer/model-vocabulary.js';
import { modelTokenizer } from '../src/tokenizer/any-tokenizer.js';
import { STORIES_GGUF, TOK512_BIN, TOK512_MODEL, dataBytes, dataPath } from './tokenizer-data.js';

// These cases are all SentencePiece vocabularies (byte-level ones: tokenizer-byte-level*.test.ts).
function sentencePiece<V extends AnyVocabulary>(v: V | undefined): (V & { kind: 'sentencepiece' }) | undefined {
  if (v && v.kind !== 'sentencepiece') throw new Error(`expected a SentencePiece vocabulary, got ${v.kind}`);
  return v as (V & { kind: 'sentencepiece' }) | undefined;
}
const modelVocabulary = (...a: Parameters<typeof anyModelVocabulary>) => sentencePiece(anyModelVocabulary(...a));
const vocabularyFromFile = (...a: Parameters<typeof anyVocabularyFromFile>) => sentencePiece(anyVocabularyFromFile(...a))!;

const LLAMA_MODEL = 'llama-tokenizer/tokenizer.model';
const utf8 = new TextEncoder();
const storiesMeta = (): Record<string, GGUFValue> => parseGGUF(dataBytes(STORIES_GGUF), 'stories.gguf').metadata;
const file = (relative: string, name = relative) => ({ name, bytes: dataBytes(relative) });
// tok512 as a tokenizer.json (what convert writes into a HF folder without tokenizer.model)
const tok512Json = () => utf8.encode(vocabularyToTokenizerJson(vocabularyFromFile(file(TOK512_MODEL)).vocabulary));

describe('which vocabulary comes with a model', () => {
  test("a GGUF's own: read from its metadata, the model blamed for a wrong size", () => {
    const found = modelVocabulary({ name: 'm.gguf', gguf: storiesMeta() }, undefined, 512)!;
    expect(found.from).toBe('m.gguf');
    expect(found.vocabulary.pieces.length).toBe(512);
    expect(found.vocabulary.pieces[403]).toBe(vocabularyFromFile(file(TOK512_BIN)).vocabulary.pieces[403]);
    expect(found.sentencePieceModel).toBeUndefined();
    expect(() => modelVocabulary({ name: 'm.gguf', gguf: storiesMeta() }, undefined, 500))
      .toThrow("m.gguf: the tokenizer has 512 tokens but the model's vocabulary has 500");
  });

  test('a given tokenizer file wins, and is the one blamed; the GGUF\'s own is not even read', () => {
    const unreadable = { ...storiesMeta(), 'tokenizer.ggml.model': 'bert' };
    expect(() => modelVocabulary({ name: 'm.gguf', gguf: unreadable })).toThrow('m.gguf: tokenizer.ggml.model is "bert"; llama-ts reads "llama"');
    const found = modelVocabulary({ name: 'm.gguf', gguf: unreadable }, file(TOK512_MODEL, 'tok.model'), 512)!;
    expect(found.from).toBe('tok.model');
    expect(found.sentencePieceModel).toEqual(dataBytes(TOK512_MODEL)); // kept, to be written unchanged
    expect(() => modelVocabulary({ name: 'm.gguf', gguf: unreadable }, file(LLAMA_MODEL, 'big.model'), 512))
      .toThrow("big.model: the tokenizer has 32000 tokens but the model's vocabulary has 512");
  });

  test('a GGUF without tokenizer.ggml.tokens, a llama2.c model: none', () => {
    const { 'tokenizer.ggml.tokens': _, ...noTokens } = storiesMeta();
    expect(findVocabulary({ name: 'm.gguf', gguf: noTokens })).toBeUndefined();
    expect(modelVocabulary({ name: 'm.bin' })).toBeUndefined();
    expect(() => modelTokenizer({ name: 'm.bin' }, undefined, 512, 'give one')).toThrow('m.bin: this model file holds no vocabulary; give one');
    expect(modelTokenizer({ name: 'm.bin' }, file(TOK512_BIN), 512, 'give one').encode('Once upon a time', { bos: true })).toEqual([1, 403, 407, 261, 378]);
  });

  test("a Hugging Face folder: tokenizer.model before tokenizer.json, whose config is only read then", () => {
    const brokenConfig = utf8.encode('{ not json');
    const withModel = { dir: '/m/', tokenizerModel: dataBytes(TOK512_MODEL), tokenizerJson: utf8.encode('{ not json either'), tokenizerConfig: brokenConfig };
    const a = modelVocabulary({ name: '/m/', huggingFace: withModel }, undefined, 512)!;
    expect(a.from).toBe('/m/'); // the model's own: the folder is blamed for its size
    expect(a.sentencePieceModel).toEqual(dataBytes(TOK512_MODEL));
    const origin = findVocabulary({ name: '/m', huggingFace: { ...withModel, tokenizerModel: undefined } });
    expect(origin).toMatchObject({ kind: 'file', from: '/m', file: { name: '/m/tokenizer.json' }, specials: { name: '/m/tokenizer_config.json' } });
    expect(() => readVocabulary(origin!)).toThrow(/^\/m\/tokenizer_config\.json: not valid JSON/);
  });

  test("tokenizer.json takes the special tokens tokenizer_config.json names", () => {
    const hf = (config: object) => ({ dir: 'm', tokenizerJson: tok512Json(), tokenizerConfig: utf8.encode(JSON.stringify(config)) });
    const plain = modelVocabulary({ name: 'm', huggingFace: hf({}) })!.vocabulary;
    expect([plain.bosId, plain.eosId, plain.padId]).toEqual([1, 2, -1]);
    const padded = modelVocabulary({ name: 'm', huggingFace: hf({ pad_token: { content: '</s>' }, bos_token: '<unk>' }) })!.vocabulary;
    expect([padded.bosId, padded.eosId, padded.padId]).toEqual([0, 2, 2]);
    expect(() => modelVocabulary({ name: 'm', huggingFace: hf({ eos_token: '<eot>' }) })).toThrow('m/tokenizer.json: eos_token "<eot>" is not in the vocabulary');
  });

  test('a tokenizer file is recognised by content, tokenizer.json by name', () => {
    const pieces = (f: { name: string; bytes: Uint8Array }) => vocabularyFromFile(f).vocabulary.pieces;
    const want = pieces(file(TOK512_MODEL));
    expect(pieces(file(STORIES_GGUF))).toEqual(want);
    expect(pieces({ name: 'tokenizer.JSON', bytes: tok512Json() })).toEqual(want);
    expect(pieces(file(TOK512_BIN)).slice(3)).toEqual(want.slice(3)); // tokenizer.bin spells BOS/EOS "\n<s>\n"
    expect(vocabularyFromFile(file(TOK512_BIN)).sentencePieceModel).toBeUndefined();
    expect(() => vocabularyFromFile({ name: 'tok.txt', bytes: tok512Json() })).toThrow(/^tok\.txt: /); // not .json: read as a tokenizer.bin
  });
});

describe('quantize keeps the tokenizer.* metadata of a GGUF input as stored', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'llama-ts-model-vocab-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('even a vocabulary llama-ts cannot read; --tokenizer replaces it', () => {
    const input = join(dir, 'bert-vocab.gguf');
    const original = loadModel(dataPath(STORIES_GGUF));
    const tokenizerMetadata = metadataEntries(original.gguf!)
      .filter(([k]) => k.startsWith('tokenizer.'))
      .map(([k, v, t]): GGUFMetadataEntry => [k, k === 'tokenizer.ggml.model' ? 'bert' : v, t]);
    writeFileSync(input, modelToGGUF(original.model, { tokenizerMetadata }));

    const out = join(dir, 'q8.gguf');
    const result = quantizeFile(input, out, { type: 'q8_0' });
    expect(result.notes.join('\n')).not.toMatch(/no vocabulary/);
    const written = loadModel(out).gguf!;
    expect(written.metadata['tokenizer.ggml.model']).toBe('bert');
    expect(written.metadata['tokenizer.ggml.tokens']).toEqual(original.gguf!.metadata['tokenizer.ggml.tokens']);

    quantizeFile(input, out, { type: 'q8_0', tokenizer: dataPath(TOK512_MODEL) });
    expect(loadModel(out).gguf!.metadata['tokenizer.ggml.model']).toBe('llama');

    // convert reads the vocabulary, so it refuses the bert one, unless --tokenizer replaces it
    expect(() => convertModel(input, join(dir, 'c.gguf'))).toThrow(/bert-vocab\.gguf: tokenizer\.ggml\.model is "bert"/);
    expect(convertModel(input, join(dir, 'c.gguf'), { tokenizer: dataPath(TOK512_MODEL) }).notes).toEqual([]);
  });
});
