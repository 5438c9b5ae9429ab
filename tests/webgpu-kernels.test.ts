// Every WGSL kernel executed on the adapter (SwiftShader where there is no GPU) against the
// readable TypeScript kernel, on random shapes below, at and not a multiple of the workgroup
// size (64) and, for quantized weights, of the block (32). Tolerance: normalized mean squared
// error 1e-7 (llama.cpp's across backends); the GPU sums in another order than the reference.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { attention } from '../reference/attention.js';
import { matmul } from '../reference/matmul.js';
import { rmsnorm } from '../reference/rmsnorm.js';
import { rope, ropeFrequencies } from '../reference/rope.js';
import { swiglu } from '../reference/swiglu.js';
import { f32Tensor, toF32, type DType } from '../reference/tensor.js';
import { ropeTable, uploadWeight } from '../src/backends/webgpu/ops.js';
import { argmax } from '../src/generate/sampler.js';
import { quantize } from '../src/quant/quantize.js';
import { gpuOps, nmse, randomArray, runOnGpu } from './webgpu-helpers.js';

const TOL = 1e-7;
const RUNS = { numRuns: 12 };

describe('WebGPU kernels against the reference', () => {
  for (const dtype of ['f32', 'f16', 'q8_0', 'q4_0'] as DType[]) {
    test(`matmul over ${dtype} weights`, async () => {
      const ops = await gpuOps();
      const block = dtype === 'q8_0' || dtype === 'q4_0' ? 32 : 1;
      await fc.assert(fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 130 }), fc.integer({ min: 1, max: 3 }), fc.integer(),
        async (kBlocks, N, T, seed) => {
          const K = block === 1 ? kBlocks * 29 + (seed & 7) : kBlocks * block * (1 + (seed & 1)); // 29..: not multiples of 64
          const w = quantize(randomArray(N * K, seed), N, K, dtype);
          const x = randomArray(T * K, seed + 1);
          const want = new Float32Array(T * N);
          matmul(want, x, f32Tensor(toF32(w), N, K), T);
          // A small binding limit splits W into parts of a few rows, as a large model would be.
          const gw = uploadWeight(ops.gpu, 'w', w, (seed & 2) ? 3 * (w.data.byteLength / N) : undefined);
          const out = ops.gpu.storage('out', T * N * 4);
          const got = await runOnGpu(ops, out, T * N, (rec) => ops.matmul(rec, out, ops.gpu.upload('x', x), gw, T));
          expect(nmse(got, want)).toBeLessThan(TOL);
        }), RUNS);
    });
  }

  test('a tensor whose one row exceeds a binding is refused, naming the limit and --backend wasm', async () => {
    const ops = await gpuOps();
    const w = quantize(randomArray(2 * 64, 3), 2, 64, 'q8_0'); // rows of 68 bytes
    expect(() => uploadWeight(ops.gpu, 'layers.0.wq', w, 64)).toThrow(/layers\.0\.wq .*maxStorageBufferBindingSize.*--backend wasm/);
    const big = ops.gpu.limits.maxStorageBufferBindingSize + 4;
    expect(() => ops.gpu.storage('KV cache k of layer 0', big)).toThrow(/KV cache k of layer 0 needs a \d+-byte storage binding, over .*maxStorageBufferBindingSize.*--backend wasm/);
  });

  test('rmsnorm', async () => {
    const ops = await gpuOps();
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 3 }), fc.integer(), async (C, T, seed) => {
      const x = randomArray(T * C, seed, 3);
      const g = randomArray(C, seed + 1);
      const want = new Float32Array(T * C);
      rmsnorm(want, x, g, T, C, 1e-5);
      const out = ops.gpu.storage('out', T * C * 4);
      const got = await runOnGpu(ops, out, T * C, (rec) => ops.rmsnorm(rec, out, ops.gpu.upload('x', x), ops.gpu.upload('g', g), T, C, 1e-5));
      expect(nmse(got, want)).toBeLessThan(TOL);
    }), RUNS);
  });

  test('rope at positions far into the context', async () => {
    const ops = await gpuOps();
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 3000 }), fc.integer(),
      async (pairs, nHeads, T, pos0, seed) => {
        const hd = 2 * pairs;
        const x = randomArray(T * nHeads * hd, seed);
        const want = x.slice();
        const freqs = ropeFrequencies(hd, 10000, seed % 2 ? Array.from({ length: pairs }, (_, i) => 1 + (i % 3)) : undefined); // scaled half the time
        rope(want, T, nHeads, hd, pos0, freqs);
        const buf = ops.gpu.upload('x', x);
        const table = ops.gpu.upload('rope', ropeTable(pos0 + T, freqs));
        const got = await runOnGpu(ops, buf, x.length, (rec) => ops.rope(rec, ops.step(T, pos0), buf, table, T, nHeads, hd));
        expect(nmse(got, want)).toBeLessThan(TOL);
      }), RUNS);
  });

  test('causal attention with grouped key/value heads over the cache', async () => {
    const ops = await gpuOps();
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 90 }), fc.integer(),
      async (nKvHeads, group, pairs, T, pos0, seed) => {
        const nHeads = nKvHeads * group;
        const hd = 2 * pairs;
        const S = pos0 + T;
        const q = randomArray(T * nHeads * hd, seed);
        const k = randomArray(S * nKvHeads * hd, seed + 1);
        const v = randomArray(S * nKvHeads * hd, seed + 2);
        const want = new Float32Array(T * nHeads * hd);
        attention(want, q, k, v, T, pos0, nHeads, nKvHeads, hd);
        const out = ops.gpu.storage('out', want.length * 4);
        const scores = ops.gpu.storage('scores', T * nHeads * S * 4);
        const got = await runOnGpu(ops, out, want.length, (rec) => ops.attention(
          rec, ops.step(T, pos0), out, ops.gpu.upload('q', q), ops.gpu.upload('k', k), ops.gpu.upload('v', v), scores, T, nHeads, nKvHeads, hd, S));
        expect(nmse(got, want)).toBeLessThan(TOL);
      }), RUNS);
  });

  test('swiglu and the residual add', async () => {
    const ops = await gpuOps();
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 3 }), fc.integer(), async (H, T, seed) => {
      const gate = randomArray(T * H, seed, 4);
      const up = randomArray(T * H, seed + 1, 4);
      const want = new Float32Array(T * H);
      swiglu(want, gate, up, T * H);
      const g = ops.gpu.upload('gate', gate);
      const step = ops.step(T, 0);
      const got = await runOnGpu(ops, g, T * H, (rec) => ops.swiglu(rec, step, g, ops.gpu.upload('up', up), T, H));
      expect(nmse(got, want)).toBeLessThan(TOL);
      const h = ops.gpu.upload('h', gate);
      const sum = await runOnGpu(ops, h, T * H, (rec) => ops.add(rec, step, h, ops.gpu.upload('y', up), T, H));
      expect(Array.from(sum)).toEqual(Array.from(gate, (v, i) => Math.fround(v + up[i])));
    }), RUNS);
  });

  test('argmax picks the reference token, the first on ties', async () => {
    const ops = await gpuOps();
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 700 }), fc.integer(), fc.boolean(), async (n, seed, tie) => {
      const logits = randomArray(n, seed);
      if (tie && n > 2) logits[n - 1] = logits[argmax(logits)]; // a later equal maximum
      const result = ops.gpu.storage('argmax', 4);
      const rec = (await import('../src/backends/webgpu/gpu.js')).Recorder;
      const r = new rec(ops.gpu);
      ops.argmax(r, result, ops.gpu.upload('logits', logits), n);
      const got = new Uint32Array(await ops.gpu.submitAndRead(r.end(), result, 0, 4))[0];
      expect(got).toBe(argmax(logits));
    }), RUNS);
  });
});
