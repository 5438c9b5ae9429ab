// The WASM SIMD training kernels (src/backends/wasm/training.ts) against the readable
// TypeScript ones, kernel by kernel over random shapes (sizes that are not multiples of 4
// or 8 included, arguments both copied in and already in WASM memory), then whole models:
// gradients, ten AdamW steps, and the golden cases.
//
// Kernel tolerances are rounding bounds (Higham §3.1), so no seed can make them flake. The
// reference sums in f64 and rounds once; a WASM f32 sum of n terms that continues from the
// old gradient g is within γ_(n+1)·(|g| + Σ|terms|), γ_n ≈ n·2⁻²⁴. Every gradient buffer is
// prefilled with noise, which checks that the kernels ACCUMULATE (+=) rather than overwrite.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attentionBackward } from '../reference/attention.js';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { seededUniform } from '../reference/random.js';
import { matmul, matmulBackward } from '../reference/matmul.js';
import { rmsnormBackward } from '../reference/rmsnorm.js';
import { ropeBackward, ropeFrequencies } from '../reference/rope.js';
import { swigluBackward } from '../reference/swiglu.js';
import { f32Tensor } from '../reference/tensor.js';
import { createGradients, namedParameters } from '../reference/gradients.js';
import { lossAndGradients, type Batch } from '../reference/train-model.js';
import { tsTrainingKernels } from '../reference/ts-kernels.js';
import { caseModel, readExpected, readManifest } from '../src/conform/golden.js';
import { columnRange } from '../src/backends/wasm/worker-ops.js';
import { createWasmTrainingKernels, type WasmTrainingKernels } from '../src/backends/wasm/training.js';
import { createTrainer, trainStep } from '../src/train/step.js';
import { expectGolden } from './train-golden-helpers.js';
import { EPS32, ensureWasmBuilt, expectClose, placer, randomArray, wasmPath } from './wasm-helpers.js';

let wasm: WasmTrainingKernels;
const place = placer(() => wasm);
beforeAll(async () => {
  ensureWasmBuilt();
  wasm = await createWasmTrainingKernels({ maxMemoryBytes: 1 << 30, wasmPath, threads: 1 });
});
afterAll(() => wasm?.close());

const RUNS = { numRuns: 40 };
const seed = fc.integer({ min: 0, max: 2 ** 30 });



describe('wasm training matmul', () => {
  // T up to 21: the blocked product (T ≥ 8) with 4-row tiles and 1-3 leftover rows, and the
  // row-at-a-time one below; K, N up to 37: panels of 8 columns, one of 4, 1-3 scalar ones.
  const shape = fc.record({
    T: fc.integer({ min: 1, max: 21 }), K: fc.integer({ min: 1, max: 37 }), N: fc.integer({ min: 1, max: 37 }), seed, inWasm: fc.boolean(),
  });

  it('forward: out = x·Wᵀ within (K+2)·ε·Σ|x·W| + ε·|out|', () => {
    fc.assert(fc.property(shape, ({ T, K, N, seed, inWasm }) => {
      const x = randomArray(T * K, seed);
      const W = randomArray(N * K, seed + 1, 0.5);
      const want = new Float32Array(T * N);
      matmul(want, x, f32Tensor(W, N, K), T);
      const out = place(new Float32Array(T * N).fill(NaN), inWasm);
      wasm.matmul(out, place(x, inWasm), f32Tensor(place(W, inWasm), N, K), T);
      expectClose(out, want, (i) => {
        const t = Math.floor(i / N);
        const n = i % N;
        let abs = 0;
        for (let k = 0; k < K; k++) abs += Math.abs(x[t * K + k] * W[n * K + k]);
        return (K + 2) * EPS32 * abs + EPS32 * Math.abs(want[i]);
      }, `matmul T=${T} K=${K} N=${N}`);
    }), RUNS);
  });

  it('backward: dx += dout·W and dW += doutᵀ·x, each within its rounding bound', () => {
    fc.assert(fc.property(shape, ({ T, K, N, seed, inWasm }) => {
      const x = randomArray(T * K, seed);
      const W = randomArray(N * K, seed + 1, 0.5);
      const dout = randomArray(T * N, seed + 2);
      const dx0 = randomArray(T * K, seed + 3);
      const dw0 = randomArray(N * K, seed + 4);
      const [dxWant, dwWant] = [dx0.slice(), dw0.slice()];
      matmulBackward(dxWant, dwWant, dout, x, f32Tensor(W, N, K), T);
      const [dx, dw] = [place(dx0, inWasm), place(dw0, inWasm)];
      wasm.matmulBackward(dx, dw, place(dout, inWasm), place(x, inWasm), f32Tensor(place(W, inWasm), N, K), T);
      expectClose(dx, dxWant, (i) => {
        const [t, k] = [Math.floor(i / K), i % K];
        let abs = Math.abs(dx0[i]);
        for (let n = 0; n < N; n++) abs += Math.abs(dout[t * N + n] * W[n * K + k]);
        return (N + 3) * EPS32 * abs;
      }, `dx T=${T} K=${K} N=${N}`);
      expectClose(dw, dwWant, (i) => {
        const [n, k] = [Math.floor(i / K), i % K];
        let abs = Math.abs(dw0[i]);
        for (let t = 0; t < T; t++) abs += Math.abs(dout[t * N + n] * x[t * K + k]);
        return (T + 3) * EPS32 * abs;
      }, `dW T=${T} K=${K} N=${N}`);
    }), RUNS);
  });

  it('large shapes (1000 rows, panels and tails) stay within the same bounds', () => {
    const [T, K, N] = [1003, 45, 27];
    const x = randomArray(T * K, 1);
    const W = randomArray(N * K, 2);
    const dout = randomArray(T * N, 3);
    const [dx, dw] = [new Float32Array(T * K), new Float32Array(N * K)];
    const [dxWant, dwWant] = [new Float32Array(T * K), new Float32Array(N * K)];
    matmulBackward(dxWant, dwWant, dout, x, f32Tensor(W, N, K), T);
    wasm.matmulBackward(dx, dw, dout, x, f32Tensor(W, N, K), T);
    // |terms| ≤ ~20 each (normal products), so the bound (T+3)·ε·Σ|terms| is at most ~1e-3 here
    expectClose(dw, dwWant, (i) => {
      const [n, k] = [Math.floor(i / K), i % K];
      let abs = 0;
      for (let t = 0; t < T; t++) abs += Math.abs(dout[t * N + n] * x[t * K + k]);
      return (T + 3) * EPS32 * abs;
    }, 'dW 1003×45×27');
    expectClose(dx, dxWant, (i) => (N + 3) * EPS32 * 40 * N, 'dx 1003×45×27');
  });

  it('rejects quantized weights and short arrays with clear errors', () => {
    const w = { dtype: 'f16' as const, rows: 2, cols: 2, data: new Uint16Array(4) };
    expect(() => wasm.matmulBackward(new Float32Array(2), new Float32Array(4), new Float32Array(2), new Float32Array(2), w, 1)).toThrow(/training needs f32 weights, got f16/);
    expect(() => wasm.matmulBackward(new Float32Array(3), new Float32Array(4), new Float32Array(4), new Float32Array(4), f32Tensor(new Float32Array(4), 2, 2), 2)).toThrow(/wasm matmulBackward: dx has 3 floats, needs 4/);
    expect(() => wasm.matmul(new Float32Array(4), new Float32Array(4), f32Tensor(new Float32Array(4), 2, 2), 0)).toThrow(/T must be a positive integer/);
  });
});

describe('wasm training row-wise backward kernels', () => {
  it('rmsnormBackward: dx and dgain within a few ε of their terms (dgain: ε per row summed)', () => {
    const arb = fc.record({ T: fc.integer({ min: 1, max: 9 }), C: fc.integer({ min: 1, max: 41 }), eps: fc.constantFrom(1e-5, 1e-6), seed, inWasm: fc.boolean() });
    fc.assert(fc.property(arb, ({ T, C, eps, seed, inWasm }) => {
      const x = randomArray(T * C, seed, 2);
      const gain = randomArray(C, seed + 1).map((g) => 1 + 0.3 * g);
      const dout = randomArray(T * C, seed + 2);
      const dx0 = randomArray(T * C, seed + 3);
      const dg0 = randomArray(C, seed + 4);
      const [dxWant, dgWant] = [dx0.slice(), dg0.slice()];
      rmsnormBackward(dxWant, dgWant, dout, x, gain, T, C, eps);
      const [dx, dg] = [place(dx0, inWasm), place(dg0, inWasm)];
      wasm.rmsnormBackward(dx, dg, place(dout, inWasm), place(x, inWasm), place(gain, inWasm), T, C, eps);
      // per row: r = rms⁻¹ and k = r³·Σ dy g x / C, both in f64 on both sides
      const r = new Float64Array(T);
      const k = new Float64Array(T);
      for (let t = 0; t < T; t++) {
        let ss = 0;
        let dot = 0;
        for (let c = 0; c < C; c++) {
          ss += x[t * C + c] ** 2;
          dot += dout[t * C + c] * gain[c] * x[t * C + c];
        }
        r[t] = 1 / Math.sqrt(ss / C + eps);
        k[t] = (r[t] ** 3 * dot) / C;
      }
      expectClose(dx, dxWant, (i) => {
        const [t, c] = [Math.floor(i / C), i % C];
        return 8 * EPS32 * (Math.abs(dx0[i]) + Math.abs(r[t] * gain[c] * dout[i]) + Math.abs(k[t] * x[i]));
      }, `rmsnorm dx T=${T} C=${C}`);
      expectClose(dg, dgWant, (c) => {
        let abs = Math.abs(dg0[c]);
        for (let t = 0; t < T; t++) abs += Math.abs(dout[t * C + c] * x[t * C + c] * r[t]);
        return (T + 4) * 4 * EPS32 * abs;
      }, `rmsnorm dgain T=${T} C=${C}`);
    }), RUNS);
  });

  it('ropeBackward: the same f64 rotation by −φ, within 2ε of the pair', () => {
    const arb = fc.record({ T: fc.integer({ min: 1, max: 9 }), nHeads: fc.integer({ min: 1, max: 4 }), half: fc.integer({ min: 1, max: 9 }), pos0: fc.integer({ min: 0, max: 300 }), seed, inWasm: fc.boolean() });
    fc.assert(fc.property(arb, ({ T, nHeads, half, pos0, seed, inWasm }) => {
      const hd = 2 * half;
      const d = randomArray(T * nHeads * hd, seed);
      const want = d.slice();
      ropeBackward(want, T, nHeads, hd, pos0, ropeFrequencies(hd, 10000, [1.5, 8, 2, 1, 3, 4, 5, 6, 7].slice(0, hd / 2)));
      const got = place(d, inWasm);
      wasm.ropeBackward(got, T, nHeads, hd, pos0, ropeFrequencies(hd, 10000, [1.5, 8, 2, 1, 3, 4, 5, 6, 7].slice(0, hd / 2)));
      expectClose(got, want, (i) => {
        const pair = i - (i % 2);
        return 2 * EPS32 * (Math.abs(d[pair]) + Math.abs(d[pair + 1]));
      }, `ropeBackward T=${T} heads=${nHeads} hd=${hd} pos0=${pos0}`);
    }), RUNS);
  });

  // SwiGLU runs in f32 here, with an f32x4 exp (relative error < 2ε): σ(g) is within 4ε,
  // and each product adds one rounding. 1 + g(1 − σ) can cancel, so its bound is taken on
  // 1 + |g|: the error of 1 − σ is ~4ε, times |g|.
  it('swiglu forward: silu(gate)·up within 8ε', () => {
    const arb = fc.record({ n: fc.integer({ min: 1, max: 300 }), seed, inWasm: fc.boolean(), inPlace: fc.boolean() });
    fc.assert(fc.property(arb, ({ n, seed, inWasm, inPlace }) => {
      const gate = randomArray(n, seed, 4);
      const up = randomArray(n, seed + 1);
      const want = new Float32Array(n);
      tsTrainingKernels.swiglu(want, gate, up, n);
      const g = place(gate, inWasm);
      const out = inPlace ? g : place(new Float32Array(n).fill(NaN), inWasm);
      wasm.swiglu(out, g, place(up, inWasm), n);
      expectClose(out, want, (i) => 8 * EPS32 * Math.abs(want[i]), `swiglu n=${n} inPlace=${inPlace}`);
    }), RUNS);
  });

  it('swigluBackward: dgate, dup within their f32 rounding bounds', () => {
    const arb = fc.record({ n: fc.integer({ min: 1, max: 300 }), seed, inWasm: fc.boolean() });
    fc.assert(fc.property(arb, ({ n, seed, inWasm }) => {
      const gate = randomArray(n, seed, 4);
      const up = randomArray(n, seed + 1);
      const dout = randomArray(n, seed + 2);
      const dg0 = randomArray(n, seed + 3);
      const du0 = randomArray(n, seed + 4);
      const [dgWant, duWant] = [dg0.slice(), du0.slice()];
      swigluBackward(dgWant, duWant, dout, gate, up, n);
      const [dg, du] = [place(dg0, inWasm), place(du0, inWasm)];
      wasm.swigluBackward(dg, du, place(dout, inWasm), place(gate, inWasm), place(up, inWasm), n);
      const sigmoid = (i: number) => 1 / (1 + Math.exp(-gate[i]));
      expectClose(dg, dgWant, (i) => 12 * EPS32 * (Math.abs(dg0[i]) + Math.abs(dout[i] * up[i]) * sigmoid(i) * (1 + Math.abs(gate[i]))), `swiglu dgate n=${n}`);
      expectClose(du, duWant, (i) => 8 * EPS32 * (Math.abs(du0[i]) + Math.abs(dout[i] * gate[i]) * sigmoid(i)), `swiglu dup n=${n}`);
    }), RUNS);
  });
});

describe('wasm attentionBackward', () => {
  // The WASM side sums the hd-long dot products in f32, its softmax is f32 (f32x4 exp), and
  // p is kept in f32 as the reference does; its ds and the dq/dk/dv sums over s are f32 chains of ≤ T terms. Each element is
  // within 4·(T + hd)·ε of the tensor's scale (its largest gradient) plus its own prefill.
  it('dq, dk, dv equal the reference with grouped heads', () => {
    const arb = fc.record({
      T: fc.integer({ min: 1, max: 19 }), nKvHeads: fc.integer({ min: 1, max: 3 }), group: fc.integer({ min: 1, max: 3 }),
      half: fc.integer({ min: 1, max: 7 }), seed, inWasm: fc.boolean(),
    });
    fc.assert(fc.property(arb, ({ T, nKvHeads, group, half, seed, inWasm }) => {
      const nHeads = nKvHeads * group;
      const hd = 2 * half;
      const [qn, kvn] = [T * nHeads * hd, T * nKvHeads * hd];
      const q = randomArray(qn, seed);
      const k = randomArray(kvn, seed + 1);
      const v = randomArray(kvn, seed + 2);
      const dout = randomArray(qn, seed + 3);
      const init = [randomArray(qn, seed + 4), randomArray(kvn, seed + 5), randomArray(kvn, seed + 6)];
      const want = init.map((a) => a.slice());
      attentionBackward(want[0], want[1], want[2], dout, q, k, v, T, nHeads, nKvHeads, hd);
      const got = init.map((a) => place(a, inWasm));
      wasm.attentionBackward(got[0], got[1], got[2], place(dout, inWasm), place(q, inWasm), place(k, inWasm), place(v, inWasm), T, nHeads, nKvHeads, hd);
      ['dq', 'dk', 'dv'].forEach((name, j) => {
        let scale = 0;
        want[j].forEach((w, i) => (scale = Math.max(scale, Math.abs(w - init[j][i]))));
        const tol = (i: number) => 4 * (T + hd) * EPS32 * (scale + Math.abs(init[j][i]));
        expectClose(got[j], want[j], tol, `attention ${name} T=${T} heads=${nHeads}/${nKvHeads} hd=${hd}`);
      });
    }), RUNS);
  });

  // The forward (f32 softmax with the f32x4 exp) over a cache of pos0 + T rows: scores are
  // f32 dot products (error ~hd·ε of a few units), the softmax ~T·ε, the weighted sum of
  // values ~T·ε of max|v|: within 16·(T + hd)·ε·max|v|.
  it('attention forward equals the reference: a whole sequence (pos0 0, matrix products) or a cache (pos0 > 0)', () => {
    const arb = fc.record({
      T: fc.integer({ min: 1, max: 21 }), pos0: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 9 })), nKvHeads: fc.integer({ min: 1, max: 3 }),
      group: fc.integer({ min: 1, max: 3 }), half: fc.integer({ min: 1, max: 7 }), seed, inWasm: fc.boolean(),
    });
    fc.assert(fc.property(arb, ({ T, pos0, nKvHeads, group, half, seed, inWasm }) => {
      const [nHeads, hd, S] = [nKvHeads * group, 2 * half, pos0 + T];
      const q = randomArray(T * nHeads * hd, seed);
      const k = randomArray(S * nKvHeads * hd, seed + 1);
      const v = randomArray(S * nKvHeads * hd, seed + 2);
      const want = new Float32Array(T * nHeads * hd);
      tsTrainingKernels.attention(want, q, k, v, T, pos0, nHeads, nKvHeads, hd);
      const out = place(new Float32Array(want.length).fill(NaN), inWasm);
      wasm.attention(out, place(q, inWasm), place(k, inWasm), place(v, inWasm), T, pos0, nHeads, nKvHeads, hd);
      const vMax = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      expectClose(out, want, () => 16 * (S + hd) * EPS32 * vMax, `attention T=${T} pos0=${pos0} heads=${nHeads}/${nKvHeads} hd=${hd}`);
    }), RUNS);
  });

  it('rejects heads that do not group', () => {
    const a = new Float32Array(12);
    expect(() => wasm.attentionBackward(a, a, a, a, a, a, a, 1, 3, 2, 2)).toThrow(/nHeads 3 is not a multiple of nKvHeads 2/);
  });
});

// --- whole models ---------------------------------------------------------------------------------

const config: LlamaConfig = {
  dim: 24, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 44, vocabSize: 37, maxSeqLen: 16,
  normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
};

function randomBatch(B: number, T: number, V: number, s: number): Batch {
  const u = seededUniform(s);
  const tokens = Array.from({ length: B * T }, () => Math.floor(u() * V));
  const targets = Array.from({ length: B * T }, (_, i) => (i % 7 === 3 ? -1 : Math.floor(u() * V)));
  return { tokens, targets, B, T };
}

// Float32 rounding differs (f32 matmul sums instead of f64), and the differences pass
// through ~10 layers of operations: each gradient tensor within 1e-4 of its own scale.
function expectSameGradients(ours: Float32Array[], theirs: Float32Array[], names: string[]): void {
  theirs.forEach((g, j) => {
    let scale = 0;
    for (const v of g) scale = Math.max(scale, Math.abs(v));
    expect(scale, `${names[j]} is not all zero`).toBeGreaterThan(0);
    expectClose(ours[j], g, () => 1e-4 * scale, names[j]);
  });
}

describe('wasm training: whole models', () => {
  it.each([false, true])('lossAndGradients equals the TypeScript kernels (shared classifier: %s)', (shared) => {
    const model = randomModel({ ...config, sharedClassifier: shared }, 11, { std: 0.2, gainJitter: 0.2 });
    const batch = randomBatch(3, 13, config.vocabSize, 5);
    const tsGrads = createGradients(model.config);
    const tsLoss = lossAndGradients(model, tsTrainingKernels, batch, tsGrads);
    const wasmGrads = createGradients(model.config);
    const wasmLoss = lossAndGradients(model, wasm, batch, wasmGrads);
    expect(Math.abs(wasmLoss - tsLoss)).toBeLessThan(1e-5 * tsLoss);
    const ts = namedParameters(model, tsGrads);
    expectSameGradients(namedParameters(model, wasmGrads).map((p) => p.grad), ts.map((p) => p.grad), ts.map((p) => p.name));
  });

  it('placeModel puts every f32 parameter in WASM memory, keeps a shared classifier shared, and gives the same gradients', () => {
    const model = randomModel({ ...config, sharedClassifier: true }, 12, { std: 0.2 });
    const placed = wasm.placeModel(model);
    expect(placed.weights.output).toBe(placed.weights.tokenEmbedding);
    expect(placed.weights.layers[1].w2.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(placed.weights.layers[0].ffnNorm).toEqual(model.weights.layers[0].ffnNorm);
    expect(placed.weights.layers[0].ffnNorm).not.toBe(model.weights.layers[0].ffnNorm);
    const batch = randomBatch(2, 16, config.vocabSize, 6);
    const a = createGradients(model.config);
    const b = createGradients(model.config);
    expect(lossAndGradients(placed, wasm, batch, a)).toBe(lossAndGradients(model, wasm, batch, b));
    namedParameters(model, b).forEach((p, j) => expect(namedParameters(placed, a)[j].grad).toEqual(p.grad));
  });

  it('10 AdamW steps follow the TypeScript run: losses within 1e-4 relative, and they fall', () => {
    const batches = Array.from({ length: 10 }, (_, i) => randomBatch(2, 12, config.vocabSize, 100 + (i % 2)));
    const run = (kernels: typeof tsTrainingKernels, placeInWasm: boolean) => {
      const fresh = randomModel(config, 13, { std: 0.1 });
      const trainer = createTrainer(placeInWasm ? wasm.placeModel(fresh) : fresh, kernels);
      return batches.map((b) => trainStep(trainer, b, 3e-3).loss);
    };
    const tsLosses = run(tsTrainingKernels, false);
    const wasmLosses = run(wasm, true);
    wasmLosses.forEach((loss, i) => expect(Math.abs(loss - tsLosses[i]), `step ${i}: ${loss} vs ${tsLosses[i]}`).toBeLessThan(1e-4 * tsLosses[i]));
    expect(wasmLosses[9]).toBeLessThan(wasmLosses[1] - 0.1);
  });
});

describe('wasm training: threads', () => {
  it('columnRange splits columns into whole panels of 8 that cover each column once', () => {
    for (const P of [1, 7, 8, 9, 64, 100, 344]) {
      for (const n of [1, 2, 3, 5]) {
        const ranges = Array.from({ length: n }, (_, i) => columnRange(P, i, n));
        expect(ranges[0][0]).toBe(0);
        expect(ranges[n - 1][1]).toBe(P);
        ranges.forEach(([lo, hi], i) => {
          expect(lo).toBeLessThanOrEqual(hi);
          if (i > 0) expect(lo).toBe(ranges[i - 1][1]);
          if (hi < P) expect(hi % 8).toBe(0);
        });
      }
    }
  });

  // Each output column is one thread's, summed in the same order: the same bits at any count.
  it('two threads give the same bits as one: matmuls, attention and a whole model\'s gradients', async () => {
    const two = await createWasmTrainingKernels({ maxMemoryBytes: 1 << 30, wasmPath, threads: 2, minParallelWork: 0 });
    try {
      expect(two.threads).toBe(2);
      const [T, K, N] = [37, 45, 51];
      const x = randomArray(T * K, 1);
      const w = f32Tensor(randomArray(N * K, 2), N, K);
      const dout = randomArray(T * N, 3);
      const outs = [wasm, two].map((k) => {
        const out = new Float32Array(T * N);
        const dx = new Float32Array(T * K);
        const dw = new Float32Array(N * K);
        k.matmul(out, x, w, T);
        k.matmulBackward(dx, dw, dout, x, w, T);
        return [out, dx, dw];
      });
      outs[1].forEach((a, i) => expect(a).toEqual(outs[0][i]));
      // attention split by kv heads (3 over 2 threads), forward and backward
      const [S, nHeads, nKv, hd] = [19, 6, 3, 10];
      const q = randomArray(S * nHeads * hd, 4);
      const kv = [randomArray(S * nKv * hd, 5), randomArray(S * nKv * hd, 6)];
      const d = randomArray(S * nHeads * hd, 7);
      const atts = [wasm, two].map((k) => {
        const out = new Float32Array(S * nHeads * hd);
        const grads = [new Float32Array(S * nHeads * hd), new Float32Array(S * nKv * hd), new Float32Array(S * nKv * hd)];
        k.attention(out, q, kv[0], kv[1], S, 0, nHeads, nKv, hd);
        k.attentionBackward(grads[0], grads[1], grads[2], d, q, kv[0], kv[1], S, nHeads, nKv, hd);
        return [out, ...grads];
      });
      atts[1].forEach((a, i) => expect(a).toEqual(atts[0][i]));
      expect(Math.max(...atts[0][2].map(Math.abs))).toBeGreaterThan(1e-3);
      const model = randomModel({ ...config, dim: 40, hiddenDim: 76 }, 14, { std: 0.2 });
      const batch = randomBatch(2, 16, config.vocabSize, 7);
      const grads = [wasm, two].map((k) => {
        const g = createGradients(model.config);
        const loss = lossAndGradients(model, k, batch, g);
        return { loss, grads: namedParameters(model, g).map((p) => p.grad) };
      });
      expect(grads[1].loss).toBe(grads[0].loss);
      grads[1].grads.forEach((g, j) => expect(g).toEqual(grads[0].grads[j]));
    } finally {
      await two.close();
    }
  });
});

describe('wasm training: golden cases', () => {
  const manifest = readManifest();
  const withGradients = manifest.cases.filter((c) => c.tensors.some((n) => n.startsWith('grad.'))); // not the block or long cases
  it.each(withGradients.map((c) => [c.name, c] as const))('%s: loss and every grad.* within the manifest tolerance', (_name, c) => {
    const expected = readExpected(manifest, c);
    const model = caseModel(manifest, c);
    const batch = { tokens: c.tokens, targets: c.targets, B: 1, T: c.tokens.length };
    const grads = createGradients(model.config);
    const loss = lossAndGradients(model, wasm, batch, grads);
    expectGolden(manifest, expected, 'loss', [loss]);
    const params = namedParameters(model, grads);
    expect(params.length).toBe(c.tensors.filter((n) => n.startsWith('grad.')).length);
    for (const p of params) expectGolden(manifest, expected, 'grad.' + p.name, p.grad);
  });
});
