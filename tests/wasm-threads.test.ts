// Worker threads for the WASM kernels: the matmul split by weight rows and attention split
// by heads must give the very same bits as one thread, for any shape (including sizes that
// are not multiples of the thread count, and fewer rows than threads), and a whole forward
// pass must too. minParallelWork 0 forces every call through the workers.
import fc from 'fast-check';
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { forward } from '../reference/model.js';
import type { DType } from '../reference/tensor.js';
import { createWasmKernels, defaultThreads, type WasmKernels } from '../src/backends/wasm/kernels.js';
import { sliceRange } from '../src/backends/wasm/worker-ops.js';
import { quantizeModel } from '../src/convert/storage.js';
import { quantize } from '../src/quant/quantize.js';
import { ensureWasmBuilt, randomArray, wasmPath } from './wasm-helpers.js';

let one: WasmKernels;
let two: WasmKernels;
let three: WasmKernels;
beforeAll(async () => {
  ensureWasmBuilt();
  const options = { maxMemoryBytes: 1 << 28, wasmPath, minParallelWork: 0 };
  [one, two, three] = await Promise.all([1, 2, 3].map((threads) => createWasmKernels({ ...options, threads })));
});
afterAll(async () => {
  await Promise.all([one, two, three].map((k) => k?.close()));
});

// Bit-for-bit equality (NaN-safe, and -0 ≠ +0), naming the first difference.
function expectSameBits(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length).toBe(want.length);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new Error(`${what}: element ${i} is ${got[i]} with threads, ${want[i]} with one thread`);
  }
}

describe('slice ranges', () => {
  it('cover 0..total exactly once, in order, sizes differing by at most one', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 16 }), (total, n) => {
      let next = 0;
      const sizes: number[] = [];
      for (let i = 0; i < n; i++) {
        const [lo, hi] = sliceRange(total, i, n);
        expect(lo).toBe(next);
        sizes.push(hi - lo);
        next = hi;
      }
      expect(next).toBe(total);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }));
  });
});

describe('threaded matmul', () => {
  const dtypes: DType[] = ['f32', 'f16', 'q8_0', 'q4_0'];
  it('equals one thread bit for bit at 2 and 3 threads, any dtype and shape', () => {
    const jobsBefore = [two.parallelJobs(), three.parallelJobs()];
    fc.assert(
      fc.property(
        fc.constantFrom(...dtypes), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 37 }), fc.integer({ min: 0, max: 2 ** 30 }),
        (dtype, T, kUnits, N, seed) => {
          const K = dtype === 'q8_0' || dtype === 'q4_0' ? 32 * kUnits : 13 * kUnits + 4; // odd widths for dense
          const w = quantize(randomArray(N * K, seed + 1, 0.5), N, K, dtype);
          const x = randomArray(T * K, seed);
          const want = new Float32Array(T * N);
          one.matmul(want, x, w, T);
          for (const kernels of [two, three]) {
            const got = new Float32Array(T * N).fill(NaN);
            kernels.matmul(got, x, w, T);
            expectSameBits(got, want, `${dtype} T=${T} K=${K} N=${N} at ${kernels.threads} threads`);
          }
        },
      ),
      { numRuns: 60 },
    );
    // The workers did take part (every call with N ≥ 2 is split when minParallelWork is 0).
    expect(two.parallelJobs()).toBeGreaterThan(jobsBefore[0] + 30);
    expect(three.parallelJobs()).toBeGreaterThan(jobsBefore[1] + 30);
  });
});

describe('threaded attention', () => {
  it('equals one thread bit for bit, heads split across threads', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 2 ** 30 }),
        (nKvHeads, group, halfHd, pos0, T, seed) => {
          const nHeads = nKvHeads * group;
          const hd = 2 * halfHd;
          const S = pos0 + T;
          const q = randomArray(T * nHeads * hd, seed);
          const k = randomArray(S * nKvHeads * hd, seed + 1);
          const v = randomArray(S * nKvHeads * hd, seed + 2);
          const want = new Float32Array(T * nHeads * hd);
          one.attention(want, q, k, v, T, pos0, nHeads, nKvHeads, hd);
          for (const kernels of [two, three]) {
            const got = new Float32Array(want.length).fill(NaN);
            kernels.attention(got, q, k, v, T, pos0, nHeads, nKvHeads, hd);
            expectSameBits(got, want, `attention T=${T} pos0=${pos0} heads ${nHeads}/${nKvHeads} hd=${hd} at ${kernels.threads} threads`);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('threaded prompt attention (matrix products, from position 0)', () => {
  it('equals one thread bit for bit, kv heads split across threads', () => {
    for (const [T, nKvHeads, group, hd] of [[8, 1, 3, 6], [19, 2, 2, 10], [33, 3, 1, 16], [64, 4, 2, 8]]) {
      const nHeads = nKvHeads * group;
      const q = randomArray(T * nHeads * hd, T);
      const k = randomArray(T * nKvHeads * hd, T + 1);
      const v = randomArray(T * nKvHeads * hd, T + 2);
      const want = new Float32Array(T * nHeads * hd);
      one.attention(want, q, k, v, T, 0, nHeads, nKvHeads, hd);
      for (const kernels of [two, three]) {
        const got = new Float32Array(want.length).fill(NaN);
        kernels.attention(got, q, k, v, T, 0, nHeads, nKvHeads, hd);
        expectSameBits(got, want, `prompt attention T=${T} heads ${nHeads}/${nKvHeads} hd=${hd} at ${kernels.threads} threads`);
      }
    }
  });
});

describe('threaded forward pass', () => {
  const config: LlamaConfig = {
    dim: 48, nLayers: 2, nHeads: 6, nKvHeads: 2, hiddenDim: 100, vocabSize: 67,
    maxSeqLen: 16, normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
  };
  for (const dtype of ['f32', 'q4_0'] as const) {
    it(`${dtype}: logits of a prompt and of decoding steps equal one thread's, KV cache in WASM memory`, () => {
      const f32 = randomModel(dtype === 'f32' ? config : { ...config, dim: 64, nHeads: 4, hiddenDim: 96 }, 11, { std: 0.1 });
      const model = dtype === 'f32' ? f32 : quantizeModel(f32, dtype);
      const run = (kernels: WasmKernels): Float32Array[] => {
        const cache = kernels.createKVCache(model.config, 16);
        const out = [forward(model, kernels, cache, [3, 1, 4, 1, 5, 9], 0, { allLogits: true })];
        for (let pos = 6; pos < 9; pos++) out.push(forward(model, kernels, cache, [pos * 7 % 67], pos));
        return out;
      };
      const want = run(one);
      for (const kernels of [two, three]) {
        const got = run(kernels);
        got.forEach((logits, i) => expectSameBits(logits, want[i], `${dtype} step ${i} at ${kernels.threads} threads`));
      }
    });
  }
});

describe('closing', () => {
  it('close() stops the workers; a closed pool refuses work with a clear error', async () => {
    const kernels = await createWasmKernels({ maxMemoryBytes: 1 << 24, wasmPath, threads: 2, minParallelWork: 0 });
    expect(kernels.threads).toBe(2);
    const w = quantize(randomArray(8 * 32, 1), 8, 32, 'f32');
    const out = new Float32Array(8);
    kernels.matmul(out, randomArray(32, 2), w, 1);
    expect(kernels.parallelJobs()).toBe(1);
    await kernels.close();
    expect(() => kernels.matmul(out, randomArray(32, 2), w, 1)).toThrow(/used after close\(\)/);
  });

  // Node 20 before 20.16 has no process.getBuiltinModule: the default must not depend on it
  it('by default runs as many threads as the machine has processors', async () => {
    expect(await defaultThreads()).toBe(availableParallelism());
    const kernels = await createWasmKernels({ maxMemoryBytes: 1 << 24, wasmPath });
    expect(kernels.threads).toBe(availableParallelism());
    await kernels.close();
  });

  it('rejects a bad thread count', async () => {
    await expect(createWasmKernels({ wasmPath, threads: 0 })).rejects.toThrow(/threads must be an integer in 1\.\.256, got 0/);
  });
});
