// The WASM kernels of the K-quants and the other block types (assembly/kblocks.ts: rows
// decoded into f32 scratch; kdot.ts, kdot256.ts, q6decode.ts, k16dot.ts, legacydot.ts: every
// type in integers against quantized activations when decoding) against the readable
// TypeScript decoders (reference/quants-k.ts, quants-legacy.ts via readRow) and the reference
// matmul.
//
// Weights are random bytes (every bit pattern of quants and packed 6-bit scales, sub-blocks
// 4-7 included) with random finite halves for d / dmin from 2^-24 to 65504, some blocks all
// zero, over rows of one to three blocks or super-blocks, and quantize()'s output of normal
// data. Tolerances are worst-case rounding bounds (as tests/wasm-kernels.test.ts):
//   f32 activations (prompts, T ≥ 4, and activations: 'f32'): the decode equals readRow
//     bit for bit, so only summation differs: (K + 2)·ε·Σ|x·W| + ε·|ref|
//   quantized activations (T < 4; and prompts of Q2_K..Q6_K in the relaxed build, kgemm.ts):
//     against the reference on the same rounded activations x̂ = d_x·q (replicated here, by 32
//     or by 256), f32 rounding of the ~K/32 block terms and their scales:
//     (K/32 + 16)·ε·Σ|x̂|·(|W| + 2|offset|), the offset term for the types whose mins or
//     offsets are applied apart (Q4_K, Q5_K, Q2_K, Q4_1, Q5_0, Q5_1; in kgemm.ts all five
//     K-quants, Q6_K's 32 and Q3_K's 4 too).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { f16ToF32 } from '../reference/half.js';
import { randomModel } from '../reference/init.js';
import type { Kernels } from '../reference/kernels.js';
import { createKVCache, forward } from '../reference/model.js';
import { scaleMinK4, scaleQ3_K } from '../reference/quants-k.js';
import { BLOCK_BYTES, BLOCK_VALUES, toF32, type DType, type WeightTensor } from '../reference/tensor.js';
import { tsKernels } from '../reference/ts-kernels.js';
import type { LlamaModel } from '../reference/weights.js';
import { createModelKernels, createWasmKernels, type WasmKernels } from '../src/backends/wasm/kernels.js';
import { K_PROMPT_TYPES } from '../src/backends/wasm/matmul-routes.js';
import { quantizeModel } from '../src/convert/storage.js';
import { quantize } from '../src/quant/quantize.js';
import { EPS32, ensureWasmBuilt, expectClose, randomArray, wasmPath } from './wasm-helpers.js';

const TYPES = ['q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k'] as const;
type BlockType = (typeof TYPES)[number];
// integer kernels when decoding: kdot.ts, kdot256.ts, q6decode.ts, k16dot.ts (super-blocks of 256) and
// legacydot.ts (blocks of 32)
const INTEGER_TYPES = ['q4_k', 'q5_k', 'q6_k', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k'] as const;
// those with two kernels of the same bits, i16 products and the 8-bit dot product (k16dot.ts
// has only the latter; iq4_nl, with signed levels, only the former; q4_k / q5_k's 8-bit kernel,
// kdot256.ts, rounds the activations by 256 and is checked on its own below)
const TWO_KERNEL_TYPES = INTEGER_TYPES.filter((t) => !['q2_k', 'q3_k', 'iq4_nl', 'q4_k', 'q5_k'].includes(t));

// Byte offsets of the f16 scales in a block of each type (reference/quants-*.ts)
const HALVES: Record<BlockType, number[]> = {
  q4_1: [0, 2], q5_0: [0], q5_1: [0, 2], iq4_nl: [0], q2_k: [80, 82], q3_k: [108], q4_k: [0, 2], q5_k: [0, 2], q6_k: [208],
};

let wasm: WasmKernels; // quantized activations when decoding (the default)
let wasmF32: WasmKernels; // activations: 'f32'
beforeAll(async () => {
  ensureWasmBuilt();
  wasm = await createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, threads: 1 });
  wasmF32 = await createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, threads: 1, activations: 'f32' });
});
afterAll(async () => {
  await wasm?.close();
  await wasmF32?.close();
});

// A small seeded generator of bytes (xorshift32)
function byteSource(seed: number): () => number {
  let s = (seed | 0) || 0x9e3779b9;
  return () => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return s & 0xff;
  };
}

// A finite half, exponent drawn uniformly (subnormals to 65504), random sign and mantissa
function finiteHalf(next: () => number): number {
  const exponent = next() % 31;
  return ((next() & 1) << 15) | (exponent << 10) | (((next() << 8) | next()) & 0x3ff);
}

// N rows of `blocks` random blocks: random bytes, finite random halves as scales; every
// `zeroEvery`-th block all zero
function randomBlocks(dtype: BlockType, N: number, blocks: number, seed: number, zeroEvery = 7): WeightTensor {
  const next = byteSource(seed);
  const size = BLOCK_BYTES[dtype];
  const data = new Uint8Array(N * blocks * size);
  for (let b = 0; b < N * blocks; b++) {
    if (b % zeroEvery === zeroEvery - 1) continue;
    for (let i = 0; i < size; i++) data[b * size + i] = next();
    for (const o of HALVES[dtype]) {
      const h = finiteHalf(next);
      data[b * size + o] = h & 0xff;
      data[b * size + o + 1] = h >> 8;
    }
  }
  return { dtype, rows: N, cols: blocks * BLOCK_VALUES[dtype], data };
}

// Whether a prompt of T tokens on `dtype` runs kgemm.ts in these kernels (the relaxed build's
// default: i8Dot) rather than the f32 route
function kPrompt(kernels: WasmKernels, dtype: string, T: number, i8Dot = kernels.simd === 'relaxed'): boolean {
  return i8Dot && T >= 4 && K_PROMPT_TYPES.includes(dtype);
}

// Σ_k |x[t, k]·W[n, k]| for the f32 bound
function absDot(x: Float32Array, W: Float32Array, K: number, t: number, n: number): number {
  let s = 0;
  for (let k = 0; k < K; k++) s += Math.abs(x[t * K + k] * W[n * K + k]);
  return s;
}

function checkF32(kernels: WasmKernels, w: WeightTensor, x: Float32Array, T: number, what: string): void {
  const { rows: N, cols: K } = w;
  const want = new Float32Array(T * N);
  tsKernels.matmul(want, x, w, T);
  const got = new Float32Array(T * N).fill(NaN);
  kernels.matmul(got, x, w, T);
  const W = toF32(w);
  expectClose(got, want, (i) => (K + 2) * EPS32 * absDot(x, W, K, Math.floor(i / N), i % N) + EPS32 * Math.abs(want[i]), what);
}

describe('wasm matmul of the block types, f32 activations: equals the reference decode', () => {
  const arb = fc.record({
    T: fc.integer({ min: 1, max: 9 }),
    blocks: fc.integer({ min: 1, max: 3 }),
    N: fc.integer({ min: 1, max: 9 }),
    seed: fc.integer({ min: 1, max: 2 ** 30 }),
    random: fc.boolean(), // random bytes, or quantize() of normal data
  });
  for (const dtype of TYPES) {
    it(`${dtype}: random blocks and quantized rows, T = 1..9`, () => {
      fc.assert(
        fc.property(arb, ({ T, blocks, N, seed, random }) => {
          const K = blocks * BLOCK_VALUES[dtype];
          const w = random ? randomBlocks(dtype, N, blocks, seed) : quantize(randomArray(N * K, seed, 0.5), N, K, dtype);
          const x = randomArray(T * K, seed + 1);
          // prompts (T ≥ 4) take this path in the default kernels too, but the K-quants' in the
          // relaxed build (kgemm.ts, checked below)
          checkF32(T >= 4 && !kPrompt(wasm, dtype, T) ? wasm : wasmF32, w, x, T, `${dtype} T=${T} K=${K} N=${N} seed=${seed} random=${random}`);
        }),
        { numRuns: 40 },
      );
    });
  }

  // More rows than one scratch block holds (blockScratchBytes: 64 KB of floats, 64 rows of 256)
  it('q4_k, q5_k and q6_k: 150 rows of 512, several row blocks, T = 5', () => {
    for (const dtype of ['q4_k', 'q5_k', 'q6_k'] as const) checkF32(wasmF32, randomBlocks(dtype, 150, 2, 11), randomArray(5 * 512, 12), 5, `${dtype} 150 rows`);
  });
});

// --- quantized activations (decoding, T < 4) ---------------------------------------------------

// x̂ = d_x·q per block of `size` values (32; 256 for q4_k / q5_k on the 8-bit dot product and
// the K-quants' prompts), as assembly/activations.ts rounds it: by 32, d_x = max|x|/127 in f32
// and q = round-half-even(x · (1/d_x)); by 256 as llama.cpp's Q8_K, q = round-half-even(x ·
// (127/max|x|)) and d_x = 1/(127/max|x|); each product rounded to f32
function roundActivations(x: Float32Array, size = 32): Float64Array {
  const out = new Float64Array(x.length);
  for (let b = 0; b < x.length / size; b++) {
    let amax = 0;
    for (let j = 0; j < size; j++) amax = Math.max(amax, Math.abs(x[size * b + j]));
    const iscale = size === 256 && amax > 0 ? Math.fround(127 / amax) : 0;
    const d = size === 256 ? (amax > 0 ? Math.fround(1 / iscale) : 0) : Math.fround(amax / 127);
    const inv = size === 256 ? iscale : d > 0 ? Math.fround(1 / d) : 0;
    for (let j = 0; j < size; j++) {
      const v = Math.fround(x[size * b + j] * inv);
      let q = Math.round(v);
      if (q - v === 0.5 && q % 2 !== 0) q -= 1; // ties to even (Math.round takes them up)
      out[size * b + j] = d * q;
    }
  }
  return out;
}

// The activation block size of a decoding matmul of `dtype` in these kernels: q4_k / q5_k on the
// 8-bit dot product (i8Dot, the relaxed build's default) round by super-blocks of 256
// (assembly/kdot256.ts), everything else by 32
function roundingBlock(kernels: WasmKernels, dtype: string, i8Dot = kernels.simd === 'relaxed'): number {
  return i8Dot && (dtype === 'q4_k' || dtype === 'q5_k') ? 256 : 32;
}

// |dmin·m| of the Q4_K / Q5_K / Q2_K sub-block of each value of row n, [K]; for the blocks of
// 32, the offset that the kernel applies apart from Σq·q_x: |m| (Q4_1, Q5_1), |16·d| (Q5_0); 0
// for Q6_K and Q3_K, whose offsets are taken off in integers (but with allOffsets, as kgemm.ts
// applies them apart: |32·d·sc|, |4·d·(sc − 32)|), and IQ4_NL, which has none
function kMins(w: WeightTensor, n: number, allOffsets = false): Float64Array {
  const bytes = w.data as Uint8Array;
  const K = w.cols;
  const out = new Float64Array(K);
  if (allOffsets && (w.dtype === 'q6_k' || w.dtype === 'q3_k')) {
    const bias = w.dtype === 'q6_k' ? 32 : 4;
    for (let s = 0; s < K / 256; s++) {
      const o = (n * K / 256 + s) * BLOCK_BYTES[w.dtype];
      const at = o + (w.dtype === 'q6_k' ? 208 : 108); // the f16 d
      const d = Math.abs(f16ToF32(bytes[at] | (bytes[at + 1] << 8)));
      for (let v = 0; v < 256; v++) out[s * 256 + v] = bias * d * groupScale(bytes, o, w.dtype, v >> 4);
    }
    return out;
  }
  if (w.dtype === 'q6_k' || w.dtype === 'q3_k' || w.dtype === 'iq4_nl') return out;
  if (w.dtype === 'q2_k') {
    for (let s = 0; s < K / 256; s++) {
      const o = (n * K / 256 + s) * BLOCK_BYTES.q2_k;
      const dmin = Math.abs(f16ToF32(bytes[o + 82] | (bytes[o + 83] << 8)));
      for (let v = 0; v < 256; v++) out[s * 256 + v] = dmin * (bytes[o + (v >> 4)] >> 4);
    }
    return out;
  }
  if (BLOCK_VALUES[w.dtype] === 32) {
    for (let b = 0; b < K / 32; b++) {
      const o = (n * K / 32 + b) * BLOCK_BYTES[w.dtype];
      const half = w.dtype === 'q5_0' ? 16 * f16ToF32(bytes[o] | (bytes[o + 1] << 8)) : f16ToF32(bytes[o + 2] | (bytes[o + 3] << 8));
      out.fill(Math.abs(half), 32 * b, 32 * b + 32);
    }
    return out;
  }
  for (let s = 0; s < K / 256; s++) {
    const o = (n * K / 256 + s) * BLOCK_BYTES[w.dtype];
    const dmin = Math.abs(f16ToF32(bytes[o + 2] | (bytes[o + 3] << 8)));
    for (let v = 0; v < 256; v++) out[s * 256 + v] = dmin * scaleMinK4(bytes, o + 4, v >> 5).m;
  }
  return out;
}

// |sc| of group j (sixteen values) of the Q6_K / Q3_K super-block at o
function groupScale(bytes: Uint8Array, o: number, dtype: string, j: number): number {
  return dtype === 'q6_k' ? Math.abs((bytes[o + 192 + j] << 24) >> 24) : Math.abs(scaleQ3_K(bytes, o + 96, j) - 32);
}

function checkQuantized(w: WeightTensor, x: Float32Array, T: number, what: string, kernels: WasmKernels = wasm, block = roundingBlock(kernels, w.dtype), allOffsets = false): void {
  const { rows: N, cols: K } = w;
  const xr = roundActivations(x, block);
  const W = toF32(w);
  const got = new Float32Array(T * N).fill(NaN);
  kernels.matmul(got, x, w, T);
  const want = new Float32Array(T * N);
  const tol = new Float64Array(T * N);
  for (let n = 0; n < N; n++) {
    const mins = kMins(w, n, allOffsets);
    for (let t = 0; t < T; t++) {
      let sum = 0;
      let abs = 0;
      for (let k = 0; k < K; k++) {
        sum += W[n * K + k] * xr[t * K + k];
        abs += Math.abs(xr[t * K + k]) * (Math.abs(W[n * K + k]) + 2 * mins[k]);
      }
      want[t * N + n] = sum;
      tol[t * N + n] = (K / 32 + 16) * EPS32 * abs;
    }
  }
  expectClose(got, want, (i) => tol[i], what);
}

// Rows of a few (super-)blocks; for blocks of 32, up to 9 of them, so that the groups of four
// blocks of legacydot.ts meet every tail length
function decodeK(dtype: (typeof INTEGER_TYPES)[number], blocks: number): number {
  return BLOCK_VALUES[dtype] === 256 ? 256 * blocks : 32 * (3 * blocks - (blocks % 3));
}

describe('wasm matmul of the K-quants, q4_1, q5_0 and q5_1 when decoding: integer products of quantized activations', () => {
  const arb = fc.record({
    T: fc.integer({ min: 1, max: 3 }),
    blocks: fc.integer({ min: 1, max: 3 }),
    N: fc.integer({ min: 1, max: 9 }),
    seed: fc.integer({ min: 1, max: 2 ** 30 }),
    random: fc.boolean(),
  });
  for (const dtype of INTEGER_TYPES) {
    it(`${dtype}: within f32 rounding of the reference on the same rounded activations`, () => {
      fc.assert(
        fc.property(arb, ({ T, blocks, N, seed, random }) => {
          const K = decodeK(dtype, blocks);
          const w = random ? randomBlocks(dtype, N, K / BLOCK_VALUES[dtype], seed) : quantize(randomArray(N * K, seed, 0.5), N, K, dtype);
          checkQuantized(w, randomArray(T * K, seed + 1), T, `${dtype} T=${T} K=${K} N=${N} seed=${seed} random=${random}`);
        }),
        { numRuns: 60 },
      );
    });

    // Integer activations with ±127 in every block are not rounded at all: the reference
    // itself, within the f32 bound, with no replica of the rounding in between
    it(`${dtype}: exact activations give the reference`, () => {
      const K = 768, N = 9;
      const x = randomArray(2 * K, 5, 60).map((v) => Math.max(-127, Math.min(127, Math.round(v))));
      for (let b = 0; b < (2 * K) / 32; b++) x[32 * b + (b % 32)] = b % 2 ? 127 : -127;
      const w = randomBlocks(dtype, N, K / BLOCK_VALUES[dtype], 6);
      const got = new Float32Array(2 * N);
      wasm.matmul(got, x, w, 2);
      const want = new Float32Array(2 * N);
      tsKernels.matmul(want, x, w, 2);
      const W = toF32(w);
      const mins = Array.from({ length: N }, (_, n) => kMins(w, n));
      expectClose(got, want, (i) => {
        const t = Math.floor(i / N), n = i % N;
        let abs = 0;
        for (let k = 0; k < K; k++) abs += Math.abs(x[t * K + k]) * (Math.abs(W[n * K + k]) + 2 * mins[n][k]);
        return (K / 32 + 16) * EPS32 * abs + EPS32 * Math.abs(want[i]);
      }, `${dtype} exact activations`);
    });

    it(`${dtype}: 301 rows (pairs far apart, one alone), T = 1 and 3`, () => {
      const K = BLOCK_VALUES[dtype] === 256 ? 512 : 288; // 288: nine blocks of 32, the 15M shape's dim
      for (const T of [1, 3]) checkQuantized(randomBlocks(dtype, 301, K / BLOCK_VALUES[dtype], 13 + T), randomArray(T * K, 14), T, `${dtype} 301 rows T=${T}`);
    });

    it(`${dtype}: a row of a 3-token step equals that token alone, bit for bit`, () => {
      const K = BLOCK_VALUES[dtype] === 256 ? 512 : 224, N = 11;
      const w = randomBlocks(dtype, N, K / BLOCK_VALUES[dtype], 8);
      const x = randomArray(3 * K, 9);
      const all = new Float32Array(3 * N);
      wasm.matmul(all, x, w, 3);
      for (let t = 0; t < 3; t++) {
        const one = new Float32Array(N);
        wasm.matmul(one, x.subarray(t * K, (t + 1) * K), w, 1);
        expect(Array.from(one)).toEqual(Array.from(all.subarray(t * N, (t + 1) * N)));
      }
    });
  }
});

// Decoding has two kernels a type: i16 products (kdot.ts, legacydot.ts) and the 8-bit dot
// product (i8Dot, the relaxed build's default: their I8 variants, q6decode.ts). Both compute the
// same integer block totals and sums and scale them by the same f32 operations, so they must
// agree bit for bit, extreme scales included.
describe('q4_k / q5_k / q6_k / q4_1 / q5_0 / q5_1 decoding on the 8-bit dot product', () => {
  it.each(TWO_KERNEL_TYPES)('%s: the bits of the i16 kernel, random blocks (any scale byte, halves up to 65504), 1-3 tokens, 1 and 2 threads', async (dtype) => {
    const [i8, i16, i8Threads] = await Promise.all([
      createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, threads: 1, i8Dot: true }),
      createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, threads: 1, i8Dot: false }),
      createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, threads: 2, i8Dot: true, minParallelWork: 0 }),
    ]);
    try {
      fc.assert(
        fc.property(fc.record({ T: fc.integer({ min: 1, max: 3 }), blocks: fc.integer({ min: 1, max: 4 }), N: fc.integer({ min: 1, max: 9 }), seed: fc.integer({ min: 1, max: 2 ** 30 }), scale: fc.constantFrom(1e-3, 1, 1e4) }), ({ T, blocks, N, seed, scale }) => {
          const K = decodeK(dtype, blocks);
          const w = randomBlocks(dtype, N, K / BLOCK_VALUES[dtype], seed, 5);
          const x = randomArray(T * K, seed + 1, scale);
          const want = new Float32Array(T * N).fill(NaN);
          i16.matmul(want, x, w, T);
          for (const k of [i8, i8Threads]) {
            const got = new Float32Array(T * N).fill(NaN);
            k.matmul(got, x, w, T);
            expect(Array.from(got), `T=${T} K=${K} N=${N} seed=${seed} threads=${k.threads}`).toEqual(Array.from(want));
          }
        }),
        { numRuns: 60 },
      );
      expect(i8Threads.parallelJobs()).toBeGreaterThan(0);
    } finally {
      await Promise.all([i8, i16, i8Threads].map((k) => k.close()));
    }
  });
});

// Runs `check` with kernels on the 8-bit dot product (i8Dot, asked for explicitly so that the
// plain build's run checks its kernels too) at 1 thread and at 2 (every matmul split)
async function withI8Kernels(check: (one: WasmKernels, two: WasmKernels) => void): Promise<void> {
  const [one, two] = await Promise.all([
    createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, threads: 1, i8Dot: true }),
    createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, threads: 2, i8Dot: true, minParallelWork: 0 }),
  ]);
  try {
    check(one, two);
  } finally {
    await Promise.all([one.close(), two.close()]);
  }
}

// Q4_K and Q5_K on the 8-bit dot product with activations rounded by super-blocks of 256
// (assembly/kdot256.ts), asked for explicitly, so that the plain build's run (test:plain, where
// dotI8 is its stand-in) checks it too: against the reference on the same rounded activations,
// and the same bits at 1 and 2 threads
describe('q4_k / q5_k decoding with one activation scale per 256 (kdot256.ts)', () => {
  it.each(['q4_k', 'q5_k'] as const)('%s: within f32 rounding of the reference; 1 and 2 threads bit for bit', async (dtype) => {
    await withI8Kernels((one, two) => {
      fc.assert(
        fc.property(fc.record({ T: fc.integer({ min: 1, max: 3 }), blocks: fc.integer({ min: 1, max: 4 }), N: fc.integer({ min: 1, max: 9 }), seed: fc.integer({ min: 1, max: 2 ** 30 }), random: fc.boolean(), scale: fc.constantFrom(1e-3, 1, 1e4) }), ({ T, blocks, N, seed, random, scale }) => {
          const K = 256 * blocks;
          const w = random ? randomBlocks(dtype, N, blocks, seed, 5) : quantize(randomArray(N * K, seed, 0.5), N, K, dtype);
          const x = randomArray(T * K, seed + 1, scale);
          const what = `${dtype} T=${T} K=${K} N=${N} seed=${seed} random=${random}`;
          checkQuantized(w, x, T, what, one, 256);
          const want = new Float32Array(T * N);
          one.matmul(want, x, w, T);
          const got = new Float32Array(T * N).fill(NaN);
          two.matmul(got, x, w, T);
          expect(Array.from(got), `${what} at 2 threads`).toEqual(Array.from(want));
        }),
        { numRuns: 60 },
      );
      // an outlier in one sub-block coarsens the whole super-block's rounding, and the bound follows it
      const K = 512, N = 5;
      const x = randomArray(K, 3);
      x[7] = 300;
      checkQuantized(randomBlocks(dtype, N, 2, 4), x, 1, `${dtype} outlier`, one, 256);
      expect(two.parallelJobs()).toBeGreaterThan(0);
    });
  });
});

// Prompts of the K-quants as an integer GEMM (assembly/kgemm.ts): activations rounded by
// super-blocks of 256, rows unpacked into scratch, four tokens at a time. Asked for with
// i8Dot, so that the plain build's run (test:plain) checks the kernel too.
describe('q2_k..q6_k prompts as an integer GEMM (kgemm.ts)', () => {
  it.each(K_PROMPT_TYPES)('%s: within f32 rounding of the reference on activations rounded by 256; 1 and 2 threads and any T bit for bit', async (dtype) => {
    await withI8Kernels((one, two) => {
      fc.assert(
        fc.property(fc.record({ T: fc.integer({ min: 4, max: 9 }), blocks: fc.integer({ min: 1, max: 3 }), N: fc.integer({ min: 1, max: 9 }), seed: fc.integer({ min: 1, max: 2 ** 30 }), random: fc.boolean(), scale: fc.constantFrom(1e-3, 1, 1e4) }), ({ T, blocks, N, seed, random, scale }) => {
          const K = 256 * blocks;
          const w = random ? randomBlocks(dtype as BlockType, N, blocks, seed, 5) : quantize(randomArray(N * K, seed, 0.5), N, K, dtype as DType);
          const x = randomArray(T * K, seed + 1, scale);
          const what = `${dtype} T=${T} K=${K} N=${N} seed=${seed} random=${random}`;
          checkQuantized(w, x, T, what, one, 256, true);
          const want = new Float32Array(T * N);
          one.matmul(want, x, w, T);
          const got = new Float32Array(T * N).fill(NaN);
          two.matmul(got, x, w, T);
          expect(Array.from(got), `${what} at 2 threads`).toEqual(Array.from(want));
          // a token's outputs do not depend on the others of its call (its group of four)
          const last = new Float32Array(4 * N);
          one.matmul(last, x.subarray((T - 4) * K), w, 4);
          expect(Array.from(last), `${what}: the last four tokens alone`).toEqual(Array.from(want.subarray((T - 4) * N)));
        }),
        { numRuns: 40 },
      );
      // more rows than one unpacked block holds (about 16 KB: 14 rows of 512), an outlier
      const K = 512, N = 150, T = 7;
      const x = randomArray(T * K, 3);
      x[7] = 300;
      checkQuantized(randomBlocks(dtype as BlockType, N, 2, 4), x, T, `${dtype} 150 rows, outlier`, one, 256, true);
      expect(two.parallelJobs()).toBeGreaterThan(0);
    });
  });
});

describe('the block-type kernels at several thread counts', () => {
  it('give the same bits at 1, 2 and 3 threads, decoding (T = 1, 3) and prompts (T = 6)', async () => {
    const kernels = await Promise.all([2, 3].map((threads) => createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, threads, minParallelWork: 0 })));
    try {
      for (const dtype of TYPES) {
        const K = dtype.endsWith('_k') ? 512 : 96;
        const N = 37;
        const w = randomBlocks(dtype, N, K / BLOCK_VALUES[dtype], 21);
        for (const T of [1, 3, 6]) {
          const x = randomArray(T * K, T);
          const one = new Float32Array(T * N);
          wasm.matmul(one, x, w, T);
          for (const k of kernels) {
            const got = new Float32Array(T * N);
            k.matmul(got, x, w, T);
            expect(Array.from(got), `${dtype} T=${T} at ${k.threads} threads`).toEqual(Array.from(one));
          }
        }
      }
      expect(kernels.every((k) => k.parallelJobs() > 0)).toBe(true);
    } finally {
      await Promise.all(kernels.map((k) => k.close()));
    }
  });
});

// --- a whole model -------------------------------------------------------------------------------

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

function logSoftmax(x: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of x) max = Math.max(max, v);
  let sum = 0;
  for (const v of x) sum += Math.exp(v - max);
  return Float64Array.from(x, (v) => v - max - Math.log(sum));
}

// The log-probabilities after each of `tokens` from the prompt's last on: the prompt in one
// call (the prompt kernels), then one token a call (the decoding kernels)
function stepLogProbs(model: LlamaModel, kernels: Kernels, tokens: number[], promptLength: number): Float64Array[] {
  const cache = createKVCache(model.config, tokens.length);
  const out = [logSoftmax(forward(model, kernels, cache, tokens.slice(0, promptLength), 0))];
  for (let pos = promptLength; pos < tokens.length; pos++) out.push(logSoftmax(forward(model, kernels, cache, [tokens[pos]], pos)));
  return out;
}

function greedyTokens(model: LlamaModel, kernels: Kernels, prompt: number[], steps: number): number[] {
  const tokens = [...prompt];
  for (let i = 0; i < steps; i++) tokens.push(argmax(Float32Array.from(stepLogProbs(model, kernels, tokens, prompt.length).at(-1)!)));
  return tokens;
}

// The reference kernels with the activations rounded as the wasm kernels round them for
// q4_k / q6_k weights (roundActivations): when decoding (T < 4), and for prompts in the relaxed
// build (kgemm.ts, by 256): the same numbers as wasm up to f32 summation order
const roundedKernels: Kernels = {
  ...tsKernels,
  matmul(out, x, w, T) {
    const block = kPrompt(wasm, w.dtype, T) ? 256 : (INTEGER_TYPES as readonly string[]).includes(w.dtype) && T < 4 ? roundingBlock(wasm, w.dtype) : 0;
    tsKernels.matmul(out, block ? Float32Array.from(roundActivations(x.subarray(0, T * w.cols), block)) : x, w, T);
  },
};

function maxDifference(a: Float64Array[], b: Float64Array[]): number {
  let max = 0;
  a.forEach((row, i) => row.forEach((v, id) => (max = Math.max(max, Math.abs(v - b[i][id])))));
  return max;
}

describe('a q4_k model on wasm as on ts', () => {
  // dims multiples of 256, every matrix Q4_K (the classifier Q6_K, as llama.cpp's Q4_K_M
  // has it, to run both integer kernels). wasm decodes with 8-bit activations (by 256 for
  // q4_k in the relaxed build, by 32 for q6_k and in the plain build) and, in the relaxed
  // build, runs the prompt on them too (kgemm.ts, by 256). Against ts with the activations
  // rounded the same way (roundedKernels) each matmul agrees to ~1e-6, but an activation
  // whose x/d_x lies within that of a rounding tie rounds to the neighbouring integer in one
  // backend, and the model carries that on: the greedy tokens are the same, the
  // log-probabilities within 2e-2 (observed 5e-7 to 2.6e-3). Against plain ts (f32
  // activations) the rounding itself shows: observed 5e-2 to 8.7e-2, bound 0.2.
  const config: LlamaConfig = {
    dim: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 512, vocabSize: 256, maxSeqLen: 32,
    normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
  };
  it('the same greedy tokens and log-probabilities as ts on the same rounded activations; weights at their stored size', async () => {
    const f32 = randomModel(config, 31, { std: 0.05 });
    const q4 = quantizeModel(f32, 'q4_k');
    const model: LlamaModel = { ...q4, weights: { ...q4.weights, output: quantize(toF32(f32.weights.output), config.vocabSize, config.dim, 'q6_k') } };
    expect(model.weights.layers[0].w1.dtype).toBe('q4_k');
    const kernels = await createModelKernels(model, { wasmPath, threads: 2, contextLength: 32 });
    try {
      expect(kernels.notes).toEqual([]);
      const stored = [model.weights.output, ...model.weights.layers.flatMap((l) => [l.wq, l.wk, l.wv, l.wo, l.w1, l.w2, l.w3])].reduce((s, t) => s + t.data.byteLength, 0);
      expect(kernels.memoryUsage().weights).toBeLessThan(stored + 64 * 64); // not widened to f16
      const prompt = [1, 17, 200, 33, 4];
      const tokens = greedyTokens(model, kernels, prompt, 16);
      expect(tokens).toEqual(greedyTokens(model, roundedKernels, prompt, 16));
      const ours = stepLogProbs(model, kernels, tokens, prompt.length);
      const rounded = maxDifference(ours, stepLogProbs(model, roundedKernels, tokens, prompt.length));
      const plain = maxDifference(ours, stepLogProbs(model, tsKernels, tokens, prompt.length));
      console.log(`q4_k model: max |Δ log p| wasm vs ts ${rounded.toExponential(2)} (same rounded activations), ${plain.toExponential(2)} (f32 activations)`);
      expect(rounded).toBeLessThan(2e-2);
      expect(plain).toBeLessThan(0.2);
    } finally {
      await kernels.close();
    }
  });
});
