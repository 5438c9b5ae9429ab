// out[T, N] = x[T, K] · Wᵀ for Q4_K, Q5_K and Q6_K weights W [N, K/256 super-blocks] when decoding
// (T < 4), in integers against activations quantized once per token to blocks of 32 with
// one f32 scale each (activations.ts, NATURAL_LAYOUT: i16 in value order): the plain SIMD
// build's kernels (and the relaxed build's with i8Dot off). The stored blocks are read as they
// are in the file (layouts in reference/quants-k.ts): their quants are unpacked sixteen bytes at
// a time with masks and shifts, widened to i16 in order and meet the activations in
// i32x4.dot_i16x8_s.
//
// The relaxed build decodes on the 8-bit dot product instead: Q4_K and Q5_K in kdot256.ts (one
// activation scale per super-block of 256, as llama.cpp's Q8_K, so that the sub-block scales
// apply in integers), Q6_K in q6decode.ts (the same bits as here). blockDot and blockSums take
// an i8 flag for legacydot.ts, whose 8-bit kernels share them.
//
// Why blocks of 32 activations here: a Q4_K sub-block is 32 values and a Q6_K pair of
// sub-blocks too, so each activation block meets exactly one (Q4_K) or two (Q6_K) weight
// scales; the extra f32 scale per 32 costs one multiply-add per 32 values and keeps the
// activation rounding 8x finer where a block holds an outlier.
//
//   Q4_K sub-block j:  Σ x·w = d_x·(d·sc_j·Σ q·q_x − dmin·m_j·Σ q_x)      q 0..15 (Q5_K: 0..31)
//   Q6_K block pair:   Σ x·w = d_x·d·(s_a·Σ_a (q−32)·q_x + s_b·Σ_b (q−32)·q_x)   16 values each
//
// The integer sums are exact and so is their conversion to f32: a Q4_K lane sums 8 products
// of at most 15·127; a Q6_K lane 4 products of at most 32·127 per half, times |s| ≤ 128,
// two halves: below 2^23.
//
// Every output row is computed by rowDotQ4_K / rowDotQ6_K alone, one token at a time: its
// value does not depend on T, on the thread or on which rows the thread has.
import { QUANT_BYTES, scalesAt, sumsAt } from './activations';
import { dotI8 } from './qgemm';
import { hsum, loadByte as byte, loadHalf as half, madd, QK, streamRow, streamSteps } from './simd';

const Q4_K_BYTES: usize = 144;
const Q5_K_BYTES: usize = 176;
const Q6_K_BYTES: usize = 210;
const BLOCKS_PER_SUPER: usize = 8; // activation blocks of 32 per super-block of 256


// Σ q·q_x over sixteen unsigned bytes q (0..127) and the sixteen i16 activations at x, as i32x4
@inline
function dot16u(q: v128, x: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(q), v128.load(x)), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(q), v128.load(x, 16)));
}

// The same for signed bytes
@inline
function dot16s(q: v128, x: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(q), v128.load(x)), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(q), v128.load(x, 16)));
}

// Four bytes at p -> i32x4. A Q4_K super-block's 12 scale bytes are unpacked with it four
// sub-blocks at a time (rowDotQ4_K; reference/quants-k.ts scaleMinK4): sub-blocks 0-3 are
// the low 6 bits of bytes 0-3 (scales) and 4-7 (mins), sub-blocks 4-7 a nibble of bytes 8-11
// with the top two bits of bytes 0-3 (scales) and 4-7 (mins)
@inline
export function widenBytes4(p: usize): v128 {
  return i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(p)));
}

// Σ q·q_x of sixteen unsigned bytes lo (values 0..15 of a block: q ≤ 31) and sixteen hi (16..31)
// against the activation block at x, as i32x4 whose lanes add up to the total: with i8, x in
// I8_LAYOUT and relaxed SIMD's 8-bit dot product (i16 lanes: 4 products ≤ 31·127, 15748 <
// 2^15), widened by one dot with ones; else x in NATURAL_LAYOUT, each half widened to i16
@inline
export function blockDot(i8: bool, lo: v128, hi: v128, x: usize, ones: v128): v128 {
  if (i8) return i32x4.dot_i16x8_s(i16x8.add(dotI8(v128.load(x), lo), dotI8(v128.load(x, 16), hi)), ones);
  return i32x4.add(dot16u(lo, x), dot16u(hi, x + 32));
}

// Σ q·q_x of Q4_K sub-block j (low nibbles for even j, high for odd) of the chunk whose
// bytes are q0 (l = 0..15) and q1 (l = 16..31), against the activation block at x
@inline
function subBlockDot(q0: v128, q1: v128, odd: bool, x: usize, low: v128, ones: v128): v128 {
  const lo = v128.and(odd ? i16x8.shr_u(q0, 4) : q0, low); // 16-bit shifts: one x86 instruction, 8-bit ones three
  const hi = v128.and(odd ? i16x8.shr_u(q1, 4) : q1, low);
  return blockDot(false, lo, hi, x, ones);
}

// Bit j of each byte of h moved to bit 4 (bit4: 0x10 in every byte). Shifts of 16-bit lanes
// (one x86 instruction; 8-bit ones take three): what crosses from the neighbouring byte lands
// below bit 4 (left shifts by at most 4) or above it (right shifts), and the mask drops it.
@inline
export function fifthBit(h: v128, j: i32, bit4: v128): v128 {
  return v128.and(j <= 4 ? i16x8.shl(h, <u32>(4 - j)) : i16x8.shr_u(h, <u32>(j - 4)), bit4);
}

// The same for Q5_K sub-block j, its fifth bits bit j of h0 (l = 0..15) and h1 (l = 16..31)
@inline
function subBlockDot5(q0: v128, q1: v128, h0: v128, h1: v128, j: i32, x: usize, low: v128, bit4: v128, ones: v128): v128 {
  const odd = (j & 1) != 0;
  const lo = v128.or(v128.and(odd ? i16x8.shr_u(q0, 4) : q0, low), fifthBit(h0, j, bit4));
  const hi = v128.or(v128.and(odd ? i16x8.shr_u(q1, 4) : q1, low), fifthBit(h1, j, bit4));
  return blockDot(false, lo, hi, x, ones);
}

// Four sub-blocks' partial sums (i32x4 each) -> their four totals, lane j for sub-block j,
// in two steps (q6decode.ts does the first step for two sub-blocks before loading the others)
@inline
export function pairTotals(s0: v128, s1: v128): v128 {
  return i32x4.add(v128.shuffle<i32>(s0, s1, 0, 4, 1, 5), v128.shuffle<i32>(s0, s1, 2, 6, 3, 7)); // [a0+a2, b0+b2, a1+a3, b1+b3]
}

@inline
export function joinTotals(u01: v128, u23: v128): v128 {
  return i32x4.add(v128.shuffle<i32>(u01, u23, 0, 1, 4, 5), v128.shuffle<i32>(u01, u23, 2, 3, 6, 7));
}

@inline
export function totals4(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  return joinTotals(pairTotals(s0, s1), pairTotals(s2, s3));
}

// The integer totals of sub-blocks 4h .. 4h+3 of the Q4_K (or, with q5, Q5_K) super-block at
// b (chunks 2h, 2h + 1). fence: an address written between the two chunks, so that V8 loads
// the second chunk's vectors after the first chunk's arithmetic (see q6decode.ts's header)
@inline
function halfTotals(q5: bool, b: usize, h: i32, x: usize, low: v128, bit4: v128, ones: v128, fence: usize): v128 {
  const c0 = b + (q5 ? 48 : 16) + 64 * h; // chunk 2h: sub-blocks 4h (low nibbles), 4h + 1 (high)
  let u01: v128, u23: v128;
  if (q5) {
    const j = 4 * h;
    const h0 = v128.load(b + 16), h1 = v128.load(b + 32); // qh: the fifth bits
    const q0 = v128.load(c0), q1 = v128.load(c0, 16);
    u01 = pairTotals(subBlockDot5(q0, q1, h0, h1, j, x, low, bit4, ones), subBlockDot5(q0, q1, h0, h1, j + 1, x + QUANT_BYTES, low, bit4, ones));
    store<i32>(fence, i32x4.extract_lane(u01, 0));
    const q2 = v128.load(c0, 32), q3 = v128.load(c0, 48);
    const g0 = v128.load(b + 16), g1 = v128.load(b + 32); // qh again: past the store, a load from L1 where keeping h0, h1 would spill them
    u23 = pairTotals(subBlockDot5(q2, q3, g0, g1, j + 2, x + 2 * QUANT_BYTES, low, bit4, ones), subBlockDot5(q2, q3, g0, g1, j + 3, x + 3 * QUANT_BYTES, low, bit4, ones));
  } else {
    const q0 = v128.load(c0), q1 = v128.load(c0, 16);
    u01 = pairTotals(subBlockDot(q0, q1, false, x, low, ones), subBlockDot(q0, q1, true, x + QUANT_BYTES, low, ones));
    store<i32>(fence, i32x4.extract_lane(u01, 0));
    const q2 = v128.load(c0, 32), q3 = v128.load(c0, 48);
    u23 = pairTotals(subBlockDot(q2, q3, false, x + 2 * QUANT_BYTES, low, ones), subBlockDot(q2, q3, true, x + 3 * QUANT_BYTES, low, ones));
  }
  return joinTotals(u01, u23);
}

// Σ q_x of four activation blocks at p as i32x4: stored so in NATURAL_LAYOUT, as two i16
// halves (values 0..15, 16..31) in I8_LAYOUT, added by one dot with ones
@inline
export function blockSums(i8: bool, p: usize, ones: v128): v128 {
  return i8 ? i32x4.dot_i16x8_s(v128.load(p), ones) : v128.load(p);
}

// --- one row against one activation row --------------------------------------------------------

// Σ_k x[k]·w[k] for one Q4_K row w (nsb super-blocks) and one activation row: quants xa,
// scales xs [nsb·8] f32, sums xsum [nsb·8] i32. Per super-block the eight scales and mins are
// unpacked in SIMD, the sub-blocks' integer sums folded four to a vector, and each vector
// scaled by d·sc·d_x lane by lane. Q5_K (q5) is the same with a fifth bit from qh
// (reference/quants-k.ts), 176 bytes a block. fence: the row's output, written last. (Rows
// went in pairs, as qmatmul.ts's do, until V8's code for one row at a time measured 4-15%
// faster: two rows' state spilled.)
@inline
function rowDotQ4_K(q5: bool, w: usize, xa: usize, xs: usize, xsum: usize, nsb: i32, low: v128, bit4: v128, ones: v128, m63: v128, m15: v128, fence: usize): f32 {
  const blockBytes = q5 ? Q5_K_BYTES : Q4_K_BYTES;
  let acc = f32x4.splat(0); // Σ d·sc·d_x·Σq·q_x, lane j for sub-blocks j, j + 4
  let mins = f32x4.splat(0); // Σ dmin·m·d_x·Σq_x
  for (let sb = 0; sb < nsb; sb++) {
    const first = <usize>sb * BLOCKS_PER_SUPER; // activation block of sub-block 0
    const x = xa + first * QUANT_BYTES;
    const dxLow = v128.load(xs + (first << 2)); // d_x of sub-blocks 0..3
    const dxHigh = v128.load(xs + (first << 2), 16); // 4..7
    const sumLow = f32x4.convert_i32x4_s(blockSums(false, xsum + (first << 2), ones));
    const sumHigh = f32x4.convert_i32x4_s(blockSums(false, xsum + (first << 2) + 16, ones));
    const b = w + <usize>sb * blockBytes;
    const d = f32x4.splat(half(b));
    const dmin = f32x4.splat(half(b + 2));
    const A = widenBytes4(b + 4), B = widenBytes4(b + 8), C = widenBytes4(b + 12);
    const scLow = f32x4.convert_i32x4_s(v128.and(A, m63));
    const mLow = f32x4.convert_i32x4_s(v128.and(B, m63));
    const scHigh = f32x4.convert_i32x4_s(v128.or(v128.and(C, m15), i32x4.shl(i32x4.shr_u(A, 6), 4)));
    const mHigh = f32x4.convert_i32x4_s(v128.or(i32x4.shr_u(C, 4), i32x4.shl(i32x4.shr_u(B, 6), 4)));
    const lowTotals = halfTotals(q5, b, 0, x, low, bit4, ones, fence);
    store<i32>(fence, i32x4.extract_lane(lowTotals, 0)); // orders V8's loads (q6decode.ts's header)
    acc = madd(f32x4.convert_i32x4_s(lowTotals), f32x4.mul(f32x4.mul(d, scLow), dxLow), acc);
    const highTotals = halfTotals(q5, b, 1, x + 4 * QUANT_BYTES, low, bit4, ones, fence);
    store<i32>(fence, i32x4.extract_lane(highTotals, 0));
    acc = madd(f32x4.convert_i32x4_s(highTotals), f32x4.mul(f32x4.mul(d, scHigh), dxHigh), acc);
    mins = madd(f32x4.mul(f32x4.mul(dmin, mLow), dxLow), sumLow, mins);
    mins = madd(f32x4.mul(f32x4.mul(dmin, mHigh), dxHigh), sumHigh, mins);
  }
  return hsum(acc) - hsum(mins);
}

// Σ_k x[k]·w[k] for one Q6_K row (nsb super-blocks) and one activation row (quants xa,
// scales xs [nsb·8]): half h, quarter r of a super-block is activation block 4h + r; its
// values 0..15 have scale s[8h + 2r], 16..31 scale s[8h + 2r + 1], applied in integers. A
// half's four quarter totals are folded into one vector (lane r) and scaled by d·d_x at once.
function rowDotQ6_K(w: usize, xa: usize, xs: usize, nsb: i32, low: v128, three: v128, offset: v128): f32 {
  let acc = f32x4.splat(0);
  for (let sb = 0; sb < nsb; sb++) {
    const b = w + <usize>sb * Q6_K_BYTES;
    const d = f32x4.splat(half(b + 208));
    const first = <usize>sb * BLOCKS_PER_SUPER;
    for (let h = 0; h < 2; h++) {
      const x = xa + (first + 4 * h) * QUANT_BYTES;
      const ql = b + 64 * h; // quarters 0, 2 from bytes 0..31 (low, high nibbles), 1, 3 from 32..63
      const qh0 = v128.load(b + 128 + 32 * h); // bits 2r..2r+1 of quarter r, l = 0..15
      const qh1 = v128.load(b + 128 + 32 * h + 16); // l = 16..31
      const sc = b + 192 + 8 * h; // the half's eight int8 scales
      const t0 = quarterDot(v128.load(ql), v128.load(ql, 16), qh0, qh1, 0, x, sc, low, three, offset);
      const t1 = quarterDot(v128.load(ql, 32), v128.load(ql, 48), qh0, qh1, 1, x + QUANT_BYTES, sc + 2, low, three, offset);
      const t2 = quarterDot(v128.load(ql), v128.load(ql, 16), qh0, qh1, 2, x + 2 * QUANT_BYTES, sc + 4, low, three, offset);
      const t3 = quarterDot(v128.load(ql, 32), v128.load(ql, 48), qh0, qh1, 3, x + 3 * QUANT_BYTES, sc + 6, low, three, offset);
      const dx = v128.load(xs + ((first + 4 * h) << 2)); // d_x of the four quarters
      acc = madd(f32x4.convert_i32x4_s(totals4(t0, t1, t2, t3)), f32x4.mul(d, dx), acc);
    }
  }
  return hsum(acc);
}

// Quarter r of a Q6_K half: q = (low nibbles of a, c for r < 2, high for r ≥ 2) | (bits 2r..2r+1
// of qh0, qh1) << 4, less 32; its two 16-value halves' sums times their int8 scales at sc, sc + 1
@inline
function quarterDot(a: v128, c: v128, qh0: v128, qh1: v128, r: i32, x: usize, sc: usize, low: v128, three: v128, offset: v128): v128 {
  const lowA = r < 2 ? v128.and(a, low) : i8x16.shr_u(a, 4);
  const lowC = r < 2 ? v128.and(c, low) : i8x16.shr_u(c, 4);
  const shift = <u32>(2 * r);
  const qa = i8x16.sub(v128.or(lowA, i8x16.shl(v128.and(i8x16.shr_u(qh0, shift), three), 4)), offset); // q − 32
  const qc = i8x16.sub(v128.or(lowC, i8x16.shl(v128.and(i8x16.shr_u(qh1, shift), three), 4)), offset);
  return i32x4.add(i32x4.mul(dot16s(qa, x), i32x4.splat(<i32>load<i8>(sc))), i32x4.mul(dot16s(qc, x + 32), i32x4.splat(<i32>load<i8>(sc + 1))));
}

// --- the matmuls ---------------------------------------------------------------------------------

// A byte splat made from `zero` (0 at run time, not known to the compilers), so that V8 keeps
// the vector in a register instead of rebuilding the constant at each use in a loop
@inline
function byteMask(value: i32, zero: i32): v128 {
  return i8x16.splat(<i8>(value | zero));
}

// out: [T, N] f32; xq: activations of x [T, K] from quantizeActivations (NATURAL_LAYOUT);
// w: [N, K/256 super-blocks]; rows n0 ≤ n < n1. type: 4, 5 or 6 for Q4_K, Q5_K, Q6_K.
@inline
function matmulK(type: i32, out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  const nb = K / QK; // activation blocks per row
  const nsb = K >> 8;
  const isQ6 = type == 6;
  const rowBytes = <usize>nsb * (isQ6 ? Q6_K_BYTES : type == 5 ? Q5_K_BYTES : Q4_K_BYTES);
  const scales = scalesAt(xq, T, nb);
  const sums = sumsAt(xq, T, nb);
  const zero = K >>> 31; // K > 0
  const low = byteMask(0x0f, zero);
  const three = byteMask(3, zero);
  const offset = byteMask(32, zero);
  const bit4 = byteMask(0x10, zero);
  const ones = i16x8.splat(<i16>(zero + 1)); // not 1 | zero, which binaryen folds to 1 (zero is 0 or 1)
  const m63 = i32x4.splat(63 | zero);
  const m15 = i32x4.splat(15 | zero);
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
      if (isQ6) store<f32>(on, rowDotQ6_K(w + <usize>n * rowBytes, xa, xs, nsb, low, three, offset));
      else store<f32>(on, rowDotQ4_K(type == 5, w + <usize>n * rowBytes, xa, xs, xsum, nsb, low, bit4, ones, m63, m15, on));
    }
  }
}

export function matmulQ4_KQ8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulK(4, out, xq, w, T, K, N, n0, n1);
}

export function matmulQ5_KQ8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulK(5, out, xq, w, T, K, N, n0, n1);
}

export function matmulQ6_KQ8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulK(6, out, xq, w, T, K, N, n0, n1);
}
