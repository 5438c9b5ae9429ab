// Each WASM SIMD kernel against the readable TypeScript one (reference/), over random
// shapes: sizes that are not multiples of 4 (SIMD lanes) or 16 (unrolling), several token
// tiles (T up to 9: tiles of 4 plus tails), grouped heads, pos0 > 0, and arguments both
// copied in and already living in WASM memory (allocate()).
//
// Tolerances are worst-case rounding bounds, not guesses, so no seed can make them flake:
// the reference sums in f64 (JavaScript numbers; exact products), the WASM matmul and
// attention dot products in f32, whose error is at most γ_n·Σ|terms| with γ_n ≈ n·2⁻²⁴
// (Higham, Accuracy and Stability of Numerical Algorithms, §3.1). A wrong index or a
// wrong decode costs a whole term, orders of magnitude above these bounds.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { f16ToF32, toF32, type DType, type WeightTensor } from '../reference/tensor.js';
import { ropeFrequencies } from '../reference/rope.js';
import { tsKernels } from '../reference/ts-kernels.js';
import { createWasmKernels, type WasmKernels } from '../src/backends/wasm/kernels.js';
import { quantize } from '../src/quant/quantize.js';
import { activationScales, EPS32, ensureWasmBuilt, expectClose, placer, randomArray, wasmPath } from './wasm-helpers.js';

let wasm: WasmKernels; // the default: q8_0 / q4_0 matmuls quantize their activations
const place = placer(() => wasm);
let wasmF32: WasmKernels; // activations: 'f32', the reference's arithmetic for every dtype
let wasmNoInt: WasmKernels; // q4_0 never on the 8-bit dot product (tests/wasm-q4-i8dot.test.ts)
beforeAll(async () => {
  ensureWasmBuilt();
  wasm = await createWasmKernels({ maxMemoryBytes: 1 << 30, wasmPath });
  wasmF32 = await createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, activations: 'f32' });
  wasmNoInt = await createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, i8Dot: false });
});

const RUNS = { numRuns: 100 };



describe('wasm matmul', () => {
  // out[t, n] = Σ_k x[t, k]·W[n, k]. With f32 activations the WASM decode of W (f16, d·q)
  // gives the same f32 values as the reference's readRow, so only the summation differs:
  //   |wasm − ref| ≤ (K + 2)·ε·Σ_k |x[t, k]·W[n, k]| + ε·|ref|
  function checkMatmul(dtype: DType, T: number, K: number, N: number, seed: number, inWasm: boolean): void {
    const x = randomArray(T * K, seed);
    const w: WeightTensor = quantize(randomArray(N * K, seed + 1, 0.5), N, K, dtype);
    const want = new Float32Array(T * N);
    tsKernels.matmul(want, x, w, T);
    const out = place(new Float32Array(T * N).fill(NaN), inWasm, wasmF32);
    wasmF32.matmul(out, place(x, inWasm, wasmF32), w, T);
    const W = toF32(w);
    const tol = (i: number): number => {
      const t = Math.floor(i / N);
      const n = i % N;
      let absSum = 0;
      for (let k = 0; k < K; k++) absSum += Math.abs(x[t * K + k] * W[n * K + k]);
      return (K + 2) * EPS32 * absSum + EPS32 * Math.abs(want[i]);
    };
    expectClose(out, want, tol, `${dtype} matmul T=${T} K=${K} N=${N}`);
  }

  const shape = (kValues: fc.Arbitrary<number>) =>
    fc.record({
      T: fc.integer({ min: 1, max: 9 }),
      K: kValues,
      N: fc.integer({ min: 1, max: 13 }),
      seed: fc.integer({ min: 0, max: 2 ** 30 }),
      inWasm: fc.boolean(),
    });
  const anyK = fc.integer({ min: 1, max: 70 }); // tails of 1-3 and 4-15 included
  const blockK = fc.integer({ min: 1, max: 4 }).map((b) => 32 * b);

  for (const dtype of ['f32', 'f16'] as const) {
    it(`${dtype}: equals the reference for any T, K, N`, () => {
      fc.assert(fc.property(shape(anyK), (s) => checkMatmul(dtype, s.T, s.K, s.N, s.seed, s.inWasm)), RUNS);
    });
  }
  for (const dtype of ['q8_0', 'q4_0'] as const) {
    it(`${dtype}, f32 activations: equals the reference on the same quantized weights`, () => {
      fc.assert(fc.property(shape(blockK), (s) => checkMatmul(dtype, s.T, s.K, s.N, s.seed, s.inWasm)), RUNS);
    });
  }

  // Every one of the 65536 halves, through the SIMD path (K = 4) and the scalar tail
  // (K = 1): row n of W is [h_n, 0, 0, 0] (or [h_n]) and x is all ones, so out[n] is h_n
  // decoded, exactly — infinities, NaN, subnormals and signed zeros included.
  it.each([1, 4])('f16: decodes all 65536 halves exactly (K = %i)', (K) => {
    const halves = new Uint16Array(65536 * K);
    for (let h = 0; h < 65536; h++) halves[h * K] = h;
    const out = new Float32Array(65536);
    wasm.matmul(out, new Float32Array(K).fill(1), { dtype: 'f16', rows: 65536, cols: K, data: halves }, 1);
    for (let h = 0; h < 65536; h++) {
      const want = f16ToF32(h);
      if (Number.isNaN(want) ? !Number.isNaN(out[h]) : out[h] !== want) {
        throw new Error(`half 0x${h.toString(16)}: got ${out[h]}, want ${want}`);
      }
    }
  });

  it('uploads a weight once and reuses it', () => {
    const w = quantize(randomArray(8 * 32, 7), 8, 32, 'q4_0');
    const out = new Float32Array(8);
    wasm.matmul(out, randomArray(32, 8), w, 1);
    const before = wasm.memoryUsage().weights;
    wasm.matmul(out, randomArray(32, 9), w, 1);
    expect(wasm.memoryUsage().weights).toBe(before);
  });
});

describe('wasm matmul, quantized activations (the default for q8_0 / q4_0)', () => {
  // Each block of 32 activations becomes d_x·q (d_x = max|x|/127 of the block in f32,
  // q = round(x/d_x), |q| ≤ 127), the weights meet it in exact integer sums, and each
  // block's sum is scaled by d_w·d_x in f32 (llama.cpp's scheme). Against the f32 reference:
  //   activation rounding  |Σ_k W_k·(x_k − d_x·q_k)| ≤ Σ_k |W_k|·d_x·(1/2 + 2⁻¹⁶)
  //     (x·(1/d_x) takes two f32 roundings, each under 2⁻²³ of 127, before the rounding to
  //     an integer: together less than 2⁻¹⁶ of a step)
  //   f32 rounding         ≤ (K + 8)·ε·Σ_k (|W_k| + 8|d_w|)·(|x_k| + d_x)
  //     of the ~K/32 block terms, their scales and the four-lane sums, each term's size
  //     bounded through |d_w·n| ≤ |W| + 8|d_w| (q4_0 sums its stored nibble n = W/d_w + 8
  //     and takes the 8 off per block) and |d_x·q| ≤ |x| + d_x
  // A wrong lane order, nibble or scale costs whole terms, far above both.
  const blocksOf = (K: number) => K / 32;

  // d_w per block of the q8_0 / q4_0 weight rows [N, K/32 blocks]
  function weightScales(w: WeightTensor): Float32Array {
    const bytes = w.data as Uint8Array;
    const blockBytes = w.dtype === 'q8_0' ? 34 : 18;
    return Float32Array.from({ length: bytes.length / blockBytes }, (_, b) => f16ToF32(bytes[b * blockBytes] | (bytes[b * blockBytes + 1] << 8)));
  }

  function check(w: WeightTensor, x: Float32Array, T: number, inWasm: boolean, rounding = 0.5 + 2 ** -16): void {
    const { rows: N, cols: K } = w;
    const want = new Float32Array(T * N);
    tsKernels.matmul(want, x, w, T);
    const out = place(new Float32Array(T * N).fill(NaN), inWasm);
    wasm.matmul(out, place(x, inWasm), w, T);
    const W = toF32(w);
    const dx = activationScales(x);
    const dw = weightScales(w);
    const offset = w.dtype === 'q4_0' ? 8 : 0;
    const tol = (i: number): number => {
      const t = Math.floor(i / N);
      const n = i % N;
      let activation = 0;
      let terms = 0;
      for (let k = 0; k < K; k++) {
        const d = dx[t * blocksOf(K) + Math.floor(k / 32)];
        const wk = Math.abs(W[n * K + k]);
        activation += wk * d * rounding;
        terms += (wk + offset * Math.abs(dw[n * blocksOf(K) + Math.floor(k / 32)])) * (Math.abs(x[t * K + k]) + d);
      }
      return activation + (K + 8) * EPS32 * terms + EPS32 * Math.abs(want[i]);
    };
    expectClose(out, want, tol, `${w.dtype} matmul (quantized activations) T=${T} K=${K} N=${N}`);
  }

  const arb = fc.record({
    T: fc.integer({ min: 1, max: 9 }),
    blocks: fc.integer({ min: 1, max: 9 }), // groups of four blocks and the tails 1-3
    N: fc.integer({ min: 1, max: 13 }),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
    inWasm: fc.boolean(),
  });

  for (const dtype of ['q8_0', 'q4_0'] as const) {
    it(`${dtype}: within the activation rounding bound of the reference`, () => {
      fc.assert(
        fc.property(arb, ({ T, blocks, N, seed, inWasm }) => {
          const K = 32 * blocks;
          check(quantize(randomArray(N * K, seed + 1, 0.5), N, K, dtype), randomArray(T * K, seed), T, inWasm);
        }),
        RUNS,
      );
    });

    // Integer activations with ±127 in every block: d_x = 1 and q = x, nothing to round,
    // so only the f32 bound remains, and every integer product is checked.
    it(`${dtype}: exact activations leave only f32 rounding`, () => {
      fc.assert(
        fc.property(arb, ({ T, blocks, N, seed, inWasm }) => {
          const K = 32 * blocks;
          const x = randomArray(T * K, seed, 60).map((v) => Math.max(-127, Math.min(127, Math.round(v))));
          for (let b = 0; b < T * blocks; b++) x[32 * b + (seed % 32)] = seed % 2 ? 127 : -127;
          check(quantize(randomArray(N * K, seed + 1, 0.5), N, K, dtype), x, T, inWasm, 0);
        }),
        RUNS,
      );
    });

    // Decoding steps (T < 4) take quantized activations, every output through the same float
    // operations whatever T (and thread, tests/wasm-threads): the rows of T = 3 equal those
    // tokens one at a time, bit for bit. Odd N: a weight row without a partner.
    for (const [T, K, N] of [[3, 160, 11], [2, 288, 13]]) {
      it(`${dtype}: a row of a 3-token step equals that token alone, bit for bit (T=${T}, K=${K}, N=${N})`, () => {
        const w = quantize(randomArray(N * K, 3, 0.5), N, K, dtype);
        const x = randomArray(T * K, 4);
        const all = new Float32Array(T * N);
        wasm.matmul(all, x, w, T);
        for (let t = 0; t < T; t++) {
          const one = new Float32Array(N);
          wasm.matmul(one, x.subarray(t * K, (t + 1) * K), w, 1);
          expect(Array.from(one)).toEqual(Array.from(all.subarray(t * N, (t + 1) * N)));
        }
      });
    }
  }

  // From T = 4 on (prompts) the matmul takes f32 activations whatever the option (blocks.ts:
  // weights decoded a block of rows at a time, products in f32), but for q4_0 with
  // i8Dot: the same bits as the 'f32'-activation kernels, and so the reference within
  // the f32 bound of 'wasm matmul'. N = 700 with K = 96: three blocks of rows
  // (blockScratchBytes / 384 bytes a row).
  for (const dtype of ['q8_0', 'q4_0'] as const) {
    it(`${dtype}: a prompt (T ≥ 4) multiplies in f32, as activations: 'f32' does`, () => {
      for (const [T, K, N] of [[4, 64, 9], [7, 96, 700], [130, 32, 5]]) {
        const w = quantize(randomArray(N * K, T, 0.5), N, K, dtype);
        const x = randomArray(T * K, K);
        const q8 = new Float32Array(T * N);
        const f32 = new Float32Array(T * N);
        wasmNoInt.matmul(q8, x, w, T);
        wasmF32.matmul(f32, x, w, T);
        expect(Array.from(q8)).toEqual(Array.from(f32));
        const want = new Float32Array(T * N);
        tsKernels.matmul(want, x, w, T);
        const W = toF32(w);
        expectClose(q8, want, (i) => {
          const t = Math.floor(i / N);
          const n = i % N;
          let absSum = 0;
          for (let k = 0; k < K; k++) absSum += Math.abs(x[t * K + k] * W[n * K + k]);
          return (K + 2) * EPS32 * absSum + EPS32 * Math.abs(want[i]);
        }, `${dtype} prompt T=${T} K=${K} N=${N}`);
      }
    });
  }

  it('rejects an unknown activations option', async () => {
    await expect(createWasmKernels({ activations: 'q4' as 'q8' })).rejects.toThrow(/activations must be 'q8' or 'f32', got q4/);
  });
});

describe('wasm rmsnorm, rope, swiglu', () => {
  // rmsnorm runs the reference's f64 arithmetic (sum of squares in f64x2 lanes), so the
  // only difference is the order of the f64 sum: at most one f32 rounding step apart.
  it('rmsnorm: equals the reference to 1 ulp, also in place', () => {
    const arb = fc.record({
      T: fc.integer({ min: 1, max: 9 }),
      C: fc.integer({ min: 1, max: 70 }),
      eps: fc.constantFrom(1e-5, 1e-6),
      seed: fc.integer({ min: 0, max: 2 ** 30 }),
      inWasm: fc.boolean(),
      inPlace: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, ({ T, C, eps, seed, inWasm, inPlace }) => {
        const x = randomArray(T * C, seed, 3);
        const gain = randomArray(C, seed + 1).map((g) => 1 + 0.2 * g);
        const want = new Float32Array(T * C);
        tsKernels.rmsnorm(want, x, gain, T, C, eps);
        const xw = place(x, inWasm);
        const out = inPlace ? xw : place(new Float32Array(T * C), inWasm);
        wasm.rmsnorm(out, xw, place(gain, inWasm), T, C, eps);
        expectClose(out, want, (i) => 2 * EPS32 * Math.abs(want[i]), `rmsnorm T=${T} C=${C}`);
      }),
      RUNS,
    );
  });

  // rope follows the reference's f64 steps exactly; only Math.pow/cos/sin of the WASM
  // runtime (musl's) and of V8 may differ in the last f64 bit, which moves a result by
  // at most one f32 ulp of the pair's magnitude.
  it('rope: equals the reference for any heads, head dim and position', () => {
    const arb = fc.record({
      T: fc.integer({ min: 1, max: 9 }),
      nHeads: fc.integer({ min: 1, max: 5 }),
      hd: fc.integer({ min: 1, max: 12 }).map((h) => 2 * h),
      pos0: fc.integer({ min: 0, max: 5000 }),
      theta: fc.constantFrom(10000, 500000),
      seed: fc.integer({ min: 0, max: 2 ** 30 }),
      inWasm: fc.boolean(),
      scaled: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, ({ T, nHeads, hd, pos0, theta, seed, inWasm, scaled }) => {
        const x = randomArray(T * nHeads * hd, seed);
        const want = x.slice();
        // scaled frequencies too: every pair divided by its own factor (RoPE scaling)
        const freqs = ropeFrequencies(hd, theta, scaled ? Array.from({ length: hd / 2 }, (_, i) => 1 + ((seed + 7 * i) % 32)) : undefined);
        tsKernels.rope(want, T, nHeads, hd, pos0, freqs);
        const got = place(x, inWasm);
        wasm.rope(got, T, nHeads, hd, pos0, freqs);
        const pairMagnitude = (i: number): number => Math.abs(x[i & ~1]) + Math.abs(x[i | 1]);
        expectClose(got, want, (i) => 4 * EPS32 * pairMagnitude(i), `rope T=${T} heads=${nHeads} hd=${hd} pos0=${pos0}`);
      }),
      RUNS,
    );
  });

  // swiglu is f32 with exp.ts's exponential (relative error ≤ 2u, u = 2⁻²⁴): 1 + e^−g adds
  // u, the division u, the two products u each: ≤ 6u relative to first order; 7u allowed.
  it('swiglu: equals the reference, also with out = gate or out = up', () => {
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 100 }),
      seed: fc.integer({ min: 0, max: 2 ** 30 }),
      inWasm: fc.boolean(),
      alias: fc.constantFrom('none', 'gate', 'up'),
    });
    fc.assert(
      fc.property(arb, ({ n, seed, inWasm, alias }) => {
        const gate = randomArray(n, seed, 4);
        const up = randomArray(n, seed + 1);
        const want = new Float32Array(n);
        tsKernels.swiglu(want, gate, up, n);
        const g = place(gate, inWasm);
        const u = place(up, inWasm);
        const out = alias === 'gate' ? g : alias === 'up' ? u : place(new Float32Array(n), inWasm);
        wasm.swiglu(out, g, u, n);
        expectClose(out, want, (i) => 7 * EPS32 * Math.abs(want[i]), `swiglu n=${n} alias=${alias}`);
      }),
      RUNS,
    );
  });
});

describe('wasm attention', () => {
  // Bound for one output element out[t, h, i] = Σ_s p_s v[s, i]:
  //   each score z_s = q·k_s/√hd is off by at most Δ_s = (hd + 2)·ε·Σ|q k_s|/√hd + 2ε|z_s|
  //   (f32 dot product, then rounding); shifting scores by at most Δ = max Δ_s changes
  //   every softmax weight by a factor within e^{±2Δ}; the f32 weighted sum over S rows
  //   adds (S + 1)·ε·Σ p_s |v|; the rest (exp, divisions, f32 storage of p) a few ε.
  function attentionTolerance(
    q: Float32Array, k: Float32Array, v: Float32Array,
    T: number, pos0: number, nHeads: number, nKvHeads: number, hd: number,
  ): Float32Array {
    const tol = new Float32Array(T * nHeads * hd);
    const kvDim = nKvHeads * hd;
    const scale = 1 / Math.sqrt(hd);
    for (let t = 0; t < T; t++) {
      const S = pos0 + t + 1;
      for (let h = 0; h < nHeads; h++) {
        const qo = (t * nHeads + h) * hd;
        const kvo = Math.floor(h / (nHeads / nKvHeads)) * hd;
        const z: number[] = [];
        let delta = 0;
        for (let s = 0; s < S; s++) {
          let dot = 0;
          let absDot = 0;
          for (let i = 0; i < hd; i++) {
            dot += q[qo + i] * k[s * kvDim + kvo + i];
            absDot += Math.abs(q[qo + i] * k[s * kvDim + kvo + i]);
          }
          z.push(dot * scale);
          delta = Math.max(delta, (hd + 2) * EPS32 * absDot * scale + 2 * EPS32 * Math.abs(dot * scale));
        }
        const max = Math.max(...z);
        const e = z.map((zs) => Math.exp(zs - max));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let i = 0; i < hd; i++) {
          let weighted = 0;
          for (let s = 0; s < S; s++) weighted += (e[s] / sum) * Math.abs(v[s * kvDim + kvo + i]);
          tol[qo + i] = (2.1 * delta + (S + 8) * EPS32) * weighted + 1e-30;
        }
      }
    }
    return tol;
  }

  // One random case against the reference, within attentionTolerance. Cache rows past pos0+T
  // (`spare`) are NaN: the causal mask must never touch them.
  function checkAttention(T: number, pos0: number, spare: number, nKvHeads: number, group: number, hd: number, seed: number, inWasm: boolean): void {
    const nHeads = nKvHeads * group;
    const kvDim = nKvHeads * hd;
    const S = pos0 + T;
    const q = randomArray(T * nHeads * hd, seed, 2);
    const k = randomArray((S + spare) * kvDim, seed + 1, 2);
    const v = randomArray((S + spare) * kvDim, seed + 2);
    k.fill(NaN, S * kvDim);
    v.fill(NaN, S * kvDim);
    const want = new Float32Array(T * nHeads * hd);
    tsKernels.attention(want, q, k, v, T, pos0, nHeads, nKvHeads, hd);
    const out = place(new Float32Array(T * nHeads * hd), inWasm);
    wasm.attention(out, place(q, inWasm), place(k, inWasm), place(v, inWasm), T, pos0, nHeads, nKvHeads, hd);
    const tol = attentionTolerance(q, k, v, T, pos0, nHeads, nKvHeads, hd);
    expectClose(out, want, (i) => tol[i], `attention T=${T} pos0=${pos0} heads=${nHeads}/${nKvHeads} hd=${hd}`);
  }

  const heads = {
    nKvHeads: fc.integer({ min: 1, max: 3 }),
    group: fc.integer({ min: 1, max: 3 }),
    hd: fc.integer({ min: 1, max: 9 }).map((h) => 2 * h),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
    inWasm: fc.boolean(),
  };

  it('equals the reference: grouped heads, pos0 > 0, any even head dim', () => {
    const arb = fc.record({
      T: fc.integer({ min: 1, max: 6 }),
      pos0: fc.integer({ min: 0, max: 12 }),
      spare: fc.integer({ min: 0, max: 3 }), // cache rows beyond pos0+T, never to be read
      ...heads,
    });
    fc.assert(
      fc.property(arb, (c) => checkAttention(c.T, c.pos0, c.spare, c.nKvHeads, c.group, c.hd, c.seed, c.inWasm)),
      RUNS,
    );
  });

  // A prompt from position 0 of 8 tokens or more goes as matrix products (attention-sequence.ts's
  // attentionSequence): the same bound, any summation order.
  it('equals the reference: a prompt from position 0 (matrix products), grouped heads', () => {
    const arb = fc.record({ T: fc.integer({ min: 8, max: 40 }), spare: fc.integer({ min: 0, max: 3 }), ...heads });
    fc.assert(
      fc.property(arb, (c) => checkAttention(c.T, 0, c.spare, c.nKvHeads, c.group, c.hd, c.seed, c.inWasm)),
      { numRuns: 40 },
    );
  });
});

describe('wasm kernels: bad input', () => {
  it('names the argument that is too short instead of reading past it', () => {
    const w = quantize(randomArray(4 * 32, 1), 4, 32, 'q8_0');
    expect(() => wasm.matmul(new Float32Array(8), new Float32Array(40), w, 2)).toThrow(/matmul: x has 40 floats, needs 64/);
    expect(() => wasm.matmul(new Float32Array(7), new Float32Array(64), w, 2)).toThrow(/matmul: out has 7 floats, needs 8/);
    expect(() => wasm.attention(new Float32Array(8), new Float32Array(8), new Float32Array(8), new Float32Array(16), 1, 3, 2, 1, 4))
      .toThrow(/attention: kCache has 8 floats, needs 16/);
    expect(() => wasm.rope(new Float32Array(6), 1, 2, 3, 0, ropeFrequencies(4, 10000))).toThrow(/head dimension 3 must be even/);
    expect(() => wasm.rmsnorm(new Float32Array(4), new Float32Array(4), new Float32Array(4), 0, 4, 1e-5)).toThrow(/T must be a positive integer/);
  });

  it('rejects a weight tensor whose data is shorter than its shape', () => {
    const w: WeightTensor = { dtype: 'q4_0', rows: 4, cols: 32, data: new Uint8Array(18 * 3) };
    expect(() => wasm.matmul(new Float32Array(4), new Float32Array(32), w, 1)).toThrow(/q4_0 weight \[4, 32\] needs 72 bytes of data, has 54/);
  });
});
