// Decoding (T < 4 tokens) on q8_0 weights with the 8-bit dot product of qgemm.ts (dotI8,
// relaxed SIMD's pmaddubsw), reading the GGUF blocks where they lie ([f16 d][32 × int8]):
// out[T, N] = x[T, K] · Wᵀ, x quantized by quantizeActivations in layout 3 (activations.ts:
// i8 quants in order).
//
// Why: qmatmul.ts widens each weight byte to an i16 lane and takes four i32x4.dot_i16x8_s a
// block; V8's loop came to ~300 instructions per 256 weights (49 of them on the stack),
// where llama.cpp's 128-bit AVX build takes ~190 (`npm run bench:disasm`) and runs q8_0 at
// 1.4-2× our speed (`npm run bench:native`). The 8-bit dot product multiplies sixteen bytes
// in one operation, but one operand must be a 7-bit (0..127) value and q8_0's weights are
// signed. So, as llama.cpp's x86 code does with its sign instruction, the sign moves to the
// other side: |q_x| (≤ 127: activations are rounded to |q| ≤ 127) is the 7-bit operand, and
// w·sign(q_x) = (w XOR m) − m, m = 0xff where q_x < 0, the signed one. |q_x| and m are made
// once per activation block for both rows of a pair.
//
// The one weight this cannot take is −128: −(−128) wraps to −128 in a byte. Neither ggml's
// quantizer nor ours writes it (|w| = round(127·|v|/max|v|) ≤ 127), but a file may hold it,
// so the backend scans each q8_0 tensor once (q8_0HasMinus128) and sends a tensor holding one
// to qmatmul.ts.
//
// Numerics: the integer block totals are qmatmul.ts's (Σ w·q_x, exact in i32; times 256 as
// its lanes hold them), and they meet its f32 operations in its order (groups of four
// blocks, scales d_w/256·d_x, lane j of the accumulator for blocks j, j+4, …): the same
// bits, whatever T, the row's partner and the thread.
import { scalesAt } from './activations';
import { blockTotals, load4, loadHalves, pairSums, weightScales } from './qmatmul';
import { dotI8 } from './qgemm';
import { hsum, madd, Q8_0_BYTES, QK, streamRow, streamSteps } from './simd';

const XQ_BYTES: usize = 64; // one activation block in layout 3 (quants in the first 32)

// Σ w·q_x of one weight block against one activation block (|q_x| in a0, a1, sign masks m0,
// m1 for values 0..15, 16..31) as four i32 partial sums. Each dotI8 lane is two products,
// |.| ≤ 2·127·127, so the two halves are widened (pmaddwd with ones) before they are added.
@inline
function blockSums(block: usize, a0: v128, a1: v128, m0: v128, m1: v128, ones: v128): v128 {
  const w0 = v128.load(block, 2);
  const w1 = v128.load(block, 18);
  const s0 = i8x16.sub(v128.xor(w0, m0), m0); // w·sign(q_x)
  const s1 = i8x16.sub(v128.xor(w1, m1), m1);
  return i32x4.add(i32x4.dot_i16x8_s(dotI8(s0, a0), ones), i32x4.dot_i16x8_s(dotI8(s1, a1), ones));
}

// 0xff in the lanes where q < 0
@inline
function signOf(q: v128, zero: v128): v128 {
  return i8x16.lt_s(q, zero);
}

// Row v's block totals from groupTotals (a second result; V8 keeps a global in memory, one
// store and one load a group)
let totalsV: v128 = i32x4.splat(0);

// Block `j` of rows u and v (at bu, bv) against the activation block at xb: pairSums of the
// two rows' partial sums, [u, v, u, v] (exact i32 adds). Then a store of one of its lanes
// (to `fence`, which the final value overwrites): V8 emits a block's loads in program order
// ahead of the arithmetic and places the arithmetic just before its use, so without a
// store that needs both rows' sums, the loads of a whole group were live at once and
// spilled (q6decode.ts's header; `npm run bench:disasm`).
@inline
function pairBlock(bu: usize, bv: usize, xb: usize, fence: usize, ones: v128, zero: v128): v128 {
  const q0 = v128.load(xb), q1 = v128.load(xb, 16);
  const a0 = i8x16.abs(q0), a1 = i8x16.abs(q1);
  const m0 = signOf(q0, zero), m1 = signOf(q1, zero);
  const h = pairSums(blockSums(bu, a0, a1, m0, m1, ones), blockSums(bv, a0, a1, m0, m1, ones));
  store<i32>(fence, i32x4.extract_lane(h, 0));
  return h;
}

// The block totals of rows u and v over `count` (1..4) blocks from block0, block1 against
// the activation blocks at xb: u's returned, v's in totalsV, lane j for block j (missing
// blocks 0). With count = 4, a constant, the branches fold away (the main loop).
@inline
function groupTotals(block0: usize, block1: usize, xb: usize, count: i32, fence: usize, ones: v128, zero: v128): v128 {
  const h0 = pairBlock(block0, block1, xb, fence, ones, zero);
  const h1 = count > 1 ? pairBlock(block0 + Q8_0_BYTES, block1 + Q8_0_BYTES, xb + XQ_BYTES, fence, ones, zero) : zero;
  const h2 = count > 2 ? pairBlock(block0 + 2 * Q8_0_BYTES, block1 + 2 * Q8_0_BYTES, xb + 2 * XQ_BYTES, fence, ones, zero) : zero;
  const h3 = count > 3 ? pairBlock(block0 + 3 * Q8_0_BYTES, block1 + 3 * Q8_0_BYTES, xb + 3 * XQ_BYTES, fence, ones, zero) : zero;
  const t01 = blockTotals(h0, h1); // [u_0, v_0, u_1, v_1]
  const t23 = blockTotals(h2, h3);
  totalsV = v128.shuffle<i32>(t01, t23, 1, 3, 5, 7);
  return v128.shuffle<i32>(t01, t23, 0, 2, 4, 6);
}

// d_w/256·d_x of `count` blocks from `block` on (qmatmul.ts rowDot2's scales)
@inline
function groupScales(block: usize, dx: v128, count: i32): v128 {
  return f32x4.mul(weightScales(loadHalves(block, Q8_0_BYTES, count)), dx);
}

// qmatmul.ts's lanes hold 256·w·q_x, and its scales d_w/256: the same totals, times 256
@inline
function accumulate(acc: v128, totals: v128, scales: v128): v128 {
  return madd(f32x4.convert_i32x4_s(i32x4.shl(totals, 8)), scales, acc);
}

// out0 = Σ_k x[k]·w0[k], out1 = Σ_k x[k]·w1[k] (qmatmul.ts rowDot2's contract: w1 = w0 for a
// row alone, and each row's value does not depend on its partner). Whole groups of four
// blocks in the loop, without branches; the last, short group after it.
function rowPairQ8_0(out0: usize, out1: usize, w0: usize, w1: usize, xa: usize, xs: usize, nb: i32, ones: v128): void {
  const zero = i32x4.splat(0);
  let acc0 = f32x4.splat(0); // lane j: blocks j, j+4, j+8, … of row 0
  let acc1 = f32x4.splat(0);
  let b = 0;
  for (; b + 4 <= nb; b += 4) {
    const block0 = w0 + <usize>b * Q8_0_BYTES;
    const block1 = w1 + <usize>b * Q8_0_BYTES;
    const dx = v128.load(xs + (<usize>b << 2));
    const totalsU = groupTotals(block0, block1, xa + <usize>b * XQ_BYTES, 4, out0, ones, zero);
    acc0 = accumulate(acc0, totalsU, groupScales(block0, dx, 4));
    acc1 = accumulate(acc1, totalsV, groupScales(block1, dx, 4));
  }
  if (b < nb) {
    const count = nb - b;
    const block0 = w0 + <usize>b * Q8_0_BYTES;
    const block1 = w1 + <usize>b * Q8_0_BYTES;
    const dx = load4(xs + (<usize>b << 2), count);
    const totalsU = groupTotals(block0, block1, xa + <usize>b * XQ_BYTES, count, out0, ones, zero);
    acc0 = accumulate(acc0, totalsU, groupScales(block0, dx, count));
    acc1 = accumulate(acc1, totalsV, groupScales(block1, dx, count));
  }
  store<f32>(out0, hsum(acc0));
  store<f32>(out1, hsum(acc1));
}

// out [T, N] f32; xq: x [T, K] from quantizeActivations, layout 3; w: [N, K/32 q8_0 blocks].
// Rows n0 ≤ n < n1, as pairs from four streams a quarter of the range apart (simd.ts
// streamRow: streams far apart keep the hardware prefetcher ahead).
export function matmulQ8_0I8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  const nb = K / QK;
  const rowBytes = <usize>nb * Q8_0_BYTES;
  const scales = scalesAt(xq, T, nb);
  const ones = i16x8.splat(<i16>((K >>> 31) + 1)); // not a constant (V8 would rebuild it in the loop), nor 1 | (K >>> 31), which binaryen folds to 1
  const steps = streamSteps(n0, n1);
  for (let t = 0; t < T; t++) {
    const at = <usize>t * nb; // block index of row t
    const xa = xq + at * XQ_BYTES;
    const xs = scales + (at << 2);
    const o = out + (<usize>t * N << 2);
    for (let i = 0; i < steps; i += 2) { // pairs of rows from four streams (simd.ts)
      const n = streamRow(i, n0, n1);
      if (n >= n1) continue;
      const m = streamRow(i + 1, n0, n1); // its partner, or none (n1) at the end of the range
      const pair = m < n1;
      const w0 = w + <usize>n * rowBytes;
      const out0 = o + (<usize>n << 2);
      rowPairQ8_0(out0, pair ? o + (<usize>m << 2) : out0, w0, pair ? w + <usize>m * rowBytes : w0, xa, xs, nb, ones);
    }
  }
}

// 1 when some weight of the q8_0 blocks [blocks] at w is −128 (which matmulQ8_0I8 cannot
// take, see the header), else 0. One pass at memory speed, once per tensor.
export function q8_0HasMinus128(w: usize, blocks: i32): i32 {
  const min = i8x16.splat(-128);
  let any = i32x4.splat(0);
  for (let b = 0; b < blocks; b++) {
    const block = w + <usize>b * Q8_0_BYTES;
    any = v128.or(any, v128.or(i8x16.eq(v128.load(block, 2), min), i8x16.eq(v128.load(block, 18), min)));
  }
  return v128.any_true(any) ? 1 : 0;
}
