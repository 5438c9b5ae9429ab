// out[T, N] = x[T, K] · Wᵀ for Q2_K and Q3_K weights W [N, K/256 super-blocks] when decoding
// (T < 4), in integers against activations quantized once per token to blocks of 32 with one
// f32 scale each (activations.ts I8_LAYOUT: i8 in value order, and the sums of each sixteen as
// two i16). The K-quants of Q2_K and Q3_K_M files: before this kernel they decoded to f32 value
// by value (kblocks.ts), at a fraction of llama.cpp's speed.
//
// Both have sixteen sub-blocks of 16 values, each with a small integer scale, and their low two
// bits in 2-bit planes (reference/quants-k.ts draws the layouts):
//
//   Q2_K:  w = d·sc_j·q − dmin·m_j         q 0..3 (2 bits), sc and m 4 bits
//   Q3_K:  w = d·s_j·(q − 4)               q 0..7 (2 bits and a third from hmask), s 6 bits − 32
//
// So against activation block r (values 32r .. 32r+31, sub-blocks 2r and 2r+1) of d_x·q_x:
//
//   Σ x·w = d_x·(d·Σ_j sc_j·Σ q·q_x − dmin·Σ_j m_j·Σ q_x)           (Q2_K)
//   Σ x·w = d_x·d·(Σ_j s_j·Σ q·q_x − 4·Σ_j s_j·Σ q_x)                (Q3_K)
//
// q is unsigned, the 7-bit operand of the 8-bit dot product (qgemm.ts dotI8; in the plain build
// its stand-in), which gives eight i16 sums of two products per sixteen values. The two
// sub-blocks' eight are folded to four each (i16, at most 4·7·127) and meet their scales,
// spread by one swizzle per block as [s_2r ×4, s_2r+1 ×4], in one i16 dot product: an i32x4
// whose lanes add up to the block's scaled total. The Σ_j s_j·Σ q_x terms of four blocks take
// one more dot product, of the sixteen-value sums against the scales. Everything up to the one
// f32 conversion per block is an exact integer (below 2^21).
//
// Every output row is computed by rowDot's operations alone, one token at a time: its value
// does not depend on T or on the thread.
import { QUANT_BYTES, scalesAt, sumsAt } from './activations';
import { joinTotals, pairTotals } from './kdot';
import { dotI8 } from './qgemm';
import { hsum, loadHalf as half, madd, pick, QK, streamRow, streamSteps } from './simd';

const Q2_K: i32 = 2;
const Q3_K: i32 = 3;
const Q2_K_BYTES: usize = 84;
const Q3_K_BYTES: usize = 110;
const BLOCKS_PER_SUPER: usize = 8; // activation blocks of 32 per super-block of 256

// The sixteen sub-block scales of the super-block at b as i8x16, lane j for sub-block j:
// Q2_K's sc (low nibbles of bytes 0..15), Q3_K's s − 32 (reference/quants-k.ts scaleQ3_K: low
// four bits from the nibbles of bytes 96..103, high two from bytes 104..107, byte j % 4 bits
// 2·(j / 4)). low: 0x0f in every byte, three: 3
@inline
function subBlockScales(type: i32, b: usize, low: v128, three: v128): v128 {
  if (type == Q2_K) return v128.and(v128.load(b), low);
  const packed = v128.load64_zero(b + 96);
  const lowBits = v128.and(i8x16.shuffle(packed, i16x8.shr_u(packed, 4), 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), low);
  const h = v128.load32_splat(b + 104); // bytes 104..107, four times
  const h01 = i8x16.shuffle(h, i16x8.shr_u(h, 2), 0, 1, 2, 3, 20, 21, 22, 23, 0, 0, 0, 0, 0, 0, 0, 0); // j 0..7: shifts 0, 2
  const h23 = i8x16.shuffle(i16x8.shr_u(h, 4), i16x8.shr_u(h, 6), 8, 9, 10, 11, 28, 29, 30, 31, 0, 0, 0, 0, 0, 0, 0, 0); // j 8..15: shifts 4, 6
  const highBits = i16x8.shl(v128.and(i8x16.shuffle(h01, h23, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), three), 4); // at bits 4-5 (no byte carries past bit 5)
  return i8x16.sub(v128.or(lowBits, highBits), i8x16.splat(32));
}

// The scaled integer total of activation block r = 4h + quarter (sub-blocks 2r, 2r + 1) against
// the block's 32 i8 quants at x, as i32x4: planes a (bytes l = 0..15 of the half's 32) and c
// (16..31) give q's low two bits at bits 2·quarter; Q3_K's third bit is bit r of hmask bytes
// h0 (l = 0..15) and h1 (16..31). scales: the half's eight sub-block scales as i16; picks:
// the byte indices that spread scales 2·quarter and 2·quarter + 1 four times each.
@inline
function blockTotal(type: i32, a: v128, c: v128, h0: v128, h1: v128, quarter: i32, r: i32, x: usize, scales: v128, picks: v128, three: v128, four: v128): v128 {
  const shift = <u32>(2 * quarter);
  let lo = v128.and(i16x8.shr_u(a, shift), three); // 16-bit shifts (one x86 instruction); the mask drops what crosses bytes
  let hi = v128.and(i16x8.shr_u(c, shift), three);
  if (type == Q3_K) { // bit r of each hmask byte moved to bit 2
    lo = v128.or(lo, v128.and(r <= 2 ? i16x8.shl(h0, <u32>(2 - r)) : i16x8.shr_u(h0, <u32>(r - 2)), four));
    hi = v128.or(hi, v128.and(r <= 2 ? i16x8.shl(h1, <u32>(2 - r)) : i16x8.shr_u(h1, <u32>(r - 2)), four));
  }
  const p0 = dotI8(v128.load(x), lo); // sub-block 2r: eight i16 sums of two products
  const p1 = dotI8(v128.load(x, 16), hi); // 2r + 1
  const folded = i16x8.add(i8x16.shuffle(p0, p1, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), i8x16.shuffle(p0, p1, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31)); // lanes 0..3: 2r, 4..7: 2r + 1
  return i32x4.dot_i16x8_s(folded, pick(scales, picks));
}

// Σ_k x[k]·w[k] for the row at w (nsb super-blocks) against one activation row (quants xa,
// scales xs, sums xsum). fence: an address written between blocks, so that V8 loads the next
// vectors after the arithmetic before (q6decode.ts's header)
@inline
function rowDot(type: i32, w: usize, xa: usize, xs: usize, xsum: usize, nsb: i32, low: v128, three: v128, four: v128, spread: v128, fence: usize): f32 {
  const bytes = type == Q2_K ? Q2_K_BYTES : Q3_K_BYTES;
  const planes: usize = type == Q2_K ? 16 : 32; // offset of the 2-bit planes
  let acc = f32x4.splat(0); // Σ d·d_x·(scaled totals), lane r mod 4
  let mins = f32x4.splat(0); // Q2_K: Σ dmin·d_x·Σ_j m_j·Σq_x
  for (let sb = 0; sb < nsb; sb++) {
    const b = w + <usize>sb * bytes;
    const d = f32x4.splat(half(b + (type == Q2_K ? 80 : 108)));
    const s = subBlockScales(type, b, low, three);
    const m = type == Q2_K ? v128.and(i16x8.shr_u(v128.load(b), 4), low) : s; // Q2_K: the mins m_j
    let h0 = i32x4.splat(0), h1 = i32x4.splat(0);
    if (type == Q3_K) { h0 = v128.load(b); h1 = v128.load(b, 16); }
    const first = <usize>sb * BLOCKS_PER_SUPER;
    for (let h = 0; h < 2; h++) {
      const block = first + 4 * h; // the half's first activation block
      const x = xa + block * QUANT_BYTES;
      const qs = b + planes + 32 * h;
      const a = v128.load(qs), c = v128.load(qs, 16);
      const scales = h == 0 ? i16x8.extend_low_i8x16_s(s) : i16x8.extend_high_i8x16_s(s); // sub-blocks 8h .. 8h + 7
      const picks1 = i8x16.add(spread, four); // the next block's two scales: 4 bytes on
      const t0 = blockTotal(type, a, c, h0, h1, 0, 4 * h, x, scales, spread, three, four);
      const t1 = blockTotal(type, a, c, h0, h1, 1, 4 * h + 1, x + QUANT_BYTES, scales, picks1, three, four);
      const u01 = pairTotals(t0, t1);
      store<i32>(fence, i32x4.extract_lane(u01, 0));
      const picks2 = i8x16.add(picks1, four);
      const t2 = blockTotal(type, a, c, h0, h1, 2, 4 * h + 2, x + 2 * QUANT_BYTES, scales, picks2, three, four);
      const t3 = blockTotal(type, a, c, h0, h1, 3, 4 * h + 3, x + 3 * QUANT_BYTES, scales, i8x16.add(picks2, four), three, four);
      let totals = joinTotals(u01, pairTotals(t2, t3)); // lane q: block 4h + q
      // Σ_j scale_j·Σq_x of the four blocks: their sixteen-value sums (i16 pairs) against the scales
      const sums = v128.load(xsum + (block << 2));
      const dx = v128.load(xs + (block << 2));
      if (type == Q3_K) {
        totals = i32x4.sub(totals, i32x4.shl(i32x4.dot_i16x8_s(sums, scales), 2));
      } else {
        const mh = h == 0 ? i16x8.extend_low_i8x16_u(m) : i16x8.extend_high_i8x16_u(m);
        mins = madd(f32x4.convert_i32x4_s(i32x4.dot_i16x8_s(sums, mh)), dx, mins);
      }
      acc = madd(f32x4.convert_i32x4_s(totals), f32x4.mul(d, dx), acc);
    }
    if (type == Q2_K) { // mins so far are Σ d_x·Σ m·Σq_x of this super-block: scaled by its dmin
      acc = madd(f32x4.splat(-half(b + 82)), mins, acc);
      mins = f32x4.splat(0);
    }
  }
  return hsum(acc);
}

// out: [T, N] f32; xq: activations of x [T, K] from quantizeActivations in I8_LAYOUT (both
// builds); w: [N, K/256 super-blocks]; rows n0 ≤ n < n1
@inline
function matmulK16(type: i32, out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  const nb = K / QK;
  const nsb = K >> 8;
  const rowBytes = <usize>nsb * (type == Q2_K ? Q2_K_BYTES : Q3_K_BYTES);
  const scales = scalesAt(xq, T, nb);
  const sums = sumsAt(xq, T, nb);
  const zero = K >>> 31; // 0 (K > 0), unknown to the compilers: V8 rebuilds a constant at each use in a loop
  const low = i8x16.splat(<i8>(0x0f | zero));
  const three = i8x16.splat(<i8>(3 | zero));
  const four = i8x16.splat(<i8>(4 | zero)); // Q3_K's third bit; also the step of the picks to the next block's two scales
  const spread = v128.or(i8x16(0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3), i8x16.splat(<i8>zero)); // i16 scales 0, 1 four times each
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
      store<f32>(on, rowDot(type, w + <usize>n * rowBytes, xa, xs, xsum, nsb, low, three, four, spread, on));
    }
  }
}

export function matmulQ2_KQ8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulK16(Q2_K, out, xq, w, T, K, N, n0, n1);
}

export function matmulQ3_KQ8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulK16(Q3_K, out, xq, w, T, K, N, n0, n1);
}
