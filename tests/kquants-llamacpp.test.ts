// Layout parity with llama.cpp: a random model (dims multiples of 256) written by llama-ts
// as GGUF with every matrix in one quantized type is run by llama.cpp (node-llama-cpp, CPU,
// F32 KV cache) and by llama-ts on the same file, and the next-token log-probabilities
// compared at every one of 64 positions.
//
// llama.cpp rounds the activations of each quantized matmul to 8 bits (llamacpp-helpers.ts);
// llama-ts's ts kernels, rounding them the same way, agree within LOGPROB_TOLERANCE for
// Q2_K, Q3_K, Q6_K, Q5_0 and IQ4_NL (observed ~1e-6: the same numbers up to summation
// order, so the same bytes read the same way). For four types llama.cpp's x86 arithmetic
// departs further from exact products of the rounded activations: Q4_1/Q5_1 multiply each
// block min by the activation block's sum stored as a half (Q8_1's s), Q4_K runs repacked
// GEMM kernels (AVX2), and Q5_K's kernel differs by 2e-3 on this model (not traced; it
// depends on the data: 1e-6 on files from an earlier draft of the quantizer). For those
// the agreement is within APPROXIMATE_TOLERANCE (observed 2e-3 to 1.8e-2, below the plain
// float32-activation difference; the near-flat distributions of this small-weight model
// then allow a greedy tie to go the other way). A misread layout costs far more: the last
// test flips two bits of the Q4_K scale packing and misses by about 4.
// The plain ts backend (float32 activations) is checked against llama.cpp too, and the wasm
// backend (its own kernels for every type, assembly/kblocks.ts and kdot.ts) against the
// plain ts backend: all logits of a sequence in one call, so prompt kernels (f32 activations).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { toF32, type DType, type WeightTensor } from '../reference/tensor.js';
import type { LlamaModel } from '../reference/weights.js';
import { tsKernels } from '../reference/ts-kernels.js';
import { loadFileIntoKernels } from '../src/backends/wasm/direct-load.js';
import { quantizeModel } from '../src/convert/storage.js';
import { modelToGGUF, storedModelToGGUF } from '../src/convert/to-gguf.js';
import { quantize } from '../src/quant/quantize.js';
import { readModelFileLayout } from '../src/formats/load-header.js';
import { loadModel } from '../src/formats/load-file.js';
import { vocabularyFromSentencePieceModel } from '../src/tokenizer/sentencepiece-model.js';
import { Tokenizer } from '../src/tokenizer/tokenizer.js';
import { dataPath } from './formats-helpers.js';
import { compareDistributions, llamaCppActivationKernels, llamaCppDistributions, openLlamaCpp, ourDistributions, ourGreedy } from './llamacpp-helpers.js';
import { ensureWasmBuilt, wasmPath } from './wasm-helpers.js';

const TOK512_MODEL = dataPath('stories260K/tok512.model');
const POSITIONS = 64;
const LOGPROB_TOLERANCE = 5e-4; // the bound
const APPROXIMATE = new Set<DType>(['q4_k', 'q5_k', 'q4_1', 'q5_1']);
const APPROXIMATE_TOLERANCE = 0.05;
// llama-ts with float32 activations against llama.cpp: its 8-bit activations (observed
// 1.7e-2 to 2.8e-2); wasm against ts: f32 summation order only
const FLOAT_ACTIVATIONS_TOLERANCE = 0.05;
const WASM_TOLERANCE = 1e-5; // observed 5e-7

const TYPES: DType[] = ['q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl'];

const config: LlamaConfig = {
  dim: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 768, vocabSize: 512, maxSeqLen: 128,
  normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
};
const model = randomModel(config, 21, { std: 0.02, gainJitter: 0.5 });

const tok512 = vocabularyFromSentencePieceModel(new Uint8Array(readFileSync(TOK512_MODEL)), TOK512_MODEL);
const promptIds = new Tokenizer(tok512).encode('Once upon a time', { bos: true });

let llama: Llama;
let dir: string;
beforeAll(async () => {
  ensureWasmBuilt();
  llama = await openLlamaCpp();
  dir = mkdtempSync(join(tmpdir(), 'kquants-llamacpp-'));
});

afterAll(async () => {
  await llama?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('llama.cpp reads the quantized files llama-ts writes as llama-ts does', () => {
  test.each(TYPES)('%s: every matrix, log-probabilities within 5e-4 at 64 positions', async (dtype) => {
    const path = join(dir, `${dtype}.gguf`);
    const notes: string[] = [];
    writeFileSync(path, modelToGGUF(model, { dtype, vocabulary: tok512, notes }));
    expect(notes).toEqual([]); // every matrix in the type: no fallback at these shapes
    const file = loadModel(path).model;
    expect(file.weights.layers[0].w2.dtype).toBe(dtype);
    expect(file.weights.tokenEmbedding.dtype).toBe(dtype);

    // llama-ts with activations rounded as llama.cpp rounds them, greedy; llama.cpp on those tokens
    const ours = ourGreedy(file, llamaCppActivationKernels, promptIds, POSITIONS);
    const theirs = await llamaCppDistributions(llama, path, ours.tokens);
    const parity = compareDistributions(ours, theirs, promptIds.length);
    // the plain ts backend (float32 activations) on the same tokens: llama.cpp's 8-bit
    // activations are the whole difference
    const plain = compareDistributions({ tokens: ours.tokens, logProbs: ourDistributions(file, tsKernels, ours.tokens) }, theirs, promptIds.length);
    // the wasm backend (the matrices as stored) on the same tokens, against plain ts
    const wasm = await loadFileIntoKernels(readModelFileLayout(path), { threads: 1, contextLength: POSITIONS, wasmPath });
    let wasmError = 0;
    try {
      expect(wasm.kernels.notes).toEqual([]); // nothing widened to f16
      const wasmLogProbs = ourDistributions(wasm.model, wasm.kernels, ours.tokens);
      const tsLogProbs = ourDistributions(file, tsKernels, ours.tokens);
      wasmError = maxLogProbDifference(wasmLogProbs, tsLogProbs);
    } finally {
      await wasm.kernels.close();
    }
    console.log(
      `${dtype}: max |Δ log p| vs llama.cpp ${parity.maxError.toExponential(2)} over ${parity.compared} entries ` +
        `(float32 activations: ${plain.maxError.toExponential(2)}); wasm vs ts ${wasmError.toExponential(2)}`,
    );
    expect(theirs.length).toBe(POSITIONS);
    expect(parity.compared).toBeGreaterThan(POSITIONS);
    if (!APPROXIMATE.has(dtype)) expect(parity.greedyMismatches).toBe(0);
    expect(parity.maxError).toBeLessThan(APPROXIMATE.has(dtype) ? APPROXIMATE_TOLERANCE : LOGPROB_TOLERANCE);
    expect(plain.maxError).toBeLessThan(FLOAT_ACTIVATIONS_TOLERANCE);
    expect(wasmError).toBeLessThan(WASM_TOLERANCE);
  });

  test('a misread scale packing fails: Q4_K with the top bits of sub-blocks 4-7 flipped', async () => {
    const path = join(dir, 'q4_k-misread.gguf');
    writeFileSync(path, modelToGGUF(model, { dtype: 'q4_k', vocabulary: tok512 }));
    const file = loadModel(path).model;
    const ours = ourGreedy(file, llamaCppActivationKernels, promptIds, POSITIONS);
    const theirs = await llamaCppDistributions(llama, path, ours.tokens);
    const misread = mapMatrices(file, (t) => {
      const bytes = (t.data as Uint8Array).slice();
      for (let o = 0; o < bytes.length; o += 144) for (let j = 0; j < 4; j++) bytes[o + 4 + j] ^= 0xc0; // scale bytes 0-3, bits 6-7
      return { ...t, data: bytes };
    });
    const wrong = compareDistributions({ tokens: ours.tokens, logProbs: ourDistributions(misread, llamaCppActivationKernels, ours.tokens) }, theirs, promptIds.length);
    console.log(`q4_k misread: max |Δ log p| ${wrong.maxError.toExponential(2)}`);
    expect(wrong.maxError).toBeGreaterThan(20 * APPROXIMATE_TOLERANCE);
  });
});

describe('llama.cpp reads the mixed files llama-ts writes, and llama-ts reads llama.cpp\'s', () => {
  // Q4_K_M on 2 layers: output and layer 1's attn_v, ffn_down in q6_k, the rest q4_k (llama.cpp's
  // general.file_type 15). q4_k is one of the APPROXIMATE types, so its tolerance applies
  // (observed 1.2e-6 on this file).
  test('q4_k_m: llama.cpp and llama-ts (ts backend) agree within the q4_k tolerance', async () => {
    const path = join(dir, 'q4_k_m.gguf');
    writeFileSync(path, modelToGGUF(model, { mixture: 'q4_k_m', vocabulary: tok512 }));
    const loaded = loadModel(path);
    const file = loaded.model;
    expect(loaded.gguf?.metadata['general.file_type']).toBe(15);
    expect([file.weights.output.dtype, file.weights.tokenEmbedding.dtype]).toEqual(['q6_k', 'q4_k']);
    expect(file.weights.layers.map((l) => [l.wv.dtype, l.w2.dtype, l.wq.dtype])).toEqual([['q4_k', 'q4_k', 'q4_k'], ['q6_k', 'q6_k', 'q4_k']]);
    const ours = ourGreedy(file, llamaCppActivationKernels, promptIds, POSITIONS);
    const theirs = await llamaCppDistributions(llama, path, ours.tokens);
    const parity = compareDistributions(ours, theirs, promptIds.length);
    const plain = compareDistributions({ tokens: ours.tokens, logProbs: ourDistributions(file, tsKernels, ours.tokens) }, theirs, promptIds.length);
    console.log(`q4_k_m: max |Δ log p| vs llama.cpp ${parity.maxError.toExponential(2)} (float32 activations: ${plain.maxError.toExponential(2)})`);
    expect(theirs.length).toBe(POSITIONS);
    expect(parity.compared).toBeGreaterThan(POSITIONS);
    expect(parity.maxError).toBeLessThan(APPROXIMATE_TOLERANCE);
    expect(plain.maxError).toBeLessThan(FLOAT_ACTIVATIONS_TOLERANCE);
  });

  // llama.cpp's own Q4_0 files keep output.weight in Q6_K (its Q8_0 files keep it Q8_0): such a
  // mixed file, built here as llama.cpp lays it out, reads and runs in llama-ts (ts and wasm).
  // llama.cpp runs Q4_0 through its repacked x86 GEMM kernels, as Q4_K: observed 1.9e-3 on this
  // file, 3.2e-3 on the same model all in q4_0, so the q4_k tolerance applies.
  test('q4_0 with output.weight in q6_k, as llama.cpp writes Q4_0: types read as stored, log-probabilities within the q4_k tolerance', async () => {
    const path = join(dir, 'q4_0-output-q6_k.gguf');
    const q4 = quantizeModel(model, 'q4_0');
    const output = quantize(toF32(model.weights.output), config.vocabSize, config.dim, 'q6_k');
    const mixed: LlamaModel = { config, weights: { ...q4.weights, output } };
    writeFileSync(path, storedModelToGGUF(mixed, { dtype: 'q4_0', vocabulary: tok512 }));
    const file = loadModel(path).model;
    expect([file.weights.output.dtype, file.weights.tokenEmbedding.dtype, file.weights.layers[1].w2.dtype]).toEqual(['q6_k', 'q4_0', 'q4_0']);
    const ours = ourGreedy(file, llamaCppActivationKernels, promptIds, POSITIONS);
    const theirs = await llamaCppDistributions(llama, path, ours.tokens);
    const parity = compareDistributions(ours, theirs, promptIds.length);
    const wasm = await loadFileIntoKernels(readModelFileLayout(path), { threads: 1, contextLength: POSITIONS, wasmPath });
    let wasmError = 0;
    try {
      expect(wasm.model.weights.layers[0].wq.dtype).toBe('q4_0'); // multiplied in place; output widened to f16
      wasmError = maxLogProbDifference(ourDistributions(wasm.model, wasm.kernels, ours.tokens), ourDistributions(file, tsKernels, ours.tokens));
    } finally {
      await wasm.kernels.close();
    }
    console.log(`q4_0 + q6_k output: max |Δ log p| vs llama.cpp ${parity.maxError.toExponential(2)}; wasm vs ts ${wasmError.toExponential(2)}`);
    expect(parity.compared).toBeGreaterThan(POSITIONS);
    expect(parity.maxError).toBeLessThan(APPROXIMATE_TOLERANCE);
    expect(wasmError).toBeLessThan(WASM_TOLERANCE);
  });
});

function mapMatrices(model: LlamaModel, f: (t: WeightTensor) => WeightTensor): LlamaModel {
  const w = model.weights;
  const tokenEmbedding = f(w.tokenEmbedding);
  return {
    config: model.config,
    weights: {
      tokenEmbedding,
      layers: w.layers.map((l) => ({ ...l, wq: f(l.wq), wk: f(l.wk), wv: f(l.wv), wo: f(l.wo), w1: f(l.w1), w2: f(l.w2), w3: f(l.w3) })),
      norm: w.norm,
      output: w.output === w.tokenEmbedding ? tokenEmbedding : f(w.output),
    },
  };
}

// Largest |a − b| over entries where either probability is above 1e-6.
function maxLogProbDifference(a: Float64Array[], b: Float64Array[]): number {
  let max = 0;
  a.forEach((row, i) => {
    for (let id = 0; id < row.length; id++) {
      if (Math.exp(row[id]) > 1e-6 || Math.exp(b[i][id]) > 1e-6) max = Math.max(max, Math.abs(row[id] - b[i][id]));
    }
  });
  return max;
}
