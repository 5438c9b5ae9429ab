// AdamW, gradient clipping and the learning-rate schedule on hand-computed values and properties.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { adamwStep, createAdamW, LLAMA_ADAMW } from '../reference/adamw.js';
import { clipGradNorm, gradNorm } from '../reference/clip.js';
import type { NamedParameter } from '../reference/gradients.js';
import { lrAt } from '../reference/schedule.js';

const param = (name: string, value: number[], grad: number[], decay: boolean): NamedParameter => ({
  name, value: Float32Array.from(value), grad: Float32Array.from(grad), decay,
});

describe('lrAt: linear warmup, cosine to 10 %', () => {
  const s = { peak: 3e-4, warmup: 100, total: 1100 };

  test('known points', () => {
    expect(lrAt(0, s)).toBe(0);
    expect(lrAt(50, s)).toBeCloseTo(1.5e-4, 15);
    expect(lrAt(100, s)).toBeCloseTo(3e-4, 15);
    expect(lrAt(600, s)).toBeCloseTo((3e-4 + 3e-5) / 2, 15); // halfway down the cosine
    expect(lrAt(1100, s)).toBeCloseTo(3e-5, 15);
    expect(lrAt(5000, s)).toBeCloseTo(3e-5, 15); // flat after the end
    expect(lrAt(1100, { ...s, minRatio: 0 })).toBeCloseTo(0, 15);
    expect(lrAt(7, { peak: 1, warmup: 0, total: 0 })).toBe(0.1);
    expect(lrAt(0, { peak: 1, warmup: 0, total: 10 })).toBe(1);
  });

  test('rises during warmup, never rises after it, stays within [min, peak]', () => {
    const schedule = fc.record({ peak: fc.double({ min: 1e-6, max: 1, noNaN: true }), warmup: fc.integer({ min: 0, max: 50 }), extra: fc.integer({ min: 0, max: 200 }) });
    fc.assert(fc.property(schedule, ({ peak, warmup, extra }) => {
      const sch = { peak, warmup, total: warmup + extra };
      let prev = lrAt(0, sch);
      for (let step = 1; step <= sch.total + 5; step++) {
        const lr = lrAt(step, sch);
        if (step <= warmup) expect(lr).toBeGreaterThan(prev);
        else expect(lr).toBeLessThanOrEqual(prev);
        if (step >= warmup) expect(lr).toBeGreaterThanOrEqual(0.1 * peak * (1 - 1e-12));
        expect(lr).toBeLessThanOrEqual(peak * (1 + 1e-12));
        prev = lr;
      }
      if (warmup > 0) expect(lrAt(warmup, sch)).toBeCloseTo(peak, 12);
      expect(lrAt(sch.total, sch)).toBeCloseTo(extra === 0 ? peak : 0.1 * peak, 12);
    }), { numRuns: 50 });
  });

  test('bad schedules throw, naming the field', () => {
    expect(() => lrAt(-1, s)).toThrow(/step must be/);
    expect(() => lrAt(1, { ...s, total: 50 })).toThrow(/total 50 must be an integer ≥ warmup 100/);
    expect(() => lrAt(1, { ...s, peak: NaN })).toThrow(/peak/);
    expect(() => lrAt(1, { ...s, minRatio: 2 })).toThrow(/minRatio/);
    expect(() => lrAt(1, { ...s, warmup: 1.5 })).toThrow(/warmup/);
  });
});

describe('clipGradNorm (torch.nn.utils.clip_grad_norm_)', () => {
  test('scales by maxNorm / (norm + 1e-6) when that is below 1, and returns the norm before', () => {
    const a = Float32Array.of(3, 0), b = Float32Array.of(0, 4);
    expect(clipGradNorm([a, b], 1)).toBe(5);
    const coef = 1 / (5 + 1e-6);
    expect(Array.from(a)).toEqual([Math.fround(3 * coef), 0]);
    expect(Array.from(b)).toEqual([0, Math.fround(4 * coef)]);
    expect(gradNorm([a, b])).toBeCloseTo(1, 6);
  });

  test('leaves small gradients alone (coef ≥ 1)', () => {
    const a = Float32Array.of(0.3, -0.4);
    expect(clipGradNorm([a], 1)).toBeCloseTo(0.5, 7);
    expect(Array.from(a)).toEqual([Math.fround(0.3), Math.fround(-0.4)]);
    expect(() => clipGradNorm([a], 0)).toThrow(/maxNorm must be positive/);
  });
});

describe('AdamW', () => {
  test('first step: bias correction makes it lr·g/(|g| + eps), decay only on matrices', () => {
    const lr = 1e-2;
    const w = param('w', [1, -2], [0.5, -0.001], true);
    const gain = param('g', [1, 1], [0.5, -0.001], false);
    const state = createAdamW([w, gain]);
    adamwStep(state, [w, gain], lr);
    const step = (g: number) => (lr * g) / (Math.abs(g) + 1e-8);
    expect(w.value[0]).toBeCloseTo(1 * (1 - lr * 0.1) - step(0.5), 7);
    expect(w.value[1]).toBeCloseTo(-2 * (1 - lr * 0.1) - step(-0.001), 6);
    expect(gain.value[0]).toBeCloseTo(1 - step(0.5), 7);
    expect(gain.value[1]).toBeCloseTo(1 - step(-0.001), 7);
    expect(state.m[0][0]).toBeCloseTo(0.05, 8); // (1 − β1) g, uncorrected
    expect(state.v[0][0]).toBeCloseTo(0.05 * 0.25, 8); // (1 − β2) g², uncorrected
    expect(state.step).toBe(1);
  });

  test('second step follows the formula with t = 2', () => {
    const lr = 1e-3;
    const p = param('w', [0.5], [0.2], true);
    const state = createAdamW([p]);
    adamwStep(state, [p], lr);
    const after1 = p.value[0];
    p.grad[0] = -0.1;
    adamwStep(state, [p], lr);
    const { beta1: b1, beta2: b2, eps } = LLAMA_ADAMW;
    const m = b1 * (1 - b1) * 0.2 + (1 - b1) * -0.1;
    const v = b2 * (1 - b2) * 0.04 + (1 - b2) * 0.01;
    const expected = after1 * (1 - lr * 0.1) - (lr / (1 - b1 ** 2)) * m / (Math.sqrt(v) / Math.sqrt(1 - b2 ** 2) + eps);
    expect(p.value[0]).toBeCloseTo(expected, 7);
    expect(state.m[0][0]).toBeCloseTo(m, 8);
    expect(state.v[0][0]).toBeCloseTo(v, 9);
  });

  test('a zero gradient still decays matrices and moves nothing else', () => {
    const p = param('w', [2], [0], true);
    const n = param('n', [2], [0], false);
    const state = createAdamW([p, n]);
    adamwStep(state, [p, n], 0.5);
    expect(p.value[0]).toBeCloseTo(2 * (1 - 0.05), 7);
    expect(n.value[0]).toBe(2);
  });

  test('refuses parameters it was not made for and bad settings', () => {
    const p = param('a', [1], [1], true);
    const state = createAdamW([p]);
    expect(() => adamwStep(state, [param('b', [1], [1], true)], 1e-3)).toThrow(/parameters \[b\] are not the ones/);
    expect(() => adamwStep(state, [p], -1)).toThrow(/learning rate/);
    expect(() => adamwStep(state, [p], 1e-3, { ...LLAMA_ADAMW, beta2: 1 })).toThrow(/beta2/);
    expect(state.step).toBe(0);
  });
});
