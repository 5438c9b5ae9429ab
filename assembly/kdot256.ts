// out[T, N] = x[T, K] · Wᵀ for Q4_K and Q5_K weights W [N, K/256 super-blocks] when decoding
// (T < 4) on the 8-bit dot product, against activations quantized once per token with one
// scale per super-block of 256, as llama.cpp's Q8_K (activations.ts SUPER_LAYOUT: i8 quants,
// one f32 d_x, the sums of each 32).
//
// Why one activation scale per 256 and not per 32 (kdot.ts, which the plain build keeps): with
// d_x shared by the super-block's eight sub-blocks, their scales sc_j can be applied in
// integers and all eight summed in one i32 vector, converted and scaled once per super-block:
//
//   Σ x·w = d_x·(d·Σ_j sc_j·Σ q·q_x − dmin·Σ_j m_j·Σ q_x)          q 0..15 (Q5_K: 0..31)
//
// A sub-block of 32 is two 8-bit dot products (the unsigned q is the 7-bit operand), an i16
// add, and one i16 dot product against sc_j spread over eight lanes (a swizzle), added to the
// super-block's i32 total: no folding of each block's lanes, no f32 step per block of 32.
// The mins term is one i16 dot product of the eight Σ q_x against the eight m_j. Rounding the
// activations by 256 instead of 32 is what llama.cpp does for these types.
//
// Exact: an i16 lane of a sub-block is 4 products of at most 31·127 (15748); its i32 lane
// after the scale dot at most 2·15748·63, eight sub-blocks 15.9M, below 2^24, so the i32 total
// converts to f32 exactly; the mins' lanes at most 2·4064·63.
//
// Every output row is computed by rowDot alone, one token at a time: its value does not
// depend on T or on the thread.
import { superScalesAt, superSumsAt } from './activations';
import { fifthBit, widenBytes4 } from './kdot';
import { dotI8 } from './qgemm';
import { hsum, loadHalf as half, madd, pick, streamRow, streamSteps } from './simd';

const Q4_K_BYTES: usize = 144;
const Q5_K_BYTES: usize = 176;

// Byte indices that spread i16 lane j of a vector over all eight lanes, sixteen bytes per j
const SPREAD = memory.data<u8>([
  0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
  2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3,
  4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5,
  6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7,
  8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9,
  10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11,
  12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13,
  14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15,
]);

// i16 lane j of v in every lane
@inline
function spread(v: v128, j: i32): v128 {
  return pick(v, v128.load(SPREAD + (<usize>j << 4)));
}

// sc_j·Σ q·q_x of sub-block j as i32x4 (its lanes add up to it): lo and hi are its sixteen
// unsigned q of values 0..15 and 16..31, x its 32 activation quants, scales the eight sc as i16
@inline
function subBlock(lo: v128, hi: v128, x: usize, scales: v128, j: i32): v128 {
  const pairs = i16x8.add(dotI8(v128.load(x), lo), dotI8(v128.load(x, 16), hi));
  return i32x4.dot_i16x8_s(pairs, spread(scales, j));
}

// The scaled totals of chunk c (sub-blocks 2c: low nibbles, 2c + 1: high) of a super-block
// whose nibble pairs are at qs and (Q5_K) fifth bits at qh, against its activations at x
@inline
function chunkTotal(q5: bool, qs: usize, qh: usize, x: usize, scales: v128, c: i32, low: v128, bit4: v128): v128 {
  const q0 = v128.load(qs + 32 * c), q1 = v128.load(qs + 32 * c + 16);
  let lo0 = v128.and(q0, low), hi0 = v128.and(q1, low);
  let lo1 = v128.and(i16x8.shr_u(q0, 4), low), hi1 = v128.and(i16x8.shr_u(q1, 4), low); // 16-bit shifts: one x86 instruction
  if (q5) {
    const h0 = v128.load(qh), h1 = v128.load(qh, 16);
    lo0 = v128.or(lo0, fifthBit(h0, 2 * c, bit4));
    hi0 = v128.or(hi0, fifthBit(h1, 2 * c, bit4));
    lo1 = v128.or(lo1, fifthBit(h0, 2 * c + 1, bit4));
    hi1 = v128.or(hi1, fifthBit(h1, 2 * c + 1, bit4));
  }
  const xc = x + (<usize>c << 6);
  return i32x4.add(subBlock(lo0, hi0, xc, scales, 2 * c), subBlock(lo1, hi1, xc + 32, scales, 2 * c + 1));
}

// Σ_k x[k]·w[k] for one Q4_K (or, with q5, Q5_K) row w of nsb super-blocks against one
// activation row (quants xa, scales xs [nsb] f32, sums xsum [nsb, 8] i16). fence: the row's
// output, written between chunks so that V8 loads each chunk's vectors after the arithmetic
// before (q6decode.ts's header)
@inline
function rowDot(q5: bool, w: usize, xa: usize, xs: usize, xsum: usize, nsb: i32, low: v128, bit4: v128, m63: v128, m15: v128, fence: usize): f32 {
  const bytes = q5 ? Q5_K_BYTES : Q4_K_BYTES;
  const qs: usize = q5 ? 48 : 16; // the nibble pairs; Q5_K's fifth bits at 16
  let acc = f32x4.splat(0); // Σ d·d_x·Σ_j sc_j·Σq·q_x
  let minAcc = f32x4.splat(0); // Σ dmin·d_x·Σ_j m_j·Σq_x
  for (let sb = 0; sb < nsb; sb++) {
    const b = w + <usize>sb * bytes;
    const x = xa + (<usize>sb << 8);
    // the eight 6-bit scales and mins (reference/quants-k.ts scaleMinK4), as i16 lanes j
    const A = widenBytes4(b + 4), B = widenBytes4(b + 8), C = widenBytes4(b + 12);
    const scales = i16x8.narrow_i32x4_s(v128.and(A, m63), v128.or(v128.and(C, m15), i32x4.shl(i32x4.shr_u(A, 6), 4)));
    const mins = i16x8.narrow_i32x4_s(v128.and(B, m63), v128.or(i32x4.shr_u(C, 4), i32x4.shl(i32x4.shr_u(B, 6), 4)));
    // the four chunks written out: as a loop, V8 peeled it and recomputed the scales inside
    let total = chunkTotal(q5, b + qs, b + 16, x, scales, 0, low, bit4);
    store<i32>(fence, i32x4.extract_lane(total, 0));
    total = i32x4.add(total, chunkTotal(q5, b + qs, b + 16, x, scales, 1, low, bit4));
    store<i32>(fence, i32x4.extract_lane(total, 0));
    total = i32x4.add(total, chunkTotal(q5, b + qs, b + 16, x, scales, 2, low, bit4));
    store<i32>(fence, i32x4.extract_lane(total, 0));
    total = i32x4.add(total, chunkTotal(q5, b + qs, b + 16, x, scales, 3, low, bit4));
    const dx = load<f32>(xs + (<usize>sb << 2));
    const minTotal = i32x4.dot_i16x8_s(v128.load(xsum + (<usize>sb << 4)), mins); // Σ_j m_j·Σq_x, lanes add up to it
    acc = madd(f32x4.convert_i32x4_s(total), f32x4.splat(half(b) * dx), acc);
    minAcc = madd(f32x4.convert_i32x4_s(minTotal), f32x4.splat(half(b + 2) * dx), minAcc);
  }
  return hsum(acc) - hsum(minAcc);
}

// out: [T, N] f32; xq: activations of x [T, K] from quantizeActivations in SUPER_LAYOUT;
// w: [N, K/256 super-blocks]; rows n0 ≤ n < n1
@inline
function matmulK256(q5: bool, out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  const nsb = K >> 8;
  const rowBytes = <usize>nsb * (q5 ? Q5_K_BYTES : Q4_K_BYTES);
  const scales = superScalesAt(xq, T, nsb);
  const sums = superSumsAt(xq, T, nsb);
  const zero = K >>> 31; // 0 (K > 0), unknown to the compilers: V8 rebuilds a constant at each use in a loop
  const low = i8x16.splat(<i8>(0x0f | zero));
  const bit4 = i8x16.splat(<i8>(0x10 | zero));
  const m63 = i32x4.splat(63 | zero);
  const m15 = i32x4.splat(15 | zero);
  for (let t = 0; t < T; t++) {
    const at = <usize>t * nsb;
    const xa = xq + (at << 8);
    const xs = scales + (at << 2);
    const xsum = sums + (at << 4);
    const o = out + (<usize>t * N << 2);
    for (let i = 0, steps = streamSteps(n0, n1); i < steps; i++) { // rows in four streams (simd.ts)
      const n = streamRow(i, n0, n1);
      if (n >= n1) continue;
      const on = o + (<usize>n << 2);
      store<f32>(on, rowDot(q5, w + <usize>n * rowBytes, xa, xs, xsum, nsb, low, bit4, m63, m15, on));
    }
  }
}

export function matmulQ4_KI8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulK256(false, out, xq, w, T, K, N, n0, n1);
}

export function matmulQ5_KI8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulK256(true, out, xq, w, T, K, N, n0, n1);
}
