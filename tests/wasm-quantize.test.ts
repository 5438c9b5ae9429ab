// src/quant/quantize.ts: GGUF q8_0 / q4_0 blocks as ggml's reference quantizers write
// them (checked on a block worked out by hand), and the error every value may have.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { f16ToF32, f32ToF16, toF32 } from '../reference/tensor.js';
import { quantize } from '../src/quant/quantize.js';
import { randomArray } from './wasm-helpers.js';

// x[j] = j / 4, j = 0..31: max |x| = 7.75 at j = 31
const ramp = Float32Array.from({ length: 32 }, (_, j) => j / 4);

describe('quantize q8_0', () => {
  it('writes d = max|x| / 127 as a half, then round(x / d)', () => {
    const { data } = quantize(ramp, 1, 32, 'q8_0');
    expect(data.length).toBe(34);
    const bytes = data as Uint8Array;
    expect(bytes[0] | (bytes[1] << 8)).toBe(f32ToF16(Math.fround(7.75 / 127)));
    // q_j = round(j/4 · 127/7.75) = round(4.0968 j)
    expect(Array.from(bytes.subarray(2, 8))).toEqual([0, 4, 8, 12, 16, 20]);
    expect(bytes[2 + 31]).toBe(127);
    const negated = quantize(ramp.map((v) => -v), 1, 32, 'q8_0').data as Uint8Array;
    expect((negated[2 + 31] << 24) >> 24).toBe(-127);
    expect((negated[2 + 1] << 24) >> 24).toBe(-4);
  });

  // |x − d̂·q| ≤ d/2 (rounding) + 127·|d − d̂| (d stored as a half d̂)
  it('decodes every value within half a step', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 2 ** 30 }), (blocks, seed) => {
        const x = randomArray(32 * blocks, seed, 3);
        const w = quantize(x, 1, 32 * blocks, 'q8_0');
        const back = toF32(w);
        for (let b = 0; b < blocks; b++) {
          let amax = 0;
          for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]));
          const d = Math.fround(amax / 127);
          const dHalf = f16ToF32(f32ToF16(d));
          for (let j = 0; j < 32; j++) {
            const err = Math.abs(x[32 * b + j] - back[32 * b + j]);
            expect(err).toBeLessThanOrEqual(d / 2 + 127 * Math.abs(d - dHalf) + 1e-6 * amax);
          }
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('quantize q4_0', () => {
  it('writes d = m / −8 for the value m of largest magnitude, nibbles j and j+16 in byte j', () => {
    const bytes = quantize(ramp, 1, 32, 'q4_0').data as Uint8Array;
    expect(bytes.length).toBe(18);
    expect(bytes[0] | (bytes[1] << 8)).toBe(f32ToF16(-0.96875)); // 7.75 / −8
    // q = min(15, trunc(x / d + 8.5)): x = 0 -> 8; x = 4 (j = 16) -> trunc(4.371) = 4
    expect(bytes[2]).toBe(8 | (4 << 4));
    // x = 7.75 (j = 31) -> trunc(0.5) = 0, the high nibble of byte 15; x = 3.75 (j = 15) -> 4
    expect(bytes[2 + 15]).toBe(4 | (0 << 4));
    const back = toF32(quantize(ramp, 1, 32, 'q4_0'));
    expect(back[31]).toBeCloseTo(7.75, 6); // the extreme value is kept exactly (d·−8)
  });

  // |x − d̂·(q − 8)| ≤ |d| (a step: rounding, or the clamp at 15) + 8·|d − d̂|
  it('decodes every value within one step', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 2 ** 30 }), (blocks, seed) => {
        const x = randomArray(32 * blocks, seed, 3);
        const back = toF32(quantize(x, 1, 32 * blocks, 'q4_0'));
        for (let b = 0; b < blocks; b++) {
          let m = 0;
          for (let j = 0; j < 32; j++) if (Math.abs(x[32 * b + j]) > Math.abs(m)) m = x[32 * b + j];
          const d = Math.abs(Math.fround(m / -8));
          const dHalf = Math.abs(f16ToF32(f32ToF16(m / -8)));
          for (let j = 0; j < 32; j++) {
            expect(Math.abs(x[32 * b + j] - back[32 * b + j])).toBeLessThanOrEqual(d + 8 * Math.abs(d - dHalf) + 1e-6 * Math.abs(m));
          }
        }
      }),
      { numRuns: 50 },
    );
  });

  it('turns an all-zero block into d = −0 (0 / −8, as in ggml) and nibbles 8', () => {
    const bytes = quantize(new Float32Array(32), 1, 32, 'q4_0').data as Uint8Array;
    expect(Array.from(bytes)).toEqual([0x00, 0x80, ...new Array(16).fill(0x88)]);
  });
});

describe('quantize: bad input', () => {
  it('names the shape problem', () => {
    expect(() => quantize(new Float32Array(48), 1, 48, 'q8_0')).toThrow(/quantize q8_0: a row of 48 values is not whole blocks of 32/);
    expect(() => quantize(new Float32Array(10), 2, 4, 'f16')).toThrow(/quantize f16: 10 values for shape \[2, 4\]/);
  });
});
