// LLaMA 3 style models against llama.cpp (node-llama-cpp, CPU, F32 KV cache): the real LLaMA 3
// vocabulary (llama.cpp's models/ggml-vocab-llama-bpe.gguf, 128256 byte-level BPE tokens, read
// at test time), random weights of width 64 (the tied embedding is 128256 × 64 f32, 33 MB),
// rope_theta 500000 and RoPE scaling:
//
//   llama3   Llama 3.2's settings (factor 32, low 1, high 4, original context 8192), tied
//            embeddings; written by `convert` as a Hugging Face folder, converted to GGUF
//            (rope_freqs.weight) and back to Hugging Face (the same rope_scaling)
//   linear   factor 4, as llama.rope.scaling.type/factor in the GGUF
//
// llama.cpp and llama-ts tokenize the same text to the same ids, and give next-token
// log-probabilities within LOGPROB_TOLERANCE at every position, teacher-forced on our greedy
// continuation. The same GGUF without its RoPE scaling misses by more, so the comparison sees
// the scaling. loadLlama runs the GGUF with its own byte-level tokenizer (no --tokenizer) and
// generates llama.cpp's greedy tokens.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { llama3FreqFactors } from '../reference/rope.js';
import { tsKernels } from '../reference/ts-kernels.js';
import type { LlamaModel } from '../reference/weights.js';
import { convertModel } from '../src/convert/convert.js';
import { modelToGGUF } from '../src/convert/to-gguf.js';
import { modelToHuggingFace, writeFolder } from '../src/convert/to-huggingface.js';
import { parseGGUF } from '../src/formats/gguf.js';
import { readHuggingFaceFolder } from '../src/formats/huggingface-folder.js';
import { loadModel } from '../src/formats/load-file.js';
import { loadLlama } from '../src/llama.js';
import { ByteLevelBpeTokenizer } from '../src/tokenizer/byte-level-bpe.js';
import type { ByteLevelVocabulary } from '../src/tokenizer/byte-level-vocabulary.js';
import { byteLevelGGUFMetadata } from '../src/tokenizer/byte-level-writers.js';
import { byteLevelVocabularyFromGGUF } from '../src/tokenizer/gguf-byte-level.js';
import { compareDistributions, llamaCppDistributions, openLlamaCpp, ourGreedy } from './llamacpp-helpers.js';
import { llamaCppFile, removeLlamaCppClone } from './llamacpp-source.js';

const POSITIONS = 32; // tokens evaluated, prompt included
const LOGPROB_TOLERANCE = 5e-4; // as llamacpp-parity.test.ts
const PROMPT = 'The quick brown fox jumps over the lazy dog. Numbers: 12345, émigré';
const LLAMA32_SCALING = { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 };

let llama: Llama;
let dir: string;
let vocab: ByteLevelVocabulary;
let tokenizer: ByteLevelBpeTokenizer;
let promptIds: number[];

beforeAll(async () => {
  const name = 'ggml-vocab-llama-bpe.gguf';
  vocab = byteLevelVocabularyFromGGUF(parseGGUF(new Uint8Array(llamaCppFile(`models/${name}`)), name).metadata, name);
  tokenizer = new ByteLevelBpeTokenizer(vocab, name);
  promptIds = tokenizer.encode(PROMPT, { bos: true });
  llama = await openLlamaCpp();
  dir = mkdtempSync(join(tmpdir(), 'llama3-llamacpp-'));
}, 60_000);

afterAll(async () => {
  await llama?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
  removeLlamaCppClone();
});

// Width 64, 4 heads of 16 (8 RoPE pairs) over 2 kv heads, std 0.3 so that a wrong angle shows.
function llama3Model(over: Partial<LlamaConfig>, seed: number): LlamaModel {
  const config: LlamaConfig = {
    dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 160, vocabSize: vocab.tokens.length, maxSeqLen: 128,
    normEps: 1e-5, ropeTheta: 500000, sharedClassifier: true, ...over,
  };
  return randomModel(config, seed, { std: 0.3, gainJitter: 0.5 });
}

async function parity(name: string, ours: LlamaModel, ggufPath: string) {
  const mine = ourGreedy(ours, tsKernels, promptIds, POSITIONS);
  const theirs = await llamaCppDistributions(llama, ggufPath, mine.tokens);
  const result = compareDistributions(mine, theirs, promptIds.length);
  console.log(`${name}: max |Δ log p| ${result.maxError.toExponential(2)} over ${result.compared} entries, ${result.greedyMismatches} greedy mismatches`);
  return { mine, theirs, result };
}

describe('LLaMA 3 vocabulary, rope_theta 500000 and RoPE scaling: llama.cpp agrees with llama-ts', () => {
  test('the same token ids for the same text (the GGUF written by convert)', async () => {
    const path = join(dir, 'vocab-check.gguf');
    writeFileSync(path, modelToGGUF(llama3Model({ nLayers: 1 }, 1), { tokenizerMetadata: byteLevelGGUFMetadata(vocab) }));
    const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
    try {
      for (const text of [PROMPT, ' Hello World!\n\n  tabs\tand 1234567 digits', '日本語のテキスト 😀 <|eot_id|>']) {
        expect(tokenizer.encode(text), text).toEqual(Array.from(model.tokenize(text, false)));
      }
      expect(promptIds[0]).toBe(128000); // <|begin_of_text|>
    } finally {
      await model.dispose();
    }
  }, 60_000);

  test('llama3 scaling, tied: Hugging Face folder → convert → GGUF (rope_freqs.weight) → convert → Hugging Face', async () => {
    const model = llama3Model({}, 31);
    model.config.ropeFreqFactors = llama3FreqFactors(16, 500000, LLAMA32_SCALING);
    expect(new Set(model.config.ropeFreqFactors).size).toBeGreaterThan(2); // kept, stretched and in between
    const hfDir = join(dir, 'llama3-hf');
    writeFolder(hfDir, modelToHuggingFace(model, { byteLevel: vocab }));
    const config = JSON.parse(readFileSync(join(hfDir, 'config.json'), 'utf8'));
    expect(config.rope_scaling).toEqual({ rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 });
    expect(config.rope_theta).toBe(500000);

    const ggufPath = join(dir, 'llama3.gguf');
    expect(convertModel(hfDir, ggufPath).notes).toEqual([]);
    const gguf = parseGGUF(new Uint8Array(readFileSync(ggufPath)), ggufPath);
    const freqs = gguf.tensors.find((t) => t.name === 'rope_freqs.weight');
    expect(freqs?.dims).toEqual([8]);
    expect(gguf.metadata['llama.rope.freq_base']).toBe(500000);
    expect(gguf.metadata['tokenizer.ggml.pre']).toBe('llama-bpe');

    const back = join(dir, 'llama3-back-hf');
    convertModel(ggufPath, back);
    expect(JSON.parse(readFileSync(join(back, 'config.json'), 'utf8')).rope_scaling).toEqual(config.rope_scaling);

    const fromHf = readHuggingFaceFolder(hfDir).model;
    const fromGguf = loadModel(ggufPath).model;
    fromGguf.config.ropeFreqFactors!.forEach((f, i) => expect(f).toBeCloseTo(model.config.ropeFreqFactors![i], 5));

    const { mine, theirs, result } = await parity('llama3 scaling (from the HF folder)', fromHf, ggufPath);
    expect(result.compared).toBeGreaterThan(POSITIONS);
    expect(result.greedyMismatches).toBe(0);
    expect(result.maxError).toBeLessThan(LOGPROB_TOLERANCE);
    const viaGguf = compareDistributions(ourGreedy(fromGguf, tsKernels, promptIds, POSITIONS), theirs, promptIds.length); // the GGUF's f32 factors
    expect(viaGguf.maxError).toBeLessThan(LOGPROB_TOLERANCE);

    // The same weights without the scaling: llama.cpp then disagrees with our scaled model.
    const unscaledPath = join(dir, 'llama3-unscaled.gguf');
    writeFileSync(unscaledPath, modelToGGUF({ ...fromGguf, config: { ...fromGguf.config, ropeFreqFactors: undefined } }, { tokenizerMetadata: byteLevelGGUFMetadata(vocab) }));
    const unscaled = compareDistributions(mine, await llamaCppDistributions(llama, unscaledPath, mine.tokens), promptIds.length);
    console.log(`llama3 model against llama.cpp without rope_freqs: max |Δ log p| ${unscaled.maxError.toExponential(2)}`);
    expect(unscaled.maxError).toBeGreaterThan(4 * LOGPROB_TOLERANCE);

    // loadLlama: the embedded byte-level vocabulary, no tokenizer given; WASM kernels, greedy.
    const loaded = await loadLlama({ model: ggufPath, threads: 1 });
    try {
      expect(loaded.tokenizer.encode(PROMPT, { bos: true })).toEqual(promptIds);
      const generated: number[] = [];
      for await (const chunk of loaded.generateChunks(PROMPT, { maxTokens: POSITIONS - promptIds.length, temperature: 0 })) {
        if (!chunk.done) generated.push(chunk.token);
      }
      expect(generated).toEqual(mine.tokens.slice(promptIds.length, promptIds.length + generated.length));
      expect(generated.length).toBeGreaterThan(0);
    } finally {
      await loaded.close();
    }
  }, 240_000);

  test('linear scaling (factor 4): llama.rope.scaling.type/factor in the GGUF, rope_scaling linear in config.json', async () => {
    const model = llama3Model({ sharedClassifier: false, nKvHeads: 1 }, 32);
    model.config.ropeFreqFactors = new Array(8).fill(4);
    const ggufPath = join(dir, 'linear.gguf');
    writeFileSync(ggufPath, modelToGGUF(model, { tokenizerMetadata: byteLevelGGUFMetadata(vocab) }));
    const gguf = parseGGUF(new Uint8Array(readFileSync(ggufPath)), ggufPath);
    expect(gguf.metadata['llama.rope.scaling.type']).toBe('linear');
    expect(gguf.metadata['llama.rope.scaling.factor']).toBe(4);
    expect(gguf.tensors.some((t) => t.name === 'rope_freqs.weight')).toBe(false);
    const hfDir = join(dir, 'linear-hf');
    convertModel(ggufPath, hfDir);
    expect(JSON.parse(readFileSync(join(hfDir, 'config.json'), 'utf8')).rope_scaling).toEqual({ rope_type: 'linear', factor: 4 });
    expect(readHuggingFaceFolder(hfDir).model.config.ropeFreqFactors).toEqual(new Array(8).fill(4));

    const { result } = await parity('linear scaling ×4', loadModel(ggufPath).model, ggufPath);
    expect(result.greedyMismatches).toBe(0);
    expect(result.maxError).toBeLessThan(LOGPROB_TOLERANCE);
  }, 240_000);
});
