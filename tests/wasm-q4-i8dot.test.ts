// q4_0 matmuls on the 8-bit dot product (assembly/qgemm.ts for prompts, qdecode.ts for
// decoding) in the build under test: relaxed SIMD's i16x8.relaxed_dot_i8x16_i7x16_s by
// default, the plain build's emulation with LLAMA_TS_SIMD=plain (i8Dot: true runs these
// kernels there too). Held to the bound of tests/wasm-kernels.test.ts's quantized
// activations: each block of 32 activations becomes d_x·q (d_x = max|x|/127, |q| ≤ 127), the
// integer block sums are exact, and each is scaled by d_w·d_x in f32:
//   activation rounding  Σ_k |W_k|·d_x·(1/2 + 2⁻¹⁶)
//   f32 rounding         (K + 8)·ε·Σ_k (|W_k| + 8|d_w|)·(|x_k| + d_x)
// A wrong nibble, lane, scale or offset costs whole terms, far above both.
import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { f16ToF32, toF32, type WeightTensor } from '../reference/tensor.js';
import { tsKernels } from '../reference/ts-kernels.js';
import { createWasmKernels, type WasmKernels } from '../src/backends/wasm/kernels.js';
import { quantize } from '../src/quant/quantize.js';
import { activationScales, EPS32, ensureWasmBuilt, expectClose, placer, randomArray, wasmPath } from './wasm-helpers.js';

let wasm: WasmKernels;
const place = placer(() => wasm);
beforeAll(async () => {
  ensureWasmBuilt();
  wasm = await createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, i8Dot: true });
});

const RUNS = { numRuns: 100 };

function check(w: WeightTensor, x: Float32Array, T: number, inWasm: boolean, rounding = 0.5 + 2 ** -16): void {
  const { rows: N, cols: K } = w;
  const nb = K / 32;
  const want = new Float32Array(T * N);
  tsKernels.matmul(want, x, w, T);
  const out = place(new Float32Array(T * N).fill(NaN), inWasm);
  wasm.matmul(out, place(x, inWasm), w, T);
  const W = toF32(w);
  const dx = activationScales(x);
  const bytes = w.data as Uint8Array;
  const dw = Float32Array.from({ length: N * nb }, (_, b) => f16ToF32(bytes[18 * b] | (bytes[18 * b + 1] << 8)));
  const tol = (i: number): number => {
    const t = Math.floor(i / N);
    const n = i % N;
    let activation = 0;
    let terms = 0;
    for (let k = 0; k < K; k++) {
      const d = dx[t * nb + Math.floor(k / 32)];
      const wk = Math.abs(W[n * K + k]);
      activation += wk * d * rounding;
      terms += (wk + 8 * Math.abs(dw[n * nb + Math.floor(k / 32)])) * (Math.abs(x[t * K + k]) + d);
    }
    return activation + (K + 8) * EPS32 * terms + EPS32 * Math.abs(want[i]);
  };
  expectClose(out, want, tol, `q4_0 matmul (8-bit dot) T=${T} K=${K} N=${N}`);
}

// Shapes: odd N (a row without a partner), odd block counts (the zero padding block),
// T past a chunk of tokens (K = 2048: 42 tokens a chunk), one to three threads' worth of rows.
const promptArb = fc.record({
  T: fc.integer({ min: 1, max: 20 }), // decoding (T < 4, qdecode.ts) too
  blocks: fc.integer({ min: 1, max: 11 }),
  N: fc.integer({ min: 1, max: 13 }),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
  inWasm: fc.boolean(),
});
it('q4_0 prompt as an integer GEMM: within the activation rounding bound of the reference', () => {
  fc.assert(
    fc.property(promptArb, ({ T, blocks, N, seed, inWasm }) => {
      const K = 32 * blocks;
      check(quantize(randomArray(N * K, seed + 1, 0.5), N, K, 'q4_0'), randomArray(T * K, seed), T, inWasm, undefined);
    }),
    RUNS,
  );
});
it('q4_0 prompt as an integer GEMM: exact activations leave only f32 rounding; chunks of tokens', () => {
  fc.assert(
    fc.property(promptArb, ({ T, blocks, N, seed, inWasm }) => {
      const K = 32 * blocks;
      const x = randomArray(T * K, seed, 60).map((v) => Math.max(-127, Math.min(127, Math.round(v))));
      for (let b = 0; b < T * blocks; b++) x[32 * b + (seed % 32)] = seed % 2 ? 127 : -127;
      check(quantize(randomArray(N * K, seed + 1, 0.5), N, K, 'q4_0'), x, T, inWasm, 0);
    }),
    RUNS,
  );
  for (const [T, K, N] of [[50, 2048, 3], [45, 2016, 2]]) {
    check(quantize(randomArray(N * K, T, 0.5), N, K, 'q4_0'), randomArray(T * K, K), T, false, undefined);
  }
});
// Decoding a token (qdecode.ts, from the blocks in place) gives the bits of its row in a
// prompt (qgemm.ts, from unpacked rows): the same operations per output. Odd N and odd
// block counts: a row without a partner, the padding block.
it('q4_0 on the 8-bit dot: a decoded token equals its row of the prompt, bit for bit', () => {
  for (const [T, K, N] of [[6, 96, 7], [5, 64, 4], [4, 2016, 3]]) {
    const w = quantize(randomArray(N * K, K, 0.5), N, K, 'q4_0');
    const x = randomArray(T * K, T);
    const prompt = new Float32Array(T * N);
    wasm.matmul(prompt, x, w, T);
    for (let t = 0; t < T; t++) {
      const one = new Float32Array(N);
      wasm.matmul(one, x.subarray(t * K, (t + 1) * K), w, 1);
      expect(Array.from(one)).toEqual(Array.from(prompt.subarray(t * N, (t + 1) * N)));
    }
  }
});

// The nibbles at their extremes (0 and 15) against ±127: the i16 sums of the relaxed dot
// at their largest (|2·2·15·127| per lane), which must not saturate.
it('q4_0 prompt as an integer GEMM: extreme nibbles and activations', () => {
  const [T, K, N] = [5, 64, 3];
  const w = quantize(randomArray(N * K, 9, 0.5), N, K, 'q4_0');
  const bytes = w.data as Uint8Array;
  for (let b = 0; b < bytes.length / 18; b++) for (let j = 2; j < 18; j++) bytes[18 * b + j] = (b + j) % 3 === 0 ? 0x00 : 0xff;
  const x = Float32Array.from({ length: T * K }, (_, i) => (i % 5 === 0 ? -127 : 127));
  check(w, x, T, false, 0);
});

