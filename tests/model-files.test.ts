// Real model files through the whole forward pass.
import { resolve } from 'node:path';
import { expect, test } from 'vitest';
import { createKVCache, forward } from '../reference/model.js';
import { tsKernels } from '../reference/ts-kernels.js';
import { createWasmKernels } from '../src/backends/wasm/kernels.js';
import { loadModel } from '../src/formats/load-file.js';

const data = resolve(__dirname, '../../shared/data');

test('llama-2-tiny-random.gguf (F16 matrices) loads and gives finite logits on both backends', async () => {
  const { model } = loadModel(`${data}/tiny-random/llama-2-tiny-random.gguf`);
  expect(model.weights.layers[0].wq.dtype).toBe('f16');
  expect(model.config.vocabSize).toBe(32000);
  const tokens = [1, 15043, 3186, 29871, 13];
  const V = model.config.vocabSize;
  const ts = forward(model, tsKernels, createKVCache(model.config, 8), tokens, 0, { allLogits: true });
  const wasmKernels = await createWasmKernels();
  const wasm = forward(model, wasmKernels, createKVCache(model.config, 8, wasmKernels), tokens, 0, { allLogits: true });
  expect(ts.length).toBe(tokens.length * V);
  expect(ts.every(Number.isFinite)).toBe(true);
  let spread = 0;
  let maxDiff = 0;
  for (let i = 0; i < ts.length; i++) {
    spread = Math.max(spread, Math.abs(ts[i]));
    maxDiff = Math.max(maxDiff, Math.abs(ts[i] - wasm[i]));
  }
  expect(spread).toBeGreaterThan(0); // not all zero
  expect(maxDiff).toBeLessThan(1e-5 * (1 + spread));
});
