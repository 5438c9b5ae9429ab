// out[T, N] = x[T, K] · Wᵀ for Q4_1, Q5_0, Q5_1 and IQ4_NL weights W [N, K/32 blocks] when decoding
// (T < 4), in integers against activations quantized once per token (activations.ts), as
// kdot.ts does for the K-quants. These are what llama.cpp's Q4_K_M and Q5_K_M files hold for
// a matrix whose rows are not a multiple of 256 values (Q5_0 for Q4_K, Q5_1 for Q5_K: the
// 15M shape's dim of 288); before this kernel they decoded to f32 value by value (kblocks.ts)
// and such a file ran at a sixth of llama.cpp's speed.
//
// Blocks (reference/quants-legacy.ts): byte j of the 16 qs holds value j (low nibble) and
// j + 16 (high); Q5_0/Q5_1 add bit j of the u32 qh as value j's fifth bit.
//
//   Q4_1 (20 bytes)  d f16 | m f16 | qs[16]             w = d·q + m        q 0..15
//   Q5_0 (22 bytes)  d f16 | qh u32 | qs[16]            w = d·(q − 16)     q 0..31
//   Q5_1 (24 bytes)  d f16 | m f16 | qh u32 | qs[16]    w = d·q + m        q 0..31
//
//   IQ4_NL (18 bytes) d f16 | qs[16]                    w = d·IQ4_NL_VALUES[q]   (−127..113)
//
// (IQ4_NL is what newer llama.cpp puts where a Q2_K or Q3_K file's rows are not whole
// super-blocks; the llama.cpp that llama-ts's quantizer follows, and llama-ts, put Q4_0.)
// So every block but IQ4_NL's is an unsigned q with one offset, and against an activation
// block d_x·q_x:
//
//   Σ x·w = d_x·(d·Σ q·q_x + m·Σ q_x)      with m = −16·d for Q5_0
//
// Σ q·q_x goes through kdot.ts's blockDot (the i16 dot product, or in the relaxed build the
// 8-bit one, q being its 7-bit operand); Σ q_x comes with the activations. Four blocks' integer
// totals are folded into one vector (lane b for block b) and scaled by four d·d_x at once; a
// row's last K/32 mod 4 blocks go one at a time in lane 0. The integer sums are exact (a lane
// sums 8 products of at most 31·127) and so is their conversion to f32.
//
// IQ4_NL's levels are signed, as the activations are, so they cannot meet them in the 8-bit dot
// product: a swizzle looks them up, and they are widened to i16 against the activations in
// NATURAL_LAYOUT (four i32x4.dot_i16x8_s a block), in both builds.
//
// The fifth bits: the four bytes of qh splatted, each output byte picks qh's byte j/8
// (a swizzle), keeps its bit j mod 8 (an and), and becomes 0x10 or 0 (a compare and an and).
//
// Every output row is computed by rowDot's operations alone, one token at a time: its value
// does not depend on T or on the thread. (Rows go one at a time: as pairs, as qmatmul.ts takes
// them, V8's code spilled the two rows' state.)
import { QUANT_BYTES, scalesAt, sumsAt } from './activations';
import { fifthBits, IQ4_NL_VALUES } from './kblocks';
import { blockDot, blockSums, joinTotals, pairTotals, totals4 } from './kdot';
import { halvesToF32x4, hsum, madd, pick, QK, streamRow, streamSteps } from './simd';

const Q4_1: i32 = 0;
const Q5_0: i32 = 1;
const Q5_1: i32 = 2;
const IQ4_NL: i32 = 3;

@inline
function typeBytes(type: i32): usize {
  return type == Q4_1 ? 20 : type == Q5_0 ? 22 : type == Q5_1 ? 24 : 18;
}

@inline
function qsOffset(type: i32): usize {
  return type == Q4_1 ? 4 : type == Q5_0 ? 6 : type == Q5_1 ? 8 : 2;
}

@inline
function qhOffset(type: i32): usize {
  return type == Q5_0 ? 2 : 4;
}

// The vectors a matmul makes once, passed down as arguments: V8 rebuilds a constant at each
// use inside a loop, but keeps a value made before it (kdot.ts byteMask). low: 0x0f in every
// byte; bit4: 0x10; ones: 1 in every i16; pickLow, pickHigh: the qh byte of each of values
// 0..15 (0 ×8, 1 ×8) and 16..31 (2 ×8, 3 ×8) (for IQ4_NL: its sixteen levels); bitOf: the bit
// of each value in its byte (1 2 4 … 128, twice)

// Σ q·q_x of the block at b against the activation block at x, as i32x4 (kdot.ts blockDot)
@inline
function blockDotAt(type: i32, i8: bool, b: usize, x: usize, low: v128, bit4: v128, ones: v128, pickLow: v128, pickHigh: v128, bitOf: v128): v128 {
  const packed = v128.load(b + qsOffset(type));
  let lo = v128.and(packed, low); // values 0..15
  let hi = v128.and(i16x8.shr_u(packed, 4), low); // 16..31 (a 16-bit shift: one x86 instruction)
  if (type == IQ4_NL) { // the levels, signed, against i16 activations (NATURAL_LAYOUT)
    const levels = pickLow;
    lo = pick(levels, lo);
    hi = pick(levels, hi);
    const s01 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(lo), v128.load(x)), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(lo), v128.load(x, 16)));
    const s23 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(hi), v128.load(x, 32)), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(hi), v128.load(x, 48)));
    return i32x4.add(s01, s23);
  }
  if (type != Q4_1) {
    lo = v128.or(lo, fifthBits(b + qhOffset(type), pickLow, bitOf, bit4));
    hi = v128.or(hi, fifthBits(b + qhOffset(type), pickHigh, bitOf, bit4));
  }
  return blockDot(i8, lo, hi, x, ones);
}

// d of `count` blocks from block b of the row at w (lanes 0..count−1, the rest 0), as f32x4;
// with offset 2, m instead. Reads nothing past the row.
@inline
function halves(type: i32, w: usize, b: i32, count: i32, offset: usize): v128 {
  const bytes = typeBytes(type);
  const p = w + <usize>b * bytes + offset;
  let h = v128.load16_lane(p, i32x4.splat(0), 0); // i16 lanes 0, 2, 4, 6: the low halves of i32 lanes
  if (count > 1) {
    h = v128.load16_lane(p + bytes, h, 2);
    h = v128.load16_lane(p + 2 * bytes, h, 4);
    h = v128.load16_lane(p + 3 * bytes, h, 6);
  }
  return halvesToF32x4(h);
}

// The offsets m of the same blocks (Q5_0: −16·d, exact)
@inline
function offsets(type: i32, w: usize, b: i32, count: i32, d: v128): v128 {
  if (type == Q5_0) return f32x4.mul(d, f32x4.splat(-16));
  return halves(type, w, b, count, 2);
}

// Σ_k x[k]·w[k] for the row at w (nb blocks) against one activation row (quants xa, scales xs,
// sums xsum). Four blocks at a time, then the rest one at a time; fence: an address written
// between each pair of blocks, so that V8 loads the second pair's vectors after the first
// pair's arithmetic (it emits a basic block's loads ahead of the arithmetic, and sixteen
// loaded vectors at once spill: q6decode.ts's header)
@inline
function rowDot(type: i32, i8: bool, w: usize, xa: usize, xs: usize, xsum: usize, nb: i32, low: v128, bit4: v128, ones: v128, pickLow: v128, pickHigh: v128, bitOf: v128, fence: usize): f32 {
  const bytes = typeBytes(type);
  let acc = f32x4.splat(0); // Σ (d·d_x·Σq·q_x + m·d_x·Σq_x), lane b mod 4 (the tail: lane 0)
  let b = 0;
  for (; b + 4 <= nb; b += 4) {
    const wb = w + <usize>b * bytes;
    const xb = xa + <usize>b * QUANT_BYTES;
    const u01 = pairTotals(blockDotAt(type, i8, wb, xb, low, bit4, ones, pickLow, pickHigh, bitOf), blockDotAt(type, i8, wb + bytes, xb + QUANT_BYTES, low, bit4, ones, pickLow, pickHigh, bitOf));
    store<i32>(fence, i32x4.extract_lane(u01, 0));
    const u23 = pairTotals(blockDotAt(type, i8, wb + 2 * bytes, xb + 2 * QUANT_BYTES, low, bit4, ones, pickLow, pickHigh, bitOf), blockDotAt(type, i8, wb + 3 * bytes, xb + 3 * QUANT_BYTES, low, bit4, ones, pickLow, pickHigh, bitOf));
    const dx = v128.load(xs + (<usize>b << 2));
    const sums = f32x4.convert_i32x4_s(blockSums(i8, xsum + (<usize>b << 2), ones));
    const d = halves(type, w, b, 4, 0);
    acc = madd(f32x4.convert_i32x4_s(joinTotals(u01, u23)), f32x4.mul(d, dx), acc);
    if (type != IQ4_NL) acc = madd(f32x4.mul(offsets(type, w, b, 4, d), dx), sums, acc);
  }
  for (; b < nb; b++) {
    const z = i32x4.splat(0);
    const totals = totals4(blockDotAt(type, i8, w + <usize>b * bytes, xa + <usize>b * QUANT_BYTES, low, bit4, ones, pickLow, pickHigh, bitOf), z, z, z);
    const dx = v128.load32_zero(xs + (<usize>b << 2));
    const s = v128.load32_zero(xsum + (<usize>b << 2)); // I8_LAYOUT: two i16 halves, added by the dot with ones
    const sums = f32x4.convert_i32x4_s(i8 ? i32x4.dot_i16x8_s(s, ones) : s);
    const d = halves(type, w, b, 1, 0);
    acc = madd(f32x4.convert_i32x4_s(totals), f32x4.mul(d, dx), acc);
    if (type != IQ4_NL) acc = madd(f32x4.mul(offsets(type, w, b, 1, d), dx), sums, acc);
  }
  return hsum(acc);
}

// --- the matmuls ---------------------------------------------------------------------------------

// out: [T, N] f32; xq: activations of x [T, K] from quantizeActivations (NATURAL_LAYOUT, or
// I8_LAYOUT with i8); w: [N, K/32 blocks]; rows n0 ≤ n < n1
@inline
function matmulLegacy(type: i32, i8: bool, out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  const nb = K / QK;
  const rowBytes = <usize>nb * typeBytes(type);
  const scales = scalesAt(xq, T, nb);
  const sums = sumsAt(xq, T, nb);
  const zero = K >>> 31; // 0 (K > 0), unknown to the compilers: see above
  const low = i8x16.splat(<i8>(0x0f | zero));
  const bit4 = i8x16.splat(<i8>(0x10 | zero));
  const ones = i16x8.splat(<i16>(zero + 1)); // not 1 | zero, which binaryen folds (zero is 0 or 1)
  const pickLow = type == IQ4_NL // ggml's kvalues_iq4nl
    ? v128.or(v128.load(IQ4_NL_VALUES), i8x16.splat(<i8>zero))
    : v128.or(i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), i8x16.splat(<i8>zero));
  const pickHigh = v128.or(i8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3), i8x16.splat(<i8>zero));
  const bitOf = v128.or(i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128), i8x16.splat(<i8>zero));
  for (let t = 0; t < T; t++) {
    const at = <usize>t * nb;
    const xa = xq + at * QUANT_BYTES;
    const xs = scales + (at << 2);
    const xsum = sums + (at << 2);
    const o = out + (<usize>t * N << 2);
    for (let i = 0, steps = streamSteps(n0, n1); i < steps; i++) { // rows in four streams (simd.ts)
      const n = streamRow(i, n0, n1);
      if (n >= n1) continue;
      const on = o + (<usize>n << 2);
      store<f32>(on, rowDot(type, i8, w + <usize>n * rowBytes, xa, xs, xsum, nb, low, bit4, ones, pickLow, pickHigh, bitOf, on));
    }
  }
}

export function matmulQ4_1Q8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulLegacy(Q4_1, false, out, xq, w, T, K, N, n0, n1);
}

export function matmulQ5_0Q8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulLegacy(Q5_0, false, out, xq, w, T, K, N, n0, n1);
}

export function matmulQ5_1Q8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulLegacy(Q5_1, false, out, xq, w, T, K, N, n0, n1);
}

// IQ4_NL, x in NATURAL_LAYOUT in both builds (see the header)
export function matmulIQ4_NLQ8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulLegacy(IQ4_NL, false, out, xq, w, T, K, N, n0, n1);
}

// The same on the 8-bit dot product (relaxed SIMD), x in I8_LAYOUT: the same integer totals
// and sums, the same f32 steps, the same bits
export function matmulQ4_1I8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulLegacy(Q4_1, true, out, xq, w, T, K, N, n0, n1);
}

export function matmulQ5_0I8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulLegacy(Q5_0, true, out, xq, w, T, K, N, n0, n1);
}

export function matmulQ5_1I8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulLegacy(Q5_1, true, out, xq, w, T, K, N, n0, n1);
}
