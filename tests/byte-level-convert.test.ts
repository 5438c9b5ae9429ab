// A model with a byte-level BPE vocabulary (LLaMA 3's, from llama.cpp's own vocabulary file,
// read at test time) keeps it through convert: GGUF -> Hugging Face folder -> GGUF, and every
// step loads with that vocabulary as its tokenizer, without --tokenizer.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { convertModel } from '../src/convert/convert.js';
import { modelToGGUF } from '../src/convert/to-gguf.js';
import { parseGGUF } from '../src/formats/gguf.js';
import { loadLlama } from '../src/llama.js';
import { ByteLevelBpeTokenizer } from '../src/tokenizer/byte-level-bpe.js';
import { byteLevelGGUFMetadata } from '../src/tokenizer/byte-level-writers.js';
import { byteLevelVocabularyFromGGUF } from '../src/tokenizer/gguf-byte-level.js';
import { llamaCppVocabCases, removeLlamaCppClone } from './llamacpp-source.js';

const TEXT = 'Hello world! The café costs 3.50€ — 12345 tokens?';

let dir: string;
let gguf: string; // a random model with the llama-bpe vocabulary
let expectedIds: number[];
let ropeTheta10k: string; // the same with rope theta 10000, which llama2.c files assume
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'llama-ts-byte-level-convert-'));
  const vocabFile = llamaCppVocabCases('llama-bpe').gguf;
  const vocab = byteLevelVocabularyFromGGUF(parseGGUF(vocabFile, 'ggml-vocab-llama-bpe.gguf').metadata, 'ggml-vocab-llama-bpe.gguf');
  expectedIds = new ByteLevelBpeTokenizer(vocab).encode(TEXT, { bos: true });
  const config: LlamaConfig = {
    dim: 32, hiddenDim: 64, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: vocab.tokens.length,
    maxSeqLen: 64, normEps: 1e-5, ropeTheta: 500000, sharedClassifier: true,
  };
  gguf = join(dir, 'llama3-like.gguf');
  writeFileSync(gguf, modelToGGUF(randomModel(config, 3), { tokenizerMetadata: byteLevelGGUFMetadata(vocab) }));
  ropeTheta10k = join(dir, 'theta-10k.gguf');
  writeFileSync(ropeTheta10k, modelToGGUF(randomModel({ ...config, ropeTheta: 10000 }, 3), { tokenizerMetadata: byteLevelGGUFMetadata(vocab) }));
});
afterAll(() => {
  removeLlamaCppClone();
  rmSync(dir, { recursive: true, force: true });
});

async function idsOf(model: string): Promise<{ ids: number[]; byteLevel: boolean; text: string }> {
  const llama = await loadLlama({ model, backend: 'ts' });
  try {
    let text = '';
    for await (const t of llama.generate('The', { maxTokens: 3, temperature: 0 })) text += t;
    return { ids: llama.tokenizer.encode(TEXT, { bos: true }), byteLevel: llama.tokenizer instanceof ByteLevelBpeTokenizer, text };
  } finally {
    await llama.close();
  }
}

describe('a byte-level vocabulary through convert', () => {
  test("the GGUF's own byte-level vocabulary is the model's tokenizer", async () => {
    const r = await idsOf(gguf);
    expect(r.byteLevel).toBe(true);
    expect(r.ids).toEqual(expectedIds);
    expect(r.ids[0]).toBe(128000); // <|begin_of_text|>
  });

  test('GGUF -> Hugging Face folder (tokenizer.json) -> GGUF keeps it', async () => {
    const folder = join(dir, 'hf');
    expect(convertModel(gguf, folder).notes.join('\n')).not.toMatch(/no tokenizer|no vocabulary/);
    const json = JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')) as { model: { type: string } };
    expect(json.model.type).toBe('BPE');
    const viaFolder = await idsOf(folder);
    expect(viaFolder.byteLevel).toBe(true);
    expect(viaFolder.ids).toEqual(expectedIds);

    const back = join(dir, 'back.gguf');
    convertModel(folder, back);
    const meta = parseGGUF(new Uint8Array(readFileSync(back)), back).metadata;
    const original = parseGGUF(new Uint8Array(readFileSync(gguf)), gguf).metadata;
    for (const key of ['tokenizer.ggml.model', 'tokenizer.ggml.pre', 'tokenizer.ggml.tokens', 'tokenizer.ggml.merges', 'tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id']) {
      expect(meta[key], key).toEqual(original[key]);
    }
    const viaBack = await idsOf(back);
    expect(viaBack.ids).toEqual(expectedIds);
    expect(viaBack.text).toBe((await idsOf(gguf)).text); // same weights, same greedy text
  });

  test('llama2.c output says the vocabulary was not written', () => {
    const notes = convertModel(ropeTheta10k, join(dir, 'm.bin')).notes.join('\n');
    expect(notes).toMatch(/no byte-level BPE one: the vocabulary was not written/);
  });
});
