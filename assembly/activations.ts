// Activation rows x [T, K] f32 -> blocks of 32 integers with one scale each, the input of
// the integer q8_0 / q4_0 matmul (qmatmul.ts). As llama.cpp quantizes its activations to
// q8_0 before a quantized matmul, with two differences that only add precision: the scale
// stays f32 (not f16), and the integers are stored widened to i16, since they meet the
// weights in i32x4.dot_i16x8_s and widening them once here saves doing it per weight row.
//
// The buffer xq for T rows of K values (K % 32 == 0, nb = K / 32 blocks per row):
//
//   quants [T, nb, 32] i16   at xq             q = round(x / d), |q| ≤ 127
//   scales [T, nb]     f32   at xq + 64·T·nb   d = max|x| / 127 of the block
//   sums   [T, nb]     i32   at xq + 68·T·nb   Σ q of the block (for q4_0's offset of 8)
//
// 72·T·nb bytes in all (src/backends/wasm/kernels.ts reserves them).
//
// Within a block the 32 quants are in the order in which the weights are widened (by
// shifts and masks within 16-bit lanes, qmatmul.ts), so the hot loop never shuffles:
//
//   lanes   0..7: values 0 2 4 … 14    (even bytes: q8_0 values 0..15 / q4_0 low nibbles)
//   lanes  8..15: values 1 3 5 … 15    (odd bytes)
//   lanes 16..23: values 16 18 … 30    (q8_0: even bytes of the second half; q4_0: high nibbles)
//   lanes 24..31: values 17 19 … 31
//
// For the K-quants (layout 2, kdot.ts) the quants stay in their natural order, values 0..31,
// since those kernels widen the weights' bytes in order (i16x8.extend_*_i8x16).
//
// For the 8-bit dot product's kernels (layout 3: q6decode.ts, legacydot.ts, q8decode.ts,
// k16dot.ts) the quants are i8, values 0..31 in order in the first 32 bytes of the block's
// 64, and its i32 sum is two i16 halves: Σq of values 0..15 (low half) and of 16..31 (high),
// |.| ≤ 16·127, so that the sums of four blocks load as one vector of eight i16, one per
// group of sixteen (Q6_K's scale groups).
//
// For Q4_K and Q5_K on the 8-bit dot product (layout 4, SUPER_LAYOUT: kdot256.ts) the scale
// is one per super-block of 256 values, as llama.cpp's Q8_K has it, and the buffer is laid
// out by super-blocks instead (nsb = K / 256 a row):
//
//   quants [T, nsb, 256] i8   at xq              values in order
//   scales [T, nsb]      f32  at xq + 256·T·nsb  d = 1 / (127 / max|x|) of the super-block
//   sums   [T, nsb, 8]   i16  at xq + 260·T·nsb  Σ q of each 32 values (|.| ≤ 32·127)
//
// 276 bytes a super-block, less than the 8 · 72 of the other layouts, so the same reservation
// holds it. SUPER16_LAYOUT (layout 5, the K-quants' prompt GEMM: kgemm.ts) is the same with
// the sums by sixteen values, [T, nsb, 16] i16 (|.| ≤ 16·127): 292 bytes a super-block.
//
// For q4_0 weights (layout 1) the four groups are stored times 256, 1, 16 and 256: the
// kernel masks each nibble where it lies in its 16-bit lane (at 1, 256, 16 and, shifted
// down, 1 times its value: qmatmul.ts), so every product comes out 256·n·q. |256·q| ≤ 32512
// fits an i16. The sums stay Σq.
import { QK } from './simd';

export const QUANT_BYTES: usize = 64; // one block of quants: 32 × i16

// Where the scales and the sums of a buffer for T rows of nb blocks start
@inline
export function scalesAt(xq: usize, T: i32, nb: i32): usize {
  return xq + <usize>T * nb * QUANT_BYTES;
}

@inline
export function sumsAt(xq: usize, T: i32, nb: i32): usize {
  return xq + <usize>T * nb * (QUANT_BYTES + 4);
}

@inline
function hsumI32(v: v128): i32 {
  const pairs = i32x4.add(v, v128.shuffle<i32>(v, v, 1, 0, 3, 2));
  return i32x4.extract_lane(pairs, 0) + i32x4.extract_lane(pairs, 2);
}

// round(x · inv) to the nearest integer (ties to even), as i32x4
@inline
export function roundToI32(x: v128, inv: v128): v128 {
  return i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(x, inv)));
}

// max |x| over eight f32x4
@inline
export function absMax8(x0: v128, x1: v128, x2: v128, x3: v128, x4: v128, x5: v128, x6: v128, x7: v128): f32 {
  const a = f32x4.max(f32x4.max(f32x4.abs(x0), f32x4.abs(x1)), f32x4.max(f32x4.abs(x2), f32x4.abs(x3)));
  const b = f32x4.max(f32x4.max(f32x4.abs(x4), f32x4.abs(x5)), f32x4.max(f32x4.abs(x6), f32x4.abs(x7)));
  const m = f32x4.max(a, b);
  return max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
}

// One block: the 32 floats at x -> 32 quants at q (in the order above), d at scale, Σq at sum
@inline
function quantizeBlock(q: usize, x: usize, scale: usize, sum: usize, layout: i32): void {
  const x0 = v128.load(x);
  const x1 = v128.load(x, 16);
  const x2 = v128.load(x, 32);
  const x3 = v128.load(x, 48);
  const x4 = v128.load(x, 64);
  const x5 = v128.load(x, 80);
  const x6 = v128.load(x, 96);
  const x7 = v128.load(x, 112);
  const d = absMax8(x0, x1, x2, x3, x4, x5, x6, x7) / 127;
  const inv = f32x4.splat(d > 0 ? 1 / d : 0);
  const q0 = roundToI32(x0, inv); // values 0..3
  const q1 = roundToI32(x1, inv);
  const q2 = roundToI32(x2, inv);
  const q3 = roundToI32(x3, inv);
  const q4 = roundToI32(x4, inv);
  const q5 = roundToI32(x5, inv);
  const q6 = roundToI32(x6, inv);
  const q7 = roundToI32(x7, inv); // values 28..31
  const v0 = i16x8.narrow_i32x4_s(q0, q1); // values 0..7
  const v1 = i16x8.narrow_i32x4_s(q2, q3); // 8..15
  const v2 = i16x8.narrow_i32x4_s(q4, q5); // 16..23
  const v3 = i16x8.narrow_i32x4_s(q6, q7); // 24..31
  const g0 = v128.shuffle<i16>(v0, v1, 0, 2, 4, 6, 8, 10, 12, 14);
  const g1 = v128.shuffle<i16>(v0, v1, 1, 3, 5, 7, 9, 11, 13, 15);
  const g2 = v128.shuffle<i16>(v2, v3, 0, 2, 4, 6, 8, 10, 12, 14);
  const g3 = v128.shuffle<i16>(v2, v3, 1, 3, 5, 7, 9, 11, 13, 15);
  const s0 = i32x4.add(i32x4.add(q0, q1), i32x4.add(q2, q3)); // values 0..15
  const s1 = i32x4.add(i32x4.add(q4, q5), i32x4.add(q6, q7)); // 16..31
  store<f32>(scale, d);
  if (layout == I8_LAYOUT) {
    v128.store(q, i8x16.narrow_i16x8_s(v0, v1)); // values 0..15
    v128.store(q, i8x16.narrow_i16x8_s(v2, v3), 16); // 16..31
    store<i16>(sum, <i16>hsumI32(s0));
    store<i16>(sum, <i16>hsumI32(s1), 2);
    return;
  }
  if (layout == NATURAL_LAYOUT) {
    v128.store(q, v0);
    v128.store(q, v1, 16);
    v128.store(q, v2, 32);
    v128.store(q, v3, 48);
  } else if (layout == Q4_0_LAYOUT) {
    v128.store(q, i16x8.shl(g0, 8));
    v128.store(q, g1, 16);
    v128.store(q, i16x8.shl(g2, 4), 32);
    v128.store(q, i16x8.shl(g3, 8), 48);
  } else {
    v128.store(q, g0);
    v128.store(q, g1, 16);
    v128.store(q, g2, 32);
    v128.store(q, g3, 48);
  }
  store<i32>(sum, hsumI32(i32x4.add(s0, s1)));
}

export const Q8_0_LAYOUT: i32 = 0;
export const Q4_0_LAYOUT: i32 = 1;
export const NATURAL_LAYOUT: i32 = 2;
export const I8_LAYOUT: i32 = 3;
export const SUPER_LAYOUT: i32 = 4;
export const SUPER16_LAYOUT: i32 = 5;

// Where the scales and the sums of a SUPER_LAYOUT buffer for T rows of nsb super-blocks start
@inline
export function superScalesAt(xq: usize, T: i32, nsb: i32): usize {
  return xq + <usize>T * nsb * 256;
}

@inline
export function superSumsAt(xq: usize, T: i32, nsb: i32): usize {
  return xq + <usize>T * nsb * 260;
}

// One super-block: the 256 floats at x -> 256 i8 quants at q, d at scale, the eight Σq of
// each 32 at sums (SUPER_LAYOUT), or with bySixteen the sixteen of each 16 (SUPER16_LAYOUT)
@inline
function quantizeSuperBlock(q: usize, x: usize, scale: usize, sums: usize, bySixteen: bool): void {
  let amax: f32 = 0;
  for (let i: usize = 0; i < 256; i += 32) {
    const p = x + (i << 2);
    amax = max(amax, absMax8(v128.load(p), v128.load(p, 16), v128.load(p, 32), v128.load(p, 48), v128.load(p, 64), v128.load(p, 80), v128.load(p, 96), v128.load(p, 112)));
  }
  // as llama.cpp's Q8_K rounds (quantize_row_q8_K: iscale = −127/max, d = 1/iscale; the sign
  // of max flips q and d together, so |iscale| = 127/amax gives the same d·q), so that these
  // activations are the very bytes llama.cpp's K-quant dot products meet
  const iscale: f32 = amax > 0 ? <f32>127 / amax : 0;
  const d: f32 = amax > 0 ? 1 / iscale : 0;
  const inv = f32x4.splat(iscale);
  store<f32>(scale, d);
  for (let i: usize = 0; i < 256; i += 32) {
    const p = x + (i << 2);
    const q0 = roundToI32(v128.load(p), inv);
    const q1 = roundToI32(v128.load(p, 16), inv);
    const q2 = roundToI32(v128.load(p, 32), inv);
    const q3 = roundToI32(v128.load(p, 48), inv);
    const q4 = roundToI32(v128.load(p, 64), inv);
    const q5 = roundToI32(v128.load(p, 80), inv);
    const q6 = roundToI32(v128.load(p, 96), inv);
    const q7 = roundToI32(v128.load(p, 112), inv);
    v128.store(q + i, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3)));
    v128.store(q + i, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q4, q5), i16x8.narrow_i32x4_s(q6, q7)), 16);
    const s0 = i32x4.add(i32x4.add(q0, q1), i32x4.add(q2, q3)); // values i .. i+15
    const s1 = i32x4.add(i32x4.add(q4, q5), i32x4.add(q6, q7)); // i+16 .. i+31
    if (bySixteen) {
      store<i16>(sums + (i >> 3), <i16>hsumI32(s0)); // group i / 16, two bytes each
      store<i16>(sums + (i >> 3), <i16>hsumI32(s1), 2);
    } else {
      store<i16>(sums + (i >> 4), <i16>hsumI32(i32x4.add(s0, s1))); // group i / 32
    }
  }
}

// x [T, K] f32, K % 256 == 0 -> xq in SUPER_LAYOUT or SUPER16_LAYOUT
function quantizeSuperBlocks(xq: usize, x: usize, T: i32, K: i32, bySixteen: bool): void {
  const nsb = K >> 8;
  const scales = superScalesAt(xq, T, nsb);
  const sums = superSumsAt(xq, T, nsb);
  const blocks = <usize>T * nsb;
  const sumBytes: usize = bySixteen ? 32 : 16;
  for (let i: usize = 0; i < blocks; i++) quantizeSuperBlock(xq + (i << 8), x + (i << 10), scales + (i << 2), sums + i * sumBytes, bySixteen);
}

// xq: the buffer above, x: [T, K] f32 with K % 32 == 0 (SUPER_LAYOUT: K % 256 == 0); layout:
// Q8_0_LAYOUT, Q4_0_LAYOUT, NATURAL_LAYOUT, I8_LAYOUT, SUPER_LAYOUT or SUPER16_LAYOUT, for the weights the
// activations will meet
export function quantizeActivations(xq: usize, x: usize, T: i32, K: i32, layout: i32): void {
  if (layout == SUPER_LAYOUT || layout == SUPER16_LAYOUT) {
    quantizeSuperBlocks(xq, x, T, K, layout == SUPER16_LAYOUT);
    return;
  }
  const nb = K / QK;
  const scales = scalesAt(xq, T, nb);
  const sums = sumsAt(xq, T, nb);
  const blocks = <usize>T * nb;
  for (let i: usize = 0; i < blocks; i++) {
    quantizeBlock(xq + i * QUANT_BYTES, x + i * (QK << 2), scales + (i << 2), sums + (i << 2), layout);
  }
}
