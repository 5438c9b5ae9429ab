// Every training shader (shaders-train.ts) executed on the adapter against its reference
// function, on random shapes at and not at multiples of the workgroup size (64), gradients
// accumulating into nonzero buffers (the += contract). Tolerance: NMSE 1e-7, as the forward
// kernels (tests/webgpu-kernels.test.ts); the norm to 1e-6 relative; the loss to golden/'s
// loss tolerance (1e-5 absolute + 1e-5 relative: lse − z_target cancels in float32).
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { adamwStep, createAdamW, LLAMA_ADAMW } from '../reference/adamw.js';
import { attentionBackward } from '../reference/attention.js';
import { clipGradNorm } from '../reference/clip.js';
import { crossEntropy, crossEntropyBackward } from '../reference/cross-entropy.js';
import { embedding, embeddingBackward } from '../reference/embedding.js';
import { matmulBackward } from '../reference/matmul.js';
import { rmsnormBackward } from '../reference/rmsnorm.js';
import { ropeBackward, ropeFrequencies } from '../reference/rope.js';
import { swigluBackward } from '../reference/swiglu.js';
import { f32Tensor } from '../reference/tensor.js';
import { GpuTrainOps } from '../src/backends/webgpu/ops-train.js';
import { ropeTable, uploadWeight } from '../src/backends/webgpu/ops.js';
import { gpuOps, nmse, randomArray, runOnGpu } from './webgpu-helpers.js';

const TOL = 1e-7;
const RUNS = { numRuns: 10 };
const train = async () => new GpuTrainOps(await gpuOps());
const read = (t: GpuTrainOps, b: GPUBuffer, n: number) => runOnGpu(t.ops, b, n, () => {});

describe('WebGPU training kernels against the reference', () => {
  test('matmul backward: dx and dW', async () => {
    const t = await train();
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 90 }), fc.integer({ min: 1, max: 90 }), fc.integer(), async (T, N, K, seed) => {
      const w = randomArray(N * K, seed);
      const x = randomArray(T * K, seed + 1);
      const dout = randomArray(T * N, seed + 2);
      const dx = randomArray(T * K, seed + 3, 0.5);
      const dw = randomArray(N * K, seed + 4, 0.5);
      const gdx = t.gpu.upload('dx', dx);
      const gdw = t.gpu.upload('dw', dw);
      matmulBackward(dx, dw, dout, x, f32Tensor(w, N, K), T);
      const got = await runOnGpu(t.ops, gdx, T * K, (rec) => t.matmulBackward(
        rec, gdx, gdw, t.gpu.upload('dout', dout), t.gpu.upload('x', x), uploadWeight(t.gpu, 'w', f32Tensor(w, N, K)), T));
      expect(nmse(got, dx)).toBeLessThan(TOL);
      expect(nmse(await read(t, gdw, N * K), dw)).toBeLessThan(TOL);
    }), RUNS);
  });

  test('rmsnorm backward: dx and dgain', async () => {
    const t = await train();
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 150 }), fc.integer({ min: 1, max: 4 }), fc.integer(), async (C, T, seed) => {
      const x = randomArray(T * C, seed, 3);
      const gain = randomArray(C, seed + 1);
      const dout = randomArray(T * C, seed + 2);
      const dx = randomArray(T * C, seed + 3, 0.5);
      const dg = randomArray(C, seed + 4, 0.5);
      const gdx = t.gpu.upload('dx', dx);
      const gdg = t.gpu.upload('dg', dg);
      rmsnormBackward(dx, dg, dout, x, gain, T, C, 1e-5);
      const got = await runOnGpu(t.ops, gdx, T * C, (rec) => t.rmsnormBackward(
        rec, gdx, gdg, t.gpu.upload('dout', dout), t.gpu.upload('x', x), t.gpu.upload('g', gain), t.gpu.storage('rinv', T * 4), T, C, 1e-5));
      expect(nmse(got, dx)).toBeLessThan(TOL);
      expect(nmse(await read(t, gdg, C), dg)).toBeLessThan(TOL);
    }), RUNS);
  });

  test('rope backward, scaled frequencies half the time', async () => {
    const t = await train();
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 500 }), fc.integer(),
      async (pairs, nHeads, T, pos0, seed) => {
        const hd = 2 * pairs;
        const dx = randomArray(T * nHeads * hd, seed);
        const freqs = ropeFrequencies(hd, 10000, seed % 2 ? Array.from({ length: pairs }, (_, i) => 1 + (i % 3)) : undefined);
        const buf = t.gpu.upload('dx', dx);
        ropeBackward(dx, T, nHeads, hd, pos0, freqs);
        const table = t.gpu.upload('rope', ropeTable(pos0 + T, freqs));
        const got = await runOnGpu(t.ops, buf, dx.length, (rec) => t.ropeBackward(rec, t.ops.step(T, pos0), buf, table, T, nHeads, hd));
        expect(nmse(got, dx)).toBeLessThan(TOL);
      }), RUNS);
  });

  test('attention backward with grouped key/value heads, sequences longer than a workgroup', async () => {
    const t = await train();
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 70 }), fc.integer(),
      async (nKvHeads, group, pairs, T, seed) => {
        const nHeads = nKvHeads * group;
        const hd = 2 * pairs;
        const q = randomArray(T * nHeads * hd, seed, 2);
        const k = randomArray(T * nKvHeads * hd, seed + 1, 2);
        const v = randomArray(T * nKvHeads * hd, seed + 2);
        const dout = randomArray(T * nHeads * hd, seed + 3);
        const dq = randomArray(q.length, seed + 4, 0.5);
        const dk = randomArray(k.length, seed + 5, 0.5);
        const dv = randomArray(v.length, seed + 6, 0.5);
        const [gq, gk, gv] = [t.gpu.upload('dq', dq), t.gpu.upload('dk', dk), t.gpu.upload('dv', dv)];
        attentionBackward(dq, dk, dv, dout, q, k, v, T, nHeads, nKvHeads, hd);
        const scratch = () => t.gpu.storage('scratch', T * nHeads * T * 4);
        const got = await runOnGpu(t.ops, gq, dq.length, (rec) => t.attentionBackward(
          rec, gq, gk, gv, t.gpu.upload('dout', dout), t.gpu.upload('q', q), t.gpu.upload('k', k), t.gpu.upload('v', v), scratch(), scratch(), T, nHeads, nKvHeads, hd));
        expect(nmse(got, dq)).toBeLessThan(TOL);
        expect(nmse(await read(t, gk, dk.length), dk)).toBeLessThan(TOL);
        expect(nmse(await read(t, gv, dv.length), dv)).toBeLessThan(TOL);
      }), RUNS);
  });

  test('swiglu backward', async () => {
    const t = await train();
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.integer(), async (n, seed) => {
      const gate = randomArray(n, seed, 4);
      const up = randomArray(n, seed + 1, 4);
      const dout = randomArray(n, seed + 2);
      const dgate = randomArray(n, seed + 3, 0.5);
      const dup = randomArray(n, seed + 4, 0.5);
      const [gg, gu] = [t.gpu.upload('dgate', dgate), t.gpu.upload('dup', dup)];
      swigluBackward(dgate, dup, dout, gate, up, n);
      const got = await runOnGpu(t.ops, gg, n, (rec) => t.swigluBackward(rec, gg, gu, t.gpu.upload('dout', dout), t.gpu.upload('gate', gate), t.gpu.upload('up', up), n));
      expect(nmse(got, dgate)).toBeLessThan(TOL);
      expect(nmse(await read(t, gu, n), dup)).toBeLessThan(TOL);
    }), RUNS);
  });

  test('cross-entropy: per-row loss and dlogits, ignored targets skipped', async () => {
    const t = await train();
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 2, max: 300 }), fc.integer(), async (T, V, seed) => {
      const logits = randomArray(T * V, seed, 6);
      const targets = Array.from({ length: T }, (_, i) => (i === 1 && seed & 1 ? -1 : ((seed >>> 0) + 7 * i) % V)); // row 1 ignored half the time
      const count = targets.filter((x) => x >= 0).length;
      const dlogits = randomArray(T * V, seed + 1, 0.1);
      const gd = t.gpu.upload('dlogits', dlogits);
      const loss = t.gpu.storage('loss', T * 4);
      crossEntropyBackward(dlogits, logits, targets, T, V);
      const got = await runOnGpu(t.ops, gd, T * V, (rec) => t.crossEntropy(rec, gd, loss, t.gpu.upload('logits', logits), t.gpu.upload('targets', Int32Array.from(targets)), T, V, count));
      expect(nmse(got, dlogits)).toBeLessThan(TOL);
      const rows = await read(t, loss, T);
      const mean = rows.reduce((a, b) => a + b, 0) / count;
      const want = crossEntropy(logits, targets, T, V);
      expect(Math.abs(mean - want)).toBeLessThan(1e-5 + 1e-5 * Math.abs(want)); // golden/'s loss tolerance
      if (count < T) expect(rows[1]).toBe(0);
    }), RUNS);
  });

  test('embedding and its scatter-add backward over repeated tokens', async () => {
    const t = await train();
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 150 }), fc.integer({ min: 1, max: 6 }), fc.integer(), async (T, C, V, seed) => {
      const table = randomArray(V * C, seed);
      const tokens = Array.from({ length: T }, (_, i) => (Math.abs(seed) + i * i) % V); // repeats when T > V
      const h = new Float32Array(T * C);
      embedding(h, f32Tensor(table, V, C), tokens, T);
      const gh = t.gpu.storage('h', T * C * 4);
      const toks = t.gpu.upload('tokens', Uint32Array.from(tokens));
      const got = await runOnGpu(t.ops, gh, T * C, (rec) => t.embedding(rec, gh, t.gpu.upload('table', table), toks, T, C));
      expect(Array.from(got)).toEqual(Array.from(h));
      const dh = randomArray(T * C, seed + 1);
      const dtable = randomArray(V * C, seed + 2, 0.5);
      const gdt = t.gpu.upload('dtable', dtable);
      embeddingBackward(dtable, dh, tokens, T, C);
      const dgot = await runOnGpu(t.ops, gdt, V * C, (rec) => t.embeddingBackward(rec, gdt, t.gpu.upload('dh', dh), toks, T, C));
      expect(nmse(dgot, dtable)).toBeLessThan(TOL);
    }), RUNS);
  });

  test('gradient norm and three AdamW steps with clipping, with and without decay', async () => {
    const t = await train();
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.boolean(), fc.integer(), async (n, decay, seed) => {
      const value = randomArray(n, seed);
      const param = { name: 'p', value: value.slice(), grad: new Float32Array(n), decay };
      const state = createAdamW([param]);
      const [gv, gm, gvv] = [t.gpu.upload('value', value), t.gpu.storage('m', n * 4), t.gpu.storage('v', n * 4)];
      const lr = 1e-3;
      for (let step = 1; step <= 3; step++) {
        const grad = randomArray(n, seed + step, step === 2 ? 3 : 0.05); // step 2 is clipped
        param.grad.set(grad);
        const gg = t.gpu.upload('grad', grad);
        const sums = t.gpu.storage('sums', 4);
        const ss = (await runOnGpu(t.ops, sums, 1, (rec) => t.sumOfSquares(rec, sums, gg, n, 0)))[0];
        const norm = clipGradNorm([param.grad], 1.0);
        expect(Math.abs(Math.sqrt(ss) - norm)).toBeLessThan(1e-6 * norm);
        adamwStep(state, [param], lr);
        const { beta1, beta2, eps, weightDecay } = LLAMA_ADAMW;
        const s = {
          beta1, beta2, eps, stepSize: lr / (1 - beta1 ** step), vCorrection: Math.sqrt(1 - beta2 ** step),
          decay: decay ? 1 - lr * weightDecay : 1, clip: Math.min(1, 1 / (Math.sqrt(ss) + 1e-6)),
        };
        const got = await runOnGpu(t.ops, gv, n, (rec) => t.adamw(rec, gv, gg, gm, gvv, n, s));
        expect(nmse(got, param.value)).toBeLessThan(1e-12);
        expect(nmse(await read(t, gm, n), state.m[0])).toBeLessThan(TOL);
        expect(nmse(await read(t, gvv, n), state.v[0])).toBeLessThan(TOL);
      }
    }), RUNS);
  });
});
