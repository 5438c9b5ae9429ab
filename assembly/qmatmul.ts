// out[T, N] = x[T, K] · Wᵀ for q8_0 and q4_0 weights W [N, K/32 blocks], in integers, the
// way llama.cpp does it: the activation rows are first quantized to blocks of 32 integers
// with one scale each (activations.ts), then every weight block meets an activation block
// in an integer dot product, scaled once per block by d_w · d_x.
//
// Why: decoding a weight block to floats costs more than the arithmetic it feeds (eight
// int -> float conversions and scale multiplies per 32 weights); here a block costs four
// i32x4.dot_i16x8_s (8 multiply-adds each), four ands and shifts to widen the weights, and
// about three ops to fold and scale its sum. Measured on one x86 core when decoding:
// ~12 GMAC/s against ~4 for the f32-activation dot (blocks.ts).
//
// Numerics: the activation is rounded to d_x·q_x with |x − d_x·q_x| ≤ d_x/2 (d_x =
// max|x|/127 of its block), so a block's contribution moves by at most Σ|w|·d_x/2 from
// the f32-activation result. The integer sums are exact, and so is their conversion to f32:
// a block total is 256 times an integer below 2^16 (q4_0) or 2^19 (q8_0).
//
// Every output is computed with rowDot2's float operations, in its order, one token at a
// time: its value does not depend on T, on the pairing of rows, or on the thread. This is
// the decoding path (T < 4 tokens): a prompt's matmuls go through blocks.ts, which decodes
// each block of weight rows once for all its tokens and multiplies in f32.
import { QUANT_BYTES, scalesAt, sumsAt } from './activations';
import { blockBytes, hsum, madd, QK } from './simd';

// W is i8 for q8_0 ([f16 d][32 × int8]) and u8 for q4_0 ([f16 d][16 bytes of nibbles]).

// --- one weight block against one activation block ------------------------------------------
//
// A weight block's 16-byte groups are widened to i16 lanes within each 16-bit pair, in the
// activation order (activations.ts), each with one op: q8_0 leaves each weight times 256
// (the byte moved to, or kept in, the high half of its lane); q4_0 masks each nibble where
// it lies, so at 1, 16, 256 or 1 (the top one, shifted down) times its value, and the
// activations were stored times 256, 16, 1 and 256 to match (activations.ts): every product
// is 256·w·q_x. Both scales take the 256 back. The masks come in as arguments (Masks):
// V8 rebuilds a 128-bit constant at each use in a loop, but keeps a value made before it.

// The lane masks, made once per matmul (laneMasks): m0 is 0xff00 for q8_0 and 0x000f for
// q4_0, m1 0x00f0 and m2 0x0f00 (q4_0 only), in every 16-bit lane.
@inline
function weightLanes0<W>(lo: v128, m0: v128): v128 { // values 0 2 … 14
  if (isSigned<W>()) return i16x8.shl(lo, 8);
  return v128.and(lo, m0); // n
}
@inline
function weightLanes1<W>(lo: v128, m0: v128, m2: v128): v128 { // values 1 3 … 15
  if (isSigned<W>()) return v128.and(lo, m0);
  return v128.and(lo, m2); // 256·n
}
@inline
function weightLanes2<W>(lo: v128, hi: v128, m1: v128): v128 { // values 16 18 … 30
  if (isSigned<W>()) return i16x8.shl(hi, 8);
  return v128.and(lo, m1); // 16·n
}
@inline
function weightLanes3<W>(lo: v128, hi: v128, m0: v128): v128 { // values 17 19 … 31
  if (isSigned<W>()) return v128.and(hi, m0);
  return i16x8.shr_u(lo, 12); // n
}

// Σ w·q_x over one block as four i32 partial sums (q8_0: of 256·w·q_x; q4_0: of 256·n·q_x,
// n = w + 8 the stored nibble), against the activation block's four i16x8 x0..x3. lo is
// the block's bytes 2..17, hi its bytes 18..33 (q8_0 only: q4_0 has 16 bytes).
@inline
function blockDot<W>(block: usize, x0: v128, x1: v128, x2: v128, x3: v128, m0: v128, m1: v128, m2: v128): v128 {
  const lo = v128.load(block, 2);
  const hi = isSigned<W>() ? v128.load(block, 18) : lo;
  const s0 = i32x4.dot_i16x8_s(weightLanes0<W>(lo, m0), x0);
  const s1 = i32x4.dot_i16x8_s(weightLanes1<W>(lo, m0, m2), x1);
  const s2 = i32x4.dot_i16x8_s(weightLanes2<W>(lo, hi, m1), x2);
  const s3 = i32x4.dot_i16x8_s(weightLanes3<W>(lo, hi, m0), x3);
  return i32x4.add(i32x4.add(s0, s1), i32x4.add(s2, s3));
}

// The three masks of a storage type, built from `zero` (0 at run time, but not known to be 0
// by the compilers, so that they do not fold the masks back into constants).
@inline
function laneMask(value: i32, zero: i32): v128 {
  return i16x8.splat(<i16>(value | zero));
}

// --- block scales ------------------------------------------------------------------------------

// h: f16 weight scales zero-extended in i32 lanes -> f32x4, times 1/256. The
// decode of simd.ts halvesToF32x4 (exponent and mantissa moved to a float's place, times
// 2^112, which also normalizes subnormals; exponent 31 becomes 255), with shifts where it
// has masks (see above). A subnormal scale costs a microcode assist here (simd.ts), but a
// block of 32 has one only if all its weights are below ~1e-5·127: rare enough that the
// exact integer decode, which upsets V8's schedule of the loops, is not worth it.
@inline
export function weightScales(h: v128): v128 {
  const bias: f32 = 2.028240960365167e31; // 2^104 = 2^112 / 256
  const magnitude = i32x4.shr_u(i32x4.shl(h, 17), 4); // half bits 0..14 at float bits 13..27
  const f = f32x4.mul(magnitude, f32x4.splat(bias));
  const exponent31 = i32x4.gt_s(magnitude, i32x4.splat(0x0f7fffff)); // all ones: inf or NaN
  const infOrNaN = i32x4.shr_u(i32x4.shl(exponent31, 24), 1); // 0x7f800000
  const sign = i32x4.shl(i32x4.shr_u(h, 15), 31);
  return v128.or(v128.or(f, infOrNaN), sign);
}

// The f16 scales of `count` (1..4) consecutive blocks from `block` on, in the low halves
// of i32 lanes 0..count-1 (the other lanes 0); never reads past the last of them.
@inline
export function loadHalves(block: usize, bytes: usize, count: i32): v128 {
  let h = v128.load16_lane(block, i32x4.splat(0), 0); // i16 lanes 0, 2, 4, 6
  if (count > 1) h = v128.load16_lane(block + bytes, h, 2);
  if (count > 2) h = v128.load16_lane(block + 2 * bytes, h, 4);
  if (count > 3) h = v128.load16_lane(block + 3 * bytes, h, 6);
  return h;
}

// Lanes 0..count-1 of four consecutive 32-bit values at p (the other lanes 0)
@inline
export function load4(p: usize, count: i32): v128 {
  if (count == 4) return v128.load(p);
  let v = v128.load32_zero(p);
  if (count > 1) v = v128.load32_lane(p + 4, v, 1);
  if (count > 2) v = v128.load32_lane(p + 8, v, 2);
  return v;
}

// --- outputs: two weight rows against one activation row -----------------------------------------

// Two blocks' partial sums p, q (i32x4 each) -> one i32x4 holding, in lanes 0, 2, the
// halves of p's total and in lanes 1, 3 those of q's: [p0+p2, q0+q2, p1+p3, q1+q3]
@inline
export function pairSums(p: v128, q: v128): v128 {
  return i32x4.add(v128.shuffle<i32>(p, q, 0, 4, 1, 5), v128.shuffle<i32>(p, q, 2, 6, 3, 7));
}

// pairSums of blocks 0, 1 and of blocks 2, 3 -> the four block totals, lane j for block j
@inline
export function blockTotals(u01: v128, u23: v128): v128 {
  return i32x4.add(v128.shuffle<i32>(u01, u23, 0, 1, 4, 5), v128.shuffle<i32>(u01, u23, 2, 3, 6, 7));
}

// out0 = Σ_k x[k]·w0[k] and out1 = Σ_k x[k]·w1[k] for the activation row with quants xa,
// scales xs and sums xsum (one row of a quantizeActivations buffer). Two weight rows share
// each activation load. (For one row alone, w1 = w0 and out1 = out0: every row is computed
// by the same operations wherever it falls, so results do not depend on the pairing, and
// thus not on the thread count.)
//
// Blocks go in groups of four: the group's scales d_w·d_x are made together (lane j for
// block j); each block's four integer partial sums are folded with its neighbour's
// (pairSums) and then into one vector of the four block totals (blockTotals), which is
// converted and scaled by the group's scales in one step. Missing blocks of a short last
// group count as zeros.
function rowDot2<W>(out0: usize, out1: usize, w0: usize, w1: usize, xa: usize, xs: usize, xsum: usize, nb: i32, m0: v128, m1: v128, m2: v128): void {
  const bytes = blockBytes<W>();
  const zero = i32x4.splat(0);
  let acc0 = f32x4.splat(0); // lane j: blocks j, j+4, j+8, … of row 0
  let acc1 = f32x4.splat(0);
  for (let b = 0; b < nb; b += 4) {
    const count = min(4, nb - b);
    const block0 = w0 + <usize>b * bytes;
    const block1 = w1 + <usize>b * bytes;
    const xb = xa + <usize>b * QUANT_BYTES;
    const dx = load4(xs + (<usize>b << 2), count);
    const scales0 = f32x4.mul(weightScales(loadHalves(block0, bytes, count)), dx);
    const scales1 = f32x4.mul(weightScales(loadHalves(block1, bytes, count)), dx);
    if (!isSigned<W>()) {
      // q4_0's n = w + 8: Σ w·q_x = Σ n·q_x − 8·Σq_x, the second term here, in floats
      const offsets = f32x4.convert_i32x4_s(i32x4.shl(load4(xsum + (<usize>b << 2), count), 11)); // 256·8·Σq_x
      acc0 = f32x4.sub(acc0, f32x4.mul(offsets, scales0));
      acc1 = f32x4.sub(acc1, f32x4.mul(offsets, scales1));
    }
    // blocks 0 and 1 of the group
    let x0 = v128.load(xb), x1 = v128.load(xb, 16), x2 = v128.load(xb, 32), x3 = v128.load(xb, 48);
    let p0 = blockDot<W>(block0, x0, x1, x2, x3, m0, m1, m2);
    let p1 = blockDot<W>(block1, x0, x1, x2, x3, m0, m1, m2);
    let q0 = zero, q1 = zero;
    if (count > 1) {
      const xc = xb + QUANT_BYTES;
      x0 = v128.load(xc); x1 = v128.load(xc, 16); x2 = v128.load(xc, 32); x3 = v128.load(xc, 48);
      q0 = blockDot<W>(block0 + bytes, x0, x1, x2, x3, m0, m1, m2);
      q1 = blockDot<W>(block1 + bytes, x0, x1, x2, x3, m0, m1, m2);
    }
    const u0 = pairSums(p0, q0);
    const u1 = pairSums(p1, q1);
    // blocks 2 and 3
    p0 = zero; p1 = zero; q0 = zero; q1 = zero;
    if (count > 2) {
      const xc = xb + 2 * QUANT_BYTES;
      x0 = v128.load(xc); x1 = v128.load(xc, 16); x2 = v128.load(xc, 32); x3 = v128.load(xc, 48);
      p0 = blockDot<W>(block0 + 2 * bytes, x0, x1, x2, x3, m0, m1, m2);
      p1 = blockDot<W>(block1 + 2 * bytes, x0, x1, x2, x3, m0, m1, m2);
    }
    if (count > 3) {
      const xc = xb + 3 * QUANT_BYTES;
      x0 = v128.load(xc); x1 = v128.load(xc, 16); x2 = v128.load(xc, 32); x3 = v128.load(xc, 48);
      q0 = blockDot<W>(block0 + 3 * bytes, x0, x1, x2, x3, m0, m1, m2);
      q1 = blockDot<W>(block1 + 3 * bytes, x0, x1, x2, x3, m0, m1, m2);
    }
    acc0 = madd(f32x4.convert_i32x4_s(blockTotals(u0, pairSums(p0, q0))), scales0, acc0);
    acc1 = madd(f32x4.convert_i32x4_s(blockTotals(u1, pairSums(p1, q1))), scales1, acc1);
  }
  store<f32>(out0, hsum(acc0));
  store<f32>(out1, hsum(acc1));
}

// --- the matmul --------------------------------------------------------------------------------

// Rows n0 ≤ n < n1 of out [N] for one activation row (quants xa, scales xs, sums xsum), as
// pairs of rows half the range apart. Every weight byte comes from memory once, and two
// streams far apart keep the hardware prefetcher ahead of the integer work, where two
// neighbouring rows look like one stream to it: on one x86 core a q8_0 matrix of 48 MB went
// from 8 to 12 GMAC/s (from 8.5 to 13 GB/s read). rowDot2 computes each row the same way
// whatever its partner, so the pairing changes no bit.
function decodeRows<W>(out: usize, xa: usize, xs: usize, xsum: usize, w: usize, rowBytes: usize, nb: i32, n0: i32, n1: i32, m0: v128, m1: v128, m2: v128): void {
  const half = (n1 - n0 + 1) >> 1;
  for (let n = n0; n < n0 + half; n++) {
    const m = n + half; // its partner, or none when the range is odd and n is the last
    const pair = m < n1;
    const w0 = w + <usize>n * rowBytes;
    const w1 = pair ? w + <usize>m * rowBytes : w0;
    const out0 = out + (<usize>n << 2);
    rowDot2<W>(out0, pair ? out + (<usize>m << 2) : out0, w0, w1, xa, xs, xsum, nb, m0, m1, m2);
  }
}

// out: [T, N] f32; xq: activations of x [T, K] from quantizeActivations; w: [N, K/32 blocks].
// Rows n0 ≤ n < n1 only, one token at a time (the product uses this for decoding, T < 4;
// prompts go through blocks.ts), so a token's outputs do not depend on T either.
function matmulQuantized<W>(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  const nb = K / QK;
  const rowBytes = <usize>nb * blockBytes<W>();
  const xRowBytes = <usize>nb * QUANT_BYTES;
  const scales = scalesAt(xq, T, nb);
  const sums = sumsAt(xq, T, nb);
  const zero = K >>> 31; // K > 0
  const m0 = laneMask(isSigned<W>() ? 0xff00 : 0x000f, zero);
  const m1 = laneMask(0x00f0, zero);
  const m2 = laneMask(0x0f00, zero);
  for (let t = 0; t < T; t++) {
    const at = <usize>t * nb; // block index of row t
    decodeRows<W>(out + (<usize>t * N << 2), xq + <usize>t * xRowBytes, scales + (at << 2), sums + (at << 2), w, rowBytes, nb, n0, n1, m0, m1, m2);
  }
}

export function matmulQ8_0Q8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulQuantized<i8>(out, xq, w, T, K, N, n0, n1);
}

export function matmulQ4_0Q8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulQuantized<u8>(out, xq, w, T, K, N, n0, n1);
}
