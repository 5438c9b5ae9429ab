// q8_0 decoding on the 8-bit dot product (assembly/q8decode.ts; the relaxed build's default,
// the plain build's emulation with LLAMA_TS_SIMD=plain). It computes the integer block totals
// of qmatmul.ts's i16 kernel and meets them with its f32 operations, so it must give that
// kernel's bits (which tests/wasm-kernels.test.ts holds to the reference), extreme scales,
// short groups of blocks and odd row counts included. Its sign trick cannot take a weight
// of −128: the raw exports show that, and that the backend scans for it and sends such a
// tensor to the i16 kernel.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WeightTensor } from '../reference/tensor.js';
import { kernelImports, type KernelExports } from '../src/backends/wasm/abi.js';
import { createWasmKernels, type WasmKernels } from '../src/backends/wasm/kernels.js';
import { I8_ACTIVATION_LAYOUT, ACTIVATION_LAYOUT, ACTIVATION_BLOCK_BYTES } from '../src/backends/wasm/matmul-routes.js';
import { compileKernels } from '../src/backends/wasm/module.js';
import { ensureWasmBuilt, randomArray, wasmPath } from './wasm-helpers.js';

const BLOCK = 34; // [f16 d][32 × int8]

// xorshift bytes from a seed
function byteSource(seed: number): () => number {
  let s = (seed | 0) || 0x9e3779b9;
  return () => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return s & 0xff;
  };
}

// N rows of `blocks` q8_0 blocks: any finite half as the scale (subnormals to 65504), weights
// in −127..127 (−128 where `minus128` says, one in every 97 weights), every 7th block zero
function randomQ8_0(N: number, blocks: number, seed: number, minus128 = false): WeightTensor {
  const next = byteSource(seed);
  const data = new Uint8Array(N * blocks * BLOCK);
  for (let b = 0; b < N * blocks; b++) {
    if (b % 7 === 6) continue;
    const h = ((next() & 1) << 15) | ((next() % 31) << 10) | (((next() << 8) | next()) & 0x3ff);
    data[b * BLOCK] = h & 0xff;
    data[b * BLOCK + 1] = h >> 8;
    for (let i = 2; i < BLOCK; i++) {
      const byte = next();
      data[b * BLOCK + i] = minus128 && (b * 32 + i) % 97 === 0 ? 0x80 : byte === 0x80 ? 0x81 : byte;
    }
  }
  return { dtype: 'q8_0', rows: N, cols: blocks * 32, data };
}

let i8: WasmKernels;
let i16: WasmKernels;
let i8Threads: WasmKernels;
beforeAll(async () => {
  ensureWasmBuilt();
  [i8, i16, i8Threads] = await Promise.all([
    createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, threads: 1, i8Dot: true }),
    createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, threads: 1, i8Dot: false }),
    createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, threads: 2, i8Dot: true, minParallelWork: 0 }),
  ]);
});
afterAll(async () => {
  await Promise.all([i8, i16, i8Threads].map((k) => k.close()));
});

function expectSameBits(w: WeightTensor, x: Float32Array, T: number, what: string): void {
  const want = new Float32Array(T * w.rows).fill(NaN);
  i16.matmul(want, x, w, T);
  for (const k of [i8, i8Threads]) {
    const got = new Float32Array(T * w.rows).fill(NaN);
    k.matmul(got, x, w, T);
    expect(Array.from(got), `${what} threads=${k.threads}`).toEqual(Array.from(want));
  }
}

describe('q8_0 decoding on the 8-bit dot product', () => {
  it('gives the bits of the i16 kernel: random blocks, 1-3 tokens, 1-11 blocks a row (short groups of four), 1-13 rows, 1 and 2 threads', () => {
    fc.assert(
      fc.property(fc.record({ T: fc.integer({ min: 1, max: 3 }), blocks: fc.integer({ min: 1, max: 11 }), N: fc.integer({ min: 1, max: 13 }), seed: fc.integer({ min: 1, max: 2 ** 30 }), scale: fc.constantFrom(1e-3, 1, 1e4) }), ({ T, blocks, N, seed, scale }) => {
        const w = randomQ8_0(N, blocks, seed);
        expectSameBits(w, randomArray(T * blocks * 32, seed + 1, scale), T, `T=${T} blocks=${blocks} N=${N} seed=${seed}`);
      }),
      { numRuns: 80 },
    );
    expect(i8Threads.parallelJobs()).toBeGreaterThan(0);
  });

  it('sends a tensor with a weight of −128 to the i16 kernel, with its bits', () => {
    for (const seed of [3, 4, 5]) {
      const w = randomQ8_0(9, 6, seed, true);
      expectSameBits(w, randomArray(2 * 6 * 32, seed), 2, `−128 weights, seed ${seed}`);
    }
  });
});

describe('the raw q8_0 exports', () => {
  // One token through quantizeActivations and both decode kernels, in a fresh memory
  async function rawOutputs(w: WeightTensor, x: Float32Array): Promise<{ i8: Float32Array; i16: Float32Array; hasMinus128: number; exports: KernelExports }> {
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
    const instance = await WebAssembly.instantiate(await compileKernels(wasmPath), kernelImports(memory));
    const k = instance.exports as unknown as KernelExports;
    const { rows: N, cols: K } = w;
    const base = Math.ceil(k.heapBase() / 64) * 64;
    const wPtr = base, xPtr = wPtr + Math.ceil(w.data.byteLength / 64) * 64;
    const xqPtr = xPtr + K * 4, outPtr = xqPtr + (K / 32) * ACTIVATION_BLOCK_BYTES;
    new Uint8Array(memory.buffer, wPtr, w.data.byteLength).set(w.data as Uint8Array);
    new Float32Array(memory.buffer, xPtr, K).set(x);
    const out = (kernel: 'matmulQ8_0I8' | 'matmulQ8_0Q8', layout: number): Float32Array => {
      k.quantizeActivations(xqPtr, xPtr, 1, K, layout);
      k[kernel](outPtr, xqPtr, wPtr, 1, K, N, 0, N);
      return new Float32Array(memory.buffer, outPtr, N).slice();
    };
    return { i8: out('matmulQ8_0I8', I8_ACTIVATION_LAYOUT.q8_0), i16: out('matmulQ8_0Q8', ACTIVATION_LAYOUT.q8_0), hasMinus128: k.q8_0HasMinus128(wPtr, (N * K) / 32), exports: k };
  }

  it('agree without −128; with it the 8-bit kernel is wrong, and q8_0HasMinus128 finds it', async () => {
    const x = randomArray(8 * 32, 11); // positive and negative activations
    const clean = await rawOutputs(randomQ8_0(5, 8, 21), x);
    expect(clean.hasMinus128).toBe(0);
    expect(Array.from(clean.i8)).toEqual(Array.from(clean.i16));
    const minus = await rawOutputs(randomQ8_0(5, 8, 21, true), x);
    expect(minus.hasMinus128).toBe(1);
    expect(Array.from(minus.i8)).not.toEqual(Array.from(minus.i16));
  });
});
