// Decoding (T < 4 tokens) on Q6_K weights with the 8-bit dot product of qgemm.ts (relaxed
// SIMD's i16x8.relaxed_dot_i8x16_i7x16_s, x86 pmaddubsw): out[T, N] = x[T, K] · Wᵀ, x quantized
// by quantizeActivations in I8_LAYOUT (activations.ts), the stored blocks read where they lie
// (reference/quants-k.ts: ql[128] qh[64] int8 scales[16] f16 d, 210 bytes per 256 values).
//
// Why: kdot.ts's rowDotQ6_K takes q − 32 as signed bytes, widens them and the activations to
// i16 (four extends a block of 32), multiplies in i32x4.dot_i16x8_s and scales each half-block
// by an i32 multiply, over thirty operations a block. The 6-bit q (0..63, before the offset) is
// a valid 7-bit operand of the 8-bit dot product, so here a block is two dotI8 and two
// i32x4.dot_i16x8_s against the splatted scales, and the offset is taken off once per four
// blocks, from the activations' sums of sixteen:
//
//   Σ_16 s·(q − 32)·q_x = s·Σ_16 q·q_x − 32·s·Σ_16 q_x
//
// where the last term of a half super-block's eight groups of sixteen is one
// i32x4.dot_i16x8_s of its eight scales (widened to i16) with the eight sums (lane r: block r).
//
// Registers: V8 (TurboFan) emits a basic block's loads in program order, ahead of the arithmetic,
// which it places just before each use; a half's four quarters load 17 vectors, more than x86's
// sixteen registers, so the compiled code spilled and reloaded some 30 of them a half
// (`npm run bench:disasm`). A store between quarters 1 and 2 (a lane of their partial total,
// into the row's output slot, which the final value overwrites) is a point the loads of
// quarters 2 and 3 cannot move above, so half as many are live at once: 85 -> 53 stack
// accesses in the function, 11.5 -> 12.8-13.8 GFLOPS on 2048x2048 and 11008x4096 decodes.
// (Quarters written to share their quant loads or to load their own make no difference: V8
// folds repeated loads of the same address.)
//
// The integer block totals are the exact integers rowDotQ6_K computes, and they meet d·d_x in
// f32 by the same operations in the same order, so both kernels give the same bits: the
// backend picks this one in the relaxed-SIMD build, and tests compare the two.
import { QUANT_BYTES, scalesAt, sumsAt } from './activations';
import { joinTotals, pairTotals } from './kdot';
import { dotI8 } from './qgemm';
import { hsum, loadHalf as half, madd, QK, streamRow, streamSteps } from './simd';

const Q6_K_BYTES: usize = 210;
const BLOCKS_PER_SUPER: usize = 8; // activation blocks of 32 per super-block of 256

// Lane k of eight i16 lanes, in all eight (k a constant once inlined)
@inline
function splat16(v: v128, k: i32): v128 {
  if (k == 0) return v128.shuffle<i16>(v, v, 0, 0, 0, 0, 0, 0, 0, 0);
  if (k == 1) return v128.shuffle<i16>(v, v, 1, 1, 1, 1, 1, 1, 1, 1);
  if (k == 2) return v128.shuffle<i16>(v, v, 2, 2, 2, 2, 2, 2, 2, 2);
  if (k == 3) return v128.shuffle<i16>(v, v, 3, 3, 3, 3, 3, 3, 3, 3);
  if (k == 4) return v128.shuffle<i16>(v, v, 4, 4, 4, 4, 4, 4, 4, 4);
  if (k == 5) return v128.shuffle<i16>(v, v, 5, 5, 5, 5, 5, 5, 5, 5);
  if (k == 6) return v128.shuffle<i16>(v, v, 6, 6, 6, 6, 6, 6, 6, 6);
  return v128.shuffle<i16>(v, v, 7, 7, 7, 7, 7, 7, 7, 7);
}

// Bits 2r, 2r + 1 of each byte of qh, moved to bits 4, 5 (the high part of a 6-bit q). Shifts
// of 16-bit lanes (one x86 instruction; 8-bit shifts take three): the mask drops what crosses
// from the neighbouring byte.
@inline
function highBits(qh: v128, r: i32, m30: v128): v128 {
  if (r == 0) return v128.and(i16x8.shl(qh, 4), m30);
  if (r == 1) return v128.and(i16x8.shl(qh, 2), m30);
  if (r == 2) return v128.and(qh, m30);
  return v128.and(i16x8.shr_u(qh, 2), m30);
}

// Quarter r of a Q6_K half (ql: its 64 low-bit bytes, qh: its 32 high-bit bytes; activation
// block at x, i8 values 0..31): q = (low nibbles of bytes 0..31 for r = 0, 32..63 for r = 1,
// high nibbles of the same for r = 2, 3) | bits 2r..2r+1 of qh, in 0..63; its two groups of
// sixteen dotted with the activations and times their scales (lanes 2r, 2r + 1 of sc), as i32x4
@inline
function quarterDot(ql: usize, qh: usize, r: i32, x: usize, sc: v128, low: v128, m30: v128): v128 {
  const a = v128.load(ql + 32 * (r & 1)), c = v128.load(ql + 32 * (r & 1) + 16);
  const qh0 = v128.load(qh), qh1 = v128.load(qh, 16);
  const lowA = r < 2 ? v128.and(a, low) : v128.and(i16x8.shr_u(a, 4), low);
  const lowC = r < 2 ? v128.and(c, low) : v128.and(i16x8.shr_u(c, 4), low);
  const qa = v128.or(lowA, highBits(qh0, r, m30)); // values 0..15 of the block
  const qc = v128.or(lowC, highBits(qh1, r, m30)); // values 16..31
  // dotI8 lanes: two products of at most 63·127 each, 16002 < 2^15
  const pa = dotI8(v128.load(x), qa);
  const pc = dotI8(v128.load(x, 16), qc);
  return i32x4.add(i32x4.dot_i16x8_s(pa, splat16(sc, 2 * r)), i32x4.dot_i16x8_s(pc, splat16(sc, 2 * r + 1)));
}

// Σ_k x[k]·w[k] for one Q6_K row (nsb super-blocks) and one activation row: i8 quants xa,
// scales xs [nsb·8] f32, sums of sixteen xsum [nsb·8] i16 pairs; fence: the row's output
// slot, written before the caller writes the result there (see the header)
function rowDotQ6_K(w: usize, xa: usize, xs: usize, xsum: usize, nsb: i32, low: v128, m30: v128, fence: usize): f32 {
  let acc = f32x4.splat(0);
  for (let sb = 0; sb < nsb; sb++) {
    const b = w + <usize>sb * Q6_K_BYTES;
    const d = f32x4.splat(half(b + 208));
    const first = <usize>sb * BLOCKS_PER_SUPER;
    for (let h = 0; h < 2; h++) {
      const blk = first + 4 * h; // activation block of quarter 0
      const x = xa + blk * QUANT_BYTES;
      const ql = b + 64 * h; // quarters 0, 2 from bytes 0..31 (low, high nibbles), 1, 3 from 32..63
      const qh = b + 128 + 32 * h; // bits 2r..2r+1 of quarter r, l = 0..15, then 16..31
      const sc = i16x8.extend_low_i8x16_s(v128.load64_zero(b + 192 + 8 * h)); // the half's eight scales
      const t0 = quarterDot(ql, qh, 0, x, sc, low, m30);
      const t1 = quarterDot(ql, qh, 1, x + QUANT_BYTES, sc, low, m30);
      const u01 = pairTotals(t0, t1);
      store<i32>(fence, i32x4.extract_lane(u01, 0)); // orders the loads below after this: see the header
      const t2 = quarterDot(ql, qh, 2, x + 2 * QUANT_BYTES, sc, low, m30);
      const t3 = quarterDot(ql, qh, 3, x + 3 * QUANT_BYTES, sc, low, m30);
      const offset = i32x4.dot_i16x8_s(sc, v128.load(xsum + (blk << 2))); // lane r: Σ s·Σ_16 q_x of block r
      const totals = i32x4.sub(joinTotals(u01, pairTotals(t2, t3)), i32x4.shl(offset, 5)); // Σ s·(q − 32)·q_x, exact
      const dx = v128.load(xs + (blk << 2)); // d_x of the four blocks
      acc = madd(f32x4.convert_i32x4_s(totals), f32x4.mul(d, dx), acc);
    }
  }
  return hsum(acc);
}

// out: [T, N] f32; xq: activations of x [T, K] from quantizeActivations (I8_LAYOUT); w: [N,
// K/256 super-blocks]; rows n0 ≤ n < n1
export function matmulQ6_KI8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  const nb = K / QK;
  const nsb = K >> 8;
  const rowBytes = <usize>nsb * Q6_K_BYTES;
  const scales = scalesAt(xq, T, nb);
  const sums = sumsAt(xq, T, nb);
  const zero = K >>> 31; // K > 0: masks that V8 keeps in registers (kdot.ts byteMask)
  const low = i8x16.splat(<i8>(0x0f | zero));
  const m30 = i8x16.splat(<i8>(0x30 | zero));
  for (let t = 0; t < T; t++) {
    const at = <usize>t * nb;
    const xa = xq + at * QUANT_BYTES;
    const xs = scales + (at << 2);
    const xsum = sums + (at << 2);
    const o = out + (<usize>t * N << 2);
    for (let i = 0, steps = streamSteps(n0, n1); i < steps; i++) { // rows in four streams (simd.ts)
      const n = streamRow(i, n0, n1);
      if (n >= n1) continue;
      store<f32>(o + (<usize>n << 2), rowDotQ6_K(w + <usize>n * rowBytes, xa, xs, xsum, nsb, low, m30, o + (<usize>n << 2)));
    }
  }
}
