// out[T, N] = x[T, K] · Wᵀ for Q4_K and Q6_K weights W [N, K/256 super-blocks] when decoding
// (T < 4), in integers against activations quantized once per token to blocks of 32 with
// one f32 scale each (activations.ts, NATURAL_LAYOUT: i16 in value order). The stored blocks
// are read as they are in the file (layouts in reference/quants-k.ts): their quants are
// unpacked sixteen bytes at a time with masks and shifts, widened to i16 in order and meet
// the activations in i32x4.dot_i16x8_s.
//
// Why blocks of 32 activations and not ggml's Q8_K (one scale per 256): a Q4_K sub-block is
// 32 values and a Q6_K pair of sub-blocks too, so each activation block meets exactly one
// (Q4_K) or two (Q6_K) weight scales; the extra f32 scale per 32 costs one multiply-add per
// 32 values and keeps the activation rounding 8x finer where a block holds an outlier.
//
//   Q4_K sub-block j:  Σ x·w = d_x·(d·sc_j·Σ q·q_x − dmin·m_j·Σ q_x)      q 0..15
//   Q6_K block pair:   Σ x·w = d_x·d·(s_a·Σ_a (q−32)·q_x + s_b·Σ_b (q−32)·q_x)   16 values each
//
// The integer sums are exact and so is their conversion to f32: a Q4_K lane sums 8 products
// of at most 15·127; a Q6_K lane 4 products of at most 32·127 per half, times |s| ≤ 128,
// two halves: below 2^23.
//
// Every output row is computed by rowDotQ4_K / rowDotQ6_K alone, one token at a time: its
// value does not depend on T, on the thread or on which rows the thread has.
import { QUANT_BYTES, scalesAt, sumsAt } from './activations';
import { halfToF32, hsum, madd, QK } from './simd';

const Q4_K_BYTES: usize = 144;
const Q6_K_BYTES: usize = 210;
const BLOCKS_PER_SUPER: usize = 8; // activation blocks of 32 per super-block of 256

@inline
function byte(p: usize): i32 {
  return <i32>load<u8>(p);
}

@inline
function half(p: usize): f32 {
  return halfToF32(<u32>load<u16>(p));
}

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

// The 6-bit scale (bits 0..5) and min (bits 8..13) of Q4_K sub-block j from the 12 bytes at s
// (reference/quants-k.ts scaleMinK4: sub-blocks 4-7 assemble theirs from a nibble of byte
// j + 4 and the top two bits of bytes j − 4 and j)
@inline
function scaleMinK4(s: usize, j: i32): i32 {
  if (j < 4) return (byte(s + j) & 63) | ((byte(s + j + 4) & 63) << 8);
  const sc = (byte(s + j + 4) & 0x0f) | ((byte(s + j - 4) >> 6) << 4);
  const m = (byte(s + j + 4) >> 4) | ((byte(s + j) >> 6) << 4);
  return sc | (m << 8);
}

// --- one row against one activation row --------------------------------------------------------

// Σ_k x[k]·w[k] for one Q4_K row w (nsb super-blocks) and one activation row: quants xa,
// scales xs [nsb·8] f32, sums xsum [nsb·8] i32
function rowDotQ4_K(w: usize, xa: usize, xs: usize, xsum: usize, nsb: i32, low: v128): f32 {
  let acc = f32x4.splat(0); // Σ d·sc·d_x·Σq·q_x, by lane
  let mins: f32 = 0; // Σ dmin·m·d_x·Σq_x
  for (let sb = 0; sb < nsb; sb++) {
    const b = w + <usize>sb * Q4_K_BYTES;
    const d = half(b);
    const dmin = half(b + 2);
    const first = <usize>sb * BLOCKS_PER_SUPER; // activation block of sub-block 0
    for (let c = 0; c < 4; c++) { // chunk c: bytes qs[32c ..], sub-blocks 2c (low nibbles), 2c + 1 (high)
      const q0 = v128.load(b + 16 + 32 * c);
      const q1 = v128.load(b + 32 + 32 * c);
      for (let h = 0; h < 2; h++) {
        const j = 2 * c + h;
        const block = first + j;
        const x = xa + block * QUANT_BYTES;
        const lo = h == 0 ? v128.and(q0, low) : i8x16.shr_u(q0, 4);
        const hi = h == 0 ? v128.and(q1, low) : i8x16.shr_u(q1, 4);
        const s = i32x4.add(dot16u(lo, x), dot16u(hi, x + 32));
        const sm = scaleMinK4(b + 4, j);
        const dx = load<f32>(xs + (block << 2));
        acc = madd(f32x4.convert_i32x4_s(s), f32x4.splat(d * <f32>(sm & 63) * dx), acc);
        mins += dmin * <f32>(sm >> 8) * dx * <f32>load<i32>(xsum + (block << 2));
      }
    }
  }
  return hsum(acc) - mins;
}

// The same for one Q6_K row: half h, quarter r of a super-block is activation block 4h + r;
// its values 0..15 have scale s[8h + 2r], 16..31 scale s[8h + 2r + 1]
function rowDotQ6_K(w: usize, xa: usize, xs: usize, nsb: i32, low: v128, three: v128, offset: v128): f32 {
  let acc = f32x4.splat(0);
  for (let sb = 0; sb < nsb; sb++) {
    const b = w + <usize>sb * Q6_K_BYTES;
    const d = half(b + 208);
    const first = <usize>sb * BLOCKS_PER_SUPER;
    for (let h = 0; h < 2; h++) {
      const ql0 = v128.load(b + 64 * h); // quarters 0 (low nibbles) and 2 (high), l = 0..15
      const ql1 = v128.load(b + 64 * h + 16); // l = 16..31
      const ql2 = v128.load(b + 64 * h + 32); // quarters 1 and 3
      const ql3 = v128.load(b + 64 * h + 48);
      const qh0 = v128.load(b + 128 + 32 * h); // bits 2r..2r+1 of quarter r, l = 0..15
      const qh1 = v128.load(b + 128 + 32 * h + 16);
      for (let r = 0; r < 4; r++) {
        const a = r & 1 ? ql2 : ql0;
        const c = r & 1 ? ql3 : ql1;
        const lowA = r < 2 ? v128.and(a, low) : i8x16.shr_u(a, 4);
        const lowC = r < 2 ? v128.and(c, low) : i8x16.shr_u(c, 4);
        const shift = <u32>(2 * r);
        const qa = i8x16.sub(v128.or(lowA, i8x16.shl(v128.and(i8x16.shr_u(qh0, shift), three), 4)), offset); // q − 32
        const qc = i8x16.sub(v128.or(lowC, i8x16.shl(v128.and(i8x16.shr_u(qh1, shift), three), 4)), offset);
        const block = first + 4 * h + r;
        const x = xa + block * QUANT_BYTES;
        const j = 8 * h + 2 * r;
        const sa = i32x4.splat(<i32>load<i8>(b + 192 + j));
        const sc = i32x4.splat(<i32>load<i8>(b + 193 + j));
        const s = i32x4.add(i32x4.mul(dot16s(qa, x), sa), i32x4.mul(dot16s(qc, x + 32), sc));
        const dx = load<f32>(xs + (block << 2));
        acc = madd(f32x4.convert_i32x4_s(s), f32x4.splat(d * dx), acc);
      }
    }
  }
  return hsum(acc);
}

// --- the matmuls ---------------------------------------------------------------------------------

// A byte splat made from `zero` (0 at run time, not known to the compilers), so that V8 keeps
// the vector in a register instead of rebuilding the constant at each use in a loop
@inline
function byteMask(value: i32, zero: i32): v128 {
  return i8x16.splat(<i8>(value | zero));
}

// out: [T, N] f32; xq: activations of x [T, K] from quantizeActivations (NATURAL_LAYOUT);
// w: [N, K/256 super-blocks]; rows n0 ≤ n < n1. Q4_K: isQ6 = false, Q6_K: true.
function matmulK(isQ6: bool, out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  const nb = K / QK; // activation blocks per row
  const nsb = K >> 8;
  const rowBytes = <usize>nsb * (isQ6 ? Q6_K_BYTES : Q4_K_BYTES);
  const scales = scalesAt(xq, T, nb);
  const sums = sumsAt(xq, T, nb);
  const zero = K >>> 31; // K > 0
  const low = byteMask(0x0f, zero);
  const three = byteMask(3, zero);
  const offset = byteMask(32, zero);
  for (let t = 0; t < T; t++) {
    const at = <usize>t * nb;
    const xa = xq + at * QUANT_BYTES;
    const xs = scales + (at << 2);
    const xsum = sums + (at << 2);
    const o = out + (<usize>t * N << 2);
    for (let n = n0; n < n1; n++) {
      const row = w + <usize>n * rowBytes;
      store<f32>(o + (<usize>n << 2), isQ6 ? rowDotQ6_K(row, xa, xs, nsb, low, three, offset) : rowDotQ4_K(row, xa, xs, xsum, nsb, low));
    }
  }
}

export function matmulQ4_KQ8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulK(false, out, xq, w, T, K, N, n0, n1);
}

export function matmulQ6_KQ8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulK(true, out, xq, w, T, K, N, n0, n1);
}
