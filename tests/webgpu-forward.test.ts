// The whole forward pass on WebGPU (one command buffer a call, the KV cache on the GPU)
// against the readable TypeScript kernels: random models over F32, F16, Q8_0 and Q4_0
// weights, a prompt longer than one command buffer's batch, then single tokens; greedy
// argmax on the GPU; and stories260K's greedy story, which must be run.c's text.
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { createKVCache, forward } from '../reference/model.js';
import type { DType } from '../reference/tensor.js';
import { tsKernels } from '../reference/ts-kernels.js';
import { createWebGpuKernels, type WebGpuKernels } from '../src/backends/webgpu/kernels.js';
import { quantizeModel } from '../src/convert/storage.js';
import { argmax } from '../src/generate/sampler.js';
import { loadLlama } from '../src/llama.js';
import { ensureWasmBuilt } from './wasm-helpers.js';
import { nmse } from './webgpu-helpers.js';

const base: LlamaConfig = {
  dim: 64, nLayers: 2, nHeads: 8, nKvHeads: 2, hiddenDim: 160, vocabSize: 96,
  maxSeqLen: 32, normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
};
// Head dim 6, widths not multiples of 64 or of 4, a shared classifier.
const odd: LlamaConfig = { ...base, dim: 18, nHeads: 3, nKvHeads: 1, hiddenDim: 50, vocabSize: 37, sharedClassifier: true };
const CHUNKS = [[1, 5, 9, 33, 2, 17, 4], [8], [30], [3, 11]]; // with batch 3: the prompt in 3 command buffers

beforeAll(() => ensureWasmBuilt()); // the wasm backend, for the comparison of greedy texts
const open: WebGpuKernels[] = [];
afterAll(async () => {
  for (const k of open) await k.close();
});

describe('WebGPU forward against the TypeScript kernels', () => {
  const cases: [string, LlamaConfig, DType][] = [
    ['f32', base, 'f32'], ['f32, odd sizes, shared classifier', odd, 'f32'], ['f16', base, 'f16'], ['q8_0', base, 'q8_0'], ['q4_0', base, 'q4_0'],
  ];
  for (const [name, config, dtype] of cases) {
    test(`${name}: every position's logits within NMSE 1e-7, chunk by chunk`, async () => {
      const f32Model = randomModel(config, 42, { std: 0.08, gainJitter: 0.3 });
      const model = dtype === 'f32' ? f32Model : quantizeModel(f32Model, dtype);
      const kernels = await createWebGpuKernels(model, { batch: 3 });
      open.push(kernels);
      const refCache = createKVCache(config);
      const gpuCache = kernels.createKVCache(config);
      let pos = 0;
      for (const c of CHUNKS) {
        const tokens = c.map((t) => t % config.vocabSize);
        const want = forward(model, tsKernels, refCache, tokens, pos, { allLogits: true });
        const got = await kernels.forwardAsync(model, gpuCache, tokens, pos, { allLogits: true });
        expect(got.length).toBe(want.length);
        expect(nmse(got, want)).toBeLessThan(1e-7);
        pos += tokens.length;
      }
      // Last position only, and its argmax taken on the GPU, on a fresh cache.
      const tokens = CHUNKS[0].map((t) => t % config.vocabSize);
      const want = forward(model, tsKernels, createKVCache(config), tokens, 0);
      expect(nmse(await kernels.forwardAsync(model, kernels.createKVCache(config), tokens, 0), want)).toBeLessThan(1e-7);
      expect(await kernels.forwardArgmax(kernels.createKVCache(config), tokens, 0)).toBe(argmax(want));
    });
  }

  test('F16 weights: read as WGSL f16 where the adapter has shader-f16, else unpacked from u32; each path within NMSE 1e-7', async () => {
    const model = quantizeModel(randomModel(odd, 5, { std: 0.08, gainJitter: 0.3 }), 'f16');
    const tokens = CHUNKS[0].map((t) => t % odd.vocabSize);
    const want = forward(model, tsKernels, createKVCache(odd), tokens, 0, { allLogits: true });
    const logits = async (k: WebGpuKernels) => k.forwardAsync(model, k.createKVCache(odd), tokens, 0, { allLogits: true });
    const off = await createWebGpuKernels(model, { shaderF16: 'off' });
    open.push(off);
    expect(off.shaderF16).toBe(false);
    expect(nmse(await logits(off), want)).toBeLessThan(1e-7);
    const auto = await createWebGpuKernels(model);
    open.push(auto);
    let on: WebGpuKernels | Error;
    try {
      on = await createWebGpuKernels(model, { shaderF16: 'on' });
    } catch (e) {
      on = e as Error;
    }
    if (on instanceof Error) {
      // This adapter lacks the feature (SwiftShader, in Dawn and in Chromium): 'on' is a clear
      // error and 'auto' falls back to unpacking.
      expect(on.message).toMatch(/shader-f16 feature, which this adapter does not have/);
      expect(auto.shaderF16).toBe(false);
    } else {
      open.push(on);
      expect(on.shaderF16).toBe(true);
      expect(auto.shaderF16).toBe(true);
      expect(nmse(await logits(on), want)).toBeLessThan(1e-7);
    }
  });

  test('every traced tensor (golden/ names, data-flow order) matches the reference, prompt over 3 command buffers', async () => {
    const model = quantizeModel(randomModel(base, 7, { std: 0.08, gainJitter: 0.3 }), 'q4_0');
    const kernels = await createWebGpuKernels(model, { batch: 3 });
    open.push(kernels);
    const tokens = CHUNKS[0];
    const want: [string, Float32Array, number[]][] = [];
    const got: [string, Float32Array, number[]][] = [];
    forward(model, tsKernels, createKVCache(base), tokens, 0, { allLogits: true, trace: (n, d, sh) => want.push([n, d.slice(), sh]) });
    await kernels.forwardAsync(model, kernels.createKVCache(base), tokens, 0, { allLogits: true, trace: (n, d, sh) => got.push([n, d.slice(), sh]) });
    expect(got.map(([n, , sh]) => `${n} ${sh}`)).toEqual(want.map(([n, , sh]) => `${n} ${sh}`));
    for (let i = 0; i < want.length; i++) expect(nmse(got[i][1], want[i][1]), want[i][0]).toBeLessThan(1e-7);
  });

  test('bad calls are clear errors, and synchronous kernel calls refuse', async () => {
    const model = randomModel(odd, 1);
    const kernels = await createWebGpuKernels(model);
    open.push(kernels);
    const cache = kernels.createKVCache(odd, 4);
    await expect(kernels.forwardAsync(model, cache, [1, 2, 3, 4, 5], 0)).rejects.toThrow(/do not fit the context of 4/);
    await expect(kernels.forwardAsync(model, cache, [99], 0)).rejects.toThrow(/outside the vocabulary of 37/);
    expect(() => kernels.matmul(new Float32Array(1), new Float32Array(1), model.weights.output, 1)).toThrow(/--backend wasm/);
    expect(() => forward(model, kernels, createKVCache(odd), [1], 0)).toThrow(/asynchronously/);
  });
});

describe('WebGPU generation', () => {
  // ../shared/data/README.md: llama2.c's run.c, greedy, on stories260K with tok512.
  const STORY =
    'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily\n';
  const data = resolve(__dirname, '../../shared/data');

  test('stories260K, greedy, gives run.c\'s story', async () => {
    const llama = await loadLlama({
      model: `${data}/stories260K/stories260K.bin`, tokenizer: `${data}/stories260K/tok512.bin`, backend: 'webgpu',
    });
    let text = 'Once upon a time';
    for await (const piece of llama.generate('Once upon a time', { maxTokens: 60, temperature: 0 })) text += piece;
    await llama.close();
    expect(text + '\n').toBe(STORY);
  }, 300_000); // SwiftShader runs the GPU on this machine's CPU: about 2 s a token

  test('the default model gives the same greedy text on webgpu, wasm and ts', async () => {
    const texts: string[] = [];
    for (const backend of ['webgpu', 'wasm', 'ts'] as const) {
      const llama = await loadLlama({ backend, threads: 1 });
      let text = '';
      for await (const piece of llama.generate('In the beginning', { maxTokens: 12, temperature: 0 })) text += piece;
      await llama.close();
      texts.push(text);
    }
    expect(texts[0].length).toBeGreaterThan(12);
    expect(texts[1]).toBe(texts[0]);
    expect(texts[2]).toBe(texts[0]);
  }, 300_000);
});
