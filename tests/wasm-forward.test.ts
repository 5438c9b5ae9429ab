// The whole forward pass (reference/model.ts) on the WASM kernels against the same pass
// on the TypeScript kernels: random models in f32 (including dimensions that are not
// multiples of 4), in q8_0 / q4_0, with the KV cache in ordinary arrays or in WASM memory,
// and greedy decoding that must pick the very same tokens.
import { beforeAll, describe, expect, it } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import type { Kernels } from '../reference/kernels.js';
import { createKVCache, forward, type KVCache } from '../reference/model.js';
import { tsKernels } from '../reference/ts-kernels.js';
import type { LlamaModel } from '../reference/weights.js';
import { createWasmKernels, type WasmKernels } from '../src/backends/wasm/kernels.js';
import { quantizeModel } from '../src/convert/storage.js';
import { ensureWasmBuilt, wasmPath } from './wasm-helpers.js';

let wasm: WasmKernels; // activations: 'f32': the reference's arithmetic for every dtype
let wasmQ8: WasmKernels; // the default: q8_0 / q4_0 matmuls quantize their activations
beforeAll(async () => {
  ensureWasmBuilt();
  wasm = await createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, activations: 'f32' });
  wasmQ8 = await createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath });
});

const base: LlamaConfig = {
  dim: 64, nLayers: 2, nHeads: 8, nKvHeads: 2, hiddenDim: 160, vocabSize: 96,
  maxSeqLen: 32, normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
};
// Head dim 6, widths not multiples of 4: every scalar tail of every kernel runs.
const odd: LlamaConfig = { ...base, dim: 18, nHeads: 3, nKvHeads: 1, hiddenDim: 50, vocabSize: 37, sharedClassifier: true };

// A KV cache whose arrays live in WASM memory, so attention reads it without copying.
function wasmCache(config: LlamaConfig, kernels: WasmKernels = wasm): KVCache {
  const size = config.maxSeqLen * (config.dim / config.nHeads) * config.nKvHeads;
  const k: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    k.push(kernels.allocate(size)); // [S, kvDim]
    v.push(kernels.allocate(size)); // [S, kvDim]
  }
  return { capacity: config.maxSeqLen, k, v };
}

// Logits of a prompt (all positions) and then of single tokens, chunk by chunk.
function run(model: LlamaModel, kernels: Kernels, cache: KVCache, chunks: number[][]): Float32Array[] {
  const logits: Float32Array[] = [];
  let pos = 0;
  for (const tokens of chunks) {
    logits.push(forward(model, kernels, cache, tokens, pos, { allLogits: true }));
    pos += tokens.length;
  }
  return logits;
}

// The forward pass repeats ~10 f32 dot products and norms per layer; each is within a
// few 1e-7 relative of the f64 reference (tests/wasm-kernels.test.ts bounds them), and a
// 2-layer random model does not amplify that much: measured errors are about 2e-7 of the
// largest logit. 2e-6 keeps a 10× margin while a wrong kernel is off by far more.
function expectLogitsClose(got: Float32Array, want: Float32Array, relative = 2e-6): void {
  let scale = 0;
  for (const x of want) scale = Math.max(scale, Math.abs(x));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  expect(worst).toBeLessThanOrEqual(relative * scale);
}

const CHUNKS = [[1, 5, 9, 33, 2, 17, 4], [8], [30], [3, 11]]; // T = 7 (a tile of 4 + 3), then 1, 1, 2

describe('wasm forward, f32 activations', () => {
  const cases: [string, LlamaConfig, 'f32' | 'q8_0' | 'q4_0'][] = [
    ['f32', base, 'f32'],
    ['f32, odd sizes, shared classifier', odd, 'f32'],
    ['q8_0', base, 'q8_0'],
    ['q4_0', base, 'q4_0'],
  ];
  for (const [name, config, dtype] of cases) {
    it(`${name}: logits match the TypeScript kernels, with either KV cache`, () => {
      const f32Model = randomModel(config, 42, { std: 0.08, gainJitter: 0.3 });
      const model = dtype === 'f32' ? f32Model : quantizeModel(f32Model, dtype);
      const chunks = CHUNKS.map((c) => c.map((t) => t % config.vocabSize));
      const want = run(model, tsKernels, createKVCache(config), chunks);
      const plainCache = run(model, wasm, createKVCache(config), chunks);
      const inWasmCache = run(model, wasm, wasmCache(config), chunks);
      for (let i = 0; i < chunks.length; i++) {
        expect(plainCache[i].length).toBe(chunks[i].length * config.vocabSize);
        expectLogitsClose(plainCache[i], want[i]);
        expectLogitsClose(inWasmCache[i], want[i]);
      }
    });
  }
});

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

// Greedy decoding: the prompt in one call, then one token per call.
function greedy(model: LlamaModel, kernels: Kernels, cache: KVCache, prompt: number[], steps: number): number[] {
  const tokens = [...prompt];
  let logits = forward(model, kernels, cache, prompt, 0);
  for (let i = 0; i < steps; i++) {
    const next = argmax(logits);
    tokens.push(next);
    logits = forward(model, kernels, cache, [next], tokens.length - 1);
  }
  return tokens;
}

describe('wasm greedy decoding, f32 activations', () => {
  for (const dtype of ['f32', 'q8_0', 'q4_0'] as const) {
    it(`${dtype}: 20 steps pick the same tokens as the TypeScript kernels`, () => {
      const f32Model = randomModel(base, 7, { std: 0.15 });
      const model = dtype === 'f32' ? f32Model : quantizeModel(f32Model, dtype);
      const prompt = [1, 40, 2, 77, 5];
      const want = greedy(model, tsKernels, createKVCache(base), prompt, 20);
      const got = greedy(model, wasm, wasmCache(base), prompt, 20);
      expect(got).toEqual(want);
      expect(new Set(want.slice(prompt.length)).size).toBeGreaterThan(1); // not one token repeated
    });
  }
});

// With quantized activations (the default for q8_0 / q4_0 weights) every matmul input is
// rounded to 8-bit blocks, as llama.cpp does: the same rounding q8_0 applies to weights.
// Its effect on this model's logits measures the same as that of q8_0 weight quantization
// (f32 vs q8_0 weights, both on the TypeScript kernels): 1.0-1.4% of the largest logit
// (0.9-1.3% for the weights; q4_0 weights cost 17-23%). The kernel itself is bounded
// exactly in tests/wasm-kernels.test.ts; here 3% checks the whole pass end to end, while a
// wrong kernel is off by the size of the logits. Token-for-token agreement is not claimed
// on random models, whose top logits lie close; tests/quantize-file.test.ts checks greedy
// text of a real model on this default path.
describe('wasm forward, quantized activations (the default)', () => {
  for (const dtype of ['q8_0', 'q4_0'] as const) {
    it(`${dtype}: logits within 3% of the largest of the TypeScript kernels'`, () => {
      const model = quantizeModel(randomModel(base, 42, { std: 0.08, gainJitter: 0.3 }), dtype);
      const want = run(model, tsKernels, createKVCache(base), CHUNKS);
      const got = run(model, wasmQ8, wasmCache(base, wasmQ8), CHUNKS);
      for (let i = 0; i < CHUNKS.length; i++) {
        expect(got[i].length).toBe(CHUNKS[i].length * base.vocabSize);
        expectLogitsClose(got[i], want[i], 3e-2);
      }
    });
  }
});

describe('wasm memory limits', () => {
  it('uploads a whole model up front, and refuses one that does not fit, naming the sizes', async () => {
    const small = await createWasmKernels({ maxMemoryBytes: 2 << 20, wasmPath }); // 2 MiB
    const fits = randomModel(base, 1);
    small.uploadModel(fits);
    const uploaded = small.memoryUsage().weights;
    expect(uploaded).toBeGreaterThanOrEqual(4 * (2 * 96 * 64 + 2 * (64 * 64 + 2 * 16 * 64 + 64 * 64 + 3 * 160 * 64)));
    const big = randomModel({ ...base, dim: 256, hiddenDim: 768, nLayers: 2 }, 2); // ~7.3 MiB in f32
    expect(() => small.uploadModel(big)).toThrow(/weights of this model \(16 tensors\) needs [\d.]+ MiB .* over its maximum of 2\.0 MiB/);
    expect(small.memoryUsage().weights).toBe(uploaded); // nothing of it was placed
    expect(() => small.allocate(1 << 20)).toThrow(/allocate\(1048576\) needs 4\.0 MiB/);
  });
});
