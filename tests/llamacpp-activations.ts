// llama.cpp's CPU matmul with a quantized weight first rounds each activation row to 8 bits
// in the weight type's vec_dot_type (ggml-cpu.c type_traits_cpu), then multiplies in
// integers. These kernels round the activations as its x86 (AVX2) build does, then multiply
// exactly (float64 sums of the float32 products, reference/matmul.ts), so that what is left
// between them and llama.cpp is summation order:
//
//   Q8_K (the K-quants)     per 256: iscale = -127/max (max: the value of largest |x|),
//                            q = min(127, nearest_int(iscale·x)), d = 1/iscale (float32)
//   Q8_0 (Q5_0, IQ4_NL)     per 32: d = amax/127 stored as a half, q = round_even(x·(127/amax))
//                            (quantize_row_q8_0's AVX2 path; the portable one uses 1/d and roundf)
//   Q8_1 (Q4_1, Q5_1)       Q8_0's q and d, and s = half((amax/127)·Σq): ggml_vec_dot_q4_1_q8_1
//                            adds m·s per block for the weight's min m, where the exact product
//                            has m·d·Σq; the half s differs from d·Σq by up to 2^-11 relative.
//
// Checked by hand against llama.cpp's own functions (ggml_get_type_traits_cpu's from_float and
// vec_dot, and to_float, of node-llama-cpp 3.21.1's libggml-cpu-haswell.so, called from C on
// the same blocks, 768×256 matrices, random activations): dequantization is bit for bit the
// reference's for every type, the Q8_K activation bytes are identical, and each dot product
// agrees with these kernels within 2.4e-7 of Σ|w·x| once Q8_1's s is modelled (3e-4 without).
// Its repacked Q4_K GEMM (repack.cpp, x86) is integer arithmetic on the same Q8_K values.
//
// What this cannot model: llama.cpp's float32 arithmetic upstream of a matmul (float32 sums
// in the matmuls, expf in SiLU and softmax) differs from the reference's by about 1e-7 of the
// values' scale, and a rounding whose input lies that close to its boundary then goes the
// other way there: an activation's iscale·x near a half-integer, or (Q8_0/Q8_1) the block's
// d = amax/127 or s near the midpoint of two halves. One such rounding moves log-probabilities
// by up to ~2e-2 on the small test model. `flips` rounds chosen ones the other way; `ties`
// collects the candidates.
import type { Kernels } from '../reference/kernels.js';
import { f16ToF32, f32ToF16 } from '../reference/half.js';
import { matmul } from '../reference/matmul.js';
import type { DType, WeightTensor } from '../reference/tensor.js';
import { tsKernels } from '../reference/ts-kernels.js';

const f = Math.fround;
const half = (x: number): number => f16ToF32(f32ToF16(x));
const roundHalfEven = (x: number): number => f(x + 12582912) - 12582912; // |x| < 2^22, as nearest_int

type VecDotType = 'q8_0' | 'q8_1' | 'q8_k';
const VEC_DOT_TYPE: Partial<Record<DType, VecDotType>> = {
  q8_0: 'q8_0', q4_0: 'q8_0', q5_0: 'q8_0', iq4_nl: 'q8_0', q4_1: 'q8_1', q5_1: 'q8_1',
  q2_k: 'q8_k', q3_k: 'q8_k', q4_k: 'q8_k', q5_k: 'q8_k', q6_k: 'q8_k',
};

// A rounding close to its boundary: `key` names it for `flips` (the n-th distinct matmul input
// of a forward pass, wq/wk/wv sharing one, then the element, or d/s and the block),
// `distance`: how far its input is from the boundary, relative to the scale of the block
// (an element: in units of the block's largest |x|; d and s: of themselves).
export interface Tie { key: string; distance: number; row: number } // row: the token

export interface ActivationRounding {
  flips?: ReadonlySet<string>;
  ties?: Tie[]; // filled with every activation within tieWindow of a boundary
  tieWindow?: number; // relative distance
}

// v's distance from the nearest midpoint between two neighbours on a grid of spacing `step`
const fromMidpoint = (v: number, step: number): number => Math.abs(v / step - Math.floor(v / step) - 0.5) * step;
const halfStep = (v: number): number => 2 ** (Math.max(Math.floor(Math.log2(Math.abs(v))), -14) - 10);
// a half rounded to its other neighbour of v
const otherHalf = (v: number): number => { const h = half(v); return h + (v > h ? 1 : -1) * halfStep(v); };

// Kernels for one forward pass (they count the distinct matmul inputs they see).
export function llamaCppActivations(options: ActivationRounding = {}): Kernels {
  const { flips, ties, tieWindow = 0 } = options;
  let input = -1;
  let previous: Float32Array | undefined;
  return {
    ...tsKernels,
    name: 'ts, activations rounded as llama.cpp (x86) does',
    matmul(out, x, w, T) {
      const type = VEC_DOT_TYPE[w.dtype];
      const K = w.cols;
      const xs = x.subarray(0, T * K);
      if (!previous || previous.length !== xs.length || previous.some((v, i) => v !== xs[i])) {
        input++;
        previous = xs.slice();
      }
      if (!type) return matmul(out, x, w, T);
      const block = type === 'q8_k' ? 256 : 32;
      const values = new Float32Array(T * K);
      const sums = type === 'q8_1' ? new Float64Array((T * K) / 32) : undefined; // s − d·Σq per block
      for (let b = 0; b < (T * K) / block; b++) {
        const o = b * block;
        let amax = 0, max = 0;
        for (let j = 0; j < block; j++) if (Math.abs(xs[o + j]) > amax) { amax = Math.abs(xs[o + j]); max = xs[o + j]; }
        if (amax === 0) continue; // zeros, d = 0
        const tie = (key: string, distance: number): boolean => {
          if (ties && distance < tieWindow) ties.push({ key, distance, row: Math.floor(o / K) });
          return flips?.has(key) ?? false;
        };
        const iscale = type === 'q8_k' ? f(-127 / max) : f(127 / amax);
        const d32 = f(amax / 127);
        const d = type === 'q8_k' ? f(1 / iscale) : tie(`${input}:d${b}`, fromMidpoint(d32, halfStep(d32)) / d32) ? otherHalf(d32) : half(d32);
        let qsum = 0;
        for (let j = 0; j < block; j++) {
          const v = f(iscale * xs[o + j]);
          let q = roundHalfEven(v);
          if (tie(`${input}:${o + j}`, fromMidpoint(v, 1) / 127)) q += v > q ? 1 : -1;
          q = Math.min(127, q);
          qsum += q;
          values[o + j] = f(d * q);
        }
        if (sums) {
          const s32 = f(d32 * qsum);
          const s = qsum !== 0 && tie(`${input}:s${b}`, fromMidpoint(s32, halfStep(s32)) / Math.abs(s32)) ? otherHalf(s32) : half(s32);
          sums[b] = s - d * qsum;
        }
      }
      matmul(out, values, w, T);
      if (sums) addMinTimesSum(out, sums, w, T);
    },
  };
}

// out[t, n] += Σ_b m[n, b] · (s − d·Σq)[t, b]: Q8_1's half-precision block sums against the
// weight's block minimums (Q4_1: 20-byte blocks, Q5_1: 24, m the half at byte 2).
function addMinTimesSum(out: Float32Array, sums: Float64Array, w: WeightTensor, T: number): void {
  const bytes = w.data as Uint8Array;
  const blockBytes = w.dtype === 'q4_1' ? 20 : 24;
  const blocks = w.cols / 32;
  for (let n = 0; n < w.rows; n++) {
    for (let t = 0; t < T; t++) {
      let extra = 0;
      for (let b = 0; b < blocks; b++) {
        const o = (n * blocks + b) * blockBytes;
        extra += f16ToF32(bytes[o + 2] | (bytes[o + 3] << 8)) * sums[t * blocks + b];
      }
      out[t * w.rows + n] = f(out[t * w.rows + n] + extra);
    }
  }
}
